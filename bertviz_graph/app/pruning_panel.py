"""The "Pruning" tab: what was pruned in this model, what it saves, the heads grid, and the zeros of the
matrix shown in the weights panel. Everything comes from ``presenters.pruning``; this only lays it out.

A side-panel module as ``app.layout`` expects: TAB_VALUE, TAB_LABEL, layout(C), register(app, C).
Clicking a head in the grid shows its attention map (Attention tab) and its query projection in the graph.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

from dash import Input, Output, State, dcc, html, no_update
from dash.exceptions import PreventUpdate

from bertviz_graph import format as fmt
from bertviz_graph.app import ids
from bertviz_graph.app.context import AppContext
from bertviz_graph.app.guard import error_text
from bertviz_graph.app.job_routes import EXPORT_ROUTE, register_routes
from bertviz_graph.app.registry import JOB_PREFIX, MAX_SPEC, model_for, registry_of
from bertviz_graph.comparison.align import units
from bertviz_graph.jobs import queued_text
from bertviz_graph.presenters.pruning import (
    head_grid_figure,
    prune_controls_state,
    pruning_panel,
    record_of,
    zero_mask,
)
from bertviz_graph.pruning import job as J
from bertviz_graph.pruning.job import is_temp_copy
from bertviz_graph.pruning.methods import METHODS
from bertviz_graph.render.tree_text import human
from bertviz_graph.sources.packaged import packaged_dir

TAB_VALUE = "pruning"
TAB_LABEL = "Pruning"
GRID = "bv-prune-grid"
ZEROS = "bv-prune-zeros"
METHOD = "bv-prune-method"
AMOUNT = "bv-prune-amount"
PRUNE = "bv-prune-go"
STATUS = "bv-prune-status"
POLL = "bv-prune-poll"
LOCATION = "bv-prune-location"  # the Run tab's Location is not mounted while this tab is shown
JOB = "bv-prune-job"  # per browser tab: the id of the job this tab started
BACK = "bv-prune-back"
EXPORT_PATH = "bv-prune-export-path"
EXPORT = "bv-prune-export"
EXPORT_STATUS = "bv-prune-export-status"
EXPORT_ZIP = "bv-prune-export-zip"
METHOD_LABELS = {
    "magnitude": "weights: smallest |w|, one threshold over all layers",
    "magnitude-layer": "weights: smallest |w| per layer",
    "magnitude-matrix": "weights: smallest |w| per matrix",
    "random": "weights: at random (baseline)",
    "heads-importance": "heads: lowest importance (Michel et al.)",
    "heads-entropy": "heads: highest attention entropy",
    "heads-random": "heads: at random (baseline)",
    "neurons-activation": "FFN neurons: lowest mean |activation|",
    "neurons-weight": "FFN neurons: lowest weight norm",
    "neurons-random": "FFN neurons: at random (baseline)",
}
HOW = ("Or prune from the command line and open the result here: bertviz-graph prune MODEL --method "
       "heads-importance --amount 0.3 -o pruned/ && bertviz-graph serve pruned/  — or compare the two with "
       "bertviz-graph diff MODEL pruned/ -o diff.html")
_LOCK = threading.Lock()


def panel(C: AppContext):
    """The presenter's data for this model, computed once per app (it reads every matrix once)."""

    with _LOCK:
        cache = C.__dict__.setdefault("_bv_pruning", {})
        if "panel" not in cache:
            cache["panel"] = pruning_panel(C.graph, C.weights if C.trained else None)
        return cache["panel"]


