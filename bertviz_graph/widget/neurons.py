"""The neuron views as widget methods: ``w.neurons()``, ``w.neuron(i)``, ``w.network()``, ``w.chart()``,
``w.mapping()``. Each returns a plotly figure (or rows of text) for the cell; plotly draws offline in
JupyterLab, Notebook 7 and VS Code.

    w = bg.show("bert-base-uncased")
    w.select("bert.encoder.layer.0.attention.self.query")
    w.neurons(head=3)          # head 3's slice of the query layer, as input/output neurons and weighted edges
    w.neuron(200, head=3)      # all incoming weights of output neuron 200
    w.network()                # the whole model as a textbook stack of neuron layers; click a band ...
    w.chart("flops")           # ... or a sector: the widget above opens that group

With ``link=True`` (the default for ``network`` and ``chart``) the figure is a ``plotly.graph_objects.
FigureWidget`` whose clicks open the clicked group in this widget; without ipywidgets support it falls back
to a plain figure.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bertviz_graph.errors import UserError
from bertviz_graph.neurons.views import neuron_view
from bertviz_graph.presenters.charts import chart
from bertviz_graph.presenters.common import click_action
from bertviz_graph.presenters.network import network
from bertviz_graph.presenters.neurons import mapping, neuron

if TYPE_CHECKING:
    import plotly.graph_objects as go


class NeuronMethods:
    """Mixed into ``GraphWidget``: needs ``graph``, ``hierarchy``, ``weights``, ``selected``, ``open``,
    ``select`` and ``reveal``."""

    def _neuron_target(self, node_id: str | None) -> str:
        nid = node_id if node_id is not None else getattr(self, "selected", "")
        if not nid:
            raise UserError("no node given and none selected",
                            "pass a node id, e.g. w.neurons('bert.encoder.layer.0.intermediate.dense'), or "
                            "click a Linear box first")
        return nid

    def neurons(self, node_id: str | None = None, head: int | None = None, **kw: Any) -> go.Figure:
        """The textbook drawing of the selected (or given) Linear, or of one attention head's slice of it.

        A block holding several Linears (Self-attention) raises a UserError that lists them."""

        # the plain drawing (the app's side panel wraps its title: presenters.neurons.layer)
        return neuron_view(self.graph, self._neuron_target(node_id), head, store=self.weights, **kw)

    def neuron(self, out_index: int, node_id: str | None = None, head: int | None = None) -> go.Figure:
        """All incoming weights of output neuron ``out_index`` of the selected (or given) Linear."""

        return neuron(self.graph, self._neuron_target(node_id), out_index, head, store=self.weights)

    def mapping(self, node_id: str | None = None) -> list[tuple[str, str]]:
        """The selected (or given) element in neural-network terms: [(graph element, meaning)]."""

        return mapping(self.graph, self._neuron_target(node_id))

    def network(self, compact: bool = False, link: bool = True) -> go.Figure:
        """The whole model as a stack of neuron layers whose widths are the real sizes; ×N marks repeats.
        The selected node's band is outlined."""

        return self._linked(network(self.hierarchy, getattr(self, "selected", "") or None, compact=compact), link)

    def chart(self, metric: str = "params", kind: str = "sunburst", series: str = "fold",
              link: bool = True) -> go.Figure:
        """Sunburst or treemap of parameters ("params") or FLOPs ("flops") by group."""

        return self._linked(chart(self.hierarchy, metric, kind, height=760, series=series), link)

    # --- clicks in a figure open the group in this widget -----------------------------------------------
    def _open_from_figure(self, gid: Any) -> None:

        act = click_action(self.hierarchy, gid)
        if act is None:
            return
        if act["action"] == "select":
            self.reveal(act["id"]).select(act["id"])  # a Linear / LayerNorm: show it in place
        else:
            self.open(act["id"]).select(act["id"])

    def _linked(self, fig: go.Figure, link: bool) -> go.Figure:
        if not link:
            return fig
        try:
            import plotly.graph_objects as go

            fw = go.FigureWidget(fig)
        except Exception:  # noqa: BLE001 - no widget support here: a plain figure still shows
            return fig

        def on_click(trace: Any, points: Any, _state: Any) -> None:
            idx = list(getattr(points, "point_inds", []) or [])
            cd = trace.customdata
            if idx and cd is not None and idx[0] < len(cd):
                try:
                    self._open_from_figure(cd[idx[0]])
                except UserError as e:
                    if hasattr(self, "error"):
                        self.error = str(e)

        for t in fw.data:
            if getattr(t, "customdata", None) is not None and hasattr(t, "on_click"):
                t.on_click(on_click)
        return fw
