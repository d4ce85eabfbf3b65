"""The weights panels: a tensor as a heatmap (matrix), its per-head slices, its distribution and statistics.

One presenter for the app's Weights tab and the widget's matrix pane, with one set of defaults
(``common.HOW``, ``common.MAX_PX``): the same tensor looks the same in both. The picture never holds the
tensor whole: ``render.weights.matrix_view`` reads the visible window block-reduced to at most ``MAX_PX``
cells; zooming in is asking again with a smaller window.
"""

from __future__ import annotations

import base64
import io
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from bertviz_graph import format as fmt
from bertviz_graph.details import weight_names
from bertviz_graph.errors import UserError
from bertviz_graph.hierarchy.heads import QKV_PARTS, HeadCounts, head_axis, is_fused_qkv, is_key_value
from bertviz_graph.presenters.common import HOW, MAX_PX, RANDOM_NOTE, how_or_default
from bertviz_graph.render import weight_figures as wfig
from bertviz_graph.render import weight_files as wfile
from bertviz_graph.render import weights as rw

if TYPE_CHECKING:
    import plotly.graph_objects as go

    from bertviz_graph.hierarchy.tree import Hierarchy

IMAGE_CELLS = 128 * 128  # above this many cells the heatmap is drawn as a PNG image (plotly draws a
# 60k-cell go.Heatmap in ~350 ms, an image in a few ms); the hover then shows the cell's row/col span
EMPTY_TEXT = ("Select a Linear, Embedding or LayerNorm box, or a weight (the boxes with a folded corner), "
              "to see its weights here.")
NO_HEADS_TEXT = ("The per-head split applies to the query, key and value weights (and biases) and to the "
                 "attention output weight: head h owns rows (or columns) h·d … (h+1)·d−1. Pick one of those.")


# ---- which tensors ---------------------------------------------------------------------------------------
def order(store: Any, names: list[str]) -> list[str]:
    """Matrices first (weight before bias), then vectors."""

    def key(n: str) -> tuple[int, int]:
        try:
            nd = len(store.shape(n))
        except Exception:  # noqa: BLE001 - an unreadable tensor sorts last, its panel says why
            nd = 0
        return (0 if nd >= 2 else 1, 0 if n.endswith("weight") else 1)

    return sorted(names, key=key)


def label(store: Any, name: str) -> str:
    """ "bert...query.weight  (768×768)" for pickers."""
    try:
        shape = store.shape(name)
    except Exception:  # noqa: BLE001
        return name
    return f"{name}  ({'×'.join(str(d) for d in shape) or 'scalar'})"


def choices(h: Hierarchy, store: Any, node: str | None) -> tuple[list[tuple[str, str]], str]:
    """([(tensor name, picker label)], message when there is nothing to show) for the selected node."""
    if not node:
        return [], EMPTY_TEXT
    if node not in h.groups and node not in h.parent_of:
        return [], f"'{node}' is not in this model."
    names = [n for n in weight_names(h, node) if store.resolve(n) is not None]
    if not names:
        return [], (f"“{h.label_of(node)}” has no weight matrix of its own: ops such as add, matmul or softmax "
                    f"compute with the tensors flowing in, not with trained weights. Select a Linear, Embedding "
                    f"or LayerNorm box, or a weight box (folded corner).")
    return [(n, label(store, n)) for n in order(store, names)], ""


# ---- the matrix --------------------------------------------------------------------------------------------
def _meaning(name: str, shape: tuple[int, ...]) -> str:
    rows, _cols = rw.axis_labels(name, shape)
    if len(shape) <= 1:
        return f"{shape[0] if shape else 1} numbers, one per neuron (bias or LayerNorm scale/shift)."
    if rows.startswith("output neuron"):
        return (f"Row i holds the {fmt.count(shape[1])} incoming edge weights of output neuron i; column j the outgoing "
                f"weights of input neuron j: {fmt.count(math.prod(shape))} edges of a fully-connected layer.")
    return f"Each row is the {fmt.count(shape[1])}-number vector looked up for one {rows.split(' (')[0]}."


@dataclass
class HeadInfo:
    count: int
    dim: int  # 0: heads own rows (Q/K/V), 1: columns (attention output)
    size: int
    head: int | None
    norms: list[float]

    def to_json_dict(self) -> dict[str, Any]:
        return {"count": self.count, "dim": self.dim, "size": self.size, "head": self.head, "norms": self.norms}


