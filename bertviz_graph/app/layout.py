"""The page: a header, the graph panel on the left, tabs of side panels on the right.

Side panels are listed in ``PANELS`` (details, network, weights, neurons, parameters & FLOPs); each renders
a presenter (``bertviz_graph.presenters``), the same one the notebook widget uses. A new panel (neurons, sunburst charts) is one module
with ``TAB_VALUE``, ``TAB_LABEL``, ``layout(C)`` and ``register(app, C)``; add it with ``add_panel(module)``
before ``make_app`` (or append it to ``PANELS``). It reads ``ids.SELECTED`` / ``ids.WEIGHT_NAME`` and may
write ``ids.VIEW_REQUEST`` to move the graph.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

from dash import Input, Output, State, dcc, html

from bertviz_graph.app import (
    analysis_panel,
    attention_panel,
    charts_panel,
    details_panel,
    diff_panel,
    graph_panel,
    ids,
    network_panel,
    neurons_panel,
    pruning_panel,
    run_panel,
    training_panel,
    weights_panel,
)
from bertviz_graph.app.context import AppContext
from bertviz_graph.app.guard import error_text
from bertviz_graph.app.registry import model_for, registry_of

# Network second: the textbook picture (how the graph relates to a neural network) one click from the start
PANELS: list[ModuleType] = [details_panel, network_panel, run_panel, attention_panel, weights_panel, neurons_panel,
                            charts_panel, pruning_panel, diff_panel, analysis_panel]
PANELS.append(training_panel)  # the Training tab (bertviz_graph/train)


def add_panel(panel: ModuleType) -> None:
    """Add a side panel module (TAB_VALUE, TAB_LABEL, layout(C), register(app, C)) as a tab."""
    if panel not in PANELS:
        PANELS.append(panel)


def header(C: AppContext) -> html.Div:
    d = C.view(C.default_state).data()
    parts: list[Any] = [html.Span(d.title, className="bv-title"), html.Span(d.subtitle, className="bv-subtitle")]
    status = C.weights_status
    if not status.trained:
        parts.append(html.Span(
            status.text, id=ids.RANDOM_BANNER,
            className="bv-banner", title=weights_panel.RANDOM_TEXT))
    parts.append(run_panel.header_note(C))
    return html.Div(parts, id=ids.HEADER, className="bv-header")


WARMUP_TICK = "bv-warmup-tick"
WARMUP = "bv-warmup"


def register(app) -> None:
    """Page-level callbacks: once the graph is up, mount a hidden plot so plotly.js (an async bundle of
    several MB) loads in the background instead of when the first weight matrix is asked for."""
    app.clientside_callback(
        """function (n) {
            if (!n) { return window.dash_clientside.no_update; }
            return {type: 'Graph', namespace: 'dash_core_components',
                    props: {id: 'bv-plotly-warmup', figure: {data: [], layout: {}},
                            config: {staticPlot: true}, style: {height: '10px', width: '10px'}}};
        }""",
        Output(WARMUP, "children"), Input(WARMUP_TICK, "n_intervals"), prevent_initial_call=True)


def shell(C: AppContext, panels: list[ModuleType], spec: str = "", problem: str = "") -> html.Div:
    """The whole page of one tab: its URL and the page built for its model."""
    top = [html.Div(problem, className="bv-banner")] if problem else []
    return html.Div([dcc.Location(id=ids.URL, refresh=False), *top,
                     html.Div(page(C, panels, spec), id=ids.PAGE, style={"flex": "1", "minHeight": 0})],
                    style={"height": "100%", "display": "flex", "flexDirection": "column"})


def spec_of_request() -> str:
    """The ``?model=`` of the page that asks for its layout: dash-renderer fetches /_dash-layout from the
    page, so the Referer is the page's URL (same origin: sent whole by default); "" outside a request."""
    from urllib.parse import parse_qs, urlsplit

    from flask import has_request_context, request

    if not has_request_context():
        return ""
    page_url = request.referrer if request.path.endswith("_dash-layout") else request.url
    return (parse_qs(urlsplit(page_url or "").query).get("model") or [""])[0]


def tab_layout(app, panels: list[ModuleType]):
    """``app.layout``: a function Dash calls on every page load, so each tab's page is built for the model
    its URL names (a reload or a bookmark reopens it); the title follows the page's model."""

    def layout() -> html.Div:
        reg = registry_of(app)
        spec = spec_of_request()
        try:
            return shell(model_for(app, spec), panels, spec)  # model_for: the answer names its model
        except Exception as e:  # noqa: BLE001 - a bad bookmark opens the server's model, saying why
            return shell(reg.default, panels, "", f"could not open {spec[:200]}: {error_text(e)}")

    app.clientside_callback(
        """function (spec, name) {
            document.title = 'bertviz-graph · ' + name;
            let s = window.sessionStorage.getItem('bvTabSecret');  // per tab, kept across reloads
            if (!s) {
                const a = new Uint8Array(18); crypto.getRandomValues(a);
                s = Array.from(a, (b) => b.toString(16).padStart(2, '0')).join('');
                window.sessionStorage.setItem('bvTabSecret', s);
            }
            return s;
        }""",
        Output(ids.TAB_SECRET, "data"), Input(ids.MODEL, "data"), State(ids.MODEL_NAME, "data"))
    return layout


def page(C: AppContext, panels: list[ModuleType], spec: str = "") -> html.Div:
    tabs = dcc.Tabs(
        id=ids.TABS, value=panels[0].TAB_VALUE, className="bv-tabs", style={"flexWrap": "wrap"},
        children=[dcc.Tab(label=p.TAB_LABEL, value=p.TAB_VALUE, id=f"bv-tab-{p.TAB_VALUE}", **weights_panel.TAB_STYLE, children=html.Div(p.layout(C),
                                                                                 className="bv-tab-content"))
                  for p in panels])
    return html.Div(className="bv-app", children=[
        dcc.Store(id=ids.MODEL, data=spec), dcc.Store(id=ids.MODEL_NAME, data=C.graph.name),
        dcc.Store(id=ids.TAB_SECRET, data=None),
        *graph_panel.stores(C),
        dcc.Interval(id=WARMUP_TICK, interval=1200, max_intervals=1),
        html.Div(id=WARMUP, style={"position": "absolute", "left": "-50px", "top": "-50px", "overflow": "hidden",
                                   "width": "10px", "height": "10px"}),
        *run_panel.stores(C),
        header(C),
        html.Div(className="bv-main", children=[
            graph_panel.layout(C),
            html.Div(tabs, className="bv-side"),
        ]),
    ])
