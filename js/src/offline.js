// The widget's model (anywidget's get/set/on/off/send/save_changes) answered from stored data instead of a
// kernel: bertviz_graph/html/payload.py stored every picture, detail and weight preview the page can show.
// Messages are the widget's (index.js); each picks a stored view and sets the traits the widget draws.

const b64bytes = (s) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
const ids = (svg) => new Set(Array.from(svg.matchAll(/<g class="node" data-id="([^"]*)"/g), (m) => unescapeAttr(m[1])));
const unescapeAttr = (s) => s.replace(/&quot;/g, '"').replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&#x27;|&#39;/g, "'").replace(/&amp;/g, "&");

export class OfflineModel {
  /** data: the page's head (the first picture, the stored views' index); rest() resolves to the rest
   * (pictures, details, weight previews, search fields), decoded after the first paint. */
  constructor(data, height, rest) {
    this.d = { svgs: [], details: {}, matrices: {}, tips: [], search: [], ...data };
    this.d.svgs[data.states[data.start].svg] = data.first.svg;
    this.d.tips[data.states[data.start].svg] = data.first.tips;
    this.pending = [];
    this.ready = rest.then((more) => {
      Object.assign(this.d, more);
      if (more.attention) this.set("attention", more.attention);
      const queued = this.pending;
      this.pending = null;
      for (const m of queued) this.send(m);
    });
    this.handlers = {};
    this.visible = new Map(); // svg index -> Set of drawn node ids
    this.focusN = 0;
    this.t = {
      svg: "", details: {}, matrix_png: new Uint8Array(0), matrix_meta: {}, error: "", height, panel: "details",
      search: "", matches: [], _marks: {}, _focus: {}, _match_info: [], _search_info: "", _tips: {}, _name: data.name || "model",
      selected: "",
      attention: null,
      _offline: true, // no kernel: the widget leaves out what needs one (Save HTML)
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
      const f = this[`msg_${msg.type}`];
      if (f) f.call(this, msg);
      if (this.t.error) this.set("error", "");
    } catch (e) {
      this.set("error", String(e.message || e));
    }
  }

  // --- stored views ----------------------------------------------------------------------------------
  state() {
    return this.d.states[this.key];
  }
  go(key) {
    if (!(key in this.d.states)) throw new Error(`this file has no view with '${key}' open`);
    this.key = key;
    this.set("svg", this.d.svgs[this.state().svg]);
    this.set("_tips", (this.d.tips || [])[this.state().svg] || {});
    this.marks();
    this.showDetails();
  }
  drawn() {
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
  toggle(gid) {
    if (!(gid in this.d.states)) return;
    if (this.isOpen(gid)) this.go(this.home(gid));
    else this.go(gid);
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
    if (m.reveal && m.id && this.rep(m.id) !== m.id) this.go(this.home(m.id));
    this.select(m.id);
    if (m.reveal && m.id) this.focus(m.id);
  }
  msg_instance(m) {
    const members = this.d.series[m.series] || [];
    const dst = members[m.index];
    if (!dst) throw new Error(`${m.series} has no member ${m.index}`);
    // keep the place: the group open inside the member shown now, opened in member `index` too
    const src = members.find((x) => this.key === x || this.key.startsWith(`${x}.`));
    const moved = src ? dst + this.key.slice(src.length) : "";
    this.go(moved in this.d.states ? moved : dst in this.d.states ? dst : m.series);
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
  }
  msg_edge() {}
}