@dataclass
class Matrix:
    """One tensor window ready to draw: the reduced cells plus everything said around them."""

    view: rw.MatrixView
    stats: dict[str, Any] | None  # render.weights.stats of the whole tensor, when the caller has them
    heads: HeadInfo | None
    note: str | None = None  # how the shown matrix differs from the stored one ("stored [in, out] ...")

    def meta(self) -> dict[str, Any]:
        """JSON-able description (no values) for the widget's pane and the app's stores."""
        mv, st = self.view, self.stats or {}
        shape = tuple(mv.shape)
        row_label, col_label = rw.axis_labels(mv.name, shape)
        return {
            **mv.summary(),
            "full": list(rw.matrix_shape(shape)),
            "is_vector": mv.is_vector,
            "dtype": st.get("dtype", "float32"),
            "numel": st.get("numel"),
            "stats": {k: (v if math.isfinite(v) else None) for k, v in st.items()
                      if isinstance(v, (int, float)) and not isinstance(v, bool)},
            "colors": list(rw.DIVERGING),
            "row_label": row_label,
            "col_label": col_label,
            "heads": None if self.heads is None else self.heads.to_json_dict(),
            "meaning": " ".join(x for x in (_meaning(mv.name, shape), f"{self.note}." if self.note else "") if x),
            "notice": None if mv.trained else RANDOM_NOTE,
            "picked": None,
            "band": None,  # {"head", "dim", "rows", "cols"}: a head's slice outlined in the picture
        }

    def png(self, scale: int = 1) -> bytes:
        return wfile.to_png_bytes(self.view, scale=scale)

    def hint(self) -> str:
        mv = self.view
        if mv.exact:
            hint = "one cell = one weight: hover for the exact value"
        else:
            hint = (f"each cell = {mv.cell_label}; the hover shows its rows, columns and value, a click or a "
                    f"pause the exact weight at its centre; drag to zoom in")
        return f"{self.note}. {hint}" if self.note else hint

    def figure(self) -> go.Figure:
        """The heatmap: a plotly heatmap, or a PNG image with the same axes when there are many cells."""
        import plotly.graph_objects as go

        mv = self.view
        fig = wfig.heatmap_figure(mv)
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
            x0 = float(mv.col_edges[0])
            y0 = 0.0 if mv.is_vector else float(mv.row_edges[0])
            # the cell under the pointer, said exactly: its first..last row and column and its value
            cd = _cell_customdata(mv)
            where = ("cols %{customdata[2]:.0f}–%{customdata[3]:.0f}" if mv.is_vector else
                     "rows %{customdata[0]:.0f}–%{customdata[1]:.0f}, cols %{customdata[2]:.0f}–%{customdata[3]:.0f}")
            image = go.Image(source=_png_uri(mv), x0=x0 + (bc - 1) / 2, dx=float(bc),
                             y0=y0 + ((br - 1) / 2 if not mv.is_vector else 0), dy=float(br if not mv.is_vector else 1),
                             zsmooth=False, customdata=cd,
                             hovertemplate=where + f"<br>{mv.cell_label}: %{{customdata[4]:.4g}}<extra></extra>")
            scale = go.Scatter(x=[x0], y=[y0], mode="markers", hoverinfo="skip", showlegend=False,
                               marker={"size": 0.1, "opacity": 0, "color": [0.0], "colorscale": rw.COLORSCALE,
                                       "cmin": -mv.vmax, "cmax": mv.vmax, "showscale": True,
                                       "colorbar": heat.colorbar.to_plotly_json()})
            fig.data = []
            fig.add_traces([image, scale])
            fig.update_yaxes(scaleanchor=False)
        return fig


def head_band(name: str, shape: tuple[int, ...] | list[int], num_heads: HeadCounts | int, head: int,
              rows: tuple[int, int], cols: tuple[int, int]) -> dict[str, Any] | None:
    """The rows (Q/K/V) or columns (attention output) that query head ``head`` reads (its key/value head's
    under grouped-query attention), clipped to the window shown ``rows`` × ``cols`` (half-open, 2-D view):
    {"head", "dim", "rows", "cols"}; None when it is off screen."""
    hs = rw.query_head_slice(name, shape, num_heads, int(head))
    found = []
    for a, b in hs.bands:  # a fused Q|K|V weight: the head's Q, K and V rows
        (r0, r1), (c0, c1) = rw.head_window(tuple(int(d) for d in shape), rw.HeadSlice(hs.head, hs.dim, a, b))
        r0, r1 = max(r0, rows[0]), min(r1, rows[1])
        c0, c1 = max(c0, cols[0]), min(c1, cols[1])
        if r0 < r1 and c0 < c1:
            found.append({"head": int(head), "dim": hs.dim, "rows": [r0, r1], "cols": [c0, c1]})
    if not found:
        return None
    return {**found[0], "bands": [f["rows"] for f in found]} if hs.parts else found[0]


