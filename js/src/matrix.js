// Weight-matrix panel: the downsampled heatmap the kernel rendered (`matrix_png`), a colour bar, statistics,
// per-head views, and exact values on demand (click a cell; drag a rectangle to zoom in).

import { clear, fmt, h, s, toBytes } from "./util.js";

export const MatrixPanel = {
  id: "matrix",
  title: "Weights",
  traits: ["matrix_png", "matrix_meta"],
  tabLabel(model) {
    const m = model.get("matrix_meta") || {};
    return m.name ? `Weights · ${m.name.split(".").slice(-2).join(".")}` : "Weights";
  },

  mount(el, api) {
    const body = h("div", { class: "bvg-matrix" });
    el.appendChild(body);
    let url = null;
    let bytesSeen = null;
    let old = []; // earlier object URLs: revoked once the new image has loaded (revoking earlier breaks loads)
    let queued = false;
    const draw = () => {
      queued = false;
      const meta = api.model.get("matrix_meta") || {};
      const raw = api.model.get("matrix_png");
      if (raw !== bytesSeen) {
        bytesSeen = raw;
        const bytes = toBytes(raw);
        if (url) old.push(url);
        url = bytes.length ? URL.createObjectURL(new Blob([bytes], { type: "image/png" })) : null;
      }
      const img = renderMatrix(body, api, meta.name ? meta : {}, url);
      const done = () => {
        for (const u of old) URL.revokeObjectURL(u);
        old = [];
      };
      if (img && url) img.addEventListener("load", done, { once: true });
      else done();
    };
    // the picture and its meta arrive as two changes: draw once for both
    const render = () => {
      if (queued) return;
      queued = true;
      Promise.resolve().then(draw);
    };
    render();
    return render;
  },
};

function range(a, b) {
  return b - a === 1 ? `${a}` : `${a}–${b - 1}`;
}

