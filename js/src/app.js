// The Dash app's graph: the same GraphCanvas (graph.js) the notebook widget draws with, bundled by build.mjs
// into bertviz_graph/app/assets/bvg-graph.js (an IIFE; Dash serves it offline with the other assets).
//
// Server -> browser: the store `bv-graph-picture` ({svg, marks}) and `bv-focus` ({id, mode, nonce}) are the
// inputs of one clientside callback, dash_clientside.bvg.draw, which draws them into <div id="bv-graph">.
// Browser -> server: a click is written into the store `bv-graph-event` ({type, id, toggle, part, nonce})
// with dash_clientside.set_props, and the selection into `bv-selected` at once (panels load meanwhile).
// No polling, no access to any component's internals.
// A click's answer is drawn as soon as it arrives: Dash's renderer calls `answered` (its documented
// request_post hook, installed by graph_panel.register) with each callback's response, before it applies
// the other outputs (legend, breadcrumb, slider) and schedules the panels, which took 100-300 ms of the tap
// on bert-base (benchmarks/tap_bench.py); the clientside draw that follows finds the picture already drawn.

import { paintFirst } from "./first_paint.js";
import { GraphCanvas } from "./graph.js";

const HOST_ID = "bv-graph";
const EVENT_ID = "bv-graph-event";
const PICTURE_ID = "bv-graph-picture";
const FOCUS_ID = "bv-focus";
const SELECTED_ID = "bv-selected";
const TABS_ID = "bv-tabs";
const RUN_TAB = "run";

const state = { canvas: null, host: null, nonce: 0, draws: 0, firstDraw: null, lastDraw: null, GraphCanvas };
window.bvgGraph = state; // read by tests and benchmarks (benchmarks/graph_render_bench.py draws with GraphCanvas)

let pendingSelect = null; // the box a tap selects, written once its picture is painted

function flushSelect() {
  const dc = window.dash_clientside;
  if (pendingSelect === null || !dc || !dc.set_props) return;
  const id = pendingSelect;
  pendingSelect = null;
  dc.set_props(SELECTED_ID, { data: { id } });
}

function send(msg) {
  const dc = window.dash_clientside;
  if (!dc || !dc.set_props) return;
  if (msg.type === "click" || msg.type === "dblclick") {
    state.nonce += 1;
    flushSelect(); // an earlier tap's, if its answer never came
    dc.set_props(EVENT_ID, { data: { ...msg, nonce: state.nonce } });
    // a tap that opens or closes selects its box after the new picture is painted: the panels' requests
    // (details, weights, neurons, ...) then neither delay the picture's answer nor its paint (tap_bench.py)
    if (msg.toggle) pendingSelect = msg.id;
    else dc.set_props(SELECTED_ID, { data: { id: msg.id } });
    if (state.canvas) state.canvas.setMarks({ ...state.canvas.marks, selected: msg.id }); // at once, no round trip
    if (state.canvas) state.canvas.markEdge("");
  } else if (msg.type === "edge") {
    // an edge is selected instead of a box: the Run tab shows the tensor it carries
    state.nonce += 1;
    pendingSelect = null;
    dc.set_props(SELECTED_ID, { data: { id: null, edge: msg.id, source: msg.source, target: msg.target, nonce: state.nonce } });
    if (state.canvas) state.canvas.setMarks({ ...state.canvas.marks, selected: "" });
    dc.set_props(TABS_ID, { value: RUN_TAB });
  }
}

function canvas() {
  const el = document.getElementById(HOST_ID);
  if (!el) return null;
  if (state.canvas && state.host === el) return state.canvas;
  if (state.canvas) state.canvas.destroy();
  el.textContent = "";
  state.host = el;
  state.canvas = new GraphCanvas({ send }, el);
  return state.canvas;
}

// pictures drawn on arrival, in order (svg text -> sequence number): Dash's later draw of an older one is stale
const early = { seq: 0, drawn: new Map(), focus: null };

/** Draw ``picture`` ({svg, marks}) with the viewport move ``f`` ({id, mode, nonce}) when ``moved``. */
function present(c, picture, f, moved) {
  const newPicture = picture && picture.svg !== c.svgText;
  if (newPicture) {
    if (f.id && (f.mode === "keep" || f.mode === "keep-top") && !c.anchor) c.keep(f.id);
    const t0 = performance.now();
    c.setSvg(picture.svg);
    state.draws += 1;
    requestAnimationFrame(() => {
      state.lastDraw = performance.now();
      state.lastDrawMs = state.lastDraw - t0;
      if (state.firstDraw === null) state.firstDraw = state.lastDraw;
    });
  }
  if (picture) c.setMarks(picture.marks);
  if (f.mode && (moved || newPicture)) {
    const anchored = c.anchor && c.anchor.id === f.id; // a click: the canvas keeps the clicked box in place
    if (!anchored && !(f.mode === "keep" || f.mode === "keep-top")) c.goTo(f.mode, f.id);
  }
}

