// Any combination of open groups in the offline file: the view (view_offline.js), its layout composed from
// the file's table of container layouts (compose_offline.js) and its picture (svg_offline.js), as the
// server's View.data -> layout_of -> to_svg make it. A container the table lacks is laid out in the page by
// Graphviz in WebAssembly (dot_offline.js); the picture then says how many were (inPage).

import { layoutView } from "./compose_offline.js";
import { WasmDot } from "./dot_offline.js";
import { prepareStyle, toSvg } from "./svg_offline.js";
import { prepare, viewData } from "./view_offline.js";

const MEMO = 24; // pictures kept (a few hundred kB each for bert-base)

export class Composer {
  constructor(data) {
    this.d = data; // bertviz_graph/html/compose_data.py compose_payload
    this.H = prepare(data.h);
    this.S = prepareStyle(data.style, data.labels);
    this.dot = new WasmDot(data.module_heights);
    this.memo = new Map(); // state text -> {svg, inPage} | null (a reader goes back and forth)
  }

  /** Instantiate the WASM dot (~0.4 s): before the first combination the table lacks. */
  load() {
    return this.dot.load();
  }

  /** The picture of a composed layout `lv` with these fills (colour-by: node id -> colour). */
  draw(lv, fills) {
    return toSvg(lv, this.S, fills);
  }

  /** {svg, inPage, lv}: the picture of the view with `opened` groups open and series showing `instance`
   * members, and how many of its containers were laid out in the page; null when it cannot be drawn. */
  compose(opened, instance) {
    const inst = Object.fromEntries(Object.entries(instance || {}).filter(([s]) => opened.includes(s)).sort());
    const k = JSON.stringify([[...opened].sort(), inst]);
    if (this.memo.has(k)) return this.memo.get(k);
    const vd = viewData(this.H, this.d.nodes, { opened: new Set(opened), unfolded: new Set(), instance: inst });
    const lv = vd && layoutView(vd, this.d.table, this.d.labels, (key) => this.dot.layout(key));
    const out = lv && !lv.missing ? { svg: toSvg(lv, this.S), inPage: lv.inPage, lv } : null;
    this.memo.set(k, out);
    if (this.memo.size > MEMO) this.memo.delete(this.memo.keys().next().value); // oldest first
    return out;
  }
}
