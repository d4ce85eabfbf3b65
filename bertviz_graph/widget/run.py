"""Running a sentence from the notebook widget: ``w.run("...")`` and the run's figures, all drawn by the
same presenters the app's Run and Attention tabs use.

    w = bg.show("all-MiniLM-L6-v2")
    w.run("The cat sat on the mat.")     # Activations: every op's output for this sentence, by graph id
    w.select("encoder.layer.2.intermediate.dense")
    w.activation(token=2)                # the selected node's output, [tokens × features], token 2 framed
    w.fired(token=2)                     # neuron view of the selected Linear: w·x for token 2
    w.attention()                        # model view (layers × heads); w.attention(3, 5): one map
    w.head_view(3, token=2); w.residual(); w.predictions(other="A cat is on a rug.")
    w.color_by = "change"                # boxes coloured by ‖out − in‖/‖in‖ for this run ("activation": RMS)
    w.select_edge("embeddings->encoder.layer[0-5]")   # what a click on an edge does: its tensor in Details
    w.highlight_head(3, 7)               # head 7 of layer 3 outlined in its query weight (matrix pane)

Hovering an edge in the picture shows the tensor it carries (shape, RMS, max) once a sentence has run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bertviz_graph.errors import UserError
from bertviz_graph.format import short
from bertviz_graph.hierarchy.heads import head_counts
from bertviz_graph.presenters.weights import head_slice_figures
from bertviz_graph.run.attention import attention_maps
from bertviz_graph.run.predict import predict

if TYPE_CHECKING:
    import plotly.graph_objects as go


class RunMethods:
    """Mixed into ``GraphWidget``: needs ``graph``, ``hierarchy`` and ``selected``."""

    def _session(self):
        from bertviz_graph.presenters.run_session import RunSession  # lazy: start-up (cachetools)

        s = self.__dict__.get("_bv_run_session")
        if s is None:
            s = RunSession(self.graph)
            self.__dict__["_bv_run_session"] = s
        return s

    def run(self, text: str | None = None, pair: str | None = None, ids: list[int] | None = None):
        """Run a sentence (a pair, or token ids) through the real model; later figures show this run."""
        acts = self._session().run(text, pair, ids)
        self.__dict__["_bv_acts"] = acts
        self._render()  # edge tooltips and colour-by activation / change follow this run
        return acts

    def _acts(self):
        acts = self.__dict__.get("_bv_acts")
        if acts is None:
            raise UserError("no sentence has been run in this widget", 'call w.run("The cat sat on the mat.") first')
        return acts

    def activation(self, node_id: str | None = None, token: int | None = None, edge: str | None = None) -> go.Figure:
        """The selected (or given) op or module's output for the run, as a [tokens × features] heatmap; with
        ``edge`` (or a selected edge and no selected box) the tensor that edge carries."""
        from bertviz_graph.presenters.activations import (  # lazy: start-up (plotly)
            check_token,
            edge_view,
            op_for,
            tensor_figure,
            tensor_view,
        )

        acts = self._acts()
        edge = edge or ("" if node_id or getattr(self, "selected", "") else getattr(self, "edge", ""))
        if edge:
            _et, tv, what = edge_view(self.graph, self.view, acts, edge, token)
            if tv is None:
                raise UserError(what, "pick a data edge (not a weight edge)")
            fig = tensor_figure(tv, check_token(acts, token))
            fig.update_layout(title={"text": what})
            return fig
        nid = node_id or getattr(self, "selected", "")
        op = op_for(self.graph, self.hierarchy, nid)
        if op is None:
            raise UserError(f"{nid or 'nothing'} has no output tensor to show",
                            "select an op or a module (a Linear, a layer ...)")
        return tensor_figure(tensor_view(acts, op, token), check_token(acts, token))

    def fired(self, node_id: str | None = None, token: int = 0) -> go.Figure:
        """Neuron view of the selected (or given) Linear for one token: inputs, outputs, strongest w·x."""
        from bertviz_graph.presenters.activations import (  # lazy: start-up (plotly)
            linear_module,
            neuron_figure,
            neuron_view,
        )

        acts = self._acts()
        lin = linear_module(self.graph, self.hierarchy, node_id or getattr(self, "selected", ""))
        if lin is None:
            raise UserError("the neuron view needs a Linear", "select one, e.g. w.select('...intermediate.dense')")
        if self.graph.meta.get("origin") == "onnx":
            raise UserError("the neuron view reads an nn.Linear; an ONNX file runs in onnxruntime and has none",
                            "use w.activation() for the Linear's output, or open the PyTorch model")
        mod = self._session().runnable.model.get_submodule(lin)
        bias = None if mod.bias is None else mod.bias.detach().numpy()
        nv = neuron_view(self.graph, acts, mod.weight.detach().numpy(), bias, lin, token)
        fig = neuron_figure(nv)
        fig.update_layout(title={"text": nv.caption[:160]})
        return fig

    def attention(self, layer: int | None = None, head: int | None = None, threshold: float = 0.0) -> go.Figure:
        """Model view (no ``layer``), a layer's head-mean map, or one head's map."""
        from bertviz_graph.presenters.attention import (  # lazy: start-up (plotly)
            grid_figure,
            map_figure,
        )

        am = attention_maps(self.graph, self._acts())
        return grid_figure(am, threshold) if layer is None else map_figure(am, layer, head, threshold)

    def head_view(self, layer: int = 0, heads: list[int] | None = None, token: int | None = None) -> go.Figure:
        from bertviz_graph.presenters.activations import check_token  # lazy: start-up (plotly)
        from bertviz_graph.presenters.attention import head_view_figure  # lazy: start-up (plotly)

        acts = self._acts()
        return head_view_figure(attention_maps(self.graph, acts), layer, heads, check_token(acts, token))

    def residual(self) -> go.Figure:
        from bertviz_graph.presenters.activations import (  # lazy: start-up (plotly)
            residual_figure,
            residual_norms,
        )

        acts = self._acts()
        labels, norms = residual_norms(self.graph, acts)
        return residual_figure(labels, norms, acts.labels)

    def predictions(self, other: str | None = None, k: int = 5) -> Any:

        return predict(self._session().runnable, self._acts(), k=k, other=other)

    # --- edges, colour-by and heads in the widget's own picture ------------------------------------------
    def select_edge(self, edge_id: str) -> Any:
        """Select a drawn edge (what a click on it does): the details panel shows the tensor it carries for
        the sentence run with ``w.run`` (heatmap, statistics, top features per token)."""
        from bertviz_graph.presenters.activations import edge_tensors  # lazy: start-up (plotly)

        edge_tensors(self.graph, self.view, edge_id)  # a UserError for an edge not drawn
        with self.hold_sync():
            self.selected = ""
            self.edge = edge_id
            self._update_details()
            self.panel = "details"
        return self

    def _edge_details(self, edge_id: str) -> dict[str, Any]:
        from bertviz_graph.presenters.activations import (  # lazy: start-up (plotly)
            edge_details,
            edge_tensors,
        )

        acts = self.__dict__.get("_bv_acts")
        if acts is None:
            et = edge_tensors(self.graph, self.view, edge_id)
            return {"id": edge_id, "edge": True, "title": f"edge {et.source} → {et.target}", "color": "#ffffff",
                    "subtitle": "carries " + ", ".join(et.tensors[:6]), "weights": [],
                    "rows": [["activations", 'run a sentence first: w.run("The cat sat on the mat.")']]}
        return edge_details(self.graph, self.view, acts, edge_id)

    def _run_colours(self, lv: Any) -> tuple[dict[str, str], dict[str, Any]]:
        """(fills, tooltips) of the picture for the widget's run: colour-by activation / change and what
        every edge carries. Empty before ``w.run``."""
        acts = self.__dict__.get("_bv_acts")
        if acts is None:
            return {}, {}
        from bertviz_graph.presenters.activations import edge_tips  # lazy: start-up (plotly)

        tips: dict[str, Any] = {"edges": edge_tips(self.graph, self.view, acts), "nodes": {}}
        mode = getattr(self, "color_by", "role")
        if mode not in ("activation", "change"):
            return {}, tips
        from bertviz_graph.app.context import NO_VALUE, color_for  # lazy: start-up (PIL, cachetools)
        from bertviz_graph.presenters.activations import (  # lazy: start-up (plotly)
            change_values,
            node_sizes,
            op_for,
        )

        boxes = [n.id for n in lv.view.nodes if not n.expanded]
        if mode == "change":
            got = change_values(self.graph, self.hierarchy, acts, boxes)
        else:
            sizes = node_sizes(self.graph, acts)
            got = {b: sizes.get(op_for(self.graph, self.hierarchy, b) or "", "not kept or not an op") for b in boxes}
        values = {k: v for k, v in got.items() if isinstance(v, float) and v > 0}
        hi = max(values.values(), default=0.0)
        title = "change ‖out − in‖/‖in‖" if mode == "change" else "activation RMS"

        tips["nodes"] = {k: (f"{title}: {short(v)}" if isinstance(v, float) else f"{title}: no value ({v})")
                         for k, v in got.items()}
        fills = {n.id: color_for(values.get(n.id), 0.0, hi) if values else NO_VALUE for n in lv.view.nodes}
        return fills, tips

    def highlight_head(self, layer: int, head: int, which: str = "query") -> Any:
        """Select layer ``layer``'s ``which`` Linear (query, key, value, or "output") and outline head
        ``head``'s slice inside its weight matrix (the rest dimmed) in the matrix pane."""
        from bertviz_graph.presenters.attention import head_params  # lazy: start-up (plotly)

        am = attention_maps(self.graph, self._acts())
        if not 0 <= int(layer) < am.layers:
            raise UserError(f"layer {layer} is outside 0..{am.layers - 1}", "pick another layer")
        names = [n for n in head_params(self.graph, am.modules[int(layer)], 0, am.heads) if n.endswith(".weight")]
        key = "output.dense" if which == "output" else which
        name = next((n for n in names if f".{key}." in n or n.endswith(f"{key}.weight")), None)
        if name is None:
            raise UserError(f"no {which} weight in layer {layer}", "use query, key, value or output")
        mod = name.rsplit(".", 1)[0]
        if mod in self.hierarchy.groups:
            self.reveal(mod)
            self.select(mod)
        self.show_matrix(name, highlight=int(head))
        return self

    def head_slices(self, layer: int, head: int) -> list[go.Figure]:
        """Head ``head`` of layer ``layer`` outlined inside its Q, K, V and output-projection weights."""
        from bertviz_graph.presenters.attention import head_params  # lazy: start-up (plotly)

        am = attention_maps(self.graph, self._acts())
        counts = head_counts(self._h.ctx) or am.heads  # query and key/value heads: K/V slices follow the KV heads
        names = list(head_params(self.graph, am.modules[int(layer)], int(head), counts))
        return [f for _, f, _ in head_slice_figures(self.weights, names, counts, int(head))]

    def _prediction_rows(self, nid: str) -> list[list[str]]:
        """Rows of the run's predictions when ``nid`` is the output node or the head group (after w.run)."""
        from bertviz_graph.presenters.activations import (  # lazy: start-up (plotly)
            output_boxes,
            prediction_rows,
        )

        acts = self.__dict__.get("_bv_acts")
        if acts is None or nid not in output_boxes(self.graph, self.hierarchy):
            return []
        try:
            from bertviz_graph.run.predict import predict  # lazy: guarded (inside a try)

            return [["predictions", "↓ (w.predictions() for the object)"],
                    *prediction_rows(predict(self._session().runnable, acts))]
        except UserError as e:
            return [["predictions", str(e)]]
