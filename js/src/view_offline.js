// The view in the offline file: (hierarchy, opened groups) -> the visible nodes and edges, a port of
// bertviz_graph/view.py (View._states, View._reps, View._data) over the plain data of
// bertviz_graph/html/compose_data.py (hierarchy_data, node_records). Same names, same order of work: a
// change to view.py must be made here too (tests/test_html_compose.py compares the pictures).

const KIND_ORDER = ["data", "residual", "param", "shared", "tied"]; // view._KIND_ORDER

/** The hierarchy's derived lookups, once per file: parent of every id, walk order. */
export function prepare(H) {
  const parent = new Map();
  for (const [gid, g] of Object.entries(H.groups)) for (const c of g[1]) parent.set(c, gid);
  const walk = [];
  const visit = (x) => {
    // Hierarchy.walk: depth-first over groups and leaves
    walk.push(x);
    const g = H.groups[x];
    if (g) for (const c of g[1]) visit(c);
  };
  visit(H.root);
  const index = new Map(H.nodes.map((x, i) => [x, i]));
  return { ...H, parent, walk, index };
}

/** View._states: (state of every group and visible leaf, display parent of every visible node). */
function states(H, st) {
  const state = new Map([[H.root, "transparent"]]);
  const frameOf = new Map([[H.root, null]]);
  const stack = [H.root];
  while (stack.length) {
    const p = stack.pop();
    const frame = state.get(p) === "frame" ? p : frameOf.get(p);
    const grp = H.groups[p];
    for (const c of grp[1]) {
      const cg = H.groups[c];
      if (!cg) {
        state.set(c, "leaf");
        frameOf.set(c, frame);
        continue;
      }
      if (grp[0] === "series" && !st.unfolded.has(p)) {
        const shown = grp[2][Math.min(st.instance[p] || 0, grp[2].length - 1)];
        state.set(c, c === shown ? "transparent" : "hidden");
      } else if (cg[0] === "series") {
        state.set(c, st.unfolded.has(c) ? "transparent" : st.opened.has(c) ? "frame" : "collapsed");
      } else if (cg[3]) {
        state.set(c, "transparent"); // _is_trivial
      } else {
        state.set(c, st.opened.has(c) ? "frame" : "collapsed");
      }
      frameOf.set(c, frame);
      if (state.get(c) === "frame" || state.get(c) === "transparent") stack.push(c);
    }
  }
  return [state, frameOf];
}

/** View._reps: the visible node that shows each id. */
function reps(H, state) {
  const out = new Map();
  const rep = (x) => {
    if (out.has(x)) return out.get(x);
    const s = state.get(x);
    const p = H.parent.get(x);
    let r;
    if (s === "leaf" || s === "frame" || s === "collapsed") r = x;
    else if (s === "hidden" && !(x in H.groups)) r = null;
    else if (s === "hidden" && p !== undefined && p in H.groups && H.groups[p][0] === "series" && state.get(p) === "frame") r = p;
    else r = p === undefined ? H.root : rep(p);
    out.set(x, r);
    return r;
  };
  for (const x of H.walk) rep(x);
  for (const [gid, s] of state) if (s === "transparent" && gid in H.groups && H.groups[gid][3]) out.set(gid, H.groups[gid][1][0]);
  return out;
}

const shapeText = (shape) => `[${shape.map(String).join(", ")}]`; // view._shape_text

/** view._edge_label */
function edgeLabel(kind, count, shapes) {
  if (kind === "param") return "";
  if (kind === "tied" || kind === "shared") {
    const what = kind === "tied" ? "tied weight" : "shared weight";
    return count === 1 ? what : `${count} ${what}s`;
  }
  return count === 1 && shapes.length ? shapeText(shapes[0]) : `${count} tensors`;
}

/** View._data: {nodes: [{id, parent, expanded, rec}], edges: [{id, source, target, kind, count, label}]}
 * for st = {opened: Set, unfolded: Set, instance: {series: k}}; rec is the node's drawing record. */
export function viewData(H, R, st) {
  const [state, frameOf] = states(H, st);
  const rp = reps(H, state);
  const nodes = [];
  for (const x of H.walk) {
    const s = state.get(x);
    if (s !== "leaf" && s !== "frame" && s !== "collapsed") continue;
    const expanded = s === "frame";
    let k = `${x}|${expanded ? 1 : 0}`;
    if (expanded && H.groups[x] && H.groups[x][0] === "series") k += `|${st.instance[x] || 0}`;
    const rec = R[k];
    if (!rec) return null; // a node drawn in no stored view (the page falls back to those)
    nodes.push({ id: x, parent: frameOf.get(x), expanded, rec });
  }
  const visible = new Set(nodes.map((n) => n.id));
  const perTensor = new Map(); // "ru\0rv" -> Map(u -> [kind, shape])
  for (const [ui, vi, kind, shape] of H.edges) {
    const u = H.nodes[ui];
    const ru = rp.get(u);
    const rv = rp.get(H.nodes[vi]);
    if (ru == null || rv == null || ru === rv || !visible.has(ru) || !visible.has(rv)) continue;
    const pk = `${ru}\u0000${rv}`;
    if (!perTensor.has(pk)) perTensor.set(pk, new Map());
    const seen = perTensor.get(pk);
    if (!seen.has(u) || KIND_ORDER.indexOf(kind) < KIND_ORDER.indexOf(seen.get(u)[0])) seen.set(u, [kind, shape]);
  }
  const agg = new Map(); // "ru\0rv\0kind" -> {ru, rv, kind, tensors, shapes}
  for (const [pk, tensors] of perTensor) {
    const [ru, rv] = pk.split("\u0000");
    const items = [...tensors].sort((a, b) => H.order[H.index.get(a[0])] - H.order[H.index.get(b[0])]);
    for (const [u, [kind, shape]] of items) {
      const ak = `${pk}\u0000${kind}`;
      if (!agg.has(ak)) agg.set(ak, { ru, rv, kind, tensors: new Set(), shapes: [] });
      const e = agg.get(ak);
      e.tensors.add(u);
      if (shape && shape.length && !e.shapes.some((s) => JSON.stringify(s) === JSON.stringify(shape))) e.shapes.push(shape);
    }
  }
  const firstKind = new Map();
  const sorted = [...agg.values()].sort((a, b) => KIND_ORDER.indexOf(a.kind) - KIND_ORDER.indexOf(b.kind));
  for (const e of sorted) {
    const pk = `${e.ru}\u0000${e.rv}`;
    if (!firstKind.has(pk)) firstKind.set(pk, e.kind);
  }
  const edges = [];
  for (const e of agg.values()) {
    const count = e.tensors.size;
    const id = firstKind.get(`${e.ru}\u0000${e.rv}`) === e.kind ? `${e.ru}->${e.rv}` : `${e.ru}->${e.rv}#${e.kind}`;
    edges.push({ id, source: e.ru, target: e.rv, kind: e.kind, count, label: edgeLabel(e.kind, count, e.shapes) });
  }
  return { nodes, edges };
}
