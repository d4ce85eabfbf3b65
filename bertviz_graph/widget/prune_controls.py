"""The pruning panel's controls (method, amount, Prune) as one anywidget, so that pressing Prune sends the
method and amount *shown on screen* in the same message as the click.

Why not three ipywidgets: ipywidgets throttles each model's state syncs (one message in flight per model;
later changes wait in a buffer until the kernel is idle), while a Button's click is a custom message sent at
once. Changing the amount with a few key presses and clicking Prune could therefore reach the kernel as
"amount 35 %, click, amount 30 %, amount 25 %": the job pruned 35 % while the slider showed 25 %. Here the
click carries the values, and the kernel uses exactly those.
"""

from __future__ import annotations

from collections.abc import Callable

import anywidget
import traitlets

ESM = r"""
function render({ model, el }) {
  el.classList.add("bvg-prune-ctl");
  const method = document.createElement("select");
  method.setAttribute("aria-label", "Method");
  for (const m of model.get("methods")) {
    const o = document.createElement("option");
    o.value = o.textContent = m;
    method.appendChild(o);
  }
  const amount = Object.assign(document.createElement("input"),
    { type: "range", min: "0", max: "0.9", step: "0.05" });
  amount.setAttribute("aria-label", "Amount");
  const readout = document.createElement("output");
  const button = Object.assign(document.createElement("button"), { type: "button", textContent: "✂ Prune" });
  button.title = "prune a copy (the original model is not changed)";
  const label = (text, ctl) => {
    const l = document.createElement("label");
    l.append(text, ctl);
    return l;
  };
  const show = () => {
    method.value = model.get("method");
    amount.value = String(model.get("amount"));
    readout.textContent = `${Math.round(Number(amount.value) * 100)}%`;
    method.disabled = amount.disabled = button.disabled = model.get("disabled");
  };
  show();
  method.addEventListener("change", () => { model.set("method", method.value); model.save_changes(); });
  amount.addEventListener("input", () => {
    readout.textContent = `${Math.round(Number(amount.value) * 100)}%`;
    model.set("amount", Number(amount.value));
    model.save_changes();
  });
  // the values on screen travel with the click: the kernel never reads a trait that may still be in flight
  button.addEventListener("click", () => {
    model.send({ type: "prune", method: method.value, amount: Number(amount.value) });
  });
  model.on("change:method", show);
  model.on("change:amount", show);
  model.on("change:disabled", show);
  // keys typed into the controls are theirs: JupyterLab's notebook shortcuts (arrows move between cells)
  // would otherwise take them before the slider moves
  el.addEventListener("keydown", (e) => e.stopPropagation());
  el.setAttribute("data-lm-suppress-shortcuts", "true");
  el.append(label("Method ", method), label("Amount ", amount), readout, button);
}
export default { render };
"""

CSS = """
.bvg-prune-ctl { display: flex; align-items: center; flex-wrap: wrap; gap: 4px 14px; font-size: 13px; }
.bvg-prune-ctl label { display: inline-flex; align-items: center; gap: 6px; }
.bvg-prune-ctl select { min-width: 12em; }
.bvg-prune-ctl input[type=range] { width: 14em; }
.bvg-prune-ctl output { min-width: 3em; font-variant-numeric: tabular-nums; }
.bvg-prune-ctl button { padding: 3px 12px; background: #2f6fb0; color: #fff; border: 0; border-radius: 3px; }
.bvg-prune-ctl button:disabled { background: #9db6cf; }
"""


class PruneControls(anywidget.AnyWidget):
    """Method, amount and Prune. ``on_prune(fn)`` calls ``fn(method, amount)`` with the values the page
    showed when Prune was pressed; ``method``/``amount`` mirror the controls both ways."""

    _esm = ESM
    _css = CSS
    methods = traitlets.List(traitlets.Unicode()).tag(sync=True)
    method = traitlets.Unicode("magnitude").tag(sync=True)
    amount = traitlets.Float(0.3).tag(sync=True)
    disabled = traitlets.Bool(False).tag(sync=True)

    def __init__(self, methods: list[str], **kwargs) -> None:
        super().__init__(methods=list(methods), **kwargs)
        self._handlers: list[Callable[[str, float], None]] = []
        self.on_msg(lambda _w, content, _buffers: self.receive(content))

    def on_prune(self, fn: Callable[[str, float], None]) -> None:
        self._handlers.append(fn)

    def receive(self, content: dict) -> None:
        """A message from the page; ``{"type": "prune", "method": ..., "amount": ...}`` starts a prune."""
        if not isinstance(content, dict) or content.get("type") != "prune":
            return
        method = str(content.get("method", self.method))
        try:
            amount = round(float(content.get("amount", self.amount)), 4)
        except (TypeError, ValueError):
            amount = self.amount
        self.method, self.amount = method, amount  # the traits agree with what was clicked
        for fn in self._handlers:
            fn(method, amount)
