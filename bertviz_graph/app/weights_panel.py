"""The weights panel: the selected node's weight tensor as a heatmap, per-head slices, histogram, statistics.

The server never sends a tensor whole: the heatmap is the visible window block-reduced to at most
``MAX_PX`` cells (``render.weights.matrix_view``), and zooming in (plotly's ``relayoutData``) reads that
window again at full resolution until one cell is one weight. Hovering a cell asks the server for the exact
stored value. Downloads: the current window as PNG (``dcc.Download``), the whole tensor as .npy, streamed
row chunk by row chunk from a plain HTTP route (a 30522×768 float32 tensor is 94 MB: too big for a
callback's JSON).
"""

from __future__ import annotations

import io
import math
import re
from typing import Any
from urllib.parse import quote

import numpy as np
from dash import Input, Output, State, ctx, dcc, html, no_update
from dash.exceptions import PreventUpdate

from bertviz_graph.app import ids
from bertviz_graph.app.context import AppContext
from bertviz_graph.app.guard import error_text, guarded
from bertviz_graph.app.registry import model_for
from bertviz_graph.hierarchy.heads import head_axis
from bertviz_graph.presenters import weights as pw
from bertviz_graph.presenters.common import (
    HOW,
    PLOT_CONFIG,
    RANDOM_NOTE,
    heads_of,
    how_or_default,
    is_trained,
    num_heads,
)
from bertviz_graph.render import weight_files as wfile
from bertviz_graph.render import weights as rw

TAB_VALUE = ids.TAB_WEIGHTS
TAB_LABEL = "Weights"
NPY_ROUTE = "/_bertviz/weights.npy"
STATS_NAME = "bv-stats-name"  # store: the tensor the statistics shown belong to
WEIGHT_HEAD = "bv-weight-head"  # dropdown: the attention head outlined in the heatmap (the attention tab sets it)
WEIGHT_HEAD_NOTE = "bv-weight-head-note"
WEIGHT_HEAD_STORE = "bv-weight-head-store"  # the head to outline: written by the dropdown and the attention tab
# a tab label stays on one line; tabs that do not fit wrap as whole tabs (the page's tab bar wraps)
_TAB = {"padding": "4px 10px", "lineHeight": "20px", "whiteSpace": "nowrap", "width": "auto", "flex": "1 0 auto"}
TAB_STYLE = {"style": _TAB, "selected_style": {**_TAB, "fontWeight": "bold"}}
GRAPH_CONFIG = PLOT_CONFIG
EMPTY_TEXT = pw.EMPTY_TEXT
RANDOM_TEXT = RANDOM_NOTE


