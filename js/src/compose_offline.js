// Layout in the offline file without dot: a port of bertviz_graph/layout/pieces.py (Builder: containers,
// edge pieces, canonical ports, structural keys) and layout/compose.py (_layout, _compose; the composition
// itself is layout/subtree.py's, ported in subtree_offline.js), reading each
// container's local layout from the table bertviz_graph/html/compose_data.py stored (keyed by key_text of
// Builder.key, after wrap.wrap_stack). Same names and order of work as the Python, so a change there is
// made here by reading the two side by side; tests/test_html_export.py compares the pictures.

import { localLayout } from "./dot_offline.js";
import { composeParts } from "./subtree_offline.js";

// ---- numbers as Python writes them ---------------------------------------------------------------------
/** The layout table's key text: JSON with whole numbers as ints (compose_data.key_text). */
export const keyText = (key) => JSON.stringify(key);

// ---- pieces.py ---------------------------------------------------------------------------------------
const WEIGHT_KINDS = new Set(["param", "shared", "tied"]); // hierarchy.style.WEIGHT_KINDS

/** pieces.kind_group */
const kindGroup = (kind) => (WEIGHT_KINDS.has(kind) ? "param" : kind === "residual" ? "residual" : "data");
const pkey = (s, kg) => `${s}\u0000${kg}`; // a PortKey (source id, kind group) as one string
/** Python's repr of a piece end's descriptor tuple, which canonical_ports sorts by. */
const pyRepr = (d) => `(${d.map((v) => (typeof v === "string" ? `'${v}'` : String(v))).join(", ")})`;

function cmpTuple(a, b) {
  // Python's ordering of tuples/lists of strings and numbers
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const x = a[i];
    const y = b[i];
    const c = Array.isArray(x) ? cmpTuple(x, y) : x < y ? -1 : x > y ? 1 : 0;
    if (c) return c;
  }
  return a.length - b.length;
}

function container(id, node, children) {
  return { id, node, children, height: 0, ports: { in: new Map(), out: new Map() }, port_index: {}, piece_ids: new Map(), pieces: [], piece_label: [], layout: null };
}

/** pieces.Builder, over viewData's nodes and edges (direction TB: the file's views are TB). */
export class Builder {
  constructor(view, labels) {
    this.view = view;
    this.labels = labels; // edge label -> measure.edge_label_size
    this.direction = "TB";
    this.nodes = new Map();
    for (const n of view.nodes) if (!this.nodes.has(n.id)) this.nodes.set(n.id, n);
    const kids = new Map([[null, []]]);
    this.parent = new Map();
    for (const n of this.nodes.values()) {
      const p = n.parent != null && this.nodes.has(n.parent) && n.parent !== n.id ? n.parent : null;
      this.parent.set(n.id, p);
      if (!kids.has(p)) kids.set(p, []);
      kids.get(p).push(n.id);
    }
    this.conts = new Map([[null, container(null, null, kids.get(null))]]);
    for (const n of this.nodes.values()) if (n.expanded || kids.has(n.id)) this.conts.set(n.id, container(n.id, n, kids.get(n.id) || []));
    this.child_pos = new Map();
    for (const c of this.conts.values()) c.children.forEach((k, i) => this.child_pos.set(k, i));
    this.edge_pieces = new Map();
    this.edge_ends = new Map();
    this.edge_top = new Map(); // innermost container holding both ends: owns the route (subtree.py)
    this.label_owner = new Map(); // "cont\0j" -> edge id
    this._anc = new Map();
    this.missing = null; // the first edge label or node size the file has no measure for
  }

  ancestors(nid) {
    let out = this._anc.get(nid);
    if (!out) {
      out = [];
      for (let cur = this.parent.get(nid); cur != null; cur = this.parent.get(cur)) out.push(cur);
      out.push(null);
      this._anc.set(nid, out);
    }
    return out;
  }

  node_size(nid) {
    return this.nodes.get(nid).rec.size;
  }

  _add_piece(cont, tail, head, kg) {
    const c = this.conts.get(cont);
    const key = JSON.stringify([tail, head, kg]);
    let idx = c.piece_ids.get(key);
    if (idx === undefined) {
      idx = c.pieces.length;
      c.piece_ids.set(key, idx);
      c.pieces.push([tail, head, kg]);
      c.piece_label.push("");
      for (const ep of [tail, head]) {
        if (ep[0] === "p") c.ports[ep[1]].set(ep[2], null);
        else if (ep[2] !== null) this.conts.get(ep[1]).ports[ep[2][0]].set(ep[2][1], null);
      }
    }
    return idx;
  }

  split_edges() {
    for (const e of this.view.edges) {
      if (!this.nodes.has(e.source) || !this.nodes.has(e.target)) continue;
      if (e.source === e.target) continue;
      this._split(e);
    }
  }

