"""The Analysis section in a notebook: the same three analyses as the app's Analysis tab
(``presenters.analysis``): redundant heads, FFN/attention ablations with CKA, weight spectra.

    w = bg.show("all-MiniLM-L6-v2"); w.analysis("heads")     # an ipywidgets box: choice, Compute, result
"""

from __future__ import annotations

import html
from typing import Any


def analysis_box(model: Any, kind: str = "heads", compute: bool = True):
    """A box with the analysis chooser, a Compute button, the measured sentences and the plotly figure
    (a FigureWidget: interactive, no network)."""
    import ipywidgets as W
    import plotly.graph_objects as go

    from bertviz_graph.errors import UserError
    from bertviz_graph.presenters import analysis as pa

    choice = W.Dropdown(options=[(v, k) for k, v in pa.KINDS.items()], value=kind, description="Analysis")
    button = W.Button(description="Compute")
    text = W.HTML()
    plot = W.Box()

    def run(_b: Any = None) -> None:
        text.value = "<i>computing ...</i>"
        try:
            lines, fig, _rows = pa.analysis_view(choice.value, model)
        except UserError as e:  # one line and the fix, never a traceback
            text.value = (f"<b style='color:#b00020'>error: {html.escape(e.problem)}</b>"
                          + (f"<br>fix: {html.escape(e.fix)}" if e.fix else ""))
            plot.children = ()
            return
        text.value = "<ul style='line-height:1.45'>" + "".join(f"<li>{html.escape(x)}</li>" for x in lines) + "</ul>"
        plot.children = (go.FigureWidget(fig),)

    button.on_click(run)
    box = W.VBox([W.HBox([choice, button]), text, plot])
    box.run = run
    if compute:
        run()
    return box


def analysis_colours(w: Any, lv: Any, tips: dict[str, Any]) -> tuple[dict[str, str], dict[str, Any]]:
    """(fills, tooltips) of the widget's picture for an analysis colour-by (``w.color_by = "rank"``,
    "ffn_cka", "ffn_task"): the app's values and scale (presenters.analysis_colors, app.context.color_for),
    computed once per widget."""
    from bertviz_graph.app.context import NO_VALUE, color_for
    from bertviz_graph.errors import UserError
    from bertviz_graph.presenters import analysis_colors as ac

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