# ---- layout --------------------------------------------------------------------------------------------
def layout(C: AppContext) -> html.Div:
    return html.Div([
        dcc.Store(id=ids.WEIGHT_NAME, data=None),
        dcc.Store(id=ids.WEIGHT_WINDOW, data=None),
        dcc.Store(id=STATS_NAME, data=None),
        dcc.Store(id=WEIGHT_HEAD_STORE, data=None),
        html.Div(id=ids.WEIGHT_EMPTY, className="bv-empty", children=EMPTY_TEXT),
        html.Div(id=ids.WEIGHT_BODY, style={"display": "none"}, children=[
            html.Div(className="bv-w-top", children=[
                dcc.Dropdown(id=ids.WEIGHT_PICK, options=[], value=None, clearable=False,
                             className="bv-w-pick", placeholder="weight tensor"),
                dcc.RadioItems(id=ids.HEATMAP_HOW, value=HOW, inline=True,
                               options=[{"label": " block mean", "value": "mean"},
                                        {"label": " block max |w|", "value": "maxabs"}],
                               inputStyle={"marginLeft": "8px"}),
                dcc.Dropdown(id=WEIGHT_HEAD, options=[], value=None, placeholder="outline head", clearable=True,
                             searchable=False, style={"width": "130px"}, className="bv-w-head"),
            ]),
            html.Div(id=WEIGHT_HEAD_NOTE, className="bv-hint"),
            html.Div(id=ids.WEIGHT_BANNER, className="bv-w-banner",
                     children=RANDOM_TEXT, style={"display": "none"}),
            dcc.Tabs(id=ids.WEIGHT_TABS, value="matrix", className="bv-subtabs", children=[
                dcc.Tab(label="Matrix", value="matrix", id="bv-wtab-matrix", **TAB_STYLE, children=[
                    dcc.Loading(dcc.Graph(id=ids.HEATMAP, config=GRAPH_CONFIG, figure=_blank("")),
                                target_components={ids.HEATMAP: "figure"}, delay_show=300, type="circle",
                                overlay_style={"visibility": "visible", "opacity": 0.6}),
                    html.Div(id=ids.HEATMAP_READOUT, className="bv-readout",
                             children="hover a cell: its row, column and exact value show here"),
                    html.Div(className="bv-w-actions", children=[
                        html.Button("PNG of this view ↓", id=ids.DOWNLOAD_PNG, n_clicks=0, className="bv-btn",
                                    title="the heatmap window as an image, one pixel per cell"),
                        html.A(".npy of the whole tensor ↓", id=ids.DOWNLOAD_NPY, href="", className="bv-btn",
                               download="", title="float32 NumPy file (no pickle)"),
                        dcc.Download(id=ids.DOWNLOAD_PNG_FILE),
                        html.Span("drag to zoom (re-read at full resolution); double-click to zoom out",
                                  className="bv-hint"),
                    ]),
                    html.Div(id=ids.STATS),
                ]),
                dcc.Tab(label="Per head", value="heads", id="bv-wtab-heads", **TAB_STYLE, children=[
                    html.Div(id=ids.PER_HEAD_BOX, children=dcc.Graph(id=ids.PER_HEAD, config=GRAPH_CONFIG,
                                                                      figure=_blank(""))),
                ]),
                dcc.Tab(label="Distribution", value="hist", id="bv-wtab-hist", **TAB_STYLE, children=[
                    dcc.Graph(id=ids.HISTOGRAM, config=GRAPH_CONFIG, figure=_blank("")),
                ]),
            ]),
        ]),
    ])


def _blank(text: str) -> dict[str, Any]:
    return {"data": [], "layout": {"xaxis": {"visible": False}, "yaxis": {"visible": False}, "height": 200,
                                   "margin": {"l": 10, "r": 10, "t": 10, "b": 10},
                                   "annotations": [{"text": text, "showarrow": False, "font": {"size": 13}}]
                                   if text else []}}


# ---- helpers -------------------------------------------------------------------------------------------
def window_from_relayout(rl: dict | None, shape2: tuple[int, int], cur: dict | None) -> tuple | None:
    """(rows, cols) the user zoomed to, or None when this relayout is no zoom (autosize, drag mode ...)."""
    if not isinstance(rl, dict):
        return None
    R, Cn = shape2
    rows = tuple(cur["rows"]) if cur else (0, R)
    cols = tuple(cur["cols"]) if cur else (0, Cn)
    changed = False

    def rng(axis: str) -> tuple[float, float] | None:
        if f"{axis}.range[0]" in rl and f"{axis}.range[1]" in rl:
            return float(rl[f"{axis}.range[0]"]), float(rl[f"{axis}.range[1]"])
        if isinstance(rl.get(f"{axis}.range"), list) and len(rl[f"{axis}.range"]) == 2:
            a, b = rl[f"{axis}.range"]
            return float(a), float(b)
        return None

    def span(r: tuple[float, float], n: int) -> tuple[int, int]:
        a, b = min(r), max(r)
        lo = max(0, int(math.floor(a + 0.5)))
        hi = min(n, int(math.ceil(b + 0.5)))
        if hi <= lo:
            lo, hi = max(0, min(lo, n - 1)), max(1, min(lo + 1, n))
        return lo, hi

    x, y = rng("xaxis"), rng("yaxis")
    if x is not None:
        cols, changed = span(x, Cn), True
    elif rl.get("xaxis.autorange"):
        cols, changed = (0, Cn), True
    if y is not None and R > 1:
        rows, changed = span(y, R), True
    elif rl.get("yaxis.autorange"):
        rows, changed = (0, R), True
    return (rows, cols) if changed else None


