// The widget's model (anywidget's get/set/on/off/send/save_changes) answered from stored data instead of a
// kernel: bertviz_graph/html/payload.py stored every picture, detail and weight preview the page can show.
// Messages are the widget's (index.js); each picks a stored view, or composes the combination asked for
// (offline_compose.js: any groups open at once), and sets the traits the widget draws.

import { viewFills } from "./colour_offline.js";
import { Composer } from "./offline_compose.js";

const b64bytes = (s) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
const ids = (svg) => new Set(Array.from(svg.matchAll(/<g class="node" data-id="([^"]*)"/g), (m) => unescapeAttr(m[1])));
const COLOUR = /(#[0-9a-fA-F]{6})/; // bertviz_graph/html/colours.py splits at the same expression
const sameInstance = (a, b) => JSON.stringify(Object.entries(a || {}).sort()) === JSON.stringify(Object.entries(b || {}).sort());
const unescapeAttr = (s) => s.replace(/&quot;/g, '"').replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&#x27;|&#39;/g, "'").replace(/&amp;/g, "&");

export class OfflineModel {
  /** data: the page's head (the first picture, the stored views' index); rest() resolves to the rest
   * (pictures, details, weight previews, search fields), decoded after the first paint. */
  constructor(data, height, rest) {
    this.d = { svgs: [], details: {}, matrices: {}, tips: [], search: [], ...data };
    this.d.svgs[data.states[data.start].svg] = data.first.svg;
    this.d.tips[data.states[data.start].svg] = data.first.tips;
    this.pending = [];
    this.ready = rest.then(async (more) => {
      Object.assign(this.d, more);
      this.composer = more.compose ? new Composer(more.compose) : null;
      if (this.composer) await this.composer.load(); // the WASM dot, for what the file's table lacks
      if (more.attention) this.set("attention", more.attention);
      if (more.neurons) this.set("neurons", more.neurons);
      if (this.colour !== "role") this.paint();
      const queued = this.pending;
      this.pending = null;
      for (const m of queued) this.send(m);
    });
    this.handlers = {};
    this.visible = new Map(); // svg index -> Set of drawn node ids
    this.focusN = 0;
    this.colour = "role"; // colour-by mode (html.js sets it); other modes recolour the stored picture
    this.parts = new Map(); // svg index -> the SVG split at its colours
    this.t = {
      svg: "", details: {}, matrix_png: new Uint8Array(0), matrix_meta: {}, error: "", height, panel: "details",
      search: "", matches: [], _marks: {}, _focus: {}, _match_info: [], _search_info: "", _tips: {}, _name: data.name || "model",
      selected: "",
      attention: null,
      neurons: null, // the neuron view of every Linear for the sentence (neurons_offline.js)
      _offline: true, // no kernel: the widget leaves out what needs one (Save HTML)
      _note: "", // the stored view shown differs from the one asked for (html.js shows it)
      _legend: null, // colour-by: {title, lo, hi} of the picture shown, or null for role colours
    };
    this.go(data.start || "");
  }

  // --- the anywidget model interface -----------------------------------------------------------------
  get(k) {
    return this.t[k];
  }
  set(k, v) {
    this.t[k] = v;
    for (const fn of this.handlers[`change:${k}`] || []) fn();
  }
  save_changes() {}
  on(ev, fn) {
    (this.handlers[ev] = this.handlers[ev] || []).push(fn);
  }
  off(ev, fn) {
    this.handlers[ev] = (this.handlers[ev] || []).filter((f) => f !== fn);
  }
  send(msg) {
    if (this.pending) {
      this.pending.push(msg); // a click before the rest is decoded: answered when it is
      return;
    }
    try {
      if (this.t.error) this.set("error", "");
      const f = this[`msg_${msg.type}`];
      if (f) f.call(this, msg);
    } catch (e) {
      this.set("error", String(e.message || e));
    }
  }

  // --- stored views ----------------------------------------------------------------------------------
  state() {
    return this.cur;
  }
  go(key) {
    if (!(key in this.d.states)) throw new Error(`this file has no view with '${key}' open`);
    this.cur = this.d.states[key];
    this.show();
  }
  show() {
    this.paint();
    this.marks();
    this.showDetails();
  }
  /** The picture of the view shown, in the colour-by mode's colours (the stored diffs), with its tips. */
  paint() {
    if (this.cur.composed) return this.paintComposed();
    const i = this.state().svg;
    const c = this.d.colours;
    const diff = this.colour !== "role" && c && c.diffs[this.colour] ? c.diffs[this.colour][i] : null;
    let svg = this.d.svgs[i];
    let legend = null;
    if (diff) {
      if (!this.parts.has(i)) this.parts.set(i, svg.split(COLOUR));
      const parts = this.parts.get(i).slice();
      for (let k = 0; k < diff.length; k += 2) parts[2 * diff[k] + 1] = c.palette[diff[k + 1]];
      svg = parts.join("");
      const title = (c.modes.find(([m]) => m === this.colour) || [])[1] || this.colour;
      const r = c.ranges[this.colour][i];
      legend = { title, lo: r ? r[0] : null, hi: r ? r[1] : null, scale: c.scale, none: c.none };
    }
    const tips = (this.d.tips || [])[i] || {};
    this.set("svg", svg);
    this.set("_legend", legend);
    this.set("_tips", { edges: tips.edges || {}, nodes: diff ? c.tips[this.colour] || {} : tips.nodes || {} });
  }
  /** A combination the page composed itself, in the colour-by mode's colours from each box's stored value. */
  paintComposed() {
    const got = this.composedPicture(this.cur, this.colour);
    this.set("svg", got.svg);
    this.set("_legend", got.legend);
    this.set("_tips", { edges: {}, nodes: got.tips });
    const notes = [];
    if (this.cur.inPage) notes.push(`${this.cur.inPage} part${this.cur.inPage === 1 ? " was" : "s were"} laid out in this page (Graphviz in WebAssembly) and may differ slightly from the app's picture.`);
    if (got.roleOnly) notes.push("Colour-by is stored for the file's own views: this combination shows role colours.");
    this.set("_note", notes.join(" "));
  }
  /** {svg, legend, tips, roleOnly} of composed view `cur` ({composed, lv}) in colour-by `mode`. */
  composedPicture(cur, mode) {
    const c = this.d.colours;
    if (mode === "role") return { svg: cur.composed, legend: null, tips: {}, roleOnly: false };
    if (!c || !c.values || !c.values[mode] || !cur.lv) return { svg: cur.composed, legend: null, tips: {}, roleOnly: true };
    const { fills, range } = viewFills(c, mode, cur.lv.view.nodes);
    const title = (c.modes.find(([m]) => m === mode) || [])[1] || mode;
    const legend = { title, lo: range ? range[0] : null, hi: range ? range[1] : null, scale: c.scale, none: c.none };
    return { svg: this.composer.draw(cur.lv, fills), legend, tips: c.tips[mode] || {}, roleOnly: false };
  }
  setColour(mode) {
    this.colour = mode || "role";
    if (this.pending) return; // the colours arrive with the rest: paint() then
    this.paint();
    this.marks();
  }
  drawn() {
    const c = this.cur.composed;
    if (c) return (this.cur.ids = this.cur.ids || ids(c));
    const i = this.state().svg;
    if (!this.visible.has(i)) this.visible.set(i, ids(this.d.svgs[i]));
    return this.visible.get(i);
  }
  /** The drawn box that shows x: itself or the closed box (series frame) holding it. */
  rep(x) {
    const drawn = this.drawn();
    for (let y = x; y; y = this.d.parent[y]) if (drawn.has(y)) return y;
    return "";
  }
  isOpen(gid) {
    return this.state().opened.includes(gid);
  }
  /** The stored view that shows x: the view of the nearest group above it with a stored view. */
  home(x) {
    for (let y = this.d.parent[x]; y; y = this.d.parent[y]) if (y in this.d.states) return y;
    return "";
  }

  marks() {
    const m = new Set();
    for (const x of this.t.matches) {
      const r = this.rep(x);
      if (r) m.add(r);
    }
    const sel = this.t.selected ? this.rep(this.t.selected) : "";
    this.set("_marks", { selected: sel, matches: [...m].sort() });
  }
  focus(x) {
    this.set("_focus", { id: this.rep(x) || x, n: ++this.focusN });
  }

  // the stored details, with what depends on the view shown now
  showDetails() {
    const x = this.t.selected;
    const stored = x && this.d.details[x];
    if (!stored) {
      this.set("details", {});
      return;
    }
    const d = { ...stored, visible: this.rep(x) === x, expanded: this.isOpen(x) };
    if (d.series) {
      const inst = this.state().instance || {};
      d.series = { ...d.series, open: this.isOpen(d.series.id), index: inst[d.series.id] || 0 };
    }
    this.set("details", d);
    const names = d.weights || [];
    if (names.length && !names.includes((this.t.matrix_meta || {}).name)) this.loadMatrix(names[0]);
    else if (!names.length && this.t.panel === "matrix") this.set("panel", "details");
  }
  select(x) {
    this.t.selected = x || "";
    this.marks();
    this.showDetails();
  }
  ancestors(x) {
    const out = [];
    for (let y = this.d.parent[x]; y; y = this.d.parent[y]) out.push(y);
    return out;
  }
  /** The stored view closest to the groups `want` opened (with `gid` open or closed as `opening` says): the
   * most wanted groups, the fewest others, the same ×N members. Says so when it is not exactly `want`. */
  closest(want, gid, opening, instance) {
    if (this.exactOrComposed(want, instance)) return;
    let best = null;
    let score = -Infinity;
    for (const [k, st] of Object.entries(this.d.states)) {
      if (st.opened.includes(gid) !== opening) continue;
      let s = sameInstance(st.instance, instance) ? 0.5 : 0;
      for (const g of st.opened) s += want.has(g) ? 1 : -1;
      if (s > score) [best, score] = [k, s];
    }
    if (best === null) return;
    const got = new Set(this.d.states[best].opened);
    const lost = [...want].filter((g) => !got.has(g) && !this.isSeries(g));
    this.go(best);
    this.set("_note", lost.length ? `This file stores ${Object.keys(this.d.states).length} views, not this combination: ${lost.map((g) => this.label(g)).join(", ")} closed (every combination: the app or the notebook widget).` : "");
  }
  /** The stored view of exactly `want` (it has colour-by and the sentence's edge values), else the page's
   * own composition of it (compose_offline.js); false when neither. */
  exactOrComposed(want, instance) {
    const inst = (i) => JSON.stringify(Object.entries(i || {}).filter(([s]) => want.has(s)).sort());
    for (const [k, st] of Object.entries(this.d.states)) {
      if (st.opened.length === want.size && st.opened.every((g) => want.has(g)) && inst(st.instance) === inst(instance)) {
        this.go(k);
        this.set("_note", "");
        return true;
      }
    }
    const got = this.composer && this.composer.compose([...want], instance);
    if (!got) return false;
    this.cur = { opened: [...want], instance: { ...instance }, composed: got.svg, inPage: got.inPage, lv: got.lv };
    this.show();
    return true;
  }
  isSeries(g) {
    return g in this.d.series;
  }
  label(g) {
    const d = this.d.details[g];
    return (d && d.title) || g;
  }
  toggle(gid) {
    if (!(gid in this.d.states)) return;
    const cur = this.state();
    if (!cur.opened.includes(gid)) return this.openTo(gid);
    const want = new Set(cur.opened.filter((g) => g !== gid && !this.ancestors(g).includes(gid)));
    this.closest(want, gid, false, cur.instance);
  }
  /** Open gid and the groups above it, keeping open what is open (as far as the file stores it). */
  openTo(gid) {
    const cur = this.state();
    const want = new Set([...cur.opened, gid, ...this.ancestors(gid).filter((y) => y in this.d.states)]);
    const inst = { ...cur.instance };
    for (const y of [gid, ...this.ancestors(gid)]) {
      const s = this.d.parent[y];
      if (s in this.d.series) inst[s] = this.d.series[s].indexOf(y); // the member it is in
    }
    this.closest(want, gid, true, inst);
  }
  loadMatrix(name) {
    const m = this.d.matrices[name];
    if (!m) {
      this.set("matrix_meta", {});
      this.set("matrix_png", new Uint8Array(0));
      const why = this.d.weights === "none" ? "this file was saved without weights (--weights none)" : `no values of ${name} were stored in this file`;
      throw new Error(why);
    }
    this.set("matrix_png", b64bytes(m.png));
    this.set("matrix_meta", m.meta);
  }

  // --- the widget's messages (index.js) ----------------------------------------------------------------
  msg_click(m) {
    if (m.toggle) this.toggle(m.id);
    this.select(m.id);
  }
  msg_dblclick(m) {
    this.toggle(m.id);
    this.select(m.id);
  }
  msg_toggle(m) {
    this.toggle(m.id);
  }
  msg_select(m) {
    if (m.reveal && m.id && this.rep(m.id) !== m.id) {
      const home = this.home(m.id);
      if (home) this.openTo(home); // and the groups above it, keeping what is open where stored
      else this.go("");
    }
    this.select(m.id);
    if (m.reveal && m.id) this.focus(m.id);
  }
  msg_instance(m) {
    const members = this.d.series[m.series] || [];
    const dst = members[m.index];
    if (!dst) throw new Error(`${m.series} has no member ${m.index}`);
    // keep the place: the groups open inside the member shown now, opened in member `index` too
    const cur = this.state();
    const src = members.find((x) => cur.opened.some((g) => g === x || g.startsWith(`${x}.`)));
    const move = (g) => (src && (g === src || g.startsWith(`${src}.`)) ? dst + g.slice(src.length) : g);
    const want = new Set(cur.opened.map(move));
    want.add(dst);
    this.closest(want, m.series, true, { ...cur.instance, [m.series]: m.index });
    const sel = this.t.selected;
    if (src && sel && (sel === src || sel.startsWith(`${src}.`))) {
      const to = dst + sel.slice(src.length);
      if (to in this.d.details) this.t.selected = to;
    }
    this.select(this.t.selected);
  }
  msg_search(m) {
    const q = (m.q || "").trim();
    let re;
    try {
      re = new RegExp(q, "i");
    } catch (_e) {
      re = new RegExp(q.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"), "i");
    }
    const found = q ? this.d.search.filter(([, fields]) => fields.some((f) => re.test(f))).slice(0, 200) : [];
    this.t.search = m.q || "";
    this.t.matches = found.map(([x]) => x);
    this.set("_match_info", found.map(([, , where]) => where));
    this.set("_search_info", q ? `${found.length}${found.length === 200 ? "+" : ""} match${found.length === 1 ? "" : "es"}` : "");
    this.set("matches", this.t.matches);
    this.set("search", this.t.search);
    this.marks();
  }
  msg_matrix(m) {
    this.loadMatrix(m.name);
    this.set("panel", "matrix");
    if (m.head != null || m.rows || m.highlight != null) throw new Error("this file stores each weight's whole-matrix preview only (no head slices or zoom)");
  }
  msg_value() {}
  msg_reset() {
    this.go(this.d.start || "");
    this.set("_note", "");
  }
  msg_edge() {}
}
