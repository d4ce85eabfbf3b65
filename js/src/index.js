// bertviz_graph notebook widget (anywidget). The kernel does the work (view, layout, SVG, weight images);
// this file lays out the pieces and forwards clicks as messages:
//   {type: "click", id, toggle} | {type: "dblclick", id} | {type: "toggle", id} | {type: "select", id, reveal}
//   {type: "instance", series, index} | {type: "search", q} | {type: "matrix", name, head?, rows?, cols?}
//   {type: "value", name, row, col} | {type: "reset"} | {type: "edge", id, source, target}
// Side panels are plain objects {id, title, traits, mount(el, api) -> rerender}; add one to PANELS.

import "./widget.css";
import { DetailsPanel } from "./details.js";
import { GraphCanvas } from "./graph.js";
import { MatrixPanel } from "./matrix.js";
import { SearchBox } from "./search.js";
import { TrainingPanel } from "./training.js";
import { h } from "./util.js";

export const PANELS = [DetailsPanel, MatrixPanel, TrainingPanel];

function render({ model, el }) {
  const off = [];
  const on = (name, fn) => {
    model.on(`change:${name}`, fn);
    off.push(() => model.off(`change:${name}`, fn));
  };
  const api = { model, send: (msg) => model.send(msg), on };

  // focusable (tabindex -1) so that a click anywhere in the widget moves the focus here, out of the notebook
  const root = h("div", { class: "bvg-root", tabindex: "-1" });
  el.appendChild(root);
  const toolbar = h("div", { class: "bvg-toolbar" });
  const error = h("div", { class: "bvg-error", role: "alert" });
  const main = h("div", { class: "bvg-main" });
  const side = h("div", { class: "bvg-side" });
  root.append(toolbar, error, main);

  const canvas = new GraphCanvas(api, main);
  main.appendChild(side);
  const search = new SearchBox(api, toolbar);
  const zoom = h("span", { class: "bvg-zoom", title: "zoom" });
  const btn = (label, title, onclick, action) => h("button", { class: "bvg-btn", title, onclick, "data-action": action }, label);
  toolbar.append(
    h(
      "div",
      { class: "bvg-tools" },
      btn("−", "zoom out (−)", () => canvas.pz.zoomCenter(0.8), "zoom-out"),
      zoom,
      btn("+", "zoom in (+)", () => canvas.pz.zoomCenter(1.25), "zoom-in"),
      btn("Fit", "show the whole picture (0)", () => canvas.fitReadable(), "fit"),
      btn("Overview", "close everything: back to the first view", () => api.send({ type: "reset" }), "reset"),
      btn("SVG ⤓", "download the picture as SVG (what w.to_svg() saves)", () => download(model), "download"),
    ),
  );
  // the offline explorer of this model (bertviz_graph.html), built by the kernel; not inside that file itself
  if (!model.get("_offline")) {
    const save = btn("Save HTML", "download this explorer as one HTML file that opens offline (w.save_html())", () => {
      save.disabled = true;
      save.textContent = "Saving …";
      api.send({ type: "save_html" });
    }, "save-html");
    toolbar.lastChild.appendChild(save);
    const onHtml = (msg) => {
      if (!msg || msg.type !== "html") return;
      save.disabled = false;
      save.textContent = "Save HTML";
      if (msg.text) saveText(msg.text, "text/html", `${model.get("_name") || "model"}.html`);
    };
    model.on("msg:custom", onHtml);
    off.push(() => model.off("msg:custom", onHtml));
  }
  canvas.bindZoomLabel(zoom);
  root.appendChild(
    h("div", { class: "bvg-footer", text: "click a box (or +) to open it, an open box's title (or −) to close it · drag to pan · ctrl + scroll to zoom" }),
  );

  // side panels as tabs; `panel` (a traitlet) says which one is in front, so Python can switch too
  const tabs = h("div", { class: "bvg-tabs", role: "tablist" });
  side.appendChild(tabs);
  const sections = {};
  const buttons = {};
  const showPanel = () => {
    const want = model.get("panel") || PANELS[0].id;
    const active = sections[want] ? want : PANELS[0].id;
    for (const p of PANELS) {
      if (!sections[p.id]) continue; // not shown on this host
      sections[p.id].style.display = p.id === active ? "" : "none";
      buttons[p.id].classList.toggle("bvg-active", p.id === active);
      buttons[p.id].setAttribute("aria-selected", String(p.id === active));
    }
  };
  api.activate = (id) => {
    model.set("panel", id);
    model.save_changes();
    showPanel();
  };
  for (const panel of PANELS) {
    if (panel.when && !panel.when(model)) continue; // a panel this host cannot fill (training offline)
    const b = h("button", { class: "bvg-tab", role: "tab", "data-panel": panel.id, onclick: () => api.activate(panel.id) }, panel.title);
    buttons[panel.id] = b;
    tabs.appendChild(b);
    const section = h("section", { class: `bvg-panel bvg-panel-${panel.id}`, "data-panel": panel.id, role: "tabpanel" });
    sections[panel.id] = section;
    side.appendChild(section);
    const rerender = panel.mount(section, api);
    for (const t of panel.traits || []) on(t, rerender);
    if (panel.tabLabel) {
      const label = () => (b.textContent = panel.tabLabel(model));
      for (const t of panel.traits || []) on(t, label);
      label();
    }
  }
  on("panel", showPanel);
  showPanel();

  // The kernel may change several traitlets in one go (picture, marks, focus): apply them once, in order.
  let queued = false;
  const refresh = () => {
    if (queued) return;
    queued = true;
    Promise.resolve().then(() => {
      queued = false;
      canvas.setSvg(model.get("svg"));
      canvas.setMarks(model.get("_marks"));
      const f = model.get("_focus") || {};
      if (f.n !== lastFocus) {
        lastFocus = f.n;
        canvas.focus(f.id);
      }
      const msg = model.get("error") || "";
      error.textContent = msg;
      error.style.display = msg ? "block" : "none";
      root.style.height = `${model.get("height") || 640}px`;
    });
  };
  let lastFocus = (model.get("_focus") || {}).n;
  for (const t of ["svg", "_marks", "_focus", "error", "height"]) on(t, refresh);
  // tooltips of edges (the tensor each carries for the sentence run with w.run) and of boxes (colour-by values)
  const tips = () => {
    const t = model.get("_tips") || {};
    canvas.setEdgeTips(t.edges || {});
    canvas.setNodeTips(t.nodes || {});
  };
  on("_tips", tips);
  tips();
  const updateSearch = () =>
    search.update(model.get("search"), model.get("matches") || [], model.get("_match_info") || [], model.get("_search_info") || "");
  for (const t of ["search", "matches", "_match_info", "_search_info"]) on(t, updateSearch);
  updateSearch();
  refresh();

  return () => {
    for (const f of off) f();
    canvas.destroy();
  };
}

function download(model) {
  saveText(model.get("svg") || "", "image/svg+xml", `${model.get("_name") || "model"}.svg`);
}

function saveText(text, type, name) {
  const blob = new Blob([text], { type });
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob);
  a.download = name;
  document.body.appendChild(a);
  a.click();
  setTimeout(() => {
    URL.revokeObjectURL(a.href);
    a.remove();
  }, 1000);
}

export default { render };