def layout(C: AppContext) -> html.Div:

    p = panel(C)
    children: list = [controls(C), html.Ul([html.Li(s) for s in p.summary]),
                      html.P(p.notes[0], className="bv-empty")]
    if p.head_grid is not None:
        children.append(dcc.Graph(id=GRID, figure=head_grid_figure(p.head_grid), config={"displaylogo": False}))
    else:
        # a hidden graph, not a div: the grid's click callback is registered for every tab's model
        children.append(dcc.Graph(id=GRID, style={"display": "none"}))
    rows = [g for g in p.groups if g.heads or g.neurons or g.zeros]
    if rows:
        head = html.Tr([html.Th(x) for x in ("layer", "heads pruned", "neurons pruned", "zero weights",
                                             "params removable", "FLOPs removable")])
        body = [html.Tr([html.Td(g.group), html.Td(", ".join(map(str, g.heads)) or "–"),
                         html.Td(f"{fmt.count(g.neurons)}" if g.neurons else "–"),
                         html.Td(f"{fmt.percent(g.zeros / g.numel, 1)}" if g.numel else "–"),
                         html.Td(human(g.params_removable)), html.Td(human(g.flops_removable))]) for g in rows]
        children.append(html.Table([html.Thead(head), html.Tbody(body)], className="bv-prune-table"))
    if not p.pruned:
        children.append(html.P(HOW, className="bv-empty"))
    children.append(html.H4("Zeros of the selected matrix"))
    children.append(html.Div(id=ZEROS, children=html.Div("select a weight matrix (its Weights tab) to see "
                                                         "which of its weights are exactly zero",
                                                         className="bv-empty")))
    return html.Div(children)


def folder_of(C: AppContext) -> Path | None:
    files = C.graph.meta.get("weight_files") or []
    return Path(files[0]).parent if files else None


def original_spec(C: AppContext) -> str:
    """What a prune in the app starts from: the model shown, or, when that is a copy pruned here, the model
    it was pruned from (so trying another amount does not prune the pruned copy again)."""

    rec = record_of(C.graph) or {}
    folder = folder_of(C)
    if rec.get("source") and is_temp_copy(folder):
        return str(rec["source"])

    packaged = packaged_dir(C.graph.name)
    if folder is not None and C.graph.meta.get("origin") == "local" and not (
            packaged is not None and Path(packaged).resolve() == folder.resolve()):
        return str(folder)
    return C.graph.name  # a packaged model by its name (its folder is called "model")


def controls(C: AppContext) -> html.Div:
    """Method, amount, Prune; progress; back to the original and export when a pruned copy is shown."""

    ok, why = prune_controls_state(C.graph, C.trained)
    copy = is_temp_copy(folder_of(C))
    rec = record_of(C.graph) or {}
    row = {"display": "flex", "alignItems": "center", "gap": "8px", "flexWrap": "wrap", "marginBottom": "6px"}
    kids = [
        html.H4("Prune this model", style={"margin": "4px 0"}),
        html.Div([html.Span("Method"),
                  dcc.Dropdown(id=METHOD, options=[{"label": f"{m} — {METHOD_LABELS.get(m, m)}", "value": m}
                                                   for m in METHODS],
                               value=rec.get("method") if copy and rec.get("method") in METHODS else "magnitude",
                               clearable=False, disabled=not ok, style={"flex": "1", "minWidth": "280px"})],
                 style=row),
        html.Div([html.Span("Amount"),
                  html.Div(dcc.Slider(id=AMOUNT, min=0, max=0.9, step=0.05,
                                      value=float(rec["amount"]) if copy and "amount" in rec else 0.3,
                                      marks={v / 10: fmt.percent(v / 10, 0) for v in range(0, 10, 2)}, disabled=not ok,
                                      tooltip={"placement": "bottom", "always_visible": False}),
                           style={"flex": "1", "minWidth": "280px"}),
                  html.Button("Prune", id=PRUNE, n_clicks=0, className="bv-btn bv-btn-primary", disabled=not ok,
                              title=why or "prune a copy with this method and amount",
                              style={} if ok else {"opacity": 0.4, "cursor": "not-allowed"})],
                 style=row),
        html.Div(why or (f"Prunes a copy of {original_spec(C)} in the background (the original is not "
                         "changed); then the graph, this tab and the colour-by show the copy."),
                 id=STATUS, className="bv-empty", style={"padding": "4px"}),
        dcc.Interval(id=POLL, interval=700, disabled=True),
        dcc.Store(id=JOB, storage_type="memory"),
        dcc.Location(id=LOCATION, refresh=True),
    ]
    if copy:
        kids.append(html.Div([
            html.Button(f"Back to the original ({Path(str(rec.get('source') or 'unpruned')).name})", id=BACK,
                        n_clicks=0, className="bv-btn", title=str(rec.get("source") or "")),
            dcc.Input(id=EXPORT_PATH, type="text", placeholder="folder to write, e.g. ~/minilm-pruned",
                      debounce=False, style={"flex": "1", "minWidth": "200px"}),
            html.Button("Export folder", id=EXPORT, n_clicks=0, className="bv-btn",
                        title="write the copy to a folder on this machine (a server on 127.0.0.1 only)"),
            html.A("Download .zip", href=f"{EXPORT_ROUTE}?job={folder_of(C).parent.name}", className="bv-btn",
                   id=EXPORT_ZIP, title="the pruned copy as a zip (config.json, model.safetensors, tokenizer)"),
        ], style=row))
        kids.append(html.Div(id=EXPORT_STATUS, className="bv-empty", style={"padding": "4px"}))
    return html.Div(kids, className="bv-prune-controls",
                    style={"borderBottom": "1px solid #ddd", "paddingBottom": "6px", "marginBottom": "6px"})