def _window_dict(mv: rw.MatrixView) -> dict[str, Any]:
    return {"name": mv.name, "shape": list(mv.shape), "rows": list(mv.rows), "cols": list(mv.cols),
            "block": list(mv.block), "how": mv.how, "vmax": mv.vmax}


def stats_table(rows: list[tuple[str, str]]) -> html.Table:
    pairs = [html.Tr([html.Td(rows[i][0]), html.Td(rows[i][1]),
                      html.Td(rows[i + 1][0]) if i + 1 < len(rows) else None,
                      html.Td(rows[i + 1][1]) if i + 1 < len(rows) else None])
             for i in range(0, len(rows), 2)]
    return html.Table(html.Tbody(pairs), className="bv-stats")


def _summary(C: AppContext, name: str) -> pw.Distribution:
    return C.stats_cache.get_or_make(name, lambda: pw.distribution(C.weights, name))


def _matrix(C: AppContext, name: str, rows, cols, how: str) -> pw.Matrix:
    return C.matrix_cache.get_or_make(_view_key(name, rows, cols, how), lambda: pw.matrix(
        C.weights, name, rows=rows, cols=cols, how=how))


def _view_key(name: str, rows, cols, how: str) -> tuple:
    return (name, tuple(rows) if rows else None, tuple(cols) if cols else None, how)


def weight_options(C: AppContext, node: str | None) -> tuple:
    """(dropdown options, value, message, message style, body style) for the selected node."""
    hidden, shown = {"display": "none"}, {"display": "block"}
    names, msg = pw.choices(C.h, C.weights, node)
    if not names:
        return [], None, msg, shown, hidden
    return [{"label": lab, "value": n} for n, lab in names], names[0][0], "", hidden, shown