function renderMatrix(body, api, m, url) {
  clear(body);
  if (!m.name) {
    body.appendChild(h("p", { class: "bvg-muted", text: "Select a weight, a Linear, a LayerNorm or an embedding to see its weight matrix here." }));
    return null;
  }
  const shape = (m.shape || []).join(" × ") || "scalar";
  body.appendChild(h("div", { class: "bvg-mtitle", title: m.name, text: m.name }));
  body.appendChild(h("div", { class: "bvg-dsub", text: `${shape} · ${m.dtype || "float32"}${m.numel ? ` · ${fmt(m.numel)} weights` : ""}` }));
  if (m.meaning) body.appendChild(h("p", { class: "bvg-explain bvg-small-text", text: m.meaning }));
  if (!m.trained) {
    body.appendChild(
      h(
        "div",
        { class: "bvg-notice", role: "note" },
        h("b", {}, "Untrained weights. "),
        m.notice || "No checkpoint was loaded: these are random initial values, not what a trained model learned.",
      ),
    );
  }
  if (m.heads && m.heads.count) body.appendChild(headBar(api, m));

  const [R0, R1] = m.rows;
  const [C0, C1] = m.cols;
  const vec = !!m.is_vector;
  const readout = h("div", { class: "bvg-readout", text: "hover for indices · click for the exact value · drag to zoom" });
  const plot = h("div", { class: "bvg-plot" + (vec ? " bvg-vec" : "") });
  const img = h("img", { class: "bvg-heatmap", alt: `heatmap of ${m.name}`, draggable: "false" });
  if (url) img.src = url;
  const ratio = vec ? null : Math.min(2.2, Math.max(0.35, (R1 - R0) / Math.max(1, C1 - C0)));
  if (ratio) img.style.aspectRatio = `${1 / ratio}`;
  const sel = h("div", { class: "bvg-sel" });
  const frame = h("div", { class: "bvg-imgframe" }, img, sel);
  if (m.band) {
    frame.style.overflow = "hidden"; // the band's shadow dims the rest of the image, nothing outside it
    frame.appendChild(headBand(m, R0, R1, C0, C1, vec));
  }
  plot.appendChild(h("div", { class: "bvg-ylab", text: vec ? "" : m.row_label || "row" }));
  const col = h("div", { class: "bvg-plotcol" });
  if (!vec) col.appendChild(h("div", { class: "bvg-ticks" }, h("span", { text: `rows ${range(R0, R1)}` })));
  col.appendChild(frame);
  col.appendChild(h("div", { class: "bvg-ticks" }, h("span", { text: String(C0) }), h("span", { text: m.col_label || "column" }), h("span", { text: String(C1 - 1) })));
  plot.appendChild(col);
  body.appendChild(plot);
  body.appendChild(colorBar(m));
  body.appendChild(h("div", { class: "bvg-dsub", text: m.exact ? "exact: one pixel per weight" : `each pixel = ${m.cell_label}` }));

  const whole = R0 === 0 && C0 === 0 && m.full && R1 === m.full[0] && C1 === m.full[1];
  if (!whole) {
    body.appendChild(
      h("div", { class: "bvg-actions" },
        h("span", { class: "bvg-dsub", text: vec ? `window: ${range(C0, C1)}` : `window: rows ${range(R0, R1)}, cols ${range(C0, C1)}` }),
        h("button", { class: "bvg-btn bvg-small", "data-action": "whole", onclick: () => api.send({ type: "matrix", name: m.name }) }, "whole matrix"),
      ),
    );
  }
  body.appendChild(readout);
  if (m.picked) {
    const p = m.picked;
    body.appendChild(
      h("div", { class: "bvg-picked" }, vec ? `${m.name}[${p.col}] = ` : `${m.name}[${p.row}, ${p.col}] = `, h("b", { text: String(p.value) })),
    );
  }
  if (m.stats) body.appendChild(statsTable(m.stats));
  if (m.source) body.appendChild(h("div", { class: "bvg-dsub", text: `values: ${m.source}` }));

  // --- pointer: hover indices, click exact value, drag to zoom ------------------------------------------
  const at = (e) => {
    const r = img.getBoundingClientRect();
    const fx = Math.min(0.9999, Math.max(0, (e.clientX - r.left) / Math.max(1, r.width)));
    const fy = Math.min(0.9999, Math.max(0, (e.clientY - r.top) / Math.max(1, r.height)));
    return { row: vec ? 0 : R0 + Math.floor(fy * (R1 - R0)), col: C0 + Math.floor(fx * (C1 - C0)), fx, fy };
  };
  let drag = null;
  frame.addEventListener("pointermove", (e) => {
    const p = at(e);
    readout.textContent = vec ? `index ${p.col}` : `row ${p.row}, col ${p.col}`;
    if (drag) {
      const x0 = Math.min(drag.fx, p.fx);
      const x1 = Math.max(drag.fx, p.fx);
      const y0 = vec ? 0 : Math.min(drag.fy, p.fy);
      const y1 = vec ? 1 : Math.max(drag.fy, p.fy);
      Object.assign(sel.style, { display: "block", left: `${x0 * 100}%`, top: `${y0 * 100}%`, width: `${(x1 - x0) * 100}%`, height: `${(y1 - y0) * 100}%` });
    }
  });
  frame.addEventListener("pointerdown", (e) => {
    if (e.button !== 0) return;
    e.preventDefault();
    drag = { ...at(e), x: e.clientX, y: e.clientY };
    try {
      frame.setPointerCapture(e.pointerId);
    } catch (_e) {
      /* fine */
    }
  });
  frame.addEventListener("pointerup", (e) => {
    if (!drag) return;
    const d = drag;
    drag = null;
    sel.style.display = "none";
    const p = at(e);
    if (Math.hypot(e.clientX - d.x, e.clientY - d.y) < 4) {
      api.send({ type: "value", name: m.name, row: p.row, col: p.col });
      return;
    }
    const rows = vec ? [0, 1] : [Math.min(d.row, p.row), Math.max(d.row, p.row) + 1];
    const cols = [Math.min(d.col, p.col), Math.max(d.col, p.col) + 1];
    api.send({ type: "matrix", name: m.name, rows, cols, head: null });
  });
  frame.addEventListener("pointerleave", () => {
    if (!drag) readout.textContent = "hover for indices · click for the exact value · drag to zoom";
  });
  return img;
}

