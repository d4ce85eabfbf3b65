// A container the file's table lacks, laid out in the page by Graphviz compiled to WebAssembly
// (@hpcc-js/wasm-graphviz): a port of bertviz_graph/layout/dot_io.py (dot_source from the structural key,
// local_layout from dot's json0) for TB containers. Its dot is not Debian's, so such a container may differ
// slightly from the app's picture (the page says so). Then wrap.wrap_stack, as compose._layout does
// (wrap_offline.js).

import { Graphviz } from "@hpcc-js/wasm-graphviz";
import { roundInt } from "./pynum_offline.js";
import { wrapStack } from "./wrap_offline.js";

const NODESEP = 0.25;
const RANKSEP = 0.3;
const PORT_SIZE = 0.02;
const WEIGHT = { data: 2, residual: 1, param: 1 };
const HTML_CELL_MAX = 60000;
const BUS_MIN = 3;
const HUGE_CONTAINER = 64; // dot_io.HUGE_CONTAINER: children beyond which dot's positioning gets a budget
// layout/measure.py
const FRAME_PAD = 10.0;
const FRAME_TOP_GAP = 4.0;
const FRAME_MIN_W = 60.0;
const CANVAS_MARGIN = 12.0;

const inch = (px) => (px / 72.0).toFixed(4); // dot_io._inch
const isFrame = (kid) => kid.length === 4;

/** dot_io._html_frame, TB: an expanded child as a w×h table whose border cells sit at the port offsets */
function htmlFrame(w, h, ins, outs) {
  const tab = '<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="0">';
  const W = Math.trunc(w);
  const H = Math.trunc(h);
  const strip = (total, offsets, prefix) => {
    const cells = [];
    let pos = 0;
    const order = offsets.map((off, k) => [k, off]).sort((a, b) => a[1] - b[1] || a[0] - b[0]);
    for (const [k, off] of order) {
      if (off - 1 > pos) cells.push([off - 1 - pos, ""]);
      cells.push([2, ` PORT="${prefix}${k}"`]);
      pos = off + 1;
    }
    if (total > pos) cells.push([total - pos, ""]);
    const tds = `<TR>${cells.map(([n, p]) => `<TD FIXEDSIZE="TRUE" WIDTH="${n}" HEIGHT="1"${p}></TD>`).join("")}</TR>`;
    return `<TD>${tab}${tds}</TABLE></TD>`;
  };
  const rows = [];
  for (let left = H - 2; left > 0; left -= rows[rows.length - 1]) rows.push(Math.min(left, HTML_CELL_MAX));
  const mid = (rows.length ? rows : [0]).map((r) => `<TR><TD FIXEDSIZE="TRUE" WIDTH="${W}" HEIGHT="${r}"></TD></TR>`).join("");
  return `<${tab}<TR>${strip(W, ins, "i")}</TR>${mid}<TR>${strip(W, outs, "o")}</TR></TABLE>>`;
}

const item = (d) => (d[0] === "c" ? ["c", d[1]] : d); // dot_io._item
const ik = (it) => JSON.stringify(it);

/** dot_io._flow_order: topological position of every child and port (ties by input order) */
function flowOrder(nKids, nIn, nOut, pieces) {
  const items = [];
  for (let k = 0; k < nIn; k++) items.push(["p", "in", k]);
  for (let i = 0; i < nKids; i++) items.push(["c", i]);
  const rank = new Map(items.map((it, i) => [ik(it), i]));
  const succ = new Map();
  const indeg = new Map(items.map((it) => [ik(it), 0]));
  for (const [t, h] of pieces) {
    const a = ik(item(t));
    const b = ik(item(h));
    if (indeg.has(a) && indeg.has(b) && a !== b) {
      if (!succ.has(a)) succ.set(a, []);
      succ.get(a).push(b);
      indeg.set(b, indeg.get(b) + 1);
    }
  }
  const heap = items.filter((it) => indeg.get(ik(it)) === 0).map((it) => rank.get(ik(it))); // ranks: items are unique
  const keys = items.map(ik);
  const order = new Map();
  while (order.size < items.length) {
    if (!heap.length) heap.push(Math.min(...keys.filter((k) => !order.has(k)).map((k) => rank.get(k))));
    heap.sort((x, y) => x - y);
    const k = keys[heap.shift()];
    if (order.has(k)) continue;
    order.set(k, order.size);
    for (const b of succ.get(k) || []) {
      indeg.set(b, indeg.get(b) - 1);
      if (indeg.get(b) === 0 && !order.has(b)) heap.push(rank.get(b));
    }
  }
  const n = order.size;
  for (let k = 0; k < nOut; k++) order.set(ik(["p", "out", k]), n + k);
  return order;
}