# ---- callbacks -----------------------------------------------------------------------------------------
def register(app, C: AppContext) -> None:
    @app.callback(
        Output(ids.WEIGHT_PICK, "options"), Output(ids.WEIGHT_PICK, "value"),
        Output(ids.WEIGHT_EMPTY, "children"), Output(ids.WEIGHT_EMPTY, "style"),
        Output(ids.WEIGHT_BODY, "style"),
        Input(ids.SELECTED, "data"), State(ids.HEATMAP_HOW, "value"), State(ids.MODEL, "data"), prevent_initial_call=True)
    @guarded(lambda msg: (no_update, None, msg, {"display": "block"}, {"display": "none"}))
    def _options(selected: dict | None, how: str | None, spec=None):
        C = model_for(app, spec)  # the tab's model (app/registry.py)
        node = selected.get("id") if isinstance(selected, dict) else None
        out = weight_options(C, node if isinstance(node, str) else None)
        name = out[1]
        if name is not None:  # start reading the overview now: the heatmap asks for it a render later
            how = how_or_default(how)
            C.prefetch(C.matrix_cache, _view_key(name, None, None, how),
                       lambda: pw.matrix(C.weights, name, how=how))
        return out

    app.clientside_callback("function (v) { return v || null; }", Output(ids.WEIGHT_NAME, "data"),
                            Input(ids.WEIGHT_PICK, "value"), prevent_initial_call=True)

    @app.callback(
        Output(ids.HEATMAP, "figure"), Output(ids.WEIGHT_WINDOW, "data"), Output(ids.WEIGHT_BANNER, "style"),
        Output(ids.DOWNLOAD_NPY, "href"), Output(ids.HEATMAP_READOUT, "children"),
        Output(WEIGHT_HEAD_NOTE, "children"),
        Input(ids.WEIGHT_NAME, "data"), Input(ids.HEATMAP, "relayoutData"), Input(ids.HEATMAP_HOW, "value"),
        Input(WEIGHT_HEAD_STORE, "data"), State(ids.WEIGHT_WINDOW, "data"), State(ids.MODEL, "data"), prevent_initial_call=True)
    @guarded(lambda msg: (_blank(msg), None, no_update, no_update, msg, ""))
    def _heatmap(name: str | None, relayout: dict | None, how: str | None, head: int | None, cur: dict | None, spec=None):
        C = model_for(app, spec)  # the tab's model (app/registry.py)
        trig = set(ctx.triggered_prop_ids.values())
        if not name:
            return _blank(""), None, {"display": "none"}, "", "", ""
        store = C.weights
        how = how_or_default(how)
        if store.resolve(name) is None:
            return _blank(f"no weight tensor named {name}"), None, no_update, "", f"no weight tensor named {name}", ""
        shape2 = rw.matrix_shape(tuple(store.shape(name)))
        same = isinstance(cur, dict) and cur.get("name") == name
        rows = cols = None
        if same and ids.WEIGHT_NAME not in trig:
            rows, cols = tuple(cur["rows"]), tuple(cur["cols"])
            win = window_from_relayout(relayout, shape2, cur) if ids.HEATMAP in trig else None
            if win is not None:
                rows, cols = win
            elif ids.HEATMAP_HOW not in trig and WEIGHT_HEAD_STORE not in trig:
                raise PreventUpdate  # a relayout that is no zoom (autosize, pan mode ...)
            if list(rows) == cur.get("rows") and list(cols) == cur.get("cols") and how == cur.get("how") \
                    and WEIGHT_HEAD_STORE not in trig:
                raise PreventUpdate
        m = _matrix(C, name, rows, cols, how)
        banner = {"display": "none"} if is_trained(C.graph, store) else {"display": "block"}
        href = f"{NPY_ROUTE}?name={quote(name)}&model={quote(spec or '', safe='')}"
        fig, note = m.figure(), ""
        heads = heads_of(C.h)
        if head is not None and heads and head_axis(name) is not None:
            note = pw.highlight_head(fig, m, heads, int(head))
        return fig, _window_dict(m.view), banner, href, m.hint(), note

    app.clientside_callback("function (v) { return (v === undefined) ? null : v; }",
                            Output(WEIGHT_HEAD_STORE, "data"), Input(WEIGHT_HEAD, "value"), prevent_initial_call=True)

    @app.callback(Output(WEIGHT_HEAD, "options"), Input(ids.WEIGHT_NAME, "data"), State(ids.MODEL, "data"), prevent_initial_call=True)
    def _head_options(name: str | None, spec=None):
        C = model_for(app, spec)  # the tab's model (app/registry.py)
        heads = num_heads(C.h)
        if not name or not heads or head_axis(name) is None:
            return []
        return [{"label": f"head {i}", "value": i} for i in range(heads)]

    @app.callback(Output(ids.HEATMAP_READOUT, "children", allow_duplicate=True),
                  Input(ids.HEATMAP, "hoverData"), Input(ids.HEATMAP, "clickData"),
                  State(ids.WEIGHT_WINDOW, "data"), State(ids.MODEL, "data"), prevent_initial_call=True)
    @guarded(lambda msg: msg)
    def _readout(hover: dict | None, click: dict | None, win: dict | None, spec=None):
        C = model_for(app, spec)  # the tab's model (app/registry.py)
        data = click if any(k.endswith("clickData") for k in ctx.triggered_prop_ids) else hover
        if not isinstance(data, dict) or not data.get("points") or not isinstance(win, dict):
            raise PreventUpdate
        return pw.readout(C.weights, data["points"][0], win)

    # statistics read the whole tensor twice: they start once the heatmap is answered, never competing with it
    @app.callback(Output(ids.STATS, "children"), Output(ids.HISTOGRAM, "figure"), Output(STATS_NAME, "data"),
                  Input(ids.WEIGHT_WINDOW, "data"), State(STATS_NAME, "data"), State(ids.MODEL, "data"), prevent_initial_call=True)
    @guarded(lambda msg: (html.Div(msg, className="bv-empty"), _blank(msg), None))
    def _stats(win: dict | None, done: str | None, spec=None):
        C = model_for(app, spec)  # the tab's model (app/registry.py)
        name = win.get("name") if isinstance(win, dict) else None
        if name == done and name is not None:
            raise PreventUpdate
        if not name or C.weights.resolve(name) is None:
            return None, _blank(""), None
        dist = _summary(C, name)
        return stats_table(dist.rows()), dist.figure(name), name

    @app.callback(Output(ids.PER_HEAD_BOX, "children"),
                  Input(ids.WEIGHT_NAME, "data"), Input(ids.WEIGHT_TABS, "value"), Input(ids.HEATMAP_HOW, "value"), State(ids.MODEL, "data"),
                  prevent_initial_call=True)
    @guarded(lambda msg: html.Div(msg, className="bv-empty"))
    def _per_head(name: str | None, tab: str | None, how: str | None, spec=None):
        C = model_for(app, spec)  # the tab's model (app/registry.py)
        if tab != "heads":
            raise PreventUpdate
        heads = heads_of(C.h)
        if not name or head_axis(name) is None or not heads:
            return html.Div(className="bv-empty", children=pw.NO_HEADS_TEXT)
        how = how_or_default(how)
        fig = C.matrix_cache.get_or_make(("heads", name, how), lambda: pw.per_head(C.weights, name, heads, how))
        return dcc.Graph(id=ids.PER_HEAD, figure=fig, config=GRAPH_CONFIG)

    @app.callback(Output(ids.DOWNLOAD_PNG_FILE, "data"), Input(ids.DOWNLOAD_PNG, "n_clicks"),
                  State(ids.WEIGHT_WINDOW, "data"), State(ids.MODEL, "data"), prevent_initial_call=True)
    @guarded(lambda msg: no_update)
    def _png(n: int, win: dict | None, spec=None):
        C = model_for(app, spec)  # the tab's model (app/registry.py)
        if not n or not isinstance(win, dict):
            raise PreventUpdate
        name = win["name"]
        mv = _matrix(C, name, tuple(win["rows"]), tuple(win["cols"]), how_or_default(win.get("how"))).view
        fname = re.sub(r"[^A-Za-z0-9_.-]+", "_", name)
        return dcc.send_bytes(wfile.to_png_bytes(mv, scale=2 if max(mv.z.shape) < 400 else 1), f"{fname}.png")

    register_routes(app.server, C)