def status_text(st: dict) -> str:
    if st["state"] == "error":
        return st["error"]
    if st["state"] == "done":
        eff = st.get("effect") or {}
        cos = eff.get("embedding_cosine")
        return (f"done in {fmt.seconds(st['elapsed'], 1)}" + (f": embedding cosine {cos:.3f}" if cos is not None else "")
                + "; showing the pruned copy")
    if st["state"] == "queued":
        return queued_text(st)
    return f"{st['step']}… ({fmt.seconds(st['elapsed'], 0)})"


def zeros_figure(C: AppContext, name: str):
    import plotly.graph_objects as go


    z = zero_mask(C.weights, name)
    fig = go.Figure(go.Heatmap(z=z, zmin=0, zmax=1, colorscale=[[0, "#f7f7f7"], [1, "#000000"]],
                               colorbar={"title": {"text": "pruned"}},
                               hovertemplate="block %{y}, %{x}: %{z:.0%} zero<extra></extra>"))
    frac = C.__dict__["_bv_pruning"]["panel"].sparsity.get(name)
    fig.update_layout(title=f"{name}: {fmt.percent(frac, 1)} exactly zero (black = pruned)" if frac is not None else name,
                      yaxis={"autorange": "reversed"}, height=360, template="plotly_white",
                      margin={"l": 40, "r": 10, "t": 40, "b": 30})
    return fig


def register_controls(app, C: AppContext) -> None:
    """Prune (a background thread per job, polled by this tab), back to the original, export."""

    @app.callback(Output(JOB, "data"), Output(POLL, "disabled"), Output(STATUS, "children"),
                  Input(PRUNE, "n_clicks"), State(METHOD, "value"), State(AMOUNT, "value"), State(ids.MODEL, "data"),
                  State(ids.TAB_SECRET, "data"), prevent_initial_call=True)
    def _start(n, method, amount, spec=None, secret=None):
        C = model_for(app, spec)  # the tab's model (app/registry.py)
        if not n:
            raise PreventUpdate

        ok, why = prune_controls_state(C.graph, C.trained)
        if not ok:
            return no_update, True, why
        try:
            src = original_spec(C)
            model = C.graph if src == C.graph.name else src
            jid = J.start(model, str(method), float(amount if amount is not None else -1), src,
                          owner=str(secret or ""))
        except Exception as e:  # noqa: BLE001 - a sentence, never a traceback
            return no_update, True, error_text(e)
        return jid, False, f"started: {method} at {fmt.percent(float(amount), 0)} of {src}…"

    @app.callback(Output(STATUS, "children", allow_duplicate=True), Output(POLL, "disabled", allow_duplicate=True),
                  Output(LOCATION, "href"),
                  Input(POLL, "n_intervals"), State(JOB, "data"), State(LOCATION, "href"),
                  State(ids.TAB_SECRET, "data"), prevent_initial_call=True)
    def _poll(_n, jid, href, secret=None):
        st = J.status(jid, owner=str(secret or ""))  # from the jobs folder: any worker answers, owner only
        if st is None:
            return "the pruning job is gone (the server restarted?): press Prune again", True, no_update
        if st["state"] in ("queued", "running"):
            return status_text(st), False, no_update
        if st["state"] == "error":
            return status_text(st), True, no_update
        spec = f"{JOB_PREFIX}{jid}"
        try:
            model_for(app, spec)  # traced here, found in the registry by the reloaded page (or any worker)
        except Exception as e:  # noqa: BLE001
            return error_text(e), True, no_update
        return status_text(st), True, _href(href, spec)

    @app.callback(Output(LOCATION, "href", allow_duplicate=True),
                  Output(STATUS, "children", allow_duplicate=True),
                  Input(BACK, "n_clicks"), State(LOCATION, "href"), State(ids.MODEL, "data"), prevent_initial_call=True)
    def _back(n, href, spec=None):
        C = model_for(app, spec)  # the tab's model (app/registry.py)

        src = (record_of(C.graph) or {}).get("source")
        if not n or not src:
            raise PreventUpdate
        try:
            model_for(app, str(src))
        except Exception as e:  # noqa: BLE001
            return no_update, error_text(e)
        return _href(href, str(src)), f"back to {Path(str(src)).name}"

    @app.callback(Output(EXPORT_STATUS, "children"), Input(EXPORT, "n_clicks"), State(EXPORT_PATH, "value"),
                  State(ids.MODEL, "data"), prevent_initial_call=True)
    def _export(n, path, spec=None):
        C = model_for(app, spec)  # the tab's model (app/registry.py)
        folder = folder_of(C)
        if not n:
            raise PreventUpdate
        if not J.is_temp_copy(folder):
            return "the model shown is not a copy pruned here: nothing to export"
        if not registry_of(app).policy.any_path:
            return "this server writes no folders for its users: use Download .zip"
        if len(str(path or "")) > MAX_SPEC:
            return f"the folder name is longer than {MAX_SPEC} characters"
        try:
            out = J.export_folder(folder, path or "")
        except Exception as e:  # noqa: BLE001
            return error_text(e)
        return f"wrote {out} (config.json with the pruning record, model.safetensors, tokenizer)"


    register_routes(app.server)


