"""The "Analysis" tab: is all of BERT needed? Redundant heads, the FFN's role (ablations with CKA), and how
much of each weight matrix's rank is used, for the model on screen (presenters.analysis, shared with the CLI
and the widget). Results are cached by (model, analysis) on the server: content-keyed, the same for every tab.
"""

from __future__ import annotations

from typing import Any

from dash import Input, Output, State, dcc, html
from dash.exceptions import PreventUpdate

from bertviz_graph.app import ids
from bertviz_graph.app.context import AppContext
from bertviz_graph.app.registry import model_for
from bertviz_graph.errors import UserError
from bertviz_graph.presenters import analysis as pa
from bertviz_graph.presenters.common import PLOT_CONFIG

TAB_VALUE = "analysis"
TAB_LABEL = "Analysis"
KIND = "bv-analysis-kind"
GO = "bv-analysis-go"
OUT = "bv-analysis-out"


def model_of(C: AppContext) -> Any:
    """The model the analyses run on: the one place to swap in a per-tab model registry."""
    return C.graph


def layout(C: AppContext) -> html.Div:
    return html.Div([
        html.P("Is all of BERT needed? Measured on the 48 built-in sentences (ablations: neurons scored on "
               "half, CKA measured on the other half).", className="bv-empty"),
        dcc.RadioItems(id=KIND, value="heads", options=[{"label": v, "value": k} for k, v in pa.KINDS.items()],
                       inputStyle={"marginRight": "4px", "marginLeft": "10px"}, style={"fontSize": "13px"}),
        html.Button("Compute", id=GO, n_clicks=0, style={"margin": "6px 0"}),
        dcc.Loading(html.Div(id=OUT), type="dot"),
    ])


def render(C: AppContext, kind: str) -> list[Any]:
    try:
        lines, fig, _rows = C.figures.get_or_make(("analysis", kind), lambda: pa.analysis_view(kind, model_of(C)))
    except UserError as e:  # a sentence for the page, never a traceback
        return [html.Div(f"error: {e.problem}", className="bv-error"),
                html.Div(f"fix: {e.fix}", className="bv-empty") if e.fix else None]
    fig = type(fig)(fig)  # a copy: the cached figure is shared by every tab
    fig.update_layout(width=None, autosize=True)
    return [html.Ul([html.Li(x) for x in lines], style={"fontSize": "13px", "paddingLeft": "18px"}),
            dcc.Graph(figure=fig, config=PLOT_CONFIG, style={"height": f"{fig.layout.height or 500}px"})]


def register(app, C: AppContext) -> None:
    @app.callback(Output(OUT, "children"), Input(GO, "n_clicks"), State(KIND, "value"), State(ids.MODEL, "data"),
                  prevent_initial_call=True)
    def _go(n: int, kind: str, spec=None):
        C = model_for(app, spec)  # the tab's model (app/registry.py)
        if not n or kind not in pa.KINDS:
            raise PreventUpdate
        return render(C, kind)