def band_shapes(band: dict[str, Any], rows: tuple[int, int], cols: tuple[int, int], vector: bool = False) -> list[dict]:
    """Plotly shapes: the head's band outlined and the rest of the window dimmed (axes in real indices)."""
    (r0, r1), (c0, c1) = band["rows"], band["cols"]
    if vector:
        r0, r1, rows = 0, 1, (0, 1)
    dim = {"type": "rect", "line": {"width": 0}, "fillcolor": "rgba(255,255,255,0.6)", "layer": "above"}
    shapes = []
    if len(band.get("bands") or []) > 1 and not vector:  # fused Q|K|V: dim between the head's row bands
        edges = [rows[0] - 0.5, *(v - 0.5 for a, b in band["bands"] for v in (a, b)), rows[1] - 0.5]
        shapes += [{**dim, "x0": cols[0] - 0.5, "x1": cols[1] - 0.5, "y0": y0, "y1": y1}
                   for y0, y1 in zip(edges[::2], edges[1::2], strict=True) if y1 > y0]
        shapes += [{"type": "rect", "x0": c0 - 0.5, "x1": c1 - 0.5, "y0": a - 0.5, "y1": b - 0.5,
                    "line": {"color": "#111111", "width": 2.5}, "fillcolor": "rgba(0,0,0,0)", "layer": "above",
                    "name": f"head {band['head']}"} for a, b in band["bands"]]
        return shapes
    if band["dim"] == 0 and not vector:  # rows band: dim above and below
        shapes += [{**dim, "x0": cols[0] - 0.5, "x1": cols[1] - 0.5, "y0": rows[0] - 0.5, "y1": r0 - 0.5},
                   {**dim, "x0": cols[0] - 0.5, "x1": cols[1] - 0.5, "y0": r1 - 0.5, "y1": rows[1] - 0.5}]
    else:  # columns band (or a bias): dim left and right
        shapes += [{**dim, "x0": cols[0] - 0.5, "x1": c0 - 0.5, "y0": rows[0] - 0.5, "y1": rows[1] - 0.5},
                   {**dim, "x0": c1 - 0.5, "x1": cols[1] - 0.5, "y0": rows[0] - 0.5, "y1": rows[1] - 0.5}]
    shapes = [s for s in shapes if s["x1"] > s["x0"] and s["y1"] > s["y0"]]
    shapes.append({"type": "rect", "x0": c0 - 0.5, "x1": c1 - 0.5, "y0": r0 - 0.5, "y1": r1 - 0.5,
                   "line": {"color": "#111111", "width": 2.5}, "fillcolor": "rgba(0,0,0,0)", "layer": "above",
                   "name": f"head {band['head']}"})
    return shapes


def highlight_head(fig: go.Figure, m: Matrix, num_heads: HeadCounts | int, head: int) -> str:
    """Outline ``head``'s slice inside the heatmap ``fig`` of ``m`` (the rest dimmed); returns a caption."""
    mv = m.view
    band = head_band(mv.name, tuple(mv.shape), num_heads, head, tuple(mv.rows), tuple(mv.cols))
    what = "rows" if head_axis(mv.name) == 0 else "columns"
    if band is None:
        return f"head {head}'s {what} are outside this window"
    for sh in band_shapes(band, tuple(mv.rows), tuple(mv.cols), mv.is_vector):
        fig.add_shape(**sh)
    if band.get("bands"):  # fused Q|K|V: "rows Q 64:128, K 832:896, V 1600:1664"
        parts = rw.query_head_slice(mv.name, tuple(mv.shape), num_heads, int(head)).bands
        shown = ", ".join(f"{QKV_PARTS[i]} {a}:{b}" for i, (a, b) in enumerate(parts))
        return f"head {head} owns {what} {shown} (outlined; the rest dimmed)"
    a, b = band["rows"] if band["dim"] == 0 and not mv.is_vector else band["cols"]
    kv = rw.query_head_slice(mv.name, tuple(mv.shape), num_heads, int(head)).head
    if kv != int(head) or is_key_value(mv.name):  # grouped-query attention: K and V rows are per KV head
        return f"head {head} reads key/value head {kv}: {what} {a}:{b} (outlined; the rest dimmed)"
    return f"head {head} owns {what} {a}:{b} (outlined; the rest dimmed)"


