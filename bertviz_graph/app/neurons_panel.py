"""The Neurons tab: the selected element in neural-network terms, and its Linear drawn as a textbook layer.

- the mapping "graph element -> neural-network terms" of the selection (``neurons.views.mapping_text``);
- the neuron view of the selected Linear (or the one picked among a block's Linears), whole or one head's
  slice (``neurons.views.neuron_view``), with the fraction of edges drawn said plainly;
- a click on an output neuron shows all its incoming weights (``neurons.views.neuron_detail``).

A side-panel module as ``app.layout`` expects: TAB_VALUE, TAB_LABEL, layout(C), register(app, C).
"""

from __future__ import annotations

from typing import Any

from dash import Input, Output, State, dcc, html, no_update
from dash.exceptions import PreventUpdate

from bertviz_graph.app import ids
from bertviz_graph.app.context import AppContext
from bertviz_graph.app.guard import error_text
from bertviz_graph.app.registry import model_for
from bertviz_graph.presenters import neurons as pn
from bertviz_graph.presenters.common import PLOT_CONFIG

TAB_VALUE = "neurons"
TAB_LABEL = "Neurons"

MAPPING = "bv-n-mapping"
LINEAR = "bv-n-linear"
HEAD = "bv-n-head"
FC = "bv-n-fc"
DETAIL = "bv-n-detail"
DETAIL_BOX = "bv-n-detail-box"
MSG = "bv-n-msg"

ALL_HEADS = "all"
GRAPH_CONFIG = PLOT_CONFIG
EMPTY = pn.EMPTY
_TD_KEY = {"padding": "3px 8px 3px 0", "verticalAlign": "top", "color": "#555", "whiteSpace": "nowrap",
           "fontFamily": "DejaVu Sans Mono, monospace", "fontSize": "12px", "borderTop": "1px solid #eee"}
_TD_VAL = {"padding": "3px 0", "verticalAlign": "top", "fontSize": "13px", "borderTop": "1px solid #eee"}


def _blank(text: str = "") -> dict[str, Any]:
    return {"data": [], "layout": {
        "xaxis": {"visible": False}, "yaxis": {"visible": False}, "height": 120, "plot_bgcolor": "white",
        "margin": {"l": 10, "r": 10, "t": 10, "b": 10},
        "annotations": [{"text": text, "showarrow": False, "xref": "paper", "yref": "paper", "x": 0.5, "y": 0.5,
                         "font": {"size": 13, "color": "#666"}}] if text else []}}


def layout(C: AppContext) -> html.Div:
    # the drawing first, so it is in sight when the tab opens; the mapping table follows it
    return html.Div([
        html.Div(style={"display": "flex", "gap": "8px", "alignItems": "center", "margin": "2px 0 4px 0"},
                 children=[
                     dcc.Dropdown(id=LINEAR, options=[], value=None, clearable=False, placeholder="Linear layer",
                                  style={"flex": "1 1 auto", "fontSize": "13px"}),
                     dcc.Dropdown(id=HEAD, options=[{"label": "all heads", "value": ALL_HEADS}],
                                  value=ALL_HEADS, clearable=False, searchable=False, disabled=True,
                                  style={"width": "130px", "fontSize": "13px"}),
                 ]),
        html.Div(id=MSG, className="bv-empty", children=""),
        dcc.Graph(id=FC, config=GRAPH_CONFIG, figure=_blank(), style={"minHeight": "140px"}),
        html.Div(id=DETAIL_BOX, style={"display": "none"}, children=[
            dcc.Graph(id=DETAIL, config=GRAPH_CONFIG, figure=_blank()),
        ]),
        html.Div(className="bv-empty", id=MAPPING, children=EMPTY),
    ])


def mapping_table(C: AppContext, node_id: str) -> list[Any]:
    rows = pn.mapping(C.graph, node_id)
    return [
        html.Div("In neural-network terms", style={"fontWeight": "bold", "margin": "2px 0 4px 0"}),
        html.Table(html.Tbody([html.Tr([html.Td(k, style=_TD_KEY), html.Td(v, style=_TD_VAL)]) for k, v in rows]),
                   style={"borderCollapse": "collapse", "width": "100%"}, className="bv-n-map"),
    ]


