"""Switch the app to another model without restarting: a preset name, a local model folder or a saved graph.

The server holds one model; switching traces the new one, re-initialises the shared ``AppContext`` in
place (every cache goes with the old model), rebuilds ``app.layout`` and reloads the page.
Other open tabs show the new model on their next reload.
"""

from __future__ import annotations

import threading

from dash import Input, Output, State, dcc, html, no_update

from bertviz_graph.app.context import AppContext
from bertviz_graph.app.guard import error_text

MODEL_INPUT = "bv-model-input"
MODEL_GO = "bv-model-go"
MODEL_STATUS = "bv-model-status"
MODEL_LIST = "bv-model-list"
LOCATION = "bv-model-location"
_LOCK = threading.Lock()


def choices() -> list[str]:
    from bertviz_graph.sources.packaged import PACKAGED, packaged_dir
    from bertviz_graph.sources.presets import preset_names

    names = [n for n in PACKAGED if packaged_dir(n) is not None]
    return names + [n for n in preset_names() if n not in names]


def layout(C: AppContext) -> html.Div:
    return html.Div([
        dcc.Location(id=LOCATION, refresh=True),
        html.Datalist(id=MODEL_LIST, children=[html.Option(value=n) for n in choices()]),
        html.Span("Model "),
        dcc.Input(id=MODEL_INPUT, type="text", value=C.graph.name, list=MODEL_LIST, debounce=True,
                  placeholder="preset, model folder or graph.json", style={"flex": "1"}),
        html.Button("Open", id=MODEL_GO, n_clicks=0, className="bv-btn"),
        html.Span(id=MODEL_STATUS, className="bv-empty"),
    ], style={"display": "flex", "alignItems": "center", "gap": "6px", "marginBottom": "6px"})


def switch(app, C: AppContext, spec: str, graph=None) -> None:
    """Trace ``spec`` (or take ``graph``, already traced) and make it the app's model (the same AppContext
    object, re-initialised, and the page rebuilt for it: Dash serves ``app.layout`` afresh on every page load)."""
    from bertviz_graph.pipeline import graph_of

    graph = graph if graph is not None else graph_of(spec.strip())
    with _LOCK:
        direction = C.direction
        C.__dict__.clear()  # panel caches (textbook, charts, runs) belong to the old model
        C.__init__(graph, direction=direction)
        app.layout = app.bv_page()


def register(app, C: AppContext) -> None:
    @app.callback(Output(LOCATION, "href"), Output(MODEL_STATUS, "children"), Input(MODEL_GO, "n_clicks"),
                  Input(MODEL_INPUT, "n_submit"), State(MODEL_INPUT, "value"), State(LOCATION, "href"),
                  prevent_initial_call=True)
    def _open(_n, _s, spec, href):
        if not spec or not str(spec).strip():
            return no_update, "type a preset name, a model folder or a graph.json"
        if str(spec).strip() == C.graph.name:
            return no_update, f"{spec} is open"
        try:
            switch(app, C, str(spec))
        except Exception as e:  # noqa: BLE001 - a sentence, never a traceback
            return no_update, error_text(e)
        from urllib.parse import quote, urlsplit

        base = urlsplit(href or "/")
        return f"{base.path or '/'}?model={quote(str(spec).strip())}", ""  # a new href: the page reloads
