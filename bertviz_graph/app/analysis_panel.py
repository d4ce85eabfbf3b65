"""The "Analysis" tab: is all of BERT needed? Redundant heads, the FFN's role (ablations with CKA), and how
much of each weight matrix's rank is used, for the model on screen (presenters.analysis, shared with the CLI
and the widget). Results are cached by (model, analysis) on the server: content-keyed, the same for every tab.
"""

from __future__ import annotations

import itertools
from typing import Any

from dash import Input, Output, State, dcc, html, no_update
from dash.exceptions import PreventUpdate

from bertviz_graph.app import attention_panel as AP
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
FIG = "bv-analysis-graph"  # the analysis figure: a click on a head opens it (Attention tab + graph)
HEAD_NOTE = "bv-analysis-head-note"
_NONCE = itertools.count(1)


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
        html.Div(id=HEAD_NOTE, className="bv-explain"),
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
    hint = [html.Li("Click a head (a point of the map or a row of the matrix): its attention map and its Q, K, "
                    "V, O slices open in the Attention tab, its query Linear in the graph.")] if kind == "heads" else []
    return [html.Ul([html.Li(x) for x in lines] + hint, style={"fontSize": "13px", "paddingLeft": "18px"}),
            dcc.Graph(id=FIG, figure=fig, config=PLOT_CONFIG, style={"height": f"{fig.layout.height or 500}px"})]


def register(app, C: AppContext) -> None:
    @app.callback(Output(OUT, "children"), Input(GO, "n_clicks"), State(KIND, "value"), State(ids.MODEL, "data"),
                  prevent_initial_call=True)
    def _go(n: int, kind: str, spec=None):
        C = model_for(app, spec)  # the tab's model (app/registry.py)
        if not n or kind not in pa.KINDS:
            raise PreventUpdate
        return render(C, kind)

    @app.callback(Output(AP.LAYER, "value", allow_duplicate=True), Output(AP.HEAD, "value", allow_duplicate=True),
                  Output(ids.TABS, "value", allow_duplicate=True), Output(ids.VIEW_REQUEST, "data", allow_duplicate=True),
                  Output(HEAD_NOTE, "children"), Input(FIG, "clickData"), State(ids.MODEL, "data"),
                  prevent_initial_call=True)
    def _head(click, spec=None):
        """A head clicked in the matrix or the map: the Attention tab shows its map and its Q, K, V, O slices
        (and outlines it in the Weights tab); the graph selects its layer's query Linear (revealed)."""
        picked = pa.clicked_head(click)
        if picked is None:
            raise PreventUpdate
        C = model_for(app, spec)  # the tab's model (app/registry.py)
        try:
            t = pa.head_target(C.graph, *picked)
        except UserError as e:
            return no_update, no_update, no_update, no_update, f"error: {e.problem}"
        request = {"action": "select", "id": t["select"], "nonce": next(_NONCE)}
        note = (f"{t['label']}: its attention map and Q, K, V, O slices are in the Attention tab; the graph "
                f"shows {t['select']}.")
        return t["layer"], t["head"], AP.TAB_VALUE, request, note