def _cell_customdata(mv: rw.MatrixView) -> np.ndarray:
    """[row0, row1, col0, col1, value] per cell (float32: the JSON stays a typed array, not text)."""
    r0, r1 = mv.row_edges[:-1], mv.row_edges[1:] - 1
    c0, c1 = mv.col_edges[:-1], mv.col_edges[1:] - 1
    n, m = mv.z.shape
    out = np.empty((n, m, 5), np.float32)
    out[:, :, 0] = r0[:n, None]
    out[:, :, 1] = r1[:n, None]
    out[:, :, 2] = c0[None, :m]
    out[:, :, 3] = c1[None, :m]
    out[:, :, 4] = mv.z
    return out


def _png_uri(mv: rw.MatrixView) -> str:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(wfile.colorize(mv.z, mv.vmax)).save(buf, format="PNG", compress_level=1)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def matrix(store: Any, name: str, *, rows: tuple[int, int] | list[int] | None = None,
           cols: tuple[int, int] | list[int] | None = None, how: str = HOW, head: int | None = None,
           num_heads: HeadCounts | int | None = None, max_px: tuple[int, int] = MAX_PX,
           stats: dict[str, Any] | None = None) -> Matrix:
    """The tensor ``name`` (or one attention head's slice, or a window ``rows``/``cols``, half-open, of its
    2-D view) block-reduced to at most ``max_px`` cells with ``how`` ("maxabs" or "mean")."""
    if store.resolve(name) is None:
        raise UserError(f"no weight tensor named {name!r} in {store.description}", "pick a parameter of the model")
    shape = tuple(int(d) for d in store.shape(name))
    heads: HeadInfo | None = None
    if num_heads and head_axis(name) is not None:
        try:
            slices = rw.head_slices(name, shape, num_heads)
        except UserError:
            slices = []
        if slices:
            if head is not None:  # a query head: under GQA the key/value head it reads
                rows, cols = rw.head_window(shape, rw.query_head_slice(name, shape, num_heads, int(head)))
            heads = HeadInfo(len(slices), slices[0].dim, slices[0].stop - slices[0].start,
                             None if head is None else int(head),
                             [float(x) for x in rw.head_norms(store, name, num_heads)])
    elif head is not None:
        raise UserError(f"{name} is not split by attention head",
                        "per-head views exist for query/key/value weights and the attention output dense")
    mv = rw.matrix_view(store, name, rows=tuple(rows) if rows else None, cols=tuple(cols) if cols else None,
                        max_px=max_px, how=how_or_default(how))
    note = store.note(name) if hasattr(store, "note") else None  # e.g. an ONNX weight shown transposed
    if head is not None and heads is not None and is_fused_qkv(name):  # one window: the head's Q rows
        (_, _), (k0, k1), (v0, v1) = rw.query_head_slice(name, shape, num_heads, int(head)).bands
        fused = f"Q, K, V fused: this is head {head}'s Q; its K rows are {k0}:{k1}, its V rows {v0}:{v1}"
        note = f"{note}. {fused}" if note else fused
    return Matrix(view=mv, stats=stats, heads=heads, note=note or None)


