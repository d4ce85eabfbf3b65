// The overview in the corner of a picture bigger than the screen: every box in its colour, drawn once per
// picture onto a small <canvas>, plus the rectangle the screen shows. Click or drag in it to move there.

import { h } from "./util.js";

const MAX_W = 240; // a wrapped, fully unfolded model (~1.9:1) is a 240 x 130 px thumbnail
const MAX_H = 200;
const SHOW_ABOVE = 1.5; // shown when the picture at this zoom is this many times the screen (width or height)

export class Minimap {
  /** host: the canvas element to sit in; pz: its PanZoom. */
  constructor(host, pz) {
    this.pz = pz;
    this.el = h("div", { class: "bvg-minimap bvg-hidden", title: "overview: click or drag to move there" });
    this.cv = document.createElement("canvas");
    this.el.appendChild(this.cv);
    host.appendChild(this.el);
    this.base = null; // the boxes, drawn once per picture
    this.scale = 1;
    let dragging = false;
    const go = (e) => {
      const r = this.cv.getBoundingClientRect();
      this.pz.lookAt((e.clientX - r.left) / this.scale, (e.clientY - r.top) / this.scale);
    };
    this.el.addEventListener("pointerdown", (e) => {
      e.stopPropagation();
      dragging = true;
      try {
        this.el.setPointerCapture(e.pointerId);
      } catch (_e) {
        /* fine without */
      }
      go(e);
    });
    this.el.addEventListener("pointermove", (e) => dragging && go(e));
    const stop = (e) => {
      dragging = false;
      e.stopPropagation();
    };
    this.el.addEventListener("pointerup", stop);
    this.el.addEventListener("pointercancel", stop);
    this.el.addEventListener("wheel", (e) => e.stopPropagation(), { passive: true });
  }

  /** boxes: [{x, y, w, h, fill, frame}] in content coordinates; cw, ch: the picture's size. */
  setPicture(boxes, cw, ch) {
    this.cw = cw;
    this.ch = ch;
    // a tall strip (12 unfolded layers) gets a taller overview, up to most of the screen's height
    // and never more than a corner of a small canvas (a notebook cell): the graph stays clickable beside it
    const maxH = Math.min(Math.max(MAX_H, Math.min(0.7 * this.pz.height, 520)), Math.max(60, 0.4 * this.pz.height));
    const maxW = Math.min(MAX_W, Math.max(80, 0.3 * this.pz.width));
    this.scale = Math.min(maxW / cw, maxH / ch);
    const w = Math.max(24, Math.round(cw * this.scale));
    const hh = Math.max(24, Math.round(ch * this.scale));
    this.cv.width = w;
    this.cv.height = hh;
    const base = document.createElement("canvas");
    base.width = w;
    base.height = hh;
    const g = base.getContext("2d");
    if (g) {
      g.fillStyle = "#ffffff";
      g.fillRect(0, 0, w, hh);
      const s = this.scale;
      for (const b of boxes) {
        g.fillStyle = b.fill || "#cccccc";
        g.globalAlpha = b.frame ? 0.45 : 1;
        g.fillRect(b.x * s, b.y * s, Math.max(0.7, b.w * s), Math.max(0.7, b.h * s));
      }
      g.globalAlpha = 1;
    }
    this.base = base;
    this.update();
  }

  /** Shown only when the picture is much bigger than the screen; the screen's rectangle drawn on top. */
  update() {
    if (!this.base) return;
    const v = this.pz.visible();
    const small = this.cw <= v.w * SHOW_ABOVE && this.ch <= v.h * SHOW_ABOVE;
    this.el.classList.toggle("bvg-hidden", small);
    if (small) return;
    const g = this.cv.getContext("2d");
    if (!g) return;
    const s = this.scale;
    g.drawImage(this.base, 0, 0);
    g.strokeStyle = "#d62728";
    g.lineWidth = 1.5;
    g.fillStyle = "rgba(214, 39, 40, 0.08)";
    const x = Math.max(0, v.x * s);
    const y = Math.max(0, v.y * s);
    const w = Math.min(this.cv.width, (v.x + v.w) * s) - x;
    const hh = Math.min(this.cv.height, (v.y + v.h) * s) - y;
    g.fillRect(x, y, Math.max(2, w), Math.max(2, hh));
    g.strokeRect(x + 0.5, y + 0.5, Math.max(2, w - 1), Math.max(2, hh - 1));
  }
}
