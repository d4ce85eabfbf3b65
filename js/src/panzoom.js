// Pan and zoom of one <svg> drawn at its own size and moved by a CSS transform (translate + scale).
// Screen point (sx, sy) shows content point (x + sx / k, y + sy / k): (x, y) is the content point at the
// top-left corner, k the zoom (1 = 100 %).
//
// Why a transform and not the viewBox: changing the viewBox makes the browser lay out and repaint every
// element of the picture on each frame (3.9 frames/s panning bert-base unfolded, 0.5 for the 48-layer view),
// a transform moves the already painted layer (60 frames/s for both); benchmarks/graph_render_bench.py.
// After a zoom settles the layer is painted again at the new scale, so text stays sharp.

const MIN_K = 0.01;
const MAX_K = 6;
const SHARPEN_MS = 180;

export class PanZoom {
  constructor(host, onChange) {
    this.host = host; // the element the svg sits in; its size is the viewport
    this.onChange = onChange || (() => {});
    this.svg = null;
    this.cw = 1; // content size (the svg's own width/height)
    this.ch = 1;
    this.x = 0;
    this.y = 0;
    this.k = 1;
    this.paintedK = null;
    this.sharpenTimer = null;
    this.onSettle = () => {}; // after a zoom has stopped changing (the canvas resizes its far titles then)
    this.held = null; // [width, height] read once while a picture is drawn (hold)
  }

  get width() {
    return this.held ? this.held[0] : Math.max(1, this.host.clientWidth);
  }

  get height() {
    return this.held ? this.held[1] : Math.max(1, this.host.clientHeight);
  }

  /** Read the viewport's size once for the reads of a new picture's drawing (until release()): reading it
   * after each change to the picture forced the browser to lay the whole SVG out again each time, and only
   * the picture inside changes meanwhile (absolutely placed: the viewport's size does not depend on it). */
  hold() {
    if (!this.held) this.held = [Math.max(1, this.host.clientWidth), Math.max(1, this.host.clientHeight)];
  }

  release() {
    this.held = null;
  }

  attach(svg, cw, ch) {
    this.svg = svg;
    this.cw = Math.max(1, cw);
    this.ch = Math.max(1, ch);
    svg.setAttribute("width", String(this.cw));
    svg.setAttribute("height", String(this.ch));
    svg.removeAttribute("viewBox");
    svg.setAttribute("viewBox", `0 0 ${this.cw} ${this.ch}`);
    Object.assign(svg.style, { position: "absolute", left: "0", top: "0", transformOrigin: "0 0", willChange: "transform" });
    this.paintedK = null;
    this.apply();
  }

  apply() {
    if (!this.svg) return;
    this.svg.style.transform = `translate(${-this.x * this.k}px, ${-this.y * this.k}px) scale(${this.k})`;
    if (this.paintedK !== this.k) this.sharpenLater();
    this.onChange(this);
  }

  /** Once the zoom has stopped changing, paint the layer again at the new scale (else it stays blurred). */
  sharpenLater() {
    clearTimeout(this.sharpenTimer);
    this.sharpenTimer = setTimeout(() => {
      if (!this.svg) return;
      this.paintedK = this.k;
      this.onSettle(this);
      this.svg.style.willChange = "auto";
      requestAnimationFrame(() => {
        if (this.svg) this.svg.style.willChange = "transform";
      });
    }, SHARPEN_MS);
  }

  /** Content point under a screen point (relative to the host). */
  toContent(sx, sy) {
    return [this.x + sx / this.k, this.y + sy / this.k];
  }

  toScreen(cx, cy) {
    return [(cx - this.x) * this.k, (cy - this.y) * this.k];
  }

  /** The content rectangle on screen. */
  visible() {
    return { x: this.x, y: this.y, w: this.width / this.k, h: this.height / this.k };
  }

