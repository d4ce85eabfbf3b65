// Pan and zoom of one <svg> by rewriting its viewBox. Screen point (sx, sy) shows content point
// (x + sx / k, y + sy / k): (x, y) is the content point at the top-left corner, k the zoom (1 = 100 %).

const MIN_K = 0.05;
const MAX_K = 6;

export class PanZoom {
  constructor(host, onChange) {
    this.host = host; // the element the svg fills; its size is the viewport
    this.onChange = onChange || (() => {});
    this.svg = null;
    this.cw = 1; // content size (the svg's own width/height)
    this.ch = 1;
    this.x = 0;
    this.y = 0;
    this.k = 1;
  }

  get width() {
    return Math.max(1, this.host.clientWidth);
  }

  get height() {
    return Math.max(1, this.host.clientHeight);
  }

  attach(svg, cw, ch) {
    this.svg = svg;
    this.cw = Math.max(1, cw);
    this.ch = Math.max(1, ch);
    svg.setAttribute("width", "100%");
    svg.setAttribute("height", "100%");
    svg.setAttribute("preserveAspectRatio", "xMinYMin meet");
    this.apply();
  }

  apply() {
    if (!this.svg) return;
    const w = this.width / this.k;
    const h = this.height / this.k;
    this.svg.setAttribute("viewBox", `${this.x} ${this.y} ${w} ${h}`);
    this.onChange(this);
  }

  /** Content point under a screen point (relative to the host). */
  toContent(sx, sy) {
    return [this.x + sx / this.k, this.y + sy / this.k];
  }

  toScreen(cx, cy) {
    return [(cx - this.x) * this.k, (cy - this.y) * this.k];
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

  /** Show the whole picture, at most at ``maxK``. */
  fit(maxK = 1.25) {
    const k = Math.min(this.width / this.cw, this.height / this.ch, maxK);
    this.k = Math.max(MIN_K, k * 0.98);
    this.x = this.cw / 2 - this.width / (2 * this.k);
    this.y = this.ch / 2 - this.height / (2 * this.k);
    this.apply();
  }

  /** The first view of a picture: all of it when that stays readable, else its top at a readable zoom. */
  initial(minReadable = 0.6) {
    const fitK = Math.min(this.width / this.cw, this.height / this.ch);
    if (fitK >= minReadable) {
      this.fit(1);
      return;
    }
    this.k = Math.max(minReadable, Math.min(1, this.width / this.cw));
    this.x = this.cw / 2 - this.width / (2 * this.k);
    this.y = -8 / this.k;
    this.apply();
  }

  /** Centre a content box on screen, zooming out (never below ``minK``) if it does not fit; a box still
   * too big shows its top-left part. */
  center(box, margin = 24, minK = 0.35) {
    const kFit = Math.min((this.width - 2 * margin) / box.w, (this.height - 2 * margin) / box.h);
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
}
