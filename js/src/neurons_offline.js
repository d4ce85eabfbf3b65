// Neurons tab of the offline explorer: a Linear as the textbook layer for one token of the file's sentence
// (what the widget's w.fired() draws: presenters.activations.neuron_view, stored by bertviz_graph/html/neurons.py):
// the strongest inputs (left) and outputs (right) coloured by value, edges by w·x (red +, blue −, width ∝ |w·x|).
// Hover a neuron or an edge for its exact value.

import { clear, h, s } from "./util.js";

const tip = (text) => s("title", {}, text);

/** RdBu_r as the widget's plot: blue (−) -> white -> red (+). */
function rdbu(v, lim) {
  const t = Math.max(-1, Math.min(1, v / (lim || 1)));
  const [r, g, b] = t >= 0 ? [255, 255 - 190 * t, 255 - 200 * t] : [255 + 200 * t, 255 + 140 * t, 255];
  return `rgb(${Math.round(r)},${Math.round(g)},${Math.round(b)})`;
}

function linearsFor(sel, all) {
  if (!sel) return [];
  if (sel in all) return [sel];
  return Object.keys(all).filter((k) => k.startsWith(`${sel}.`));
}

function draw(v, tokens, t, lin) {
  const rows = Math.max(v.ins.length, v.outs.length);
  const H = rows * 24 + 16;
  const svg = s("svg", { class: "bvg-neurons-svg", viewBox: `0 0 380 ${H}`, width: "100%", style: "max-width:480px" });
  const yin = (k) => 14 + k * 24;
  const yout = (k) => 14 + (k * (v.ins.length - 1) * 24) / Math.max(1, v.outs.length - 1);
  const cmax = Math.max(1e-12, ...v.edges.map((e) => Math.abs(e[2])));
  const inAt = new Map(v.ins.map((j, k) => [j, k]));
  const outAt = new Map(v.outs.map((i, k) => [i, k]));
  for (const [j, i, c] of [...v.edges].sort((a, b) => Math.abs(a[2]) - Math.abs(b[2]))) {
    svg.appendChild(s("line", { x1: 110, y1: yin(inAt.get(j)), x2: 270, y2: yout(outAt.get(i)), stroke: c > 0 ? "rgba(200,40,40,0.6)" : "rgba(40,80,200,0.6)", "stroke-width": (0.5 + (5 * Math.abs(c)) / cmax).toFixed(2), class: "bvg-neuron-edge" },
      tip(`x[${j}]·W[${i},${j}] = ${c.toPrecision(4)}`)));
  }
  const col = (x, idx, vals, at, side, anchor, dx) => {
    const lim = Math.max(1e-12, ...vals.map(Math.abs));
    idx.forEach((n, k) => {
      const y = at(k);
      svg.appendChild(s("circle", { cx: x, cy: y, r: 8, fill: rdbu(vals[k], lim), stroke: "#333", "stroke-width": 1, class: `bvg-neuron bvg-neuron-${side}`, "data-index": n },
        tip(`${side} neuron ${n}: ${side === "input" ? "x" : "y"} = ${vals[k].toPrecision(4)}`)));
      svg.appendChild(s("text", { x: x + dx, y: y + 4, "font-size": 11, "text-anchor": anchor, fill: "#333" }, `${side === "input" ? "in" : "out"} ${n}`));
    });
  };
  col(110, v.ins, v.x, yin, "input", "end", -12);
  col(270, v.outs, v.y, yout, "output", "start", 12);
  return h("div", {}, h("div", { class: "bvg-label", text: `${lin} for token ${t} '${tokens[t]}'` }), svg,
    h("p", { class: "bvg-muted", style: { fontSize: "11px" }, text: v.caption }));
}

export const NeuronsPanel = {
  id: "neurons",
  title: "Neurons",
  traits: ["details", "neurons"],

  mount(el, api) {
    const body = h("div", { class: "bvg-neurons" });
    el.appendChild(body);
    let token = 0;
    let pick = "";
    const render = () => {
      clear(body);
      const n = api.model.get("neurons");
      if (!n) {
        body.appendChild(h("p", { class: "bvg-muted" }, "No neuron values are stored in this file (export … --text \"…\" of a PyTorch model)."));
        return;
      }
      const lins = linearsFor(api.model.get("selected"), n.linears);
      if (!lins.length) {
        body.appendChild(h("p", { class: "bvg-muted" }, "Select a fully-connected layer (query, dense, …) or a block holding some: its neurons for the sentence are drawn here."));
        return;
      }
      if (!lins.includes(pick)) pick = lins[0];
      const per = n.linears[pick];
      const t = token < per.length ? token : 0; // the pooler reads [CLS] only
      if (lins.length > 1) {
        const list = h("div", { class: "bvg-neuron-linears", style: { display: "flex", flexWrap: "wrap", gap: "4px" } });
        for (const l of lins) list.appendChild(h("button", { class: `bvg-btn${l === pick ? " bvg-on" : ""}`, "data-linear": l, onclick: () => ((pick = l), render()) }, l.split(".").slice(-2).join(".")));
        body.append(h("div", { class: "bvg-label", text: `${lins.length} fully-connected layers inside; pick one` }), list);
      }
      const toks = h("div", { class: "bvg-neuron-tokens", style: { display: "flex", flexWrap: "wrap", gap: "4px", margin: "6px 0" } });
      n.tokens.slice(0, per.length).forEach((tk, i) => toks.appendChild(h("button", { class: `bvg-btn${i === t ? " bvg-on" : ""}`, "data-token": i, style: i === t ? { fontWeight: "bold", borderColor: "#1f77b4" } : {}, onclick: () => ((token = i), render()) }, tk)));
      body.append(h("div", { class: "bvg-label", text: per.length < n.tokens.length ? "Token (this layer reads the first only)" : "Token" }), toks, draw(per[t], n.tokens, t, pick));
    };
    render();
    return render;
  },
};
