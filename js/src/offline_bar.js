// The offline explorer's own bar above the widget: colour-by (the app's modes, stored per picture by
// bertviz_graph/html/colours.py), its legend (linear scale from 0, as the app's), and a note when the view
// shown is the closest stored one rather than the combination asked for (offline.js).

import { h } from "./util.js";

const SI = [[1e12, "T"], [1e9, "G"], [1e6, "M"], [1e3, "k"]];
function fmt(mode, v) {
  if (mode === "sparsity") return `${(100 * v).toFixed(1)}%`;
  if (mode === "flops" || mode === "params") {
    for (const [f, s] of SI) if (Math.abs(v) >= f) return `${(v / f).toPrecision(3)} ${s}`;
    return String(Math.round(v));
  }
  return v.toPrecision(3);
}

export function mountBar(page, model, colours) {
  const bar = h("div", { class: "bvg-offline-bar", style: { display: "flex", gap: "10px", alignItems: "center", fontSize: "12px", minHeight: "24px", flexWrap: "wrap", fontFamily: '"DejaVu Sans", "Helvetica Neue", Arial, sans-serif', padding: "0 2px 4px" } });
  const select = h("select", { class: "bvg-colour-by", title: "colour the boxes by", "aria-label": "colour by" }, h("option", { value: "role", text: "Role" }));
  for (const [m, title] of colours.modes) select.appendChild(h("option", { value: m, text: title }));
  select.addEventListener("change", () => model.setColour(select.value));
  const legend = h("span", { class: "bvg-colour-legend" });
  const note = h("span", { class: "bvg-note", role: "note", style: { color: "#8a5a00" } });
  bar.append(h("label", { text: "Colour by " }, select), legend, note);
  page.prepend(bar);

  const showLegend = () => {
    legend.textContent = "";
    const l = model.get("_legend");
    // the picture's own legend lists role colours: hidden while boxes show another mode
    for (const g of page.querySelectorAll("svg g.legend")) g.style.display = l ? "none" : "";
    if (!l) return;
    const mode = select.value;
    const grad = `linear-gradient(to right, ${l.scale.join(", ")})`;
    const sw = (bg, w) => h("span", { style: { display: "inline-block", width: w, height: "10px", background: bg, border: "1px solid #ccc", verticalAlign: "middle", margin: "0 4px" } });
    if (l.hi === null) legend.append(`${l.title}: no values in this view`);
    else legend.append(`${l.title} (linear scale from 0): 0`, sw(grad, "90px"), fmt(mode, l.hi),
      ` (values ${fmt(mode, l.lo)}–${fmt(mode, l.hi)}) ·`, sw(l.none, "14px"), "no value · hover a box for its value");
  };
  model.on("change:_legend", showLegend);
  model.on("change:svg", () => requestAnimationFrame(showLegend)); // the widget draws the SVG, then hide its legend
  model.on("change:_note", () => (note.textContent = model.get("_note") || ""));
  return bar;
}
