// The graph canvas: our own SVG (render/svg.py, the picture `bertviz-graph export` writes), made clickable.
// The ONE front end of the graph: the notebook widget (index.js) and the Dash app (app.js) both draw with it.
//
// Every node is <g class="node" data-id data-parent data-kind data-expandable data-expanded>, every edge
// <g class="edge">. Clicking a collapsed box opens it; clicking an open frame's title bar (or its − badge)
// closes it; clicking anything else selects it. Drag pans, ctrl/⌘ + wheel zooms (plain wheel scrolls the
// picture once it has focus). api.send(msg) gets {type: "click", id, toggle, part, shift} | {type: "dblclick", id}
// | {type: "edge", id, source, target} (a click on an edge: each has a 12 px wide transparent hit path).
// Hovering an edge shows its tooltip: its <title> plus setEdgeTips()'s line (the tensor it carries for the
// sentence run); boxes given a line by setNodeTips() (colour-by values) show theirs the same way.
//
// Readable at every zoom: far out, boxes show their colour and name only (classes bvg-z-names / bvg-z-boxes,
// graph.css); a minimap shows where the screen is in a picture bigger than it; opening a group keeps its
// parent frame (its neighbours) in sight when that is readable.

import "./graph.css";
import { FarTitles } from "./far_titles.js";
import { Minimap } from "./minimap.js";
import { PanZoom } from "./panzoom.js";
import { clear, h, s, throttleFrame } from "./util.js";

const CLICK_SLOP = 4; // px a press may move and still count as a click
const DOUBLE_MS = 350;
export const ZOOM_DETAIL = 0.5; // below: no sublabels or edge labels
export const ZOOM_NAMES = 0.2; // below: no box labels, frame titles drawn larger
const MIN_READABLE = 0.45; // opening a group never zooms out below this to show its context
let instances = 0;