/** dot_io.buses: pieces with one tail and kind and >= BUS_MIN heads, heads in data-flow order */
function buses(key) {
  const [, , kids, nIn, nOut, pieces] = key;
  const groups = new Map();
  pieces.forEach(([t, , kg], j) => {
    const k = JSON.stringify([t, kg]);
    if (!groups.has(k)) groups.set(k, [t, kg, []]);
    groups.get(k)[2].push(j);
  });
  const big = [...groups.values()].filter((g) => g[2].length >= BUS_MIN);
  if (!big.length) return [];
  const order = flowOrder(kids.length, nIn, nOut, pieces);
  return big.map(([t, kg, js]) => [t, kg, [...js].sort((a, b) => order.get(ik(item(pieces[a][1]))) - order.get(ik(item(pieces[b][1]))) || a - b)]);
}

/** dot_io.dot_source (TB) */
export function dotSource(key) {
  const [direction, , kids, nIn, nOut, pieces] = key;
  const [cin, cout] = ["n", "s"];
  const lines = [
    "digraph L {",
    `graph [rankdir=${direction} nodesep=${NODESEP} ranksep=${RANKSEP} splines=spline margin=0 pad=0];`,
    'node [shape=box fixedsize=true label=""];',
    "edge [arrowhead=none];",
  ];
  if (kids.length > HUGE_CONTAINER) lines.push("graph [nslimit=0.02];"); // a few network-simplex iterations
  kids.forEach((kid, i) => {
    if (kid.length === 2) lines.push(`n${i} [width=${inch(kid[0])} height=${inch(kid[1])}];`);
    else lines.push(`n${i} [shape=none margin=0 fixedsize=false label=${htmlFrame(kid[0], kid[1], kid[2], kid[3])}];`);
  });
  const pt = `shape=point width=${PORT_SIZE} height=${PORT_SIZE}`;
  if (nIn) lines.push(`{rank=source; ${Array.from({ length: nIn }, (_, k) => `pi${k} [${pt}];`).join(" ")}}`);
  if (nOut) lines.push(`{rank=sink; ${Array.from({ length: nOut }, (_, k) => `po${k} [${pt}];`).join(" ")}}`);
  const end = (d, isTail) => {
    if (d[0] === "p") return `p${d[1] === "in" ? "i" : "o"}${d[2]}`;
    if (d.length === 2) return isFrame(kids[d[1]]) ? `n${d[1]}:${isTail ? cout : cin}` : `n${d[1]}`;
    return `n${d[1]}:${d[2] === "in" ? "i" : "o"}${d[3]}:${d[2] === "in" ? cin : cout}`;
  };
  const label = (lbl) =>
    lbl === null
      ? ""
      : ` label=<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="0" FIXEDSIZE="TRUE" WIDTH="${Math.trunc(lbl[0])}" HEIGHT="${Math.trunc(lbl[1])}"><TR><TD></TD></TR></TABLE>>`;
  const onBus = new Set();
  buses(key).forEach(([tail, kg, js], g) => {
    const w = WEIGHT[kg];
    const first = js.find((j) => pieces[j][3] !== null);
    const lbl = first === undefined ? null : pieces[first][3];
    lines.push(js.map((_, k) => `j${g}_${k} [${pt}];`).join(" "));
    lines.push(`${end(tail, true)} -> j${g}_0 [id=b${g}_0 weight=${w}${label(lbl)}];`);
    js.forEach((j, k) => {
      if (k) lines.push(`j${g}_${k - 1} -> j${g}_${k} [id=b${g}_${k} weight=1 minlen=0];`);
      lines.push(`j${g}_${k} -> ${end(pieces[j][1], false)} [id=e${j} weight=${w}];`);
      onBus.add(j);
    });
  });
  const framed = new Map();
  pieces.forEach(([t, h, kg, lbl], j) => {
    const both = t[0] === "c" && h[0] === "c" && isFrame(kids[t[1]]) && isFrame(kids[h[1]]);
    if (both && t[1] !== h[1]) framed.set(`${t[1]},${h[1]}`, [t[1], h[1]]);
    if (!onBus.has(j)) lines.push(`${end(t, true)} -> ${end(h, false)} [id=e${j} weight=${both ? 1 : WEIGHT[kg]}${label(lbl)}];`);
  });
  for (const [a, b] of [...framed.values()].sort((x, y) => x[0] - y[0] || x[1] - y[1])) lines.push(`n${a} -> n${b} [style=invis weight=8];`);
  lines.push("}");
  return lines.join("\n");
}