  _split(e) {
    const s = e.source;
    const t = e.target;
    const kg = kindGroup(e.kind);
    const pk = pkey(s, kg);
    const sa = [...(this.conts.has(s) ? [s] : []), ...this.ancestors(s)];
    const tset = new Set([...(this.conts.has(t) ? [t] : []), ...this.ancestors(t)]);
    const top = sa.find((a) => tset.has(a));
    const seq = [];
    let start = null;
    let end = null;
    let src;
    if (s === top) {
      src = ["p", "in", pk];
      start = s;
    } else {
      let cur = s;
      let port = null;
      for (const a of this.ancestors(s)) {
        if (a === top) break;
        seq.push([a, this._add_piece(a, ["c", cur, port], ["p", "out", pk], kg)]);
        cur = a;
        port = ["out", pk];
      }
      src = ["c", cur, port];
    }
    let dst;
    const tail = [];
    if (t === top) {
      dst = ["p", "out", pk];
      end = t;
    } else {
      const chain = [];
      for (const a of this.ancestors(t)) {
        if (a === top) break;
        chain.push(a);
      }
      chain.reverse();
      dst = chain.length ? ["c", chain[0], ["in", pk]] : ["c", t, null];
      chain.forEach((a, i) => {
        const inner = i + 1 < chain.length ? ["c", chain[i + 1], ["in", pk]] : ["c", t, null];
        tail.push([a, this._add_piece(a, ["p", "in", pk], inner, kg)]);
      });
    }
    const main = this._add_piece(top, src, dst, kg);
    if (e.label && e.kind !== "param") {
      const c = this.conts.get(top);
      if (!c.piece_label[main]) {
        c.piece_label[main] = e.label;
        this.label_owner.set(`${top}\u0000${main}`, e.id);
      }
    }
    seq.push([top, main], ...tail);
    this.edge_pieces.set(e.id, seq);
    this.edge_ends.set(e.id, [start, end]);
    this.edge_top.set(e.id, top);
  }

  compute_heights() {
    const order = [];
    const visit = (cid) => {
      const c = this.conts.get(cid);
      const hs = c.children.filter((k) => this.conts.has(k)).map(visit);
      c.height = hs.length ? 1 + Math.max(...hs) : 0;
      order.push(c);
      return c.height;
    };
    visit(null);
    const levels = new Map();
    for (const c of order) {
      if (!levels.has(c.height)) levels.set(c.height, []);
      levels.get(c.height).push(c);
    }
    return [...levels.keys()].sort((a, b) => a - b).map((h) => levels.get(h));
  }

  _desc(c, ep) {
    if (ep[0] === "p") return ["p", ep[1], c.port_index[ep[1]].get(ep[2])];
    const i = this.child_pos.get(ep[1]);
    if (ep[2] === null) return ["c", i];
    const [side, pk] = ep[2];
    return ["c", i, side, this.conts.get(ep[1]).port_index[side].get(pk)];
  }

  canonical_ports(c) {
    for (const side of ["in", "out"]) {
      const sig = new Map([...c.ports[side].keys()].map((pk) => [pk, []]));
      for (const [tail, head, kg] of c.pieces) {
        const [mine, other] = side === "in" ? [tail, head] : [head, tail];
        if (mine[0] === "p" && mine[1] === side) {
          const d = other[0] === "p" ? ["p", other[1]] : this._desc(c, other);
          sig.get(mine[2]).push([pyRepr(d), kg]);
        }
      }
      const first = new Map([...c.ports[side].keys()].map((pk, i) => [pk, i]));
      for (const v of sig.values()) v.sort(cmpTuple);
      const order = [...sig.keys()].sort((a, b) => cmpTuple(sig.get(a), sig.get(b)) || first.get(a) - first.get(b));
      c.port_index[side] = new Map(order.map((pk, i) => [pk, i]));
    }
  }

  child_size(cid) {
    if (this.conts.has(cid)) {
      const lay = this.conts.get(cid).layout;
      return [lay[0], lay[1]];
    }
    return this.node_size(cid);
  }

  key(c) {
    const kids = c.children.map((k) => {
      if (this.conts.has(k)) {
        const lay = this.conts.get(k).layout;
        return [lay[0], lay[1], lay[3], lay[4]];
      }
      return this.node_size(k);
    });
    const pieces = c.pieces.map(([t, h, kg], j) => {
      const lbl = c.piece_label[j];
      const size = lbl ? this.labels[lbl] : null;
      if (size === undefined) this.missing = this.missing || `edge label ${lbl}`;
      return [this._desc(c, t), this._desc(c, h), kg, size || null];
    });
    const frame = c.node !== null ? c.node.rec.title : null;
    return [this.direction, frame, kids, c.ports.in.size, c.ports.out.size, pieces];
  }
}

// ---- compose.py ----------------------------------------------------------------------------------------
/** compose._layout with the table for dot: {width, height, boxes, routes, label_pos, view, inPage}, or
 * {missing: n} when n containers of this view are neither in the table nor laid out by `dot(key)` (the
 * page's WASM dot, dot_offline.js; inPage counts those it laid out). */
export function layoutView(view, table, labels, dot = null) {
  const b = new Builder(view, labels);
  b.split_edges();
  let missing = 0;
  let inPage = 0;
  for (const level of b.compute_heights()) {
    for (const c of level) {
      b.canonical_ports(c);
      const k = b.key(c);
      const kt = keyText(k);
      let lay = table[kt];
      if (!lay && !(k[2].length > 1 || k[5].length)) lay = localLayout(k, null); // compose: no dot needed
      if (!lay && dot && !b.missing) {
        lay = dot(k);
        if (lay) inPage += 1;
      }
      if (!lay) {
        missing += 1;
        lay = [1, 1, c.children.map(() => [0, 0]), [], [], [], []]; // keep going: count what is missing
      }
      c.layout = lay;
    }
  }
  if (missing || b.missing) return { missing: missing || 1 };
  return { ...compose(b), inPage };
}

/** compose._compose: absolute positions from the local layouts, each container's part by translation
 * (subtree.compose_parts, subtree_offline.js). */
function compose(b) {
  const root = b.conts.get(null);
  const [boxes, routes, labelPos, parts] = composeParts(b, kindGroup, pkey);
  return { view: b.view, width: root.layout[0], height: root.layout[1], boxes, routes, label_pos: labelPos, parts };
}
