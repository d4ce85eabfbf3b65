// Details panel: what the selected node or group is, where it sits, and its weights.
// Rendered from the `details` traitlet (plain data built by bertviz_graph.details.node_details).

import { clear, h } from "./util.js";

export const DetailsPanel = {
  id: "details",
  title: "Details",
  traits: ["details", "matrix_meta"],

  mount(el, api) {
    const body = h("div", { class: "bvg-details" });
    el.appendChild(body);
    const render = () => renderDetails(body, api, api.model.get("details") || {}, api.model.get("matrix_meta") || {});
    render();
    return render;
  },
};

function renderDetails(body, api, d, meta) {
  clear(body);
  if (!d || !d.id) {
    body.appendChild(
      h(
        "p",
        { class: "bvg-muted" },
        "Click a box to see what it is. Click a closed box (or its +) to open it, an open box's title bar (or its −) to close it.",
      ),
    );
    return;
  }
  const header = h(
    "div",
    { class: "bvg-dhead" },
    h("span", { class: "bvg-swatch", style: { background: d.color || "#fff" } }),
    h("div", {}, h("div", { class: "bvg-dtitle", text: d.title }), d.subtitle ? h("div", { class: "bvg-dsub", text: d.subtitle }) : null),
  );
  body.appendChild(header);

  if (d.breadcrumb && d.breadcrumb.length) {
    const crumbs = h("div", { class: "bvg-crumbs" });
    d.breadcrumb.forEach(([id, label], i) => {
      if (i) crumbs.appendChild(document.createTextNode(" › "));
      crumbs.appendChild(
        h("a", { href: "#", title: id || "(model)", onclick: (e) => (e.preventDefault(), api.send({ type: "select", id, reveal: true })) }, label),
      );
    });
    body.appendChild(crumbs);
  }

  const actions = h("div", { class: "bvg-actions" });
  if (d.expandable) {
    actions.appendChild(
      h("button", { class: "bvg-btn", "data-action": "toggle", onclick: () => api.send({ type: "toggle", id: d.id }) }, d.expanded ? "− Close" : "+ Open"),
    );
  }
  if (d.visible === false) {
    actions.appendChild(
      h("button", { class: "bvg-btn", "data-action": "reveal", onclick: () => api.send({ type: "select", id: d.id, reveal: true }) }, "Show in the picture"),
    );
  }
  if (actions.childNodes.length) body.appendChild(actions);

  if (d.series) body.appendChild(seriesPicker(api, d.series));

  if (d.explanation) body.appendChild(h("p", { class: "bvg-explain", text: d.explanation }));
  if (d.image) {
    // a selected edge: the [tokens × features] tensor it carries for the sentence run (w.run)
    body.appendChild(h("img", { class: "bvg-act-img", src: d.image, alt: "activation heatmap", style: { width: "100%", imageRendering: "pixelated", border: "1px solid #ddd" } }));
    if (d.image_caption) body.appendChild(h("div", { class: "bvg-dsub", text: d.image_caption }));
  }

  if (d.weights && d.weights.length) {
    const list = h("div", { class: "bvg-weights" }, h("div", { class: "bvg-label", text: "Weights (click one to see its matrix)" }));
    for (const name of d.weights) {
      list.appendChild(
        h(
          "button",
          {
            class: "bvg-weight" + (meta && meta.name === name ? " bvg-active" : ""),
            title: name,
            "data-name": name,
            onclick: () => {
              api.send({ type: "matrix", name });
              if (api.activate) api.activate("matrix");
            },
          },
          name.split(".").slice(-2).join("."),
        ),
      );
    }
    body.appendChild(list);
  }
  if (d.rows && d.rows.length) {
    const table = h("table", { class: "bvg-rows" });
    for (const [k, v] of d.rows) table.appendChild(h("tr", {}, h("th", { text: k }), h("td", { text: v })));
    body.appendChild(table);
  }
}

function seriesPicker(api, sr) {
  const box = h("div", { class: "bvg-series" });
  box.appendChild(h("div", { class: "bvg-label", text: `${sr.label}: ${sr.open ? "showing" : "open at"} ${sr.member_label} ${sr.index + 1} of ${sr.count}` }));
  const row = h("div", { class: "bvg-instances" });
  const go = (i) => api.send({ type: "instance", series: sr.id, index: i });
  row.appendChild(h("button", { class: "bvg-btn bvg-small", disabled: sr.index <= 0, title: "previous", onclick: () => go(sr.index - 1) }, "◀"));
  for (let i = 0; i < sr.count; i++) {
    row.appendChild(
      h(
        "button",
        { class: "bvg-btn bvg-small" + (i === sr.index && sr.open ? " bvg-active" : ""), title: `${sr.member_label} ${i + 1}`, onclick: () => go(i) },
        String(i + 1),
      ),
    );
  }
  row.appendChild(h("button", { class: "bvg-btn bvg-small", disabled: sr.index >= sr.count - 1, title: "next", onclick: () => go(sr.index + 1) }, "▶"));
  box.appendChild(row);
  return box;
}