def register_routes(server, C: AppContext) -> None:
    """GET /_bertviz/weights.npy?name=...&model=spec: the tab's model's whole tensor as float32 .npy,
    streamed in row chunks (``model`` resolved by the app's registry, as the tab's callbacks do)."""
    from flask import Response, request, stream_with_context

    if NPY_ROUTE in {r.rule for r in server.url_map.iter_rules()}:
        return

    @server.route(NPY_ROUTE)
    def _npy():  # noqa: ANN202
        name = request.args.get("name", "")[:1000]
        try:
            store = server.extensions["bertviz_graph.registry"].model_for(request.args.get("model")).weights
        except Exception as exc:  # noqa: BLE001 - a sentence (UserError) or a short line, never internals
            return Response(error_text(exc).split(" (")[0] + "\n", status=400, mimetype="text/plain")
        if not name or store.resolve(name) is None:
            return Response(f"no weight tensor named {name!r} in this model\n", status=404, mimetype="text/plain")
        try:
            shape = tuple(int(d) for d in store.shape(name))
        except Exception as exc:  # noqa: BLE001
            return Response(error_text(exc).split(" (")[0] + "\n", status=422, mimetype="text/plain")
        fname = re.sub(r"[^A-Za-z0-9_.-]+", "_", name) + ".npy"

        def chunks():
            buf = io.BytesIO()
            np.lib.format.write_array_header_1_0(buf, {"descr": "<f4", "fortran_order": False, "shape": shape})
            yield buf.getvalue()
            if len(shape) >= 2:
                per_row = max(1, math.prod(shape[1:]))
                step = max(1, rw.CHUNK_ELEMS // per_row)
                for r0 in range(0, shape[0], step):
                    a = store.get_slice(name, slice(r0, min(shape[0], r0 + step)))
                    yield np.ascontiguousarray(a, dtype="<f4").tobytes()
            else:
                yield np.ascontiguousarray(store.get(name), dtype="<f4").tobytes()

        size = 4 * math.prod(shape)
        headers = {"Content-Disposition": f'attachment; filename="{fname}"'}
        resp = Response(stream_with_context(chunks()), mimetype="application/octet-stream", headers=headers)
        resp.headers["X-Tensor-Bytes"] = str(size)
        return resp