def readout(store: Any, point: dict[str, Any], win: dict[str, Any]) -> str:
    """Row, column and exact value under the pointer (the cell's centre weight when cells are blocks)."""
    shape = tuple(win["shape"])
    R, Cn = rw.matrix_shape(shape)
    x, y = float(point.get("x", 0)), float(point.get("y", 0))
    col = min(max(int(math.floor(x + 0.5)), 0), Cn - 1)
    row = 0 if len(shape) <= 1 else min(max(int(math.floor(y + 0.5)), 0), R - 1)
    value = rw.value_at(store, win["name"], row, col)
    where = f"index {col}" if len(shape) <= 1 else f"row {row}, col {col}"
    text = f"{where}: w = {fmt.value(value)} (exact)"
    br, bc = (int(v) for v in win.get("block", [1, 1]))
    if (br, bc) != (1, 1):
        (r0, r1), (c0, c1) = win["rows"], win["cols"]
        a = r0 + ((row - r0) // br) * br if len(shape) > 1 else 0
        c = c0 + ((col - c0) // bc) * bc
        rows, cols = (a, min(r1, a + br)), (c, min(c1, c + bc))
        how = how_or_default(win.get("how"))
        block = rw.matrix_view(store, win["name"], rows, cols, (1, 1), how, scale="window")
        what = "mean" if how == "mean" else "largest |w| (signed)"
        span = (f"cols {cols[0]}–{cols[1] - 1}" if len(shape) <= 1
                else f"rows {rows[0]}–{rows[1] - 1}, cols {cols[0]}–{cols[1] - 1}")
        text += f"\nthis cell: {span}; {what} = {fmt.short(float(block.z.flat[0]))}"
    return text


# ---- per head -----------------------------------------------------------------------------------------------
def per_head(store: Any, name: str, num_heads: HeadCounts | int | None, how: str = HOW) -> go.Figure:
    """Every head's slice of a Q/K/V or attention-output weight, on one colour scale, titled with its norm."""
    if not num_heads or head_axis(name) is None:
        raise UserError(f"{name} is not split by attention head", NO_HEADS_TEXT)
    return wfig.per_head_figure(store, name, num_heads, how=how_or_default(how))


# ---- distribution and statistics -------------------------------------------------------------------------
@dataclass
class Distribution:
    stats: dict[str, Any]
    counts: np.ndarray
    edges: np.ndarray

    def rows(self) -> list[tuple[str, str]]:
        s = self.stats
        share = s["near_zero_share"]
        return [
            ("shape", "×".join(str(d) for d in s["shape"]) or "scalar"), ("elements", fmt.count(s["numel"])),
            ("mean", fmt.value(s["mean"])), ("std", fmt.value(s["std"])),
            ("min", fmt.value(s["min"])), ("max", fmt.value(s["max"])),
            ("Frobenius norm", fmt.value(s["fro_norm"])),
            (f"|w| < {s['near_zero_threshold']:g}", "nan" if math.isnan(share) else fmt.percent(share, 2)),
            ("dtype", s["dtype"]), ("values", "trained" if s["trained"] else "RANDOM (untrained)"),
        ]

    def figure(self, name: str) -> go.Figure:
        import plotly.graph_objects as go

        counts, edges = self.counts, self.edges
        centres = (edges[:-1] + edges[1:]) / 2
        colors = [rw.NEGATIVE_COLOR if c < 0 else rw.POSITIVE_COLOR for c in centres]
        fig = go.Figure(go.Bar(
            x=centres, y=counts, width=np.diff(edges), marker={"color": colors, "line": {"width": 0}},
            customdata=np.stack([edges[:-1], edges[1:]], axis=1),
            hovertemplate="%{customdata[0]:.4g} … %{customdata[1]:.4g}<br>%{y} values<extra></extra>"))
        note = "" if self.stats["trained"] else " · <b>RANDOM</b> initial weights, not trained"
        fig.update_layout(
            title={"text": f"Distribution of its {fmt.count(counts.sum())} values", "font": {"size": 14},
                   "subtitle": {"text": f"{name}{note}", "font": {"size": 11}}, "x": 0.01},
            margin={"l": 50, "r": 10, "t": 64, "b": 40}, height=340, bargap=0,
            xaxis={"title": {"text": "weight value"}}, yaxis={"title": {"text": "count"}}, plot_bgcolor="white")
        return fig


def distribution(store: Any, name: str, bins: int = 60) -> Distribution:
    s = rw.stats(store, name)
    lo, hi = s["min"], s["max"]
    counts, edges = rw.histogram(store, name, bins, (lo, hi) if math.isfinite(lo) else None)
    return Distribution(s, counts, edges)


def head_slice_figures(store: Any, names: list[str], num_heads: HeadCounts | int, head: int,
                       max_px: tuple[int, int] = (128, 128)) -> list[tuple[str, go.Figure, str]]:
    """For one attention head: each of its Q, K, V and output-projection weights as a small heatmap with
    the head's rows (or columns) outlined and the rest dimmed: [(name, figure, caption)]."""
    out = []
    for name in names:
        if not name.endswith(".weight") or head_axis(name) is None:
            continue
        m = matrix(store, name, num_heads=num_heads, max_px=max_px)
        fig = m.figure()
        cap = highlight_head(fig, m, num_heads, head)
        short = ".".join(name.split(".")[-3:-1])
        band = cap.split(" owns ")[-1].split(" (")[0]  # "rows 224:256"
        fig.update_layout(title={"text": f"{short}: head {head} = {band}", "subtitle": {"text": ""},
                                 "font": {"size": 11}},
                          height=260, margin={"l": 50, "r": 10, "t": 36, "b": 36}, uirevision=None)
        out.append((name, fig, cap))
    return out
