"""The Attention tab: the run's attention maps (seed 002's "self-attention map").

A model view (layers × heads grid; click a tile to enlarge it), the enlarged map, the head view (lines
between token columns; the run panel's token picker isolates one token), per-head summaries and rollout,
and a threshold slider. Selecting a softmax (or anything inside an attention block) in the graph shows that
layer; a chosen head lists the Q, K, V rows and output-projection columns it owns, draws them outlined inside
small heatmaps of those weights, selects its query and outlines the head in the Weights tab's heatmap.
"""

from __future__ import annotations

import itertools
from typing import Any

from dash import Input, Output, State, dcc, html, no_update
from dash.exceptions import PreventUpdate

from bertviz_graph.app import ids
from bertviz_graph.app.context import AppContext
from bertviz_graph.app.guard import error_text
from bertviz_graph.app.registry import model_for
from bertviz_graph.app.run_panel import CONFIG, RUN, RUN_TOK, acts_of, cached_acts
from bertviz_graph.app.weights_panel import WEIGHT_HEAD_STORE
from bertviz_graph.presenters import attention as AT
from bertviz_graph.presenters.attention import head_params
from bertviz_graph.presenters.common import heads_of
from bertviz_graph.presenters.run_session import can_run
from bertviz_graph.run.attention import SUMMARY_KEYS, attention_maps

TAB_VALUE = "attention"
TAB_LABEL = "Attention"
GRID = "bv-att-grid"
MAP = "bv-att-map"
HEADVIEW = "bv-att-headview"
SUMMARY = "bv-att-summary"
SUMMARY_KEY = "bv-att-summary-key"
ROLLOUT = "bv-att-rollout"
LAYER = "bv-att-layer"
HEAD = "bv-att-head"
THRESHOLD = "bv-att-threshold"
INFO = "bv-att-info"
SLICES = "bv-att-slices"
SLICE_MAPS = "bv-att-slice-maps"  # the head's Q, K, V, output weights with its slice outlined
_NONCE = itertools.count(1)


def layout(C: AppContext) -> html.Div:
    reason = can_run(C.graph)
    body = _body()
    if reason:  # components stay (hidden) so the callbacks always have their targets
        return html.Div([html.Div(f"Attention maps need a run: {reason}", className="bv-banner"),
                         html.Div(body, style={"display": "none"})])
    return html.Div(body)


def _body() -> list[Any]:
    return [
        html.Div(id=INFO, className="bv-empty", children="Run a sentence in the Run tab (the example runs first)."),
        html.Div([html.Span("threshold"), dcc.Slider(id=THRESHOLD, min=0, max=0.5, step=0.01, value=0.0,
                                                     marks={0: "0", 0.1: "0.1", 0.25: "0.25", 0.5: "0.5"})],
                 style={"display": "grid", "gridTemplateColumns": "80px 1fr", "alignItems": "center"}),
        dcc.Loading(dcc.Graph(id=GRID, config=CONFIG), type="dot"),
        html.Div([html.Span("layer "), dcc.Dropdown(id=LAYER, options=[], value=0, clearable=False,
                                                    style={"width": "90px"}),
                  html.Span(" head "), dcc.Dropdown(id=HEAD, options=[], value=None, placeholder="mean",
                                                    style={"width": "110px"})],
                 style={"display": "flex", "alignItems": "center", "gap": "6px"}),
        html.Div(id=SLICES, className="bv-explain"),
        html.Div(id=SLICE_MAPS, style={"display": "grid", "gridTemplateColumns": "1fr 1fr", "gap": "4px"}),
        dcc.Graph(id=MAP, config=CONFIG),
        dcc.Graph(id=HEADVIEW, config=CONFIG),
        html.Div([html.Span("per-head summary "), dcc.Dropdown(
            id=SUMMARY_KEY, value="entropy", clearable=False, style={"width": "260px"},
            options=[{"label": AT.SUMMARY_TITLES[k], "value": k} for k in SUMMARY_KEYS])],
            style={"display": "flex", "alignItems": "center", "gap": "6px"}),
        dcc.Graph(id=SUMMARY, config=CONFIG),
        dcc.Graph(id=ROLLOUT, config=CONFIG),
    ]


def _maps(C: AppContext, run: dict | None):
    acts = acts_of(C, run)
    if acts is None:
        raise PreventUpdate
    return acts, attention_maps(C.graph, acts)


