"""The Network tab: the whole model as a textbook stack of neuron layers (``neurons.textbook``).

Clicking a band moves the graph view: a Linear, LayerNorm or activation band selects and reveals that
module; the attention band, an embeddings band or the ×N mark opens that group.
A side-panel module as ``app.layout`` expects: TAB_VALUE, TAB_LABEL, layout(C), register(app, C).
"""

from __future__ import annotations

import itertools
from typing import Any

from dash import Input, Output, dcc, html
from dash.exceptions import PreventUpdate

from bertviz_graph.app import ids
from bertviz_graph.app.context import AppContext
from bertviz_graph.hierarchy.tree import ROOT

TAB_VALUE = "network"
TAB_LABEL = "Network"
NET = "bv-net-graph"
GRAPH_CONFIG = {"displaylogo": False, "modeBarButtonsToRemove": ["select2d", "lasso2d", "autoScale2d"],
                "toImageButtonOptions": {"format": "png"}, "scrollZoom": False}
_NONCE = itertools.count(1)


def figure(C: AppContext):
    from bertviz_graph.neurons.textbook import textbook_figure

    fig = getattr(C, "_bv_textbook", None)
    if fig is None:
        fig = textbook_figure(C.h, compact=True)
        C._bv_textbook = fig  # the model does not change while the server runs
    return fig


def request_for(C: AppContext, gid: str) -> dict[str, Any] | None:
    """The graph request a click on ``gid`` makes: select a leaf module (Linear ...), open a block."""
    h = C.h
    if not isinstance(gid, str) or gid == ROOT or gid not in h.groups:
        return None
    grp = h.groups[gid]
    leafish = grp.kind == "module" and not any(c in h.groups for c in grp.children)
    return {"action": "select" if leafish else "open", "id": gid, "nonce": next(_NONCE)}


def layout(C: AppContext) -> html.Div:
    return html.Div([
        dcc.Graph(id=NET, figure=figure(C), config=GRAPH_CONFIG, clear_on_unhover=True),
    ])


def register_click_opens_group(app, C: AppContext, figure_id: str) -> None:
    """A click on a figure element whose customdata is a group id opens that group in the graph view."""

    @app.callback(Output(ids.VIEW_REQUEST, "data", allow_duplicate=True), Input(figure_id, "clickData"),
                  prevent_initial_call=True)
    def _click(click: dict | None):
        pts = (click or {}).get("points") or []
        req = request_for(C, pts[0].get("customdata")) if pts else None
        if req is None:
            raise PreventUpdate
        return req


def register(app, C: AppContext) -> None:
    register_click_opens_group(app, C, NET)
