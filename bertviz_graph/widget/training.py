"""A training step from the notebook widget, drawn by the same presenters as the app's Training tab.

    w = bg.show("all-MiniLM-L6-v2")
    step = w.train_step("A man is playing a guitar.", "Someone plays an instrument.", target=0.8)
    w.training()                 # per-layer ‖∂L/∂W‖ and ‖ΔW‖/‖W‖ (plotly)
    w.select("encoder.layer.0.attention.self.query")
    print(w.edge_rule())         # the rule on the strongest edge of the selected Linear, with the numbers
    w.gradient()                 # ∂L/∂output of the selected op [tokens × features]

The widget's model is never changed (``train_step`` reads it); the step belongs to this widget only.
"""

from __future__ import annotations

from typing import Any

from bertviz_graph.errors import UserError


class TrainMethods:
    """Mixed into ``GraphWidget``: needs ``graph``, ``hierarchy``, ``selected`` and ``_session()``."""

    def train_step(self, text: str, pair: str | None = None, **kwargs: Any):
        from bertviz_graph.train.step import train_step  # lazy: start-up (numpy)

        step = train_step(self.graph, self._session().runnable, text, pair, **kwargs)
        self.__dict__["_bv_step"] = step
        return step

    def _step(self):
        step = self.__dict__.get("_bv_step")
        if step is None:
            raise UserError("no training step yet", 'call w.train_step("a sentence", "another") first')
        return step

    def training(self, optimizer: str = "sgd"):
        from bertviz_graph.presenters.training import strip_figure  # lazy: start-up (numpy)

        return strip_figure(self._step(), optimizer)

    def edge_rule(self, module: str | None = None, out_index: int | None = None, in_index: int | None = None) -> str:
        from bertviz_graph.presenters import activations as PA  # lazy: start-up (numpy, plotly)
        from bertviz_graph.presenters.training import strongest_edge  # lazy: start-up (numpy)

        step = self._step()
        module = module or PA.linear_module(self.graph, self.hierarchy, self.selected)
        if module is None:
            raise UserError("no Linear selected", 'w.select("encoder.layer.0.attention.self.query") first')
        if out_index is None or in_index is None:
            out_index, in_index = strongest_edge(step, module)
        return "\n".join(step.edge(module, out_index, in_index).lines())

    def gradient(self, node_id: str | None = None, input: int = 0):
        from bertviz_graph.presenters import activations as PA  # lazy: start-up (numpy, plotly)
        from bertviz_graph.presenters.training import grad_heatmap  # lazy: start-up (numpy)

        op = PA.op_for(self.graph, self.hierarchy, node_id or self.selected)
        if op is None:
            raise UserError("no op selected", "select an op or a module first")
        return grad_heatmap(self._step(), op, input)