def register(app, C: AppContext) -> None:
    @app.callback(Output(GRID, "figure"), Output(INFO, "children"), Output(LAYER, "options"),
                  Output(HEAD, "options"), Output(SUMMARY, "figure"), Output(ROLLOUT, "figure"),
                  Input(RUN, "data"), Input(THRESHOLD, "value"), Input(SUMMARY_KEY, "value"), State(ids.MODEL, "data"))
    def _grid(run, threshold, key, spec=None):
        C = model_for(app, spec)  # the tab's model (app/registry.py)
        try:
            acts, am = _maps(C, run)
            info = (f"{am.layers} layers × {am.heads} heads, {len(am.tokens)} tokens"
                    + ("" if am.trained else f" — {AT.RANDOM_NOTE}"))
            return (AT.grid_figure(am, float(threshold or 0)), info,
                    [{"label": str(i), "value": i} for i in range(am.layers)],
                    [{"label": str(h), "value": h} for h in range(am.heads)],
                    AT.summary_figure(am, key or "entropy"), AT.rollout_figure(am))
        except PreventUpdate:
            raise
        except Exception as e:  # noqa: BLE001 - a sentence, never a traceback
            return {}, html.Div(error_text(e), className="bv-banner"), [], [], {}, {}

    @app.callback(Output(LAYER, "value"), Output(HEAD, "value"), Input(GRID, "clickData"),
                  Input(ids.SELECTED, "data"), State(RUN, "data"), State(ids.MODEL, "data"), prevent_initial_call=True)
    def _pick(click, selected, run, spec=None):
        C = model_for(app, spec)  # the tab's model (app/registry.py)
        from dash import ctx

        if ctx.triggered_id == GRID:
            cell = AT.grid_cell(click)
            if cell is None:
                raise PreventUpdate
            return cell
        node = selected.get("id") if isinstance(selected, dict) else None
        if not node:
            raise PreventUpdate
        if cached_acts(C, run) is None:  # never start or wait for a forward pass on a click (run_panel)
            raise PreventUpdate
        try:
            _acts, am = _maps(C, run)
        except PreventUpdate:
            raise
        except Exception:  # noqa: BLE001 - the grid callback shows the message
            raise PreventUpdate from None
        layer = am.layer_of(node)
        if layer is None:
            raise PreventUpdate
        return layer, no_update

    @app.callback(Output(SLICE_MAPS, "children"), Input(HEAD, "value"), Input(LAYER, "value"),
                  State(RUN, "data"), State(ids.MODEL, "data"))
    def _slice_maps(head, layer, run, spec=None):
        """The head's slices outlined inside the Q, K, V and output-projection weight heatmaps."""
        C = model_for(app, spec)  # the tab's model (app/registry.py)
        if head is None:
            return []
        try:
            _acts, am = _maps(C, run)
            from bertviz_graph.presenters.weights import head_slice_figures  # lazy: guarded (inside a try)

            counts = heads_of(C.h) or am.heads  # query and key/value heads: K/V slices follow the KV heads
            names = list(head_params(C.graph, am.modules[int(layer or 0)], int(head), counts))
            figs = C.figures.get_or_make(("slices", tuple(names), int(head)),
                                         lambda: head_slice_figures(C.weights, names, counts, int(head)))
            return [dcc.Graph(id={"type": "bv-att-slice", "name": n}, figure=f, config=CONFIG) for n, f, _ in figs]
        except PreventUpdate:
            raise
        except Exception as e:  # noqa: BLE001
            return html.Div(error_text(e), className="bv-banner")

    @app.callback(Output(MAP, "figure"), Output(HEADVIEW, "figure"), Output(SLICES, "children"),
                  Input(RUN, "data"), Input(LAYER, "value"), Input(HEAD, "value"), Input(THRESHOLD, "value"),
                  Input(RUN_TOK, "data"), State(ids.MODEL, "data"))
    def _map(run, layer, head, threshold, token, spec=None):
        C = model_for(app, spec)  # the tab's model (app/registry.py)
        try:
            acts, am = _maps(C, run)
            from bertviz_graph.presenters.activations import check_token  # lazy: guarded (inside a try)

            t = check_token(acts, token)
            layer = int(layer or 0)
            m = AT.map_figure(am, layer, None if head is None else int(head), float(threshold or 0))
            hv = AT.head_view_figure(am, layer, None if head is None else [int(head)], t,
                                     max(0.02, float(threshold or 0)))
            slices: Any = ""
            if head is not None:
                ps = head_params(C.graph, am.modules[layer], int(head), am.heads)
                slices = [html.Div(f"Head {head} of layer {layer} owns:")] + [
                    html.Div(f"{name}: {'rows' if dim == 0 else 'columns'} {a}:{b}") for name, (dim, a, b) in ps.items()]
            return m, hv, slices
        except PreventUpdate:
            raise
        except Exception as e:  # noqa: BLE001
            return {}, {}, html.Div(error_text(e), className="bv-banner")

    @app.callback(Output(WEIGHT_HEAD_STORE, "data", allow_duplicate=True), Input(HEAD, "value"),
                  prevent_initial_call=True)
    def _outline(head):
        """The Weights tab outlines the chosen head in whatever Q/K/V/output weight it shows."""
        return head

    @app.callback(Output(ids.VIEW_REQUEST, "data", allow_duplicate=True), Input(HEAD, "value"),
                  State(LAYER, "value"), State(RUN, "data"), State(ids.MODEL, "data"), prevent_initial_call=True)
    def _highlight(head, layer, run, spec=None):
        """A chosen head selects its layer's query Linear (its Q slice is the head's rows of that matrix)."""
        C = model_for(app, spec)  # the tab's model (app/registry.py)
        if head is None:
            raise PreventUpdate
        try:
            _acts, am = _maps(C, run)
        except Exception:  # noqa: BLE001
            raise PreventUpdate from None
        q = am.modules[int(layer or 0)] + ".query"
        if q not in C.h.groups:
            raise PreventUpdate
        return {"action": "select", "id": q, "nonce": next(_NONCE)}
