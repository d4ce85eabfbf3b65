// Composition by translation in integer hundredths of a pixel: a port of bertviz_graph/layout/subtree.py
// (q, iline, Part, compose_parts, _part, _piece, _make_part) over compose_offline.js's Builder. Every local
// value is rounded to a hundredth once (Python's round(): ties to even), a frame's origin is its parent's
// plus an integer offset, so the page's numbers are the server's to the last digit. The page composes one
// view per combination (offline_compose.js keeps the pictures), so parts are not memoised across views.

import { roundInt } from "./pynum_offline.js";

/** subtree.q: a local coordinate in hundredths of a pixel (Python's round(v * 100), ties to even). */
export const q = (v) => roundInt(v * 100) + 0; // + 0: never -0 (Python ints have none)

/** subtree.iline: dot_io.line in hundredths (c1, c2, b); depends on b - a only, so it translates exactly. */
function iline(a, b) {
  const dx = b[0] - a[0];
  const dy = b[1] - a[1];
  return [
    [a[0] + roundInt(dx / 3), a[1] + roundInt(dy / 3)],
    [a[0] + roundInt((2 * dx) / 3), a[1] + roundInt((2 * dy) / 3)],
    b,
  ];
}

/** subtree.Part: one container's share of the picture, relative to its top-left corner, in hundredths. */
function part() {
  return { boxes: [], subs: new Map(), routes: new Map(), labels: new Map() };
}

/** subtree.compose_parts: absolute boxes, routes and label positions of a built view (every container laid
 * out), and each container's part (svg_offline.js draws from them). `kindGroup`/`pkey` are compose_offline.js's (pieces.kind_group, a PortKey as one string). */
export function composeParts(b, kindGroup, pkey) {
  const byTop = new Map();
  for (const e of b.view.edges) {
    const seq = b.edge_pieces.get(e.id);
    if (!seq || !seq.length) continue;
    const top = b.edge_top.get(e.id);
    if (!byTop.has(top)) byTop.set(top, []);
    byTop.get(top).push(e);
  }
  const parts = new Map();
  const qp = new Map();
  // part_of(None): children's parts first (bottom-up, iterative: deep views)
  const order = [];
  const stack = [null];
  while (stack.length) {
    const x = stack.pop();
    order.push(x);
    for (const k of b.conts.get(x).children) if (b.conts.has(k)) stack.push(k);
  }
  for (const x of order.reverse()) parts.set(x, makePart(b, x, sigsOf(b, x, byTop.get(x) || [], kindGroup, pkey), parts, qp));

  const boxes = new Map();
  const absRoutes = new Map();
  const absLabels = new Map();
  const origin = new Map([[null, [0, 0]]]);
  const todo = [null];
  while (todo.length) {
    // top-down: a frame's origin is known before its children are placed
    const cid = todo.pop();
    const p = parts.get(cid);
    const [ox, oy] = origin.get(cid);
    for (const [k, x, y, w, h] of p.boxes) {
      boxes.set(k, { x: (ox + x) / 100, y: (oy + y) / 100, w, h });
      if (p.subs.has(k)) {
        const [sx, sy] = p.subs.get(k);
        origin.set(k, [ox + sx, oy + sy]);
        todo.push(k);
      }
    }
    for (const [eid, pts] of p.routes) absRoutes.set(eid, pts.map(([x, y]) => [(ox + x) / 100, (oy + y) / 100]));
    for (const [eid, [x, y]] of p.labels) absLabels.set(eid, [(ox + x) / 100, (oy + y) / 100]);
  }
  // in the view's edge order, as before
  const routes = new Map();
  const labelPos = new Map();
  for (const e of b.view.edges) {
    if (absRoutes.has(e.id)) routes.set(e.id, absRoutes.get(e.id));
    if (absLabels.has(e.id)) labelPos.set(e.id, absLabels.get(e.id));
  }
  return [boxes, routes, labelPos, parts];
}

/** subtree._part's signatures: per edge owned here (id, pieces, in-port index or -1, out-port index or -1,
 * the position of the piece whose label is this edge's, or -1). */
function sigsOf(b, cid, topEdges, kindGroup, pkey) {
  const c = b.conts.get(cid);
  return topEdges.map((e) => {
    const pk = pkey(e.source, kindGroup(e.kind));
    const [start, end] = b.edge_ends.get(e.id);
    const seq = b.edge_pieces.get(e.id);
    const owner = seq.findIndex(([x, j]) => b.label_owner.get(`${x}\u0000${j}`) === e.id);
    return [e.id, seq, start !== null ? c.port_index.in.get(pk) : -1, end !== null ? c.port_index.out.get(pk) : -1, owner];
  });
}

/** subtree._piece: piece j of a local layout in hundredths, quantised once per layout (`qp`: one view). */
function piece(qp, lay, j) {
  let got = qp.get(lay);
  if (!got) qp.set(lay, (got = new Array(lay[5].length).fill(null)));
  if (got[j] === null) {
    const flat = lay[5][j];
    const pts = [];
    for (let i = 0; i < flat.length; i += 2) pts.push([q(flat[i]), q(flat[i + 1])]);
    got[j] = pts;
  }
  return got[j];
}

/** subtree._make_part (TB: the file's views are TB) */
function makePart(b, cid, sigs, parts, qp) {
  const c = b.conts.get(cid);
  const lay = c.layout;
  const p = part();
  c.children.forEach((k, i) => {
    const [cx, cy] = lay[2][i];
    const [w, h] = b.child_size(k);
    const x = q(cx);
    const y = q(cy);
    p.boxes.push([k, x, y, w, h]);
    if (b.conts.has(k)) p.subs.set(k, [x - q(w / 2), y - q(h / 2)]);
  });
  const rel = new Map([[cid, [0, 0]]]);
  const origin = (x) => {
    // a descendant container's origin relative to this one (from the parts below)
    if (!rel.has(x)) {
      const par = x !== null ? b.parent.get(x) : null;
      const [px, py] = origin(par);
      const [sx, sy] = (par !== cid ? parts.get(par).subs : p.subs).get(x);
      rel.set(x, [px + sx, py + sy]);
    }
    return rel.get(x);
  };
  const border = (side, k) => [q((side === "in" ? lay[3] : lay[4])[k]), side === "in" ? 0 : q(lay[1])];

  for (const [eid, seq, kIn, kOut, owner] of sigs) {
    const pts = [];
    if (kIn >= 0) pts.push(border("in", kIn));
    seq.forEach(([x, j], i) => {
      const [ox, oy] = origin(x);
      const xl = b.conts.get(x).layout;
      const seg = piece(qp, xl, j).map(([u, v]) => [ox + u, oy + v]);
      if (!pts.length) pts.push(...seg);
      else {
        const a = pts[pts.length - 1];
        const s0 = seg[0];
        if (Math.abs(a[0] - s0[0]) + Math.abs(a[1] - s0[1]) > 1) pts.push(...iline(a, s0)); // across a frame border
        pts.push(...seg.slice(1));
      }
      const lp = xl[6][j];
      if (i === owner && lp != null) p.labels.set(eid, [ox + q(lp[0]), oy + q(lp[1])]);
    });
    if (kOut >= 0) pts.push(...iline(pts[pts.length - 1], border("out", kOut)));
    p.routes.set(eid, pts);
  }
  return p;
}