const xy = (s) => s.split(",").slice(0, 2).map(Number);
/** dot_io._spline (arrow tips dropped) */
const spline = (pos) =>
  pos
    .replace(/;/g, " ")
    .split(/\s+/)
    .filter((p) => p && !p.startsWith("e,") && !p.startsWith("s,"))
    .map(xy);

/** dot_io.line */
function line(a, b) {
  return [
    [a[0] + (b[0] - a[0]) / 3, a[1] + (b[1] - a[1]) / 3],
    [a[0] + (2 * (b[0] - a[0])) / 3, a[1] + (2 * (b[1] - a[1])) / 3],
    b,
  ];
}

/** dot_io._concat */
function concat(a, b) {
  if (!a || a.length < 4) return [...b];
  if (!b || b.length < 4) return [...a];
  const out = [...a];
  const p = a[a.length - 1];
  if (Math.abs(p[0] - b[0][0]) + Math.abs(p[1] - b[0][1]) > 0.01) out.push(...line(p, b[0]));
  out.push(...b.slice(1));
  return out;
}

/** dot_io._spread */
function spread(offsets, total) {
  const res = offsets.map(() => 0);
  let prev = -1;
  const order = offsets.map((o, k) => [o, k]).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  for (const [o, k] of order) {
    const x = Math.max(roundInt(o), 1, prev + 2);
    res[k] = Math.min(x, total - 1);
    prev = res[k];
  }
  return res;
}

/** dot_io.local_layout(key, result) as a table record [w, h, child_xy, in_border, out_border, pieces, piece_lp];
 * `extra.outY` gets the out-ports' y, which the record does not keep (wrap_offline.wrapStack reads it). */
