"""The Analysis section in a notebook: the same three analyses as the app's Analysis tab
(``presenters.analysis``): redundant heads, FFN/attention ablations with CKA, weight spectra.

    w = bg.show("all-MiniLM-L6-v2"); w.analysis("heads")     # an ipywidgets box: choice, Compute, result
"""

from __future__ import annotations

import html
from typing import Any

from bertviz_graph.errors import UserError


def analysis_box(model: Any, kind: str = "heads", compute: bool = True):
    """A box with the analysis chooser, a Compute button, the measured sentences and the plotly figure
    (a FigureWidget: interactive, no network)."""
    import ipywidgets as W
    import plotly.graph_objects as go

    from bertviz_graph.presenters import analysis as pa  # lazy: start-up (numpy)

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
