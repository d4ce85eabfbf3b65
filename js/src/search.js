// Search box: the kernel matches labels, classes, module paths, parameter names and op names (regex or text);
// results list under the box; choosing one opens everything above it and selects it.

import { clear, h } from "./util.js";

export class SearchBox {
  constructor(api, el) {
    this.api = api;
    this.input = h("input", {
      class: "bvg-search",
      type: "search",
      placeholder: "search (regex): softmax, query …",
      "aria-label": "search the model",
      spellcheck: "false",
    });
    this.count = h("span", { class: "bvg-count" });
    this.list = h("div", { class: "bvg-results", role: "listbox" });
    this.box = h("div", { class: "bvg-searchbox" }, this.input, this.count, this.list);
    el.appendChild(this.box);
    let timer = null;
    const send = () => {
      clearTimeout(timer);
      this.sent = this.input.value;
      api.send({ type: "search", q: this.input.value });
    };
    this.input.addEventListener("input", () => {
      clearTimeout(timer);
      timer = setTimeout(send, 250);
    });
    this.input.addEventListener("keydown", (e) => {
      e.stopPropagation();
      if (e.key === "Enter") {
        e.preventDefault();
        if (this.sent === this.input.value && this.first) this.choose(this.first);
        else send();
      } else if (e.key === "Escape") {
        this.input.value = "";
        send();
      }
    });
    this.input.addEventListener("focus", () => this.box.classList.add("bvg-open"));
    this.box.addEventListener("focusout", (e) => {
      if (!this.box.contains(e.relatedTarget)) setTimeout(() => this.box.classList.remove("bvg-open"), 150);
    });
  }

  choose(id) {
    this.box.classList.remove("bvg-open");
    this.api.send({ type: "select", id, reveal: true });
  }

  /** summary: the kernel's line for the first match ("1 of 12: softmax in layer 3", or why nothing matched). */
  update(query, matches, info, summary = "") {
    if (document.activeElement !== this.input && this.input.value !== query) this.input.value = query || "";
    clear(this.list);
    this.first = matches.length ? matches[0] : null;
    this.count.textContent = query ? summary || `${matches.length}${matches.length >= 200 ? "+" : ""} found` : "";
    this.count.title = this.count.textContent;
    matches.slice(0, 60).forEach((id, i) => {
      const [label, where] = (info && info[i]) || [id, ""];
      this.list.appendChild(
        h(
          "button",
          { class: "bvg-result", role: "option", "data-id": id, title: id, onmousedown: (e) => e.preventDefault(), onclick: () => this.choose(id) },
          h("span", { class: "bvg-rlabel", text: label }),
          h("span", { class: "bvg-rwhere", text: where }),
        ),
      );
    });
    if (matches.length > 60) this.list.appendChild(h("div", { class: "bvg-muted", text: `… ${matches.length - 60} more: refine the search` }));
    if (query && !matches.length) this.list.appendChild(h("div", { class: "bvg-muted", text: summary || "nothing matches" }));
  }
}