// Dash's request_pre hook numbers each request as it is sent; an answer to an older request than the newest
// picture drawn on arrival is not drawn (the ×N slider's key presses send several; answers can cross)
const sent = { n: 0, of: new WeakMap(), drawn: 0 };
function asked(payload) {
  if (payload && typeof payload === "object") sent.of.set(payload, ++sent.n);
}
state.asked = asked;

/** Dash's request_post hook: a response carrying the picture is drawn now (see the top of this file). */
function answered(payload, response) {
  if (payload && String(payload.output).includes(`${PICTURE_ID}.data`)) {
    requestAnimationFrame(() => setTimeout(flushSelect, 0)); // after the frame that paints the answer
  }
  const pic = response && response[PICTURE_ID] && response[PICTURE_ID].data;
  if (!pic || typeof pic.svg !== "string") return;
  const c = canvas();
  if (!c) return;
  const n = payload && typeof payload === "object" ? sent.of.get(payload) : undefined;
  if (n !== undefined) {
    if (n < sent.drawn) return; // a newer request's picture is already drawn: Dash drops this answer too
    sent.drawn = n;
  }
  const f = (response[FOCUS_ID] && response[FOCUS_ID].data) || null;
  present(c, pic, f || {}, !!f);
  early.seq += 1;
  early.drawn.set(pic.svg, early.seq);
  if (early.drawn.size > 4) early.drawn.delete(early.drawn.keys().next().value);
  if (f) early.focus = f.nonce;
  early.size = `${c.host.clientWidth}x${c.host.clientHeight}`;
}
state.answered = answered;
state.early = early; // read by tests: pictures drawn on arrival

function draw(picture, focus) {
  const c = canvas();
  if (!c) return window.dash_clientside.no_update;
  const f = focus || {};
  const seq = picture ? early.drawn.get(picture.svg) : undefined;
  if (seq !== undefined && seq < early.seq) return Date.now(); // a newer answer is already drawn
  const triggered = (window.dash_clientside.callback_context.triggered || []).map((t) => t.prop_id);
  // a move already made on arrival is made again only if the canvas has been resized since (the answer's
  // other outputs, e.g. the ×N slider's row appearing, move the canvas): the opened box stays in view
  const done = f.nonce != null && f.nonce === early.focus && early.size === `${c.host.clientWidth}x${c.host.clientHeight}`;
  const moved = triggered.some((p) => p.startsWith(`${FOCUS_ID}.`)) && !done;
  present(c, picture, f, moved);
  return Date.now();
}

// The index page's picture (first_paint.js), before any callback: the draw callback then finds it drawn.
function paintEarly(picture) {
  const c = canvas();
  if (!c || c.svgText || !picture || !picture.svg) return;
  const t0 = performance.now();
  c.setSvg(picture.svg);
  c.setMarks(picture.marks);
  state.draws += 1;
  state.paintedFromIndex = true; // first_paint.js drew the index page's picture (tests read it)
  requestAnimationFrame(() => {
    state.lastDraw = performance.now();
    state.lastDrawMs = state.lastDraw - t0;
    if (state.firstDraw === null) state.firstDraw = state.lastDraw;
  });
}

paintFirst(HOST_ID, paintEarly);

function zoom(factor) {
  const c = canvas();
  if (c) c.pz.zoomCenter(factor);
  return Date.now();
}

window.dash_clientside = Object.assign({}, window.dash_clientside, {
  bvg: {
    draw,
    fit: () => {
      const c = canvas();
      if (c) c.fitReadable();
      return Date.now();
    },
    tips: (tips) => {
      const c = canvas();
      if (c) c.setEdgeTips(tips && tips.edges);
      if (c) c.setNodeTips(tips && tips.nodes);
      return Date.now();
    },
    zoomIn: () => zoom(1.25),
    zoomOut: () => zoom(0.8),
    crumb: () => {
      const nu = window.dash_clientside.no_update;
      const trig = window.dash_clientside.callback_context.triggered;
      if (!trig || trig.length !== 1 || !trig[0].value) return [nu, nu];
      const key = trig[0].prop_id.slice(0, trig[0].prop_id.lastIndexOf("."));
      let id;
      try {
        id = JSON.parse(key);
      } catch (_e) {
        return [nu, nu];
      }
      const sel = id.id === "" ? nu : { id: id.id };
      const focus = id.rep ? { id: id.rep, mode: "center", nonce: Date.now() } : { mode: "all", nonce: Date.now() };
      return [focus, sel];
    },
  },
});