  zoomAt(factor, sx, sy) {
    const [px, py] = this.toContent(sx, sy);
    this.k = Math.min(MAX_K, Math.max(MIN_K, this.k * factor));
    this.x = px - sx / this.k;
    this.y = py - sy / this.k;
    this.apply();
  }

  zoomCenter(factor) {
    this.zoomAt(factor, this.width / 2, this.height / 2);
  }

  panBy(dsx, dsy) {
    this.x -= dsx / this.k;
    this.y -= dsy / this.k;
    this.apply();
  }

  fitK(box, margin = 16) {
    return Math.min((this.width - 2 * margin) / Math.max(1, box.w), (this.height - 2 * margin) / Math.max(1, box.h));
  }

  /** Show the whole picture, at most at ``maxK``. */
  fit(maxK = 1.25) {
    this.show({ x: 0, y: 0, w: this.cw, h: this.ch }, maxK, 8);
  }

  /** Zoom so that ``box`` fits (at most ``maxK``) and centre it. */
  show(box, maxK = 1.25, margin = 16) {
    this.k = Math.max(MIN_K, Math.min(MAX_K, maxK, this.fitK(box, margin)));
    this.x = box.x + box.w / 2 - this.width / (2 * this.k);
    this.y = box.y + box.h / 2 - this.height / (2 * this.k);
    this.apply();
  }

  /** The first view of a picture: all of it when that stays readable, else its top at a readable zoom. */
  initial(minReadable = 0.6) {
    const fitK = Math.min(this.width / this.cw, this.height / this.ch);
    if (fitK >= minReadable) {
      this.fit(1);
      return;
    }
    this.top(minReadable);
  }

  /** The top of the picture, as wide as fits but not below ``minReadable``, centred across. */
  top(minReadable = 0.6) {
    this.k = Math.max(minReadable, Math.min(1, (this.width - 16) / this.cw));
    this.x = this.cw / 2 - this.width / (2 * this.k);
    this.y = -8 / this.k;
    this.apply();
  }

  /** Centre a content box on screen, zooming out (never below ``minK``) if it does not fit; a box still
   * too big shows its top-left part. */
  center(box, margin = 24, minK = 0.35) {
    const kFit = this.fitK(box, margin);
    if (kFit < this.k) this.k = Math.max(MIN_K, Math.max(kFit, Math.min(minK, this.k)));
    if (box.w * this.k <= this.width - 2 * margin) this.x = box.x + box.w / 2 - this.width / (2 * this.k);
    else this.x = box.x - margin / this.k;
    if (box.h * this.k <= this.height - 2 * margin) this.y = box.y + box.h / 2 - this.height / (2 * this.k);
    else this.y = box.y - margin / this.k;
    this.apply();
  }

  fits(box, margin = 12) {
    return box.w * this.k <= this.width - 2 * margin && box.h * this.k <= this.height - 2 * margin;
  }

  /** Pan as little as possible so that a content box is on screen (each axis on which it fits). */
  reveal(box, margin = 12) {
    const [x0, y0] = this.toScreen(box.x, box.y);
    const [x1, y1] = this.toScreen(box.x + box.w, box.y + box.h);
    const W = this.width;
    const H = this.height;
    let dx = 0;
    let dy = 0;
    if (x1 - x0 <= W - 2 * margin) {
      if (x0 < margin) dx = margin - x0;
      else if (x1 > W - margin) dx = W - margin - x1;
    }
    if (y1 - y0 <= H - 2 * margin) {
      if (y0 < margin) dy = margin - y0;
      else if (y1 > H - margin) dy = H - margin - y1;
    }
    if (dx || dy) this.panBy(dx, dy);
  }

  /** Put content point (cx, cy) at screen point (sx, sy), keeping the zoom. */
  pin(cx, cy, sx, sy) {
    this.x = cx - sx / this.k;
    this.y = cy - sy / this.k;
    this.apply();
  }

  /** Centre the screen on content point (cx, cy), keeping the zoom. */
  lookAt(cx, cy) {
    this.pin(cx, cy, this.width / 2, this.height / 2);
  }
}