def linear_options(C: AppContext, node_id: str) -> tuple[list[dict[str, str]], str | None, str]:
    """(dropdown options, value, message) for the selection: the Linear it is, or the Linears inside it."""
    found, value, msg = pn.linears(C.graph, node_id)
    return [{"label": label, "value": gid} for gid, label in found], value, msg


def head_options(C: AppContext, linear: str | None) -> tuple[list[dict[str, Any]], bool]:
    opts: list[dict[str, Any]] = [{"label": "all heads", "value": ALL_HEADS}]
    n = pn.heads(C.graph, linear)
    return (opts + [{"label": f"head {i}", "value": str(i)} for i in range(n)], False) if n else (opts, True)


def register(app, C: AppContext) -> None:
    @app.callback(
        Output(MAPPING, "children"), Output(LINEAR, "options"), Output(LINEAR, "value"), Output(MSG, "children"),
        Input(ids.SELECTED, "data"), State(ids.MODEL, "data"), prevent_initial_call=True,
    )
    def _selected(selected: dict | None, spec=None):
        C = model_for(app, spec)  # the tab's model (app/registry.py)
        node_id = selected.get("id") if isinstance(selected, dict) else None
        if not isinstance(node_id, str) or not node_id:
            return EMPTY, [], None, ""
        try:
            table = mapping_table(C, node_id)
        except Exception as exc:  # noqa: BLE001 - a sentence, never a traceback
            table = [html.Div(error_text(exc), className="bv-empty")]
        try:
            opts, value, msg = linear_options(C, node_id)
        except Exception as exc:  # noqa: BLE001
            opts, value, msg = [], None, error_text(exc)
        return table, opts, value, msg

    @app.callback(
        Output(HEAD, "options"), Output(HEAD, "disabled"), Output(HEAD, "value"),
        Input(LINEAR, "value"), State(ids.MODEL, "data"), prevent_initial_call=True,
    )
    def _heads(linear: str | None, spec=None):
        C = model_for(app, spec)  # the tab's model (app/registry.py)
        opts, disabled = head_options(C, linear)
        return opts, disabled, ALL_HEADS

    @app.callback(
        Output(FC, "figure"), Output(DETAIL_BOX, "style"), Output(MSG, "children", allow_duplicate=True),
        Input(LINEAR, "value"), Input(HEAD, "value"), Input(ids.TABS, "value"), State(ids.MODEL, "data"),
        prevent_initial_call=True,
    )
    def _fc(linear: str | None, head: str | None, tab: str | None, spec=None):
        C = model_for(app, spec)  # the tab's model (app/registry.py)
        if tab != TAB_VALUE:
            raise PreventUpdate  # drawn when the tab is shown
        if not linear:
            return _blank(), {"display": "none"}, no_update
        try:
            fig = pn.layer(C.graph, linear, None if head in (None, ALL_HEADS) else int(head), store=C.weights)
        except Exception as exc:  # noqa: BLE001
            return _blank(), {"display": "none"}, error_text(exc)
        return fig, {"display": "none"}, ""

    @app.callback(
        Output(DETAIL, "figure"), Output(DETAIL_BOX, "style", allow_duplicate=True),
        Output(MSG, "children", allow_duplicate=True),
        Input(FC, "clickData"), State(LINEAR, "value"), State(HEAD, "value"), State(ids.MODEL, "data"),
        prevent_initial_call=True,
    )
    def _detail(click: dict | None, linear: str | None, head: str | None, spec=None):
        C = model_for(app, spec)  # the tab's model (app/registry.py)
        pts = (click or {}).get("points") or []
        if not pts or not linear:
            raise PreventUpdate
        pt = pts[0]
        idx = pt.get("customdata")
        if not isinstance(idx, (int, float)) or isinstance(idx, bool):
            raise PreventUpdate  # an edge or empty space
        if float(pt.get("x", 0)) < 0.5:
            return no_update, no_update, f"input neuron {int(idx)}: click an output neuron (right column) for its " \
                                         "incoming weights"
        try:
            fig = pn.neuron(C.graph, linear, int(idx), None if head in (None, ALL_HEADS) else int(head),
                            store=C.weights)
        except Exception as exc:  # noqa: BLE001
            return no_update, no_update, error_text(exc)
        return fig, {"display": "block"}, ""