function cssEscape(v) {
  return typeof CSS !== "undefined" && CSS.escape ? CSS.escape(v) : String(v).replace(/["\\]/g, "\\$&");
}

/** Content-coordinate offset of the diagram group ("translate(0,55)"). */
function diagramOffset(g) {
  const d = g.closest("g.diagram");
  const m = d && TRANSLATE.exec(d.getAttribute("transform") || "");
  return m ? [parseFloat(m[1]), parseFloat(m[2])] : [0, 0];
}

const TRANSLATE = /translate\(\s*([-\d.e]+)[ ,]+([-\d.e]+)\s*\)/;
const atOffsets = new WeakMap(); // g.at -> its [x, y], parsed once per picture

/** Where a node's own coordinates sit in the diagram's: the sum of its g.at ancestors' translations (the
 * shapes inside an opened frame are drawn in the frame's coordinates: render/svg_layers.py). */
function frameOffset(g) {
  let x = 0;
  let y = 0;
  for (let p = g.parentNode; p && p.classList && !p.classList.contains("diagram"); p = p.parentNode) {
    if (!p.classList.contains("at")) continue;
    let t = atOffsets.get(p);
    if (!t) {
      const m = TRANSLATE.exec(p.getAttribute("transform") || "");
      t = m ? [parseFloat(m[1]), parseFloat(m[2])] : [0, 0];
      atOffsets.set(p, t);
    }
    x += t[0];
    y += t[1];
  }
  return [x, y];
}

/** A node's box in the diagram's coordinates (its own, moved by its frames' translations). */
function diagramBox(g) {
  const b = g && localBox(g);
  if (!b) return null;
  const [ox, oy] = frameOffset(g);
  return { x: b.x + ox, y: b.y + oy, w: b.w, h: b.h };
}

/** A node's box in its own coordinates: data-box (written by render/svg.py), else its rects, else getBBox. */
function localBox(g) {
  const db = g.getAttribute("data-box");
  if (db) {
    const [bx, by, bw, bh] = db.split(",").map(parseFloat);
    if ([bx, by, bw, bh].every((v) => isFinite(v))) return { x: bx, y: by, w: bw, h: bh };
  }
  let x0 = Infinity;
  let y0 = Infinity;
  let x1 = -Infinity;
  let y1 = -Infinity;
  for (const r of g.querySelectorAll(":scope > rect")) {
    const x = parseFloat(r.getAttribute("x"));
    const y = parseFloat(r.getAttribute("y"));
    const w = parseFloat(r.getAttribute("width"));
    const hh = parseFloat(r.getAttribute("height"));
    if ([x, y, w, hh].some((v) => !isFinite(v))) continue;
    x0 = Math.min(x0, x);
    y0 = Math.min(y0, y);
    x1 = Math.max(x1, x + w);
    y1 = Math.max(y1, y + hh);
  }
  if (x0 === Infinity) {
    try {
      const b = g.getBBox();
      return { x: b.x, y: b.y, w: b.width, h: b.height };
    } catch (_e) {
      return null;
    }
  }
  return { x: x0, y: y0, w: x1 - x0, h: y1 - y0 };
}

export class GraphCanvas {
  /** api: {send(msg)}; el: the element to fill. */
  constructor(api, el) {
    this.api = api;
    this.uid = `bvg${++instances}`;
    this.host = h("div", { class: "bvg-canvas", tabindex: "0", "aria-label": "model graph" });
    this.hint = h("div", { class: "bvg-hint" });
    this.host.appendChild(this.hint);
    el.appendChild(this.host);
    this.minimap = null;
    const later = throttleFrame(() => this.afterMove());
    this.pz = new PanZoom(this.host, () => {
      this.updateZoomLabel();
      later();
    });
    this.minimap = new Minimap(this.host, this.pz);
    this.farTitles = null;
    this.pz.onSettle = () => this.farTitles && this.farTitles.update(this.pz.k); // once a zoom has settled
    this.zoomClass = "";
    this.svgText = null;
    this.svg = null;
    this.nodes = new Map();
    this.marks = { selected: "", matches: [] };
    this.edgeTips = {}; // edge id -> one line about the tensor it carries for the current sentence
    this.nodeTips = {}; // node id -> one line (colour-by values, or why a box has none)
    this.edgeTitles = new Map(); // edge id -> its <title> text (moved into our tooltip: no double tooltips)
    this.selectedEdge = "";
    this.tip = h("div", { class: "bvg-tip", role: "tooltip" });
    this.host.appendChild(this.tip);
    this.anchor = null; // {id, sx, sy}: keep this node's top at this screen point after the next picture
    this.pendingFocus = null;
    this.lastClick = { id: null, t: 0 };
    this.zoomLabel = null;
    this.needsInitial = true;
    this.listen();
    if (typeof ResizeObserver !== "undefined") {
      this.ro = new ResizeObserver(() => this.onResize());
      this.ro.observe(this.host);
    }
  }

  destroy() {
    if (this.ro) this.ro.disconnect();
    clearTimeout(this.hintTimer);
  }

  /** After every pan/zoom (once per frame): semantic-zoom class, minimap rectangle. */
  afterMove() {
    const k = this.pz.k;
    const cls = k < ZOOM_NAMES ? "bvg-z-boxes" : k < ZOOM_DETAIL ? "bvg-z-names" : "";
    if (cls !== this.zoomClass) {
      if (this.zoomClass) this.host.classList.remove(this.zoomClass);
      if (cls) this.host.classList.add(cls);
      this.zoomClass = cls;
    }
    if (this.minimap) this.minimap.update();
  }

  // --- picture --------------------------------------------------------------------------------------
  setSvg(text) {
    if (text === this.svgText) return;
    const held = !this.pz.held; // the viewport's size read once, before the picture changes (PanZoom.hold)
    if (held) this.pz.hold();
    try {
      this.drawSvg(text);
    } finally {
      if (held) this.pz.release();
    }
  }

  drawSvg(text) {
    this.svgText = text;
    if (this.tip) this.tip.classList.remove("bvg-show"); // it described the old picture
    for (const old of this.host.querySelectorAll(":scope > svg")) old.remove();
    this.svg = null;
    this.nodes.clear();
    this.farTitles = null;
    this.host.classList.remove("bvg-far");
    if (!text) return;
    // ids inside the picture (arrow markers) made unique per widget: several widgets share one page
    const body = text
      .replace(/^\s*<\?xml[^>]*>\s*/, "")
      .replace(/(\s)id="([^"]+)"/g, `$1id="${this.uid}-$2"`)
      .replace(/url\(#([^)]+)\)/g, `url(#${this.uid}-$1)`);
    const tmp = document.createElement("div");
    tmp.innerHTML = body;
    const svg = tmp.querySelector("svg");
    if (!svg) return;
    const cw = parseFloat(svg.getAttribute("width")) || 800;
    const ch = parseFloat(svg.getAttribute("height")) || 600;
    svg.classList.add("bvg-svg");
    this.host.insertBefore(svg, this.hint);
    this.svg = svg;
    for (const g of svg.querySelectorAll("g.node")) {
      this.nodes.set(g.getAttribute("data-id"), g);
      if (g.getAttribute("data-expandable") === "1") this.addBadge(g);
    }
    this.edgeTitles.clear();
    for (const g of svg.querySelectorAll("g.edge")) this.addEdgeHit(g);
    this.applyNodeTips();
    this.pz.attach(svg, cw, ch);
    this.minimap.setPicture(this.overviewBoxes(), cw, ch);
    this.applyMarks();
    const frames = [...this.nodes].filter(([, g]) => g.getAttribute("data-expanded") === "1").map(([id, g]) => ({ id, g }));
    this.farTitles = new FarTitles(this.host, svg, frames, (id) => diagramBox(this.nodes.get(id)));
    this.placeView();
    this.farTitles.update(this.pz.k);
    this.drawn = (this.drawn || 0) + 1;
    this.host.setAttribute("data-drawn", String(this.drawn));
  }

  /** A wide transparent copy of an edge's path under it: edges are hoverable without pixel hunting. */
  addEdgeHit(g) {
    const t = g.querySelector(":scope > title");
    if (t) {
      this.edgeTitles.set(g.getAttribute("data-id"), t.textContent);
      t.remove();
    }
    const p = g.querySelector(":scope > path");
    if (!p) return;
    const hit = p.cloneNode(false);
    hit.removeAttribute("marker-end");
    hit.removeAttribute("stroke-dasharray");
    hit.setAttribute("class", "bvg-edge-hit");
    hit.setAttribute("stroke", "transparent");
    hit.setAttribute("stroke-width", "12");
    g.insertBefore(hit, p);
    if (g.getAttribute("data-id") === this.selectedEdge) g.classList.add("bvg-edge-selected");
  }

  setEdgeTips(tips) {
    this.edgeTips = tips || {};
  }

  setNodeTips(tips) {
    this.nodeTips = tips || {};
    this.applyNodeTips();
  }

  /** Boxes with a tip show it in our tooltip with their <title> text (moved out: no double tooltips). */
  applyNodeTips() {
    for (const [id, g] of this.nodes) {
      const t = g.querySelector(":scope > title");
      if (this.nodeTips[id]) {
        if (t) {
          g.setAttribute("data-title", t.textContent);
          t.remove();
        }
      } else if (!t && g.hasAttribute("data-title")) {
        g.insertBefore(s("title", { text: g.getAttribute("data-title") }), g.firstChild);
        g.removeAttribute("data-title");
      }
    }
  }

  /** What the pointer means at event ``e`` on ``target``: an edge's wide transparent hit path yields to a
   * box or a frame's title bar under it (edges are drawn over frames and often cross their title bars),
   * never to a frame's body (edges run inside frames). */
  pointed(target, e) {
    if (!target || !target.classList || !target.classList.contains("bvg-edge-hit") || !e
        || typeof document.elementsFromPoint !== "function") return target;
    for (const el of document.elementsFromPoint(e.clientX, e.clientY)) {
      if (!this.host.contains(el) || el.closest("g.edge")) continue;
      const g = el.closest("g.node");
      if (!g) continue;
      const frame = g.getAttribute("data-expanded") === "1";
      if (!frame || el.tagName.toLowerCase() !== "rect") return el; // a box, or a frame's title bar
    }
    return target;
  }

  /** The tooltip of the edge or box under the pointer (e: a pointer event), or hidden. */
  showTip(e) {
    const t = this.pointed(e.target, e);
    const edge = t && t.closest ? t.closest("g.edge") : null;
    const node = !edge && t && t.closest ? t.closest("g.node") : null;
    let text = "";
    if (edge) {
      const id = edge.getAttribute("data-id");
      const title = this.edgeTitles.get(id) || id;
      const tip = this.edgeTips[id];
      text = `${title}\n${tip || (["param", "shared", "tied"].includes(edge.getAttribute("data-kind")) ? "" : "run a sentence to see the tensor it carries")}`;
      text += "\n(click: the whole tensor)";
    } else if (node && this.nodeTips[node.getAttribute("data-id")]) {
      const title = node.getAttribute("data-title");
      text = `${title ? `${title}\n` : ""}${this.nodeTips[node.getAttribute("data-id")]}`;
    }
    if (!text.trim()) {
      this.tip.classList.remove("bvg-show");
      return;
    }
    const r = this.host.getBoundingClientRect();
    this.tip.textContent = text.trim();
    const x = e.clientX - r.left + 14;
    const y = e.clientY - r.top + 14;
    this.tip.style.left = `${Math.min(x, Math.max(0, r.width - 360))}px`;
    this.tip.style.top = `${Math.min(y, Math.max(0, r.height - 80))}px`;
    this.tip.classList.add("bvg-show");
    this.tip.setAttribute("data-for", edge ? edge.getAttribute("data-id") : node.getAttribute("data-id"));
  }

  markEdge(id) {
    this.selectedEdge = id || "";
    if (!this.svg) return;
    for (const g of this.svg.querySelectorAll("g.edge.bvg-edge-selected")) g.classList.remove("bvg-edge-selected");
    if (!id) return;
    for (const g of this.svg.querySelectorAll("g.edge")) if (g.getAttribute("data-id") === id) g.classList.add("bvg-edge-selected");
  }

  /** Every node's box and fill, for the minimap (frames first, so boxes are drawn over them). */
  overviewBoxes() {
    const frames = [];
    const leaves = [];
    for (const [id, g] of this.nodes) {
      const r = g.querySelector(":scope > rect, :scope > path");
      const b = this.box(id);
      if (!b || !r) continue;
      const frame = g.getAttribute("data-expanded") === "1";
      (frame ? frames : leaves).push({ ...b, fill: r.getAttribute("fill"), frame });
    }
    return [...frames, ...leaves];
  }

  addBadge(g) {
    const b = localBox(g);
    if (!b) return;
    const open = g.getAttribute("data-expanded") === "1";
    // on the box's top-right corner: clear of labels and titles, the same place open or closed
    const cx = b.x + b.w - 1;
    const cy = b.y + 1;
    const badge = s(
      "g",
      { class: "bvg-badge", transform: `translate(${cx},${cy})` },
      s("title", { text: open ? "close" : "open" }),
      s("circle", { r: 7 }),
      s("path", { d: open ? "M-3.5,0 H3.5" : "M-3.5,0 H3.5 M0,-3.5 V3.5" }),
    );
    g.appendChild(badge);
  }

  /** Content box of a visible node, or null. */
  box(id) {
    const g = this.nodes.get(id);
    if (!g) return null;
    const b = diagramBox(g);
    if (!b) return null;
    const [ox, oy] = diagramOffset(g);
    return { x: b.x + ox, y: b.y + oy, w: b.w, h: b.h };
  }

  placeView() {
    if (!this.svg) return;
    if (this.pz.width < 2 || this.pz.height < 2) {
      this.needsInitial = true; // not on screen yet: place it when it gets a size
      return;
    }
    const focus = this.pendingFocus;
    const anchor = this.anchor;
    this.pendingFocus = null;
    this.anchor = null;
    if (this.needsInitial) {
      this.needsInitial = false;
      this.pz.initial();
      if (focus && this.box(focus)) this.pz.center(this.box(focus));
      return;
    }
    if (focus && this.box(focus)) {
      this.pz.center(this.box(focus));
    } else if (anchor && this.box(anchor.id)) {
      const b = this.box(anchor.id);
      this.pz.pin(b.x + b.w / 2, b.y, anchor.sx, Math.max(8, Math.min(anchor.sy, this.pz.height * 0.4)));
      if (this.nodes.get(anchor.id).getAttribute("data-expanded") === "1") this.showWithContext(anchor.id);
      else this.pz.reveal(b);
    } else {
      this.pz.apply();
    }
  }

  /** The box of ``id`` grown to include its neighbours: its parent frame, else a margin around it. */
  contextBox(id) {
    const b = this.box(id);
    const g = this.nodes.get(id);
    const parent = g && g.getAttribute("data-parent");
    const p = parent ? this.box(parent) : null;
    if (p) return p;
    const m = 60;
    return { x: b.x - m, y: b.y - m, w: b.w + 2 * m, h: b.h + 2 * m };
  }

  /** A group just opened: show it with its parent frame when that is readable, else it whole (zooming out
   * down to MIN_READABLE), else its top; never zoom in. */
  showWithContext(id) {
    const b = this.box(id);
    if (!b) return;
    const c = this.contextBox(id);
    for (const target of [c, b]) {
      const k = Math.min(this.pz.k, this.pz.fitK(target, 20));
      if (k >= MIN_READABLE) {
        if (k < this.pz.k) this.pz.show(target, k, 20);
        else this.pz.reveal(target, 20);
        return;
      }
    }
    this.pz.center(b, 20, MIN_READABLE);
  }

  /** Keep ``id`` where it is on screen through the next picture (a frame showing another member). */
  keep(id) {
    const b = this.box(id);
    if (!b) return;
    const [sx, sy] = this.pz.toScreen(b.x + b.w / 2, b.y);
    this.anchor = { id, sx, sy };
  }

  /** Where the view goes next, by name: "all" (fit, readable), "top", "center" (on id), "fit" (id opened:
   * with context), "keep" (id stays in place). For the app, whose server says it with the new picture. */
  goTo(mode, id) {
    if (!this.svg) return;
    if (mode === "all") this.pz.fit();
    else if (mode === "top") this.pz.initial(MIN_READABLE);
    else if (mode === "center" && this.box(id)) this.pz.center(this.box(id));
    else if (mode === "fit" && this.box(id)) this.showWithContext(id);
    this.needsInitial = false;
  }

  /** Centre on a node when it is (or, after the next picture, will be) visible. */
  focus(id) {
    if (!id) return;
    this.pendingFocus = id;
    this.placeView();
  }

  setMarks(marks) {
    this.marks = { selected: (marks && marks.selected) || "", matches: (marks && marks.matches) || [] };
    this.applyMarks();
  }

  applyMarks() {
    if (!this.svg) return;
    for (const g of this.svg.querySelectorAll(".bvg-selected, .bvg-match")) {
      g.classList.remove("bvg-selected", "bvg-match");
    }
    for (const id of this.marks.matches) {
      const g = this.nodes.get(id);
      if (g) g.classList.add("bvg-match");
    }
    const sel = this.nodes.get(this.marks.selected);
    if (sel) sel.classList.add("bvg-selected");
  }

  onResize() {
    if (!this.svg) return;
    if (this.needsInitial) this.placeView();
    else this.pz.apply();
  }

  bindZoomLabel(el) {
    this.zoomLabel = el;
    this.updateZoomLabel();
  }

  updateZoomLabel() {
    if (this.zoomLabel) this.zoomLabel.textContent = `${Math.round(this.pz.k * 100)}%`;
  }

  /** Fit the whole picture: unfolded stacks wrap into columns (layout/wrap.py), so all of it stays within
   * 3:1, and far out the open frames keep their titles readable (far_titles.js). */
  fitReadable() {
    this.pz.fit();
    if (this.farTitles) this.farTitles.update(this.pz.k);
  }

  showHint(text) {
    this.hint.textContent = text;
    this.hint.classList.add("bvg-show");
    clearTimeout(this.hintTimer);
    this.hintTimer = setTimeout(() => this.hint.classList.remove("bvg-show"), 1400);
  }

  // --- input --------------------------------------------------------------------------------------------
  listen() {
    const host = this.host;
    let drag = null;
    host.addEventListener("pointerdown", (e) => {
      if (e.button !== 0) return;
      drag = { x: e.clientX, y: e.clientY, lx: e.clientX, ly: e.clientY, moved: false, target: e.target };
      try {
        host.setPointerCapture(e.pointerId);
      } catch (_e) {
        /* not supported: panning still works while the pointer stays inside */
      }
      host.focus({ preventScroll: true });
    });
    host.addEventListener("pointermove", (e) => {
      if (!drag || !drag.moved) this.showTip(e);
      else this.tip.classList.remove("bvg-show");
      if (!drag) return;
      if (!drag.moved && Math.hypot(e.clientX - drag.x, e.clientY - drag.y) > CLICK_SLOP) {
        drag.moved = true;
        host.classList.add("bvg-panning");
      }
      if (drag.moved) {
        this.pz.panBy(e.clientX - drag.lx, e.clientY - drag.ly);
        drag.lx = e.clientX;
        drag.ly = e.clientY;
      }
    });
    const end = (e, cancelled) => {
      if (!drag) return;
      const d = drag;
      drag = null;
      host.classList.remove("bvg-panning");
      if (!cancelled && !d.moved) this.onClick(d.target, e);
    };
    host.addEventListener("pointerup", (e) => end(e, false));
    host.addEventListener("pointerleave", () => this.tip.classList.remove("bvg-show"));
    host.addEventListener("pointercancel", (e) => end(e, true));
    host.addEventListener(
      "wheel",
      (e) => {
        const r = host.getBoundingClientRect();
        const unit = e.deltaMode === 1 ? 16 : e.deltaMode === 2 ? r.height : 1;
        if (e.ctrlKey || e.metaKey) {
          e.preventDefault();
          this.pz.zoomAt(Math.exp(-e.deltaY * unit * 0.002), e.clientX - r.left, e.clientY - r.top);
        } else if (document.activeElement === host) {
          e.preventDefault();
          this.pz.panBy(-e.deltaX * unit, -e.deltaY * unit);
        } else {
          this.showHint("ctrl + scroll to zoom · click the picture to scroll inside it");
        }
      },
      { passive: false },
    );
    host.addEventListener("keydown", (e) => {
      const step = 60;
      const keys = {
        "+": () => this.pz.zoomCenter(1.25),
        "=": () => this.pz.zoomCenter(1.25),
        "-": () => this.pz.zoomCenter(0.8),
        0: () => this.fitReadable(),
        ArrowLeft: () => this.pz.panBy(step, 0),
        ArrowRight: () => this.pz.panBy(-step, 0),
        ArrowUp: () => this.pz.panBy(0, step),
        ArrowDown: () => this.pz.panBy(0, -step),
      };
      const f = keys[e.key];
      if (f && !e.ctrlKey && !e.metaKey && !e.altKey) {
        e.preventDefault();
        e.stopPropagation(); // keep notebook shortcuts ("0 0" restarts the kernel) away
        f();
      }
    });
  }

  onClick(target, e) {
    target = this.pointed(target, e);
    const edge = target && target.closest ? target.closest("g.edge") : null;
    if (edge && this.host.contains(edge)) {
      const id = edge.getAttribute("data-id");
      this.markEdge(id);
      this.api.send({ type: "edge", id, source: edge.getAttribute("data-source"), target: edge.getAttribute("data-target") });
      return;
    }
    const g = target && target.closest ? target.closest("g.node") : null;
    if (!g || !this.host.contains(g)) return;
    this.markEdge("");
    const id = g.getAttribute("data-id");
    const expandable = g.getAttribute("data-expandable") === "1";
    const expanded = g.getAttribute("data-expanded") === "1";
    let part = "box";
    if (target.closest(".bvg-badge")) part = "badge";
    else if (expanded) part = target.tagName.toLowerCase() === "rect" ? "body" : "title";
    const now = Date.now();
    const x = e ? e.clientX : 0;
    const y = e ? e.clientY : 0;
    const last = this.lastClick;
    const double = last.id === id && last.part === part && now - last.t < DOUBLE_MS && Math.hypot(x - last.x, y - last.y) < 6;
    this.lastClick = { id, part, t: now, x, y };
    const toggle = expandable && part !== "body";
    if (toggle || double) {
      const b = this.box(id);
      if (b) {
        const [sx, sy] = this.pz.toScreen(b.x + b.w / 2, b.y);
        this.anchor = { id, sx, sy };
      }
    }
    if (double) {
      if (!toggle) this.api.send({ type: "dblclick", id });
      return; // the first click already acted on a box
    }
    this.api.send({ type: "click", id, toggle, part, shift: !!(e && e.shiftKey) });
  }

  clear() {
    clear(this.host);
  }
}
