"""Open another model in this tab without restarting: a preset name, a local model folder or a saved graph.

Opening traces the model into the server's registry (app/registry.py) and reloads the page with
``?model=spec``: the tab's URL and store name its model; nothing shared changes, so other tabs (and other
worker processes) keep showing theirs.
"""

from __future__ import annotations

from dash import Input, Output, State, dcc, html, no_update

from bertviz_graph.app import ids
from bertviz_graph.app.context import AppContext
from bertviz_graph.app.guard import error_text
from bertviz_graph.app.registry import model_for
from bertviz_graph.sources.packaged import PACKAGED, packaged_dir
from bertviz_graph.sources.presets import preset_names

MODEL_INPUT = "bv-model-input"
MODEL_GO = "bv-model-go"
MODEL_STATUS = "bv-model-status"
MODEL_LIST = "bv-model-list"
LOCATION = "bv-model-location"


def choices() -> list[str]:

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


def register(app, C: AppContext) -> None:
    @app.callback(Output(LOCATION, "href"), Output(MODEL_STATUS, "children"), Input(MODEL_GO, "n_clicks"),
                  Input(MODEL_INPUT, "n_submit"), State(MODEL_INPUT, "value"), State(LOCATION, "href"),
                  State(ids.MODEL, "data"), prevent_initial_call=True)
    def _open(_n, _s, spec, href, tab=None):
        C = model_for(app, tab)
        if not spec or not str(spec).strip():
            return no_update, "type a preset name, a model folder or a graph.json"
        if str(spec).strip() == C.graph.name:
            return no_update, f"{spec} is open"
        try:
            model_for(app, str(spec))  # traced (or refused) here; the reloaded page finds it in the registry
        except Exception as e:  # noqa: BLE001 - a sentence, never a traceback
            return no_update, error_text(e)
        return href_for(href, str(spec).strip()), ""  # a new href: the page reloads with this tab's model


def href_for(href: str | None, spec: str, tab_hash: str = "") -> str:
    """The page's URL naming ``spec`` as the tab's model (what a reload or a bookmark reopens)."""
    from urllib.parse import quote, urlsplit

    base = urlsplit(href or "/")
    return f"{base.path or '/'}?model={quote(spec, safe='')}{tab_hash}"
