"""Running a sentence from the notebook widget: ``w.run("...")`` and the run's figures, all drawn by the
same presenters the app's Run and Attention tabs use.

    w = bg.show("all-MiniLM-L6-v2")
    w.run("The cat sat on the mat.")     # Activations: every op's output for this sentence, by graph id
    w.select("encoder.layer.2.intermediate.dense")
    w.activation(token=2)                # the selected node's output, [tokens × features], token 2 framed
    w.fired(token=2)                     # neuron view of the selected Linear: w·x for token 2
    w.attention()                        # model view (layers × heads); w.attention(3, 5): one map
    w.head_view(3, token=2); w.residual(); w.predictions(other="A cat is on a rug.")
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bertviz_graph.errors import UserError

if TYPE_CHECKING:
    import plotly.graph_objects as go


class RunMethods:
    """Mixed into ``GraphWidget``: needs ``graph``, ``hierarchy`` and ``selected``."""

    def _session(self):
        from bertviz_graph.presenters.run_session import RunSession

        s = self.__dict__.get("_bv_run_session")
        if s is None:
            s = RunSession(self.graph)
            self.__dict__["_bv_run_session"] = s
        return s

    def run(self, text: str | None = None, pair: str | None = None, ids: list[int] | None = None):
        """Run a sentence (a pair, or token ids) through the real model; later figures show this run."""
        acts = self._session().run(text, pair, ids)
        self.__dict__["_bv_acts"] = acts
        return acts

    def _acts(self):
        acts = self.__dict__.get("_bv_acts")
        if acts is None:
            raise UserError("no sentence has been run in this widget", 'call w.run("The cat sat on the mat.") first')
        return acts

    def activation(self, node_id: str | None = None, token: int | None = None) -> go.Figure:
        """The selected (or given) op or module's output for the run, as a [tokens × features] heatmap."""
        from bertviz_graph.presenters.activations import check_token, op_for, tensor_figure, tensor_view

        acts = self._acts()
        nid = node_id or getattr(self, "selected", "")
        op = op_for(self.graph, self.hierarchy, nid)
        if op is None:
            raise UserError(f"{nid or 'nothing'} has no output tensor to show",
                            "select an op or a module (a Linear, a layer ...)")
        return tensor_figure(tensor_view(acts, op, token), check_token(acts, token))

    def fired(self, node_id: str | None = None, token: int = 0) -> go.Figure:
        """Neuron view of the selected (or given) Linear for one token: inputs, outputs, strongest w·x."""
        from bertviz_graph.presenters.activations import linear_module, neuron_figure, neuron_view

        acts = self._acts()
        lin = linear_module(self.graph, self.hierarchy, node_id or getattr(self, "selected", ""))
        if lin is None:
            raise UserError("the neuron view needs a Linear", "select one, e.g. w.select('...intermediate.dense')")
        mod = self._session().runnable.model.get_submodule(lin)
        bias = None if mod.bias is None else mod.bias.detach().numpy()
        nv = neuron_view(self.graph, acts, mod.weight.detach().numpy(), bias, lin, token)
        fig = neuron_figure(nv)
        fig.update_layout(title={"text": nv.caption[:160]})
        return fig

    def attention(self, layer: int | None = None, head: int | None = None, threshold: float = 0.0) -> go.Figure:
        """Model view (no ``layer``), a layer's head-mean map, or one head's map."""
        from bertviz_graph.presenters.attention import grid_figure, map_figure
        from bertviz_graph.run.attention import attention_maps

        am = attention_maps(self.graph, self._acts())
        return grid_figure(am, threshold) if layer is None else map_figure(am, layer, head, threshold)

    def head_view(self, layer: int = 0, heads: list[int] | None = None, token: int | None = None) -> go.Figure:
        from bertviz_graph.presenters.activations import check_token
        from bertviz_graph.presenters.attention import head_view_figure
        from bertviz_graph.run.attention import attention_maps

        acts = self._acts()
        return head_view_figure(attention_maps(self.graph, acts), layer, heads, check_token(acts, token))

    def residual(self) -> go.Figure:
        from bertviz_graph.presenters.activations import residual_figure, residual_norms

        acts = self._acts()
        labels, norms = residual_norms(self.graph, acts)
        return residual_figure(labels, norms, acts.labels)

    def predictions(self, other: str | None = None, k: int = 5) -> Any:
        from bertviz_graph.run.predict import predict

        return predict(self._session().runnable, self._acts(), k=k, other=other)
