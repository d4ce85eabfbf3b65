// Attention tab of the offline explorer: the sentence's attention maps (bertviz_graph.run.attention, stored as
// plain numbers by bertviz_graph/html/payload.py) as a model view (layers × heads; click a tile), the picked
// head's map with its tokens, and the per-head summaries (presenters.attention.summary_rows).

import { clear, h } from "./util.js";

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
      paint(big, a.maps[li][hi], 8);
      const toks = (cls) => h("div", { class: cls, style: { fontSize: "10px", color: "#555" } }, a.tokens.map((t, i) => `${i}:${t}`).join("  "));
      body.append(big, toks("bvg-att-tokens"));
      const row = a.summary.find((r) => r.layer === li && r.head === hi) || {};
      const table = h("table", { class: "bvg-rows" });
      for (const k of a.keys) table.appendChild(h("tr", {}, h("th", { text: k }), h("td", { text: row[k] === undefined ? "" : String(row[k]) })));
      body.appendChild(table);
      if (!a.trained) body.appendChild(h("div", { class: "bvg-notice", role: "note", text: "Untrained weights: these maps show no learned structure." }));
    };
    render();
    return render;
  },
};