export function localLayout(key, result, extra = {}) {
  const [, frame, kids, nIn, nOut, pieces] = key;
  let [llx, lly, urx, ury] = [0, 0, 0, 0];
  if (result) [llx, lly, urx, ury] = result.bb.split(",").map(Number);
  else if (kids.length) [urx, ury] = [kids[0][0], kids[0][1]];
  const iw = urx - llx;
  const ih = ury - lly;
  let w;
  let h;
  let x0;
  let y0;
  if (frame !== null) {
    const [titleW, titleH] = frame;
    w = Math.ceil(Math.max(iw + 2 * FRAME_PAD, titleW, FRAME_MIN_W));
    const top = titleH + (kids.length ? FRAME_TOP_GAP : 0.0);
    h = Math.ceil(top + ih + (kids.length ? FRAME_PAD : 0.0));
    [x0, y0] = [(w - iw) / 2, top];
  } else {
    w = Math.ceil(iw + 2 * CANVAS_MARGIN);
    h = Math.ceil(ih + 2 * CANVAS_MARGIN);
    x0 = y0 = CANVAS_MARGIN;
  }
  const tr = (p) => [x0 + p[0] - llx, y0 + ury - p[1]];
  const pos = new Map();
  const piecePts = pieces.map(() => []);
  const pieceLp = pieces.map(() => null);
  if (result) {
    for (const obj of result.objects || []) if ("pos" in obj) pos.set(obj.name, tr(xy(obj.pos)));
    const chain = new Map();
    const chainLp = new Map();
    for (const e of result.edges || []) {
      const eid = String(e.id ?? "");
      const pts = "pos" in e ? spline(e.pos).map(tr) : [];
      if (eid.startsWith("b")) {
        chain.set(eid, pts);
        if ("lp" in e) chainLp.set(eid, tr(xy(e.lp)));
        continue;
      }
      const j = /^\d+$/.test(eid.slice(1)) ? Number(eid.slice(1)) : -1;
      if (j >= 0 && j < pieces.length) {
        piecePts[j] = pts;
        if ("lp" in e) pieceLp[j] = tr(xy(e.lp));
      }
    }
    buses(key).forEach(([, , js], g) => {
      let trunk = [];
      js.forEach((j, k) => {
        trunk = concat(trunk, chain.get(`b${g}_${k}`) || []);
        piecePts[j] = concat(trunk, piecePts[j]);
      });
      const first = js.find((j) => pieces[j][3] !== null);
      if (first !== undefined && chainLp.has(`b${g}_0`)) pieceLp[first] = chainLp.get(`b${g}_0`);
    });
  } else if (kids.length) {
    pos.set("n0", [x0 + iw / 2, y0 + ih / 2]);
  }
  const childXy = kids.map((_, i) => pos.get(`n${i}`));
  const inXy = Array.from({ length: nIn }, (_, k) => pos.get(`pi${k}`));
  const outXy = Array.from({ length: nOut }, (_, k) => pos.get(`po${k}`));
  extra.outY = outXy.map((p) => p[1]);
  const anchor = (d) => (d[0] === "p" ? (d[1] === "in" ? inXy : outXy)[d[2]] : childXy[d[1]]);
  pieces.forEach(([t, hd], j) => {
    if (piecePts[j].length < 4) {
      const a = anchor(t);
      piecePts[j] = [a, ...line(a, anchor(hd))];
    }
  });
  return [w, h, childXy, spread(inXy.map((p) => p[0]), w), spread(outXy.map((p) => p[0]), w), piecePts.map((p) => p.flat()), pieceLp];
}

/** Graphviz (WASM), loaded once per page on first need. */
export class WasmDot {
  /** `moduleHeights`: wrap._module_heights, as compose_data.compose_payload stores them */
  constructor(moduleHeights) {
    this.moduleHeights = moduleHeights;
    this.gv = null;
    this.loading = null;
    this.memo = new Map(); // key text -> record (a container laid out once per page)
  }
  load() {
    this.loading =
      this.loading ||
      Graphviz.load().then((gv) => {
        gv.layout("digraph { a -> b }", "json0", "dot"); // warm: the first layout pays the engine's start-up
        this.gv = gv;
      });
    return this.loading;
  }
  /** The table record of one container laid out here (after wrap.wrap_stack), or null (not loaded yet). */
  layout(key) {
    if (!this.gv || key[0] !== "TB") return null;
    const k = JSON.stringify(key);
    if (!this.memo.has(k)) {
      const extra = {};
      const lay = localLayout(key, JSON.parse(this.gv.layout(dotSource(key), "json0", "dot")), extra);
      this.memo.set(k, wrapStack(key, lay, extra.outY, this.moduleHeights));
    }
    return this.memo.get(k);
  }
}
