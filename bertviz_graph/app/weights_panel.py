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
from bertviz_graph.details import weight_names
from bertviz_graph.render import weights as rw

TAB_VALUE = ids.TAB_WEIGHTS
TAB_LABEL = "Weights"
MAX_PX = (320, 384)  # heatmap cells (rows, cols) sent at most: about the plot's size in pixels
IMAGE_CELLS = 128 * 128  # above this many cells the heatmap is sent as a PNG image (plotly draws a
# 60k-cell go.Heatmap in ~350 ms, an image in a few); hover then reads values from the server
NPY_ROUTE = "/_bertviz/weights.npy"
STATS_NAME = "bv-stats-name"  # store: the tensor the statistics shown belong to
TAB_STYLE = {"style": {"padding": "4px 10px", "lineHeight": "20px"},
             "selected_style": {"padding": "4px 10px", "lineHeight": "20px", "fontWeight": "bold"}}
GRAPH_CONFIG = {"displaylogo": False, "modeBarButtonsToRemove": ["select2d", "lasso2d", "autoScale2d"],
                "toImageButtonOptions": {"format": "png"}}
EMPTY_TEXT = ("Select a Linear, Embedding or LayerNorm box, or a weight (the boxes with a folded corner), "
              "to see its weights here.")
RANDOM_TEXT = ("These are RANDOM initial weights, not trained ones: no checkpoint was found for this model, so "
               "the values only show what an untrained network looks like (normal, std 0.02). Serve a local "
               "model folder with .safetensors to see trained weights.")


