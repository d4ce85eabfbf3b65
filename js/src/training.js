// Training panel: one real training step of the widget's model (w.train_step), drawn from the `train_tab`
// traitlet (plain data from bertviz_graph.presenters.training.tab_data, what the app's Training tab shows):
// what trains, the loss, ‖∂L/∂W‖ and ‖ΔW‖/‖W‖ per layer, and for the selected Linear the rule on its
// strongest edge, its heads' gradient and its largest entries. The colour-by buttons set `color_by`.

import { clear, h } from "./util.js";

const MODES = [
  ["grad", "Gradient ‖∂L/∂W‖"],
  ["update", "Update ‖ΔW‖/‖W‖"],
  ["backward", "Backward ∂L/∂x"],
  ["role", "Role"],
];

export const TrainingPanel = {
  id: "training",
  title: "Training",
  traits: ["train_tab", "color_by"],
  when: (model) => !model.get("_offline"), // the offline HTML file has no kernel to train with

  mount(el, api) {
    const body = h("div", { class: "bvg-train" });
    el.appendChild(body);
    const render = () => renderTraining(body, api, api.model.get("train_tab") || {}, api.model.get("color_by"));
    render();
    return render;
  },
};

/** Horizontal bars of `rows[key]`, scaled to the largest; frozen rows grey. */
function bars(rows, key, title, fmt, name = key) {
  const hi = Math.max(...rows.map((r) => r[key]), 0) || 1;
  return h(
    "div",
    { class: "bvg-train-bars", "data-key": name },
    h("div", { class: "bvg-train-h", text: title }),
    rows.map((r) =>
      h(
        "div",
        { class: "bvg-train-row", title: r.frozen ? `${r.group}: frozen` : `${r.group}: ${fmt(r[key])}` },
        h("span", { class: "bvg-train-label", text: r.group }),
        h(
          "span",
          { class: "bvg-train-track" },
          h("span", { class: "bvg-train-bar" + (r.frozen ? " bvg-frozen" : ""), style: { width: `${(100 * r[key]) / hi}%` } }),
        ),
        h("span", { class: "bvg-train-num", text: r.frozen ? "frozen" : fmt(r[key]) }),
      ),
    ),
  );
}

const g3 = (v) => (v === 0 ? "0" : Math.abs(v) >= 1e-3 && Math.abs(v) < 1e4 ? v.toPrecision(3) : v.toExponential(2));

function renderTraining(body, api, d, colorBy) {
  clear(body);
  if (!d.lines) {
    body.appendChild(
      h("p", { class: "bvg-muted" }, 'No step yet: w.train_step("A man is playing a guitar.", "Someone plays an instrument.") takes one real step (the model is not changed).'),
    );
    return;
  }
  const modes = h("div", { class: "bvg-actions" }, h("span", { class: "bvg-muted", text: "colour the graph by " }));
  for (const [mode, label] of MODES) {
    modes.appendChild(
      h(
        "button",
        {
          class: "bvg-btn" + (colorBy === mode ? " bvg-active" : ""),
          "data-mode": mode,
          onclick: () => {
            api.model.set("color_by", mode);
            api.model.save_changes();
          },
        },
        label,
      ),
    );
  }
  body.append(h("div", { class: "bvg-train-lines" }, d.lines.map((t) => h("div", { text: t }))), modes);
  for (const n of d.notes || []) body.appendChild(h("div", { class: "bvg-error", style: { display: "block" }, text: n }));
  const rows = d.layers || [];
  body.append(
    bars(rows, "grad_norm", "‖∂L/∂W‖ per layer (grey: frozen)", g3),
    bars(rows, "rel_update", `‖ΔW‖/‖W‖ (${d.optimizer}, lr ${d.lr})`, g3),
  );
  if (d.why) body.appendChild(h("p", { class: "bvg-muted", text: d.why }));
  if (d.rule && d.rule.length) {
    body.append(h("div", { class: "bvg-train-h", text: `The rule on the strongest edge of ${d.module}` }), h("pre", { class: "bvg-train-rule", text: d.rule.join("\n") }));
  }
  if (d.heads && d.heads.length) {
    const rowsH = d.heads.map((v, k) => ({ group: `head ${k}`, grad_norm: v, frozen: false }));
    body.appendChild(bars(rowsH, "grad_norm", "‖∂L/∂W‖ per head (its band of rows or columns)", g3, "heads"));
  }
  if (d.top && d.top.length) {
    const heads = d.top.some((r) => r.head !== null && r.head !== undefined);
    const head = h("tr", {}, ["out j", "in i", "∂L/∂w_ji", ...(heads ? ["head"] : [])].map((t) => h("th", { text: t })));
    const trs = d.top.map((r) =>
      h("tr", {}, [r.out, r.in, r.grad.toExponential(3), ...(heads ? [r.head ?? ""] : [])].map((t) => h("td", { text: String(t) }))),
    );
    body.append(h("div", { class: "bvg-train-h", text: "Largest gradient entries" }), h("table", { class: "bvg-train-top" }, h("thead", {}, head), h("tbody", {}, trs)));
  }
}
