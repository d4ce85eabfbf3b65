// The Dash app's graph: the same GraphCanvas (graph.js) the notebook widget draws with, bundled by build.mjs
// into bertviz_graph/app/assets/bvg-graph.js (an IIFE; Dash serves it offline with the other assets).
//
// Server -> browser: the store `bv-graph-picture` ({svg, marks}) and `bv-focus` ({id, mode, nonce}) are the
// inputs of one clientside callback, dash_clientside.bvg.draw, which draws them into <div id="bv-graph">.
// Browser -> server: a click is written into the store `bv-graph-event` ({type, id, toggle, part, nonce})
// with dash_clientside.set_props, and the selection into `bv-selected` at once (panels load meanwhile).
// No polling, no access to any component's internals.
// A click's picture is painted before Dash applies the rest of its answer: Dash's renderer applies an
// answer's outputs (legend, breadcrumb, slider) and schedules the callbacks they trigger in the same task as
// the response's arrival, and the frame with the new picture waited 40-120 ms for that React work
// (benchmarks/tap_bench.py, a CPU profile per tap). Dash's renderer hooks (request_pre/request_post) are
// synchronous and cannot let a frame be painted first, so the page's fetch is wrapped for the two graph
// callbacks only (`graphFetch`): the answer's picture is drawn, the frame painted, then Dash reads the same
// response. The clientside draw that follows finds the picture already drawn.

import { paintFirst } from "./first_paint.js";
import { GraphCanvas } from "./graph.js";

const HOST_ID = "bv-graph";
const EVENT_ID = "bv-graph-event";
const PICTURE_ID = "bv-graph-picture";
const FOCUS_ID = "bv-focus";
const SELECTED_ID = "bv-selected";
const REQUEST_ID = "bv-view-request"; // ids.VIEW_REQUEST: the panels' view changes
const TABS_ID = "bv-tabs";
const RUN_TAB = "run";

// firstSet: when the canvas got its first picture (the frame that paints it comes next); firstDraw: that frame
const state = { canvas: null, host: null, nonce: 0, draws: 0, firstSet: null, firstDraw: null, lastDraw: null, GraphCanvas };
window.bvgGraph = state; // read by tests and benchmarks (benchmarks/graph_render_bench.py draws with GraphCanvas)

let pendingSelect = null; // the box a tap selects, written once its picture is painted

function flushSelect() {
  const dc = window.dash_clientside;
  if (pendingSelect === null || !dc || !dc.set_props) return;
  const id = pendingSelect;
  pendingSelect = null;
  dc.set_props(SELECTED_ID, { data: { id } });
}

// A tap made after an answer's picture is painted but before Dash has read that answer (graphFetch) would
// be sent with the view state from before it (the click callback reads VIEW_STATE as State): it waits, and
// is sent once Dash has the answer (two taps in a row opened the wrong box; test_two_tabs_explore_...).
const handOver = { pending: 0, queued: [] };

function send(msg) {
  const dc = window.dash_clientside;
  if (!dc || !dc.set_props) return;
  if (handOver.pending > 0) {
    handOver.queued.push(msg);
    return;
  }
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
    if (state.firstSet === null) state.firstSet = t0;
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

// Requests are numbered as they are sent; an answer to an older request than the newest picture drawn on
// arrival is not drawn (the ×N slider's key presses send several; answers can cross; Dash drops it too)
const sent = { n: 0, drawn: 0 };

/** Draw an arrived answer's picture (request number ``n``); true when it was drawn. */
function arrived(n, pic, f) {
  const c = canvas();
  if (!c || n < sent.drawn) return false;
  sent.drawn = n;
  const size = `${c.host.clientWidth}x${c.host.clientHeight}`; // read before the picture changes: no layout
  c.pz.hold(); // the moves after the new picture read this size too (see PanZoom.hold)
  try {
    present(c, pic, f || {}, !!f);
  } finally {
    c.pz.release();
  }
  early.seq += 1;
  early.drawn.set(pic.svg, early.seq);
  if (early.drawn.size > 4) early.drawn.delete(early.drawn.keys().next().value);
  if (f) early.focus = f.nonce;
  early.size = size;
  return true;
}

/** The picture (and viewport move) in a callback answer: its outputs, or set_props' side update. */
function pictureIn(data) {
  for (const part of [data && data.response, data && data.sideUpdate]) {
    const pic = part && part[PICTURE_ID] && part[PICTURE_ID].data;
    if (pic && typeof pic.svg === "string") return { pic, focus: (part[FOCUS_ID] && part[FOCUS_ID].data) || null };
  }
  return null;
}

// resolves once the frame after now has been painted (a task queued from its animation frame runs after it)
const painted = () => new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0)));

const pageFetch = window.fetch;
/** window.fetch for the page: the graph callbacks' answers are drawn and painted before Dash reads them. */
function graphFetch(input, init) {
  const body = init && typeof init.body === "string" ? init.body : "";
  const url = typeof input === "string" ? input : String((input && input.url) || "");
  const pending = pageFetch.call(window, input, init);
  // the click callback writes the picture; the panels' callback (VIEW_REQUEST) may write it with set_props
  const click = body.includes(`${PICTURE_ID}.data`);
  if (!url.includes("_dash-update-component") || !(click || body.includes(`"${REQUEST_ID}"`))) return pending;
  const n = ++sent.n;
  return pending.then(async (res) => {
    if (res.status !== 200) return res;
    const text = await res.text();
    let got = null;
    try {
      got = pictureIn(JSON.parse(text));
    } catch (_e) {
      got = null; // Dash reports what it cannot read
    }
    if (got && arrived(n, got.pic, got.focus)) {
      handOver.pending += 1;
      await painted();
      // Dash reads the response returned below in tasks queued before the next frame's: then the taps wait no more
      painted().then(() => {
        handOver.pending -= 1;
        if (handOver.pending === 0) handOver.queued.splice(0).forEach(send);
      });
    }
    if (click) painted().then(flushSelect); // a tap's selection after the frame that paints its answer
    return new Response(text, { status: res.status, statusText: res.statusText, headers: res.headers });
  });
}
if (typeof pageFetch === "function") window.fetch = graphFetch;
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
  if (state.firstSet === null) state.firstSet = t0;
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