# ---- layout --------------------------------------------------------------------------------------------
def layout(C: AppContext) -> html.Div:
    return html.Div([
        dcc.Store(id=ids.WEIGHT_NAME, data=None),
        dcc.Store(id=ids.WEIGHT_WINDOW, data=None),
        dcc.Store(id=STATS_NAME, data=None),
        html.Div(id=ids.WEIGHT_EMPTY, className="bv-empty", children=EMPTY_TEXT),
        html.Div(id=ids.WEIGHT_BODY, style={"display": "none"}, children=[
            html.Div(className="bv-w-top", children=[
                dcc.Dropdown(id=ids.WEIGHT_PICK, options=[], value=None, clearable=False,
                             className="bv-w-pick", placeholder="weight tensor"),
                dcc.RadioItems(id=ids.HEATMAP_HOW, value="maxabs", inline=True,
                               options=[{"label": " block mean", "value": "mean"},
                                        {"label": " block max |w|", "value": "maxabs"}],
                               inputStyle={"marginLeft": "8px"}),
            ]),
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
def _order(names: list[str], C: AppContext) -> list[str]:
    """Matrices first (weight before bias), then vectors."""
    store = C.weights

    def key(n: str) -> tuple[int, int]:
        try:
            nd = len(store.shape(n))
        except Exception:  # noqa: BLE001
            nd = 0
        return (0 if nd >= 2 else 1, 0 if n.endswith("weight") else 1)

    return sorted(names, key=key)


def _label(C: AppContext, name: str) -> str:
    try:
        shape = C.weights.shape(name)
    except Exception:  # noqa: BLE001
        return name
    return f"{name}  ({'×'.join(str(d) for d in shape) or 'scalar'})"


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


def _heatmap_figure(mv: rw.MatrixView):
    """``render.weights.heatmap_figure``, its cells swapped for a PNG when there are many of them."""
    import plotly.graph_objects as go

    fig = rw.heatmap_figure(mv)
    sub = fig.layout.title.subtitle.text or ""
    # two short lines fit the panel; the untrained warning stays in the picture
    sub = sub.replace(" · colour", "<br>colour").replace(" · RANDOM", " · <b>RANDOM</b>")
    fig.update_layout(title={"subtitle": {"text": sub, "font": {"size": 11}}},
                      uirevision=f"{mv.name}|{mv.how}", height=250 if mv.is_vector else 500,
                      margin={"l": 64, "r": 10, "t": 84, "b": 44}, dragmode="zoom")
    if mv.is_vector:  # a one-row strip: a short colour bar with few ticks
        fig.update_traces(colorbar={"nticks": 3, "len": 1.0, "thickness": 10})
    if mv.z.size > IMAGE_CELLS:
        heat = fig.data[0]
        br, bc = mv.block
        x0 = float(mv.col_centres[0])
        y0 = 0.0 if mv.is_vector else float(mv.row_centres[0])
        where = "around col %{x:.0f}" if mv.is_vector else "around row %{y:.0f}, col %{x:.0f}"
        image = go.Image(source=_png_uri(mv), x0=x0, dx=float(bc), y0=y0, dy=float(br if not mv.is_vector else 1),
                         zsmooth=False, hovertemplate=where + "<extra></extra>")
        scale = go.Scatter(x=[x0], y=[y0], mode="markers", hoverinfo="skip", showlegend=False,
                           marker={"size": 0.1, "opacity": 0, "color": [0.0], "colorscale": rw.COLORSCALE,
                                   "cmin": -mv.vmax, "cmax": mv.vmax, "showscale": True,
                                   "colorbar": heat.colorbar.to_plotly_json()})
        fig.data = []
        fig.add_traces([image, scale])
        fig.update_yaxes(scaleanchor=False)
    return fig


def _png_uri(mv: rw.MatrixView) -> str:
    import base64

    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(rw.colorize(mv.z, mv.vmax)).save(buf, format="PNG", compress_level=1)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def stats_table(s: dict[str, Any]) -> html.Table:
    def f(v: float) -> str:
        return "nan" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.6g}"

    cells = [
        ("shape", "×".join(str(d) for d in s["shape"]) or "scalar"), ("elements", f"{s['numel']:,}"),
        ("mean", f(s["mean"])), ("std", f(s["std"])),
        ("min", f(s["min"])), ("max", f(s["max"])),
        ("Frobenius norm", f(s["fro_norm"])),
        (f"|w| < {s['near_zero_threshold']:g}", f"{100 * s['near_zero_share']:.2f}%"
         if not math.isnan(s["near_zero_share"]) else "nan"),
        ("dtype", s["dtype"]), ("values", "trained" if s["trained"] else "RANDOM (untrained)"),
    ]
    rows = [html.Tr([html.Td(cells[i][0]), html.Td(cells[i][1]),
                     html.Td(cells[i + 1][0]) if i + 1 < len(cells) else None,
                     html.Td(cells[i + 1][1]) if i + 1 < len(cells) else None])
            for i in range(0, len(cells), 2)]
    return html.Table(html.Tbody(rows), className="bv-stats")


def histogram_figure(name: str, s: dict[str, Any], counts: np.ndarray, edges: np.ndarray, trained: bool):
    import plotly.graph_objects as go

    centres = (edges[:-1] + edges[1:]) / 2
    colors = [rw.NEGATIVE_COLOR if c < 0 else rw.POSITIVE_COLOR for c in centres]
    fig = go.Figure(go.Bar(
        x=centres, y=counts, width=np.diff(edges), marker={"color": colors, "line": {"width": 0}},
        customdata=np.stack([edges[:-1], edges[1:]], axis=1),
        hovertemplate="%{customdata[0]:.4g} … %{customdata[1]:.4g}<br>%{y} values<extra></extra>"))
    note = "" if trained else " · <b>RANDOM</b> initial weights, not trained"
    fig.update_layout(
        title={"text": f"Distribution of its {int(counts.sum()):,} values", "font": {"size": 14},
               "subtitle": {"text": f"{name}{note}", "font": {"size": 11}}, "x": 0.01},
        margin={"l": 50, "r": 10, "t": 64, "b": 40}, height=340, bargap=0,
        xaxis={"title": {"text": "weight value"}}, yaxis={"title": {"text": "count"}}, plot_bgcolor="white")
    return fig


def _summary(C: AppContext, name: str) -> tuple[dict[str, Any], np.ndarray, np.ndarray]:
    def make():
        s = rw.stats(C.weights, name)
        lo, hi = s["min"], s["max"]
        counts, edges = rw.histogram(C.weights, name, 60, (lo, hi) if math.isfinite(lo) else None)
        return s, counts, edges

    return C.stats_cache.get_or_make(name, make)


def _num_heads(C: AppContext) -> int | None:
    heads = C.h.ctx.get("heads")
    return int(heads) if heads else None


def _view_key(name: str, rows, cols, how: str) -> tuple:
    return (name, tuple(rows) if rows else None, tuple(cols) if cols else None, how)


def weight_options(C: AppContext, node: str | None) -> tuple:
    """(dropdown options, value, message, message style, body style) for the selected node."""
    hidden, shown = {"display": "none"}, {"display": "block"}
    if not node:
        return [], None, EMPTY_TEXT, shown, hidden
    if node not in C.h.groups and node not in C.h.parent_of:
        return [], None, f"'{node}' is not in this model.", shown, hidden
    names = [n for n in weight_names(C.h, node) if C.weights.resolve(n) is not None]
    if not names:
        msg = (f"“{C.h.label_of(node)}” has no weight matrix of its own: ops such as add, matmul or softmax "
               f"compute with the tensors flowing in, not with trained weights. Select a Linear, Embedding or "
               f"LayerNorm box, or a weight box (folded corner).")
        return [], None, msg, shown, hidden
    names = _order(names, C)
    return [{"label": _label(C, n), "value": n} for n in names], names[0], "", hidden, shown


# ---- callbacks -----------------------------------------------------------------------------------------
def register(app, C: AppContext) -> None:
    @app.callback(
        Output(ids.WEIGHT_PICK, "options"), Output(ids.WEIGHT_PICK, "value"),
        Output(ids.WEIGHT_EMPTY, "children"), Output(ids.WEIGHT_EMPTY, "style"),
        Output(ids.WEIGHT_BODY, "style"),
        Input(ids.SELECTED, "data"), State(ids.HEATMAP_HOW, "value"), prevent_initial_call=True)
    @guarded(lambda msg: (no_update, None, msg, {"display": "block"}, {"display": "none"}))
    def _options(selected: dict | None, how: str | None):
        node = selected.get("id") if isinstance(selected, dict) else None
        out = weight_options(C, node if isinstance(node, str) else None)
        name = out[1]
        if name is not None:  # start reading the overview now: the heatmap asks for it a render later
            how = how if how in ("mean", "maxabs") else "maxabs"
            C.prefetch(C.matrix_cache, _view_key(name, None, None, how),
                       lambda: rw.matrix_view(C.weights, name, None, None, MAX_PX, how))
        return out

    app.clientside_callback("function (v) { return v || null; }", Output(ids.WEIGHT_NAME, "data"),
                            Input(ids.WEIGHT_PICK, "value"), prevent_initial_call=True)

    @app.callback(
        Output(ids.HEATMAP, "figure"), Output(ids.WEIGHT_WINDOW, "data"), Output(ids.WEIGHT_BANNER, "style"),
        Output(ids.DOWNLOAD_NPY, "href"), Output(ids.HEATMAP_READOUT, "children"),
        Input(ids.WEIGHT_NAME, "data"), Input(ids.HEATMAP, "relayoutData"), Input(ids.HEATMAP_HOW, "value"),
        State(ids.WEIGHT_WINDOW, "data"), prevent_initial_call=True)
    @guarded(lambda msg: (_blank(msg), None, no_update, no_update, msg))
    def _heatmap(name: str | None, relayout: dict | None, how: str | None, cur: dict | None):
        trig = set(ctx.triggered_prop_ids.values())
        if not name:
            return _blank(""), None, {"display": "none"}, "", ""
        store = C.weights
        how = how if how in ("mean", "maxabs") else "maxabs"
        if store.resolve(name) is None:
            return _blank(f"no weight tensor named {name}"), None, no_update, "", f"no weight tensor named {name}"
        shape2 = rw.matrix_shape(tuple(store.shape(name)))
        same = isinstance(cur, dict) and cur.get("name") == name
        rows = cols = None
        if same and ids.WEIGHT_NAME not in trig:
            rows, cols = tuple(cur["rows"]), tuple(cur["cols"])
            win = window_from_relayout(relayout, shape2, cur) if ids.HEATMAP in trig else None
            if win is not None:
                rows, cols = win
            elif ids.HEATMAP_HOW not in trig:
                raise PreventUpdate  # a relayout that is no zoom (autosize, pan mode ...)
            if list(rows) == cur.get("rows") and list(cols) == cur.get("cols") and how == cur.get("how"):
                raise PreventUpdate
        mv = C.matrix_cache.get_or_make(_view_key(name, rows, cols, how),
                                        lambda: rw.matrix_view(store, name, rows, cols, MAX_PX, how))
        banner = {"display": "none"} if getattr(store, "trained", True) else {"display": "block"}
        href = f"{NPY_ROUTE}?name={quote(name)}"
        hint = ("one cell = one weight: hover for the exact value" if mv.exact else
                f"each cell = {mv.cell_label}; hover for the exact weight at the cell's centre, "
                f"or drag to zoom in")
        note = store.note(name) if hasattr(store, "note") else None  # e.g. "stored [in, out], shown [out, in]"
        if note:
            hint = f"{note}. {hint}"
        return _heatmap_figure(mv), _window_dict(mv), banner, href, hint

    @app.callback(Output(ids.HEATMAP_READOUT, "children", allow_duplicate=True),
                  Input(ids.HEATMAP, "hoverData"), Input(ids.HEATMAP, "clickData"),
                  State(ids.WEIGHT_WINDOW, "data"), prevent_initial_call=True)
    @guarded(lambda msg: msg)
    def _readout(hover: dict | None, click: dict | None, win: dict | None):
        data = click if any(k.endswith("clickData") for k in ctx.triggered_prop_ids) else hover
        if not isinstance(data, dict) or not data.get("points") or not isinstance(win, dict):
            raise PreventUpdate
        return readout(C, data["points"][0], win)

    # statistics read the whole tensor twice: they start once the heatmap is answered, never competing with it
    @app.callback(Output(ids.STATS, "children"), Output(ids.HISTOGRAM, "figure"), Output(STATS_NAME, "data"),
                  Input(ids.WEIGHT_WINDOW, "data"), State(STATS_NAME, "data"), prevent_initial_call=True)
    @guarded(lambda msg: (html.Div(msg, className="bv-empty"), _blank(msg), None))
    def _stats(win: dict | None, done: str | None):
        name = win.get("name") if isinstance(win, dict) else None
        if name == done and name is not None:
            raise PreventUpdate
        if not name or C.weights.resolve(name) is None:
            return None, _blank(""), None
        s, counts, edges = _summary(C, name)
        return stats_table(s), histogram_figure(name, s, counts, edges, bool(s["trained"])), name

    @app.callback(Output(ids.PER_HEAD_BOX, "children"),
                  Input(ids.WEIGHT_NAME, "data"), Input(ids.WEIGHT_TABS, "value"), Input(ids.HEATMAP_HOW, "value"),
                  prevent_initial_call=True)
    @guarded(lambda msg: html.Div(msg, className="bv-empty"))
    def _per_head(name: str | None, tab: str | None, how: str | None):
        if tab != "heads":
            raise PreventUpdate
        heads = _num_heads(C)
        if not name or rw.head_split_dim(name) is None or not heads:
            return html.Div(className="bv-empty", children=(
                "The per-head split applies to the query, key and value weights (and biases) and to the "
                "attention output weight: head h owns rows (or columns) h·d … (h+1)·d−1. Pick one of those."))
        how = how if how in ("mean", "maxabs") else "maxabs"
        fig = C.matrix_cache.get_or_make(("heads", name, how), lambda: rw.per_head_figure(
            C.weights, name, heads, grid_cols=min(4, heads), how=how))
        return dcc.Graph(id=ids.PER_HEAD, figure=fig, config=GRAPH_CONFIG)

    @app.callback(Output(ids.DOWNLOAD_PNG_FILE, "data"), Input(ids.DOWNLOAD_PNG, "n_clicks"),
                  State(ids.WEIGHT_WINDOW, "data"), prevent_initial_call=True)
    @guarded(lambda msg: no_update)
    def _png(n: int, win: dict | None):
        if not n or not isinstance(win, dict):
            raise PreventUpdate
        name = win["name"]
        mv = C.matrix_cache.get_or_make(
            _view_key(name, win["rows"], win["cols"], win.get("how", "maxabs")),
            lambda: rw.matrix_view(C.weights, name, tuple(win["rows"]), tuple(win["cols"]), MAX_PX,
                                   win.get("how", "mean")))
        fname = re.sub(r"[^A-Za-z0-9_.-]+", "_", name)
        return dcc.send_bytes(rw.to_png_bytes(mv, scale=2 if max(mv.z.shape) < 400 else 1), f"{fname}.png")

    register_routes(app.server, C)


def readout(C: AppContext, p: dict[str, Any], win: dict[str, Any]) -> str:
    """Row, column and exact value under the pointer (the cell's centre weight when cells are blocks)."""
    shape = tuple(win["shape"])
    R, Cn = rw.matrix_shape(shape)
    x, y = float(p.get("x", 0)), float(p.get("y", 0))
    col = min(max(int(math.floor(x + 0.5)), 0), Cn - 1)
    row = 0 if len(shape) <= 1 else min(max(int(math.floor(y + 0.5)), 0), R - 1)
    value = rw.value_at(C.weights, win["name"], row, col)
    where = f"index {col}" if len(shape) <= 1 else f"row {row}, col {col}"
    text = f"{where}: w = {value:.6g} (exact)"
    br, bc = (int(v) for v in win.get("block", [1, 1]))
    if (br, bc) != (1, 1):
        (r0, r1), (c0, c1) = win["rows"], win["cols"]
        a = r0 + ((row - r0) // br) * br if len(shape) > 1 else 0
        c = c0 + ((col - c0) // bc) * bc
        rows, cols = (a, min(r1, a + br)), (c, min(c1, c + bc))
        block = rw.matrix_view(C.weights, win["name"], rows, cols, (1, 1), win.get("how", "maxabs"),
                               scale="window")
        what = "mean" if win.get("how") == "mean" else "largest |w| (signed)"
        span = (f"cols {cols[0]}–{cols[1] - 1}" if len(shape) <= 1
                else f"rows {rows[0]}–{rows[1] - 1}, cols {cols[0]}–{cols[1] - 1}")
        text += f"\nthis cell: {span}; {what} = {float(block.z.flat[0]):.4g}"
    return text


def register_routes(server, C: AppContext) -> None:
    """GET /_bertviz/weights.npy?name=...: the whole tensor as float32 .npy, streamed in row chunks."""
    from flask import Response, request, stream_with_context

    if NPY_ROUTE in {r.rule for r in server.url_map.iter_rules()}:
        return

    @server.route(NPY_ROUTE)
    def _npy():  # noqa: ANN202
        name = request.args.get("name", "")
        store = C.weights
        if not name or store.resolve(name) is None:
            return Response(f"no weight tensor named {name!r} in this model\n", status=404, mimetype="text/plain")
        try:
            shape = tuple(int(d) for d in store.shape(name))
        except Exception as exc:  # noqa: BLE001
            return Response(error_text(exc) + "\n", status=500, mimetype="text/plain")
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


