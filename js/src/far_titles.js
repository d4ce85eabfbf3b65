// Frame titles that stay readable when the picture is zoomed out: a fully unfolded model at Fit is drawn at
// ~10 %, where a 12 px title is 1 px on screen. Below the zoom at which the SVG's own titles drop under
// MIN_PX, the canvas hides them (class bvg-far, graph.css) and shows these instead: one bold label per open
// frame, MIN_PX tall on screen whatever the zoom, on the frame's top-left corner, haloed in white. A title
// is shown only where it fits its frame and does not cover a title already placed (outer frames first), so
// at Fit the layers' names are what remains: "BertLayer layer 0", "layer 1", ...
//
// The texts sit inside the transformed <svg> and are resized only when a zoom has settled (PanZoom's
// onSettle), so panning and zooming stay a CSS transform of the painted layer (benchmarks/pan_fps.py).

import { s } from "./util.js";

export const MIN_PX = 10; // screen px of a far title (readable; the issue asks >= 9)
const SVG_TITLE_PX = 12; // render/svg.py's frame title size (measure.LABEL_PX)
const PAD = 4; // screen px between a frame's corner and its title

export class FarTitles {
  /** svg: the picture; frames: [{id, g}] of open frames; boxOf(id): its box in the diagram's coordinates. */
  constructor(host, svg, frames, boxOf) {
    this.host = host;
    this.group = null;
    this.items = [];
    this.k = null;
    const diagram = svg.querySelector("g.diagram");
    if (!diagram || !frames.length) return;
    this.group = s("g", { class: "bvg-far-titles" });
    diagram.appendChild(this.group);
    const byId = new Map(frames.map((f) => [f.id, f.g]));
    const depth = (g) => {
      let d = 0;
      for (let p = g.getAttribute("data-parent"); p && d < 64; d++) {
        const pg = byId.get(p);
        p = pg ? pg.getAttribute("data-parent") : null;
      }
      return d;
    };
    for (const { id, g } of frames) {
      const b = boxOf(id);
      const label = g.querySelector(":scope > text[font-weight='bold']");
      if (!b || !label) continue;
      const next = label.nextElementSibling;
      const sub = next && next.tagName.toLowerCase() === "text" ? next.textContent : "";
      // the longest that fits its frame: "BertLayer · layer 3", else "layer 3" (which one), else "BertLayer"
      const texts = [...new Set([sub ? `${label.textContent} · ${sub}` : "", sub.length <= 12 ? sub : "",
        label.textContent].filter(Boolean))];
      const el = s("text", { "data-for": id });
      this.group.appendChild(el);
      this.items.push({ id, b, el, d: depth(g), texts, ems: texts.map(emWidth) });
    }
    this.items.sort((a, b) => a.d - b.d); // outer frames claim their corner first
  }

  /** Place the titles for zoom k (content px -> screen px); hide them when the SVG's own are readable. */
  update(k) {
    const far = SVG_TITLE_PX * k < MIN_PX - 2; // below ~9 px on screen
    this.host.classList.toggle("bvg-far", far && !!this.group);
    if (!this.group || !far || k === this.k) return;
    this.k = k;
    const f = MIN_PX / k; // content px that are MIN_PX on screen
    const pad = PAD / k;
    const placed = [];
    for (const it of this.items) {
      const room = it.b.w - 2 * pad;
      const i = it.ems.findIndex((em) => em * f <= room);
      const w = (i < 0 ? 0 : it.ems[i] * f) + 2 * pad;
      const hh = 1.35 * f;
      const r = { x: it.b.x, y: it.b.y, w, h: hh };
      // below a title already placed over this corner (the encoder's, over layer 0's), while in the frame's top half
      for (let n = 0, p = hit(placed, r); p && n < 8; n++, p = hit(placed, r)) r.y = p.y + p.h;
      const free = i >= 0 && !hit(placed, r) && r.y + hh <= it.b.y + it.b.h / 2;
      it.el.style.display = free ? "" : "none";
      if (!free) continue;
      placed.push(r);
      if (it.el.textContent !== it.texts[i]) it.el.textContent = it.texts[i];
      it.el.setAttribute("x", String(it.b.x + pad));
      it.el.setAttribute("y", String(r.y + 0.2 * f + 0.95 * f));
      it.el.setAttribute("font-size", String(f));
      it.el.setAttribute("stroke-width", String(0.28 * f));
    }
  }
}

function hit(placed, r) {
  return placed.find((p) => r.x < p.x + p.w && p.x < r.x + r.w && r.y < p.y + p.h && p.y < r.y + r.h);
}

let ctx = null;

/** Width of a bold title in ems, by the browser's own text metrics (a 2D canvas, no layout needed). */
function emWidth(text) {
  if (!ctx) {
    ctx = document.createElement("canvas").getContext("2d");
    if (ctx) ctx.font = "bold 100px DejaVu Sans, Helvetica, Arial, sans-serif";
  }
  const w = ctx ? ctx.measureText(text).width / 100 : 0;
  return w > 0 ? w * 1.04 : 0.7 * text.length; // a little slack: the SVG may fall back to another sans
}
