"""A training step from the notebook widget, drawn by the same presenters as the app's Training tab.

    w = bg.show("all-MiniLM-L6-v2")
    step = w.train_step("A man is playing a guitar.", "Someone plays an instrument.", target=0.8)
    w.training()                 # per-layer ‖∂L/∂W‖ and ‖ΔW‖/‖W‖ (plotly)
    w.select("encoder.layer.0.attention.self.query")
    print(w.edge_rule())         # the rule on the strongest edge of the selected Linear, with the numbers
    w.gradient()                 # ∂L/∂output of the selected op [tokens × features]
    w.color_by = "grad"          # the graph coloured by ‖∂L/∂W‖ ("update": ‖ΔW‖/‖W‖, "backward": ∂L/∂x on edges)

The widget's model is never changed (``train_step`` reads it); the step belongs to this widget only.
"""

from __future__ import annotations

from typing import Any

from bertviz_graph.errors import UserError
from bertviz_graph.presenters.training import grad_heatmap, strip_figure, strongest_edge, tab_data
from bertviz_graph.presenters.training_graph import MODES, picture
from bertviz_graph.train.step import train_step
from bertviz_graph.train.update import OPTIMIZERS

TRAIN_MODES = tuple(MODES)  # colour-by modes that show the widget's training step


class TrainMethods:
    """Mixed into ``GraphWidget``: needs ``graph``, ``hierarchy``, ``selected`` and ``_session()``."""

    def train_step(self, text: str, pair: str | None = None, optimizer: str = "sgd", **kwargs: Any):
        """One real step (``train.step.train_step``); ``optimizer`` (sgd | adamw) is the one whose update
        colour-by "update" and the edge rule show."""

        if optimizer not in OPTIMIZERS:
            raise UserError(f"unknown optimizer {optimizer!r}", f"choose one of: {', '.join(OPTIMIZERS)}")
        step = train_step(self.graph, self._session().runnable, text, pair, **kwargs)
        self.__dict__["_bv_step"] = step
        self.__dict__["_bv_optimizer"] = optimizer
        if getattr(self, "color_by", "role") in TRAIN_MODES:
            self._render()
        self._show_training()
        return step

    @staticmethod
    def _train_modes() -> tuple[str, ...]:
        return TRAIN_MODES

    def _check_train_mode(self, mode: str) -> None:
        if "_bv_step" not in self.__dict__:
            self.error = f'colour-by {mode} shows a training step: call w.train_step("a sentence", "another") first'

    def _train_colours(self, lv: Any, run_tips: dict[str, Any]) -> tuple[dict[str, str], Any, dict[str, Any]]:
        """(fills, edge strokes, tooltips) for colour-by grad / update / backward: the presenter the app and
        ``bertviz-graph train --graph`` use; the run's edge lines (w.run) stay beside the gradient's."""
        step = self.__dict__.get("_bv_step")
        if step is None:
            return {}, None, run_tips
        pic = picture(step, self.view, lv, self.color_by, self.__dict__.get("_bv_optimizer", "sgd"))
        edges = dict((run_tips or {}).get("edges") or {})
        for k, v in pic["tips"]["edges"].items():
            edges[k] = f"{edges[k]}\n{v}" if k in edges else v
        self.__dict__["_bv_overlay"] = pic["overlay"]
        return pic["fills"], pic["strokes"], {"edges": edges, "nodes": pic["tips"]["nodes"]}

    def _step(self):
        step = self.__dict__.get("_bv_step")
        if step is None:
            raise UserError("no training step yet", 'call w.train_step("a sentence", "another") first')
        return step

    def training(self, optimizer: str = "sgd"):

        return strip_figure(self._step(), optimizer)

    def edge_rule(self, module: str | None = None, out_index: int | None = None, in_index: int | None = None) -> str:
        from bertviz_graph.presenters import activations as PA  # lazy: start-up (plotly)

        step = self._step()
        module = module or PA.linear_module(self.graph, self.hierarchy, self.selected)
        if module is None:
            raise UserError("no Linear selected", 'w.select("encoder.layer.0.attention.self.query") first')
        if out_index is None or in_index is None:
            out_index, in_index = strongest_edge(step, module)
        opt = self.__dict__.get("_bv_optimizer", "sgd")
        return "\n".join(step.edge(module, out_index, in_index, opt).lines())

    def gradient(self, node_id: str | None = None, input: int = 0):
        from bertviz_graph.presenters import activations as PA  # lazy: start-up (plotly)

        op = PA.op_for(self.graph, self.hierarchy, node_id or self.selected)
        if op is None:
            raise UserError("no op selected", "select an op or a module first")
        return grad_heatmap(self._step(), op, input)

    def _show_training(self) -> None:
        """Fill the Training tab (the ``train_tab`` traitlet) from the presenter the app's tab reads."""
        step = self.__dict__.get("_bv_step")
        if step is None:
            return
        from bertviz_graph.presenters import activations as PA  # lazy: start-up (plotly)

        module = PA.linear_module(self.graph, self.hierarchy, self.selected) if self.selected else None
        try:
            self.train_tab = tab_data(step, self.__dict__.get("_bv_optimizer", "sgd"), module)
        except UserError as e:
            self.train_tab = {**tab_data(step, self.__dict__.get("_bv_optimizer", "sgd")), "why": str(e)}