/** One attention head's slice outlined over the image (the rest dimmed): m.band = {head, dim, rows, cols}. */
function headBand(m, R0, R1, C0, C1, vec) {
  const b = m.band;
  const pct = (v, a, z) => `${(100 * (v - a)) / Math.max(1, z - a)}%`;
  const top = vec ? "0%" : pct(b.rows[0], R0, R1);
  const height = vec ? "100%" : pct(b.rows[1] - b.rows[0] + R0, R0, R1);
  const left = pct(b.cols[0], C0, C1);
  const width = pct(b.cols[1] - b.cols[0] + C0, C0, C1);
  return h("div", {
    class: "bvg-headband",
    "data-head": b.head,
    title: `head ${b.head}: ${b.dim === 0 && !vec ? `rows ${b.rows[0]}:${b.rows[1]}` : `columns ${b.cols[0]}:${b.cols[1]}`}`,
    style: { position: "absolute", top, left, width, height, outline: "2px solid #111", boxShadow: "0 0 0 9999px rgba(255,255,255,0.6)", pointerEvents: "none" },
  });
}

function colorBar(m) {
  const colors = m.colors && m.colors.length ? m.colors : ["rgb(33,102,172)", "rgb(247,247,247)", "rgb(178,24,43)"];
  const bar = h("div", { class: "bvg-cbar", style: { background: `linear-gradient(to right, ${colors.join(", ")})` } });
  const v = m.vmax || 1;
  const labels = h("div", { class: "bvg-ticks" }, h("span", { text: fmt(-v) }), h("span", { text: "0" }), h("span", { text: `+${fmt(v)}` }));
  const scope = m.vmax_scope === "window" ? "this window" : "whole tensor";
  return h("div", { class: "bvg-cbarbox", title: `colour scale ±${fmt(v)} (${scope}); blue < 0 < red` }, bar, labels);
}

function statsTable(st) {
  const rows = [
    ["mean", fmt(st.mean)],
    ["std", fmt(st.std)],
    ["min / max", `${fmt(st.min)} / ${fmt(st.max)}`],
    ["‖W‖ (Frobenius)", fmt(st.fro_norm)],
    [`|w| < ${st.near_zero_threshold}`, `${fmt(100 * st.near_zero_share)} %`],
  ];
  const t = h("table", { class: "bvg-rows bvg-stats" });
  for (const [k, v] of rows) t.appendChild(h("tr", {}, h("th", { text: k }), h("td", { text: v })));
  return t;
}

function headBar(api, m) {
  const hd = m.heads;
  const box = h("div", { class: "bvg-heads" });
  const owns = hd.dim === 0 ? "output rows" : "input columns";
  box.appendChild(
    h("div", { class: "bvg-label", text: `${hd.count} attention heads, each owns ${hd.size} ${owns} · bar = ‖W‖ of the head's slice` }),
  );
  const W = 300;
  const H = 36;
  const n = hd.count;
  const bw = W / n;
  const max = Math.max(...(hd.norms || [1]), 1e-12);
  const svg = s("svg", { class: "bvg-headbars", viewBox: `0 0 ${W} ${H + 12}`, width: "100%", role: "img" });
  for (let i = 0; i < n; i++) {
    const v = hd.norms ? hd.norms[i] : 0;
    const bh = Math.max(1, (v / max) * H);
    const g = s("g", { class: "bvg-headbar" + (hd.head === i ? " bvg-active" : ""), "data-head": i });
    g.appendChild(s("title", { text: `head ${i}: ‖W‖ = ${fmt(v)} (click to show only this head)` }));
    g.appendChild(s("rect", { x: i * bw, y: 0, width: bw, height: H + 12, fill: "transparent" }));
    g.appendChild(s("rect", { class: "bvg-bar", x: i * bw + 1.5, y: H - bh, width: bw - 3, height: bh }));
    g.appendChild(s("text", { x: i * bw + bw / 2, y: H + 10, "text-anchor": "middle", text: String(i) }));
    g.addEventListener("click", () => api.send({ type: "matrix", name: m.name, head: i }));
    svg.appendChild(g);
  }
  box.appendChild(svg);
  const row = h("div", { class: "bvg-instances" });
  row.appendChild(
    h("button", { class: "bvg-btn bvg-small" + (hd.head === null || hd.head === undefined ? " bvg-active" : ""), onclick: () => api.send({ type: "matrix", name: m.name, head: null }) }, "all heads"),
  );
  if (hd.head !== null && hd.head !== undefined) {
    row.appendChild(h("span", { class: "bvg-dsub", text: ` showing head ${hd.head} only` }));
    row.appendChild(
      h("button", { class: "bvg-btn bvg-small", "data-action": "outline", title: "the whole matrix with this head's slice outlined", onclick: () => api.send({ type: "matrix", name: m.name, highlight: hd.head }) }, "outline in the whole matrix"),
    );
  }
  box.appendChild(row);
  return box;
}