def _href(href: str | None, spec: str) -> str:
    from urllib.parse import quote, urlsplit

    base = urlsplit(href or "/")
    return f"{base.path or '/'}?model={quote(spec, safe='')}{SHOW_TAB}"


SHOW_TAB = "#pruning"  # the hash the page is reloaded with after a prune or "Back": open this tab again


def register(app, C: AppContext) -> None:
    register_controls(app, C)
    # after the reload a prune or "Back" causes, the Pruning tab is in front again (the hash asks for it once)
    app.clientside_callback(
        """function (_pic) {
            if (window.location.hash !== '""" + SHOW_TAB + """') { return window.dash_clientside.no_update; }
            history.replaceState(null, '', window.location.pathname + window.location.search);
            return '""" + TAB_VALUE + """';
        }""",
        Output(ids.TABS, "value", allow_duplicate=True), Input(ids.GRAPH_PICTURE, "data"),
        prevent_initial_call="initial_duplicate")
    @app.callback(Output(ZEROS, "children"), Input(ids.WEIGHT_NAME, "data"), State(ids.MODEL, "data"), prevent_initial_call=True)
    def _zeros(name, spec=None):
        C = model_for(app, spec)  # the tab's model (app/registry.py)
        p = panel(C)
        if not name or name not in p.sparsity:
            raise PreventUpdate
        return dcc.Graph(figure=zeros_figure(C, name), config={"displaylogo": False})

    # registered whatever the server's model is: a tab may show a pruned copy with a heads grid
    from bertviz_graph.app import attention_panel as A  # lazy: start-up (plotly)

    @app.callback(Output(ids.VIEW_REQUEST, "data", allow_duplicate=True),
                  Output(A.LAYER, "value", allow_duplicate=True), Output(A.HEAD, "value", allow_duplicate=True),
                  Output(ids.TABS, "value", allow_duplicate=True),
                  Input(GRID, "clickData"), State(ids.MODEL, "data"), prevent_initial_call=True)
    def _head(click, spec=None):
        """A head in the grid: its attention map (Attention tab) and its query projection in the graph."""
        C = model_for(app, spec)  # the tab's model (app/registry.py)
        try:
            layer, head_index = click["points"][0]["customdata"]
        except (TypeError, KeyError, IndexError, ValueError):
            raise PreventUpdate from None
        layers = panel(C).head_grid["layers"]
        if not 0 <= int(layer) < len(layers):
            raise PreventUpdate

        target = next((u.module for u in units(C.h) if u.layer == int(layer) and u.tag == "Q"), layers[int(layer)])
        return ({"action": "reveal", "id": target, "nonce": time.time()}, int(layer), int(head_index),
                A.TAB_VALUE)
