// Attention tab of the offline explorer: the sentence's attention maps (bertviz_graph.run.attention, stored as
// plain numbers by bertviz_graph/html/payload.py) as a model view (layers × heads; click a tile), the picked
// head's map with its tokens (hover a cell for its exact weight), the head view (each query token's lines to the
// keys it attends to, as bertviz draws it) and the per-head summaries of the layer (presenters.attention.summary_rows).

import { clear, h, s as sv } from "./util.js";


/** Head view: tokens on both sides, a line from query i (left) to key j (right) with opacity ∝ weight. */
function headView(m, tokens) {
  const n = tokens.length;
  const H = n * 18 + 8;
  const svg = sv("svg", { class: "bvg-head-view", viewBox: `0 0 320 ${H}`, width: "100%", style: "max-width:420px" });
  const y = (i) => 12 + i * 18;
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) {
    if (m[i][j] < 0.01) continue; // below 1%: not drawn (the map shows every weight)
    svg.appendChild(sv("line", { x1: 112, y1: y(i) - 4, x2: 208, y2: y(j) - 4, stroke: "#1f77b4", "stroke-opacity": Math.min(1, m[i][j]).toFixed(3), "stroke-width": 2 },
      sv("title", {}, `'${tokens[i]}' → '${tokens[j]}': ${m[i][j].toFixed(4)}`)));
  }
  tokens.forEach((t, i) => {
    svg.appendChild(sv("text", { x: 106, y: y(i), "font-size": 11, "text-anchor": "end", fill: "#333" }, t));
    svg.appendChild(sv("text", { x: 214, y: y(i), "font-size": 11, fill: "#333" }, t));
  });
  return svg;
}

const BLUES = [247, 251, 255, 8, 48, 107]; // "Blues" as the app draws maps: white -> dark blue

function blue(v) {
  const t = Math.max(0, Math.min(1, v));
  const c = (i) => Math.round(BLUES[i] + (BLUES[i + 3] - BLUES[i]) * t);
  return `rgb(${c(0)},${c(1)},${c(2)})`;
}

function paint(canvas, m, cell) {
  const n = m.length;
  canvas.width = canvas.height = n * cell;
  const g = canvas.getContext("2d");
  const hi = Math.max(1e-9, ...m.flat());
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) {
    g.fillStyle = blue(m[i][j] / hi);
    g.fillRect(j * cell, i * cell, cell, cell);
  }
}

export const AttentionPanel = {
  id: "attention",
  title: "Attention",
  traits: ["attention"],

  mount(el, api) {
    const body = h("div", { class: "bvg-attention" });
    el.appendChild(body);
    let pick = [0, 0];
    const render = () => {
      clear(body);
      const a = api.model.get("attention");
      if (!a || !a.maps) {
        body.appendChild(h("p", { class: "bvg-muted" }, "No sentence was run into this file (export … --text \"…\")."));
        return;
      }
      const [L, H] = [a.maps.length, a.maps[0].length];
      body.appendChild(h("div", { class: "bvg-label", text: `Model view: ${L} layers × ${H} heads · click a tile` }));
      const grid = h("div", { class: "bvg-att-grid", style: { display: "grid", gridTemplateColumns: `repeat(${H}, 1fr)`, gap: "2px" } });
      a.maps.forEach((layer, li) =>
        layer.forEach((m, hi) => {
          const c = h("canvas", { class: "bvg-att-tile", title: `layer ${li + 1}, head ${hi + 1}`, "data-layer": li, "data-head": hi, style: { width: "100%", imageRendering: "pixelated", cursor: "pointer", outline: li === pick[0] && hi === pick[1] ? "2px solid #d62728" : "" } });
          paint(c, m, 1);
          c.addEventListener("click", () => ((pick = [li, hi]), render()));
          grid.appendChild(c);
        }),
      );
      body.appendChild(grid);
      const [li, hi] = pick;
      body.appendChild(h("div", { class: "bvg-label", text: `Layer ${li + 1}, head ${hi + 1}: row = query token, column = key token it attends to` }));
      const big = h("canvas", { class: "bvg-att-map", style: { width: "100%", imageRendering: "pixelated" } });
      const m = a.maps[li][hi];
      paint(big, m, 8);
      // exact values on hover: the cell under the pointer (the stored weights, 4 decimals)
      big.addEventListener("mousemove", (ev) => {
        const r = big.getBoundingClientRect();
        const j = Math.floor(((ev.clientX - r.left) / r.width) * m.length);
        const i = Math.floor(((ev.clientY - r.top) / r.height) * m.length);
        if (m[i] && m[i][j] !== undefined) big.title = `query ${i} '${a.tokens[i]}' → key ${j} '${a.tokens[j]}': ${m[i][j].toFixed(4)}`;
      });
      const toks = (cls) => h("div", { class: cls, style: { fontSize: "10px", color: "#555" } }, a.tokens.map((t, i) => `${i}:${t}`).join("  "));
      body.append(big, toks("bvg-att-tokens"));
      body.append(h("div", { class: "bvg-label", text: `Head view: layer ${li + 1}, head ${hi + 1} (query token left → key token right; hover a line)` }), headView(m, a.tokens));
      // per-head summaries of the layer, the picked head's row marked; click a row to pick that head
      const fmt = (v) => (typeof v === "number" ? (Number.isInteger(v) ? String(v) : v.toFixed(3)) : v === undefined ? "" : String(v));
      const table = h("table", { class: "bvg-rows bvg-att-summary", style: { fontSize: "11px" } });
      table.appendChild(h("tr", {}, h("th", { text: "head" }), ...a.keys.filter((k) => k !== "layer" && k !== "head").map((k) => h("th", { text: k }))));
      for (const row of a.summary.filter((r) => r.layer === li)) {
        const tr = h("tr", { "data-head": row.head, style: { cursor: "pointer", background: row.head === hi ? "#fde0dd" : "" }, onclick: () => ((pick = [li, row.head]), render()) },
          h("td", { text: String(row.head + 1) }), ...a.keys.filter((k) => k !== "layer" && k !== "head").map((k) => h("td", { text: fmt(row[k]) })));
        table.appendChild(tr);
      }
      // its own scroller: seven columns are wider than the side pane, which must not scroll sideways
      body.append(h("div", { class: "bvg-label", text: `Per-head summaries, layer ${li + 1}` }), h("div", { style: { overflowX: "auto", maxWidth: "100%" } }, table));
      if (!a.trained) body.appendChild(h("div", { class: "bvg-notice", role: "note", text: "Untrained weights: these maps show no learned structure." }));
    };
    render();
    return render;
  },
};
