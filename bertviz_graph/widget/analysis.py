"""The Analysis section in a notebook: the same three analyses as the app's Analysis tab
(``presenters.analysis``): redundant heads, FFN/attention ablations with CKA, weight spectra.

    w = bg.show("all-MiniLM-L6-v2"); w.analysis("heads")     # an ipywidgets box: choice, Compute, result

Clicking a head (a point of the map, a row of the matrix) in a box made by ``w.analysis`` opens it in ``w``:
its layer's query Linear selected and revealed with the head outlined in the matrix pane, and under the chart
its attention map (on the widget's run, else the first sentence analysed) and its Q, K, V, O slices.
"""

from __future__ import annotations

import html
from typing import Any

from bertviz_graph.errors import UserError
from bertviz_graph.presenters import analysis as pa
from bertviz_graph.presenters import analysis_colors as ac
from bertviz_graph.pruning.data import BUILTIN_SENTENCES


def analysis_box(model: Any, kind: str = "heads", compute: bool = True, widget: Any = None,
                 sentences: Any = None):
    """A box with the analysis chooser, a Compute button, the measured sentences and the plotly figure
    (a FigureWidget: interactive, no network); with ``widget`` (a GraphWidget) a click on a head opens it
    there (``box.open_head(layer, head)`` does the same from Python)."""
    import ipywidgets as W
    import plotly.graph_objects as go

    choice = W.Dropdown(options=[(v, k) for k, v in pa.KINDS.items()], value=kind, description="Analysis")
    button = W.Button(description="Compute")
    text = W.HTML()
    plot = W.Box()
    head_box = W.VBox()

    def open_head(layer: int, head: int) -> None:
        try:
            figs = open_head_in(widget, layer, head)
        except UserError as e:
            head_box.children = (W.HTML(f"<b style='color:#b00020'>error: {html.escape(e.problem)}</b>"
                                        + (f"<br>fix: {html.escape(e.fix)}" if e.fix else "")),)
            return
        head_box.children = tuple(go.FigureWidget(f) for f in figs)

    def on_click(trace: Any, points: Any, _state: Any = None) -> None:
        if not points.point_inds:
            return
        i = points.point_inds[0]
        if trace.type == "heatmap":  # [row, col]: the row's head
            label = trace.y[i[0] if isinstance(i, (list, tuple)) else i]
            layer, head = (int(x) for x in str(label)[1:].split(".H"))
        else:
            layer, head = (int(x) for x in trace.customdata[i])
        open_head(layer, head)

    def run(_b: Any = None) -> None:
        text.value = "<i>computing ...</i>"
        try:
            lines, fig, _rows = pa.analysis_view(choice.value, model, sentences)
        except UserError as e:  # one line and the fix, never a traceback
            text.value = (f"<b style='color:#b00020'>error: {html.escape(e.problem)}</b>"
                          + (f"<br>fix: {html.escape(e.fix)}" if e.fix else ""))
            plot.children = ()
            return
        text.value = "<ul style='line-height:1.45'>" + "".join(f"<li>{html.escape(x)}</li>" for x in lines) + "</ul>"
        fw = go.FigureWidget(fig)
        if widget is not None and choice.value == "heads":
            for tr in fw.data:
                tr.on_click(on_click)
        plot.children = (fw,)

    button.on_click(run)
    box = W.VBox([W.HBox([choice, button]), text, plot, head_box])
    box.run = run
    box.open_head = open_head
    if compute:
        run()
    return box


def open_head_in(w: Any, layer: int, head: int) -> list[Any]:
    """Open head ``head`` of layer ``layer`` in GraphWidget ``w``: its query Linear selected (revealed) with the
    head outlined in the matrix pane; returns its attention map and its Q, K, V, O slice figures (the
    presenters the app's Attention tab draws)."""
    if w is None:
        raise UserError("this box is not attached to a graph widget", 'use w.analysis("heads") on a GraphWidget')
    pa.head_target(w.graph, layer, head)  # a UserError for a head the model does not have
    if "_bv_acts" not in w.__dict__:  # the map needs a run: the first built-in sentence the analysis used

        w.run(BUILTIN_SENTENCES[0])
    w.highlight_head(layer, head)
    fig = w.attention(layer, head)
    return [fig, *w.head_slices(layer, head)]


def analysis_colours(w: Any, lv: Any, tips: dict[str, Any]) -> tuple[dict[str, str], dict[str, Any]]:
    """(fills, tooltips) of the widget's picture for an analysis colour-by (``w.color_by = "rank"``,
    "ffn_cka", "ffn_task"): the app's values and scale (presenters.analysis_colors, app.context.color_for),
    computed once per widget."""
    from bertviz_graph.app.context import NO_VALUE, color_for  # lazy: start-up (PIL, cachetools)

    mode = w.color_by
    cache = w.__dict__.setdefault("_bv_analysis_colours", {})
    if mode not in cache:
        try:
            cache[mode] = ac.param_values(w.graph, mode)[0]
        except UserError as e:
            w.error = str(e)
            cache[mode] = {}
    values = cache[mode]
    got = {n.id: ac.box_value(ac.param_names_under(w.graph, w.hierarchy, n.id, n.kind), values)
           for n in lv.view.nodes if not n.expanded}
    shown = {k: v for k, v in got.items() if v is not None and v > 0}
    hi = max(shown.values(), default=0.0)
    fills = {n.id: color_for(shown.get(n.id), 0.0, hi) if shown else NO_VALUE for n in lv.view.nodes}
    return fills, {**tips, "nodes": {k: ac.tip(mode, v) for k, v in got.items()}}
