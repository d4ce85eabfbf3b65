"""The Network tab: the whole model as a textbook stack of neuron layers (``presenters.network``), beside
the graph and linked both ways: selecting a node in the graph outlines its band(s); clicking a band moves
the graph (``presenters.common.click_action``: a Linear, LayerNorm or activation band selects and reveals
that module; the attention band, an embeddings band or the ×N mark opens that group).
A side-panel module as ``app.layout`` expects: TAB_VALUE, TAB_LABEL, layout(C), register(app, C).
"""

from __future__ import annotations

import itertools
from typing import Any

from dash import Input, Output, State, dcc, html
from dash.exceptions import PreventUpdate

from bertviz_graph.app import ids
from bertviz_graph.app.context import AppContext
from bertviz_graph.app.registry import model_for
from bertviz_graph.presenters.common import PLOT_CONFIG, click_action
from bertviz_graph.presenters.network import network

TAB_VALUE = "network"
TAB_LABEL = "Network"
NET = "bv-net-graph"
GRAPH_CONFIG = {**PLOT_CONFIG, "scrollZoom": False}
_NONCE = itertools.count(1)


def figure(C: AppContext, selected: str | None = None):
    # the picture without highlight depends only on the model, which does not change while the server runs
    base = C.figures.get_or_make(("textbook",), lambda: network(C.h, None, compact=True))
    return network(C.h, selected, base=base) if selected else base


def request_for(C: AppContext, gid: str) -> dict[str, Any] | None:
    """The graph request a click on ``gid`` makes (``common.click_action``), with a fresh nonce."""
    act = click_action(C.h, gid)
    return None if act is None else {**act, "nonce": next(_NONCE)}


def layout(C: AppContext) -> html.Div:
    # no figure yet: it is drawn when the tab is opened (``_highlight``), not with every page (~0.3 s of
    # bert-base's first page, before its first graph)
    return html.Div([
        dcc.Graph(id=NET, config=GRAPH_CONFIG, clear_on_unhover=True),
    ])


def register_click_opens_group(app, C: AppContext, figure_id: str) -> None:
    """A click on a figure element whose customdata is a group id opens that group in the graph view."""

    @app.callback(Output(ids.VIEW_REQUEST, "data", allow_duplicate=True), Input(figure_id, "clickData"), State(ids.MODEL, "data"),
                  prevent_initial_call=True)
    def _click(click: dict | None, spec=None):
        C = model_for(app, spec)  # the tab's model (app/registry.py)
        pts = (click or {}).get("points") or []
        req = request_for(C, pts[0].get("customdata")) if pts else None
        if req is None:
            raise PreventUpdate
        return req


def register(app, C: AppContext) -> None:
    register_click_opens_group(app, C, NET)

    @app.callback(Output(NET, "figure"), Input(ids.SELECTED, "data"), Input(ids.TABS, "value"),
                  State(NET, "figure"), State(ids.MODEL, "data"), prevent_initial_call=True)
    def _highlight(selected: dict | None, tab: str | None, _shown: Any, spec=None):
        C = model_for(app, spec)  # the tab's model (app/registry.py)
        if tab != TAB_VALUE:
            raise PreventUpdate  # drawn when the tab is shown
        node = selected.get("id") if isinstance(selected, dict) else None
        return figure(C, node if isinstance(node, str) and node else None)
