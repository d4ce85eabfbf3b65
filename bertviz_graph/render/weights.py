"""One weight tensor in numbers: downsampled overviews, exact zoomed windows, stats, per-head slices.

Figures of these are in ``render/weight_figures.py``, files (PNG, .npy) in ``render/weight_files.py``.

Why: the server must never ship a 30522×768 matrix whole. ``matrix_view`` reads the window the user is
looking at (row chunks, via ``get_slice``) and block-reduces it to at most ``max_px`` cells; zooming in is
calling it again with a smaller window, which becomes exact (one cell per weight) once it fits.

Every tensor is shown through a 2-D view: a matrix stays as is, a 1-D tensor (bias, LayerNorm) is a 1×N
row, a 0-d tensor is 1×1 and higher ranks flatten all but the first dim. ``rows``/``cols`` windows are
(start, stop) half-open ranges in that view.
"""

from __future__ import annotations

import math
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

import numpy as np

from bertviz_graph.errors import UserError
from bertviz_graph.hierarchy.heads import (
    HeadCounts,
    ParamHeads,
    head_axis,
    param_heads,
)

if TYPE_CHECKING:

    from bertviz_graph.sources.weights import WeightSource

# Diverging palette, negative -> 0 -> positive: ColorBrewer RdBu reversed (blue < 0 < red), as plotly's
# "RdBu" with reversescale. Kept here so the PNG export needs no plotly.
DIVERGING: list[str] = [
    "rgb(5,48,97)",
    "rgb(33,102,172)",
    "rgb(67,147,195)",
    "rgb(146,197,222)",
    "rgb(209,229,240)",
    "rgb(247,247,247)",
    "rgb(253,219,199)",
    "rgb(244,165,130)",
    "rgb(214,96,77)",
    "rgb(178,24,43)",
    "rgb(103,0,31)",
]
NEGATIVE_COLOR = "rgb(33,102,172)"
POSITIVE_COLOR = "rgb(178,24,43)"
COLORSCALE: list[list[Any]] = [[i / (len(DIVERGING) - 1), c] for i, c in enumerate(DIVERGING)]

CHUNK_ELEMS = 1 << 22  # elements read per chunk (16 MB of float32): bounds memory for any tensor
ABSMAX_WHOLE_LIMIT = 1 << 26  # up to this many elements, the colour scale uses the whole tensor's |max|
NEAR_ZERO = 1e-3

How = Literal["mean", "maxabs"]


# ----------------------------------------------------------------------------------------------------------
# 2-D view and block reduction


def matrix_shape(shape: tuple[int, ...] | list[int]) -> tuple[int, int]:
    """The 2-D view of a tensor shape: 1-D as 1×N, 0-d as 1×1, higher ranks as dim0 × rest."""
    shape = tuple(int(d) for d in shape)
    if len(shape) == 0:
        return (1, 1)
    if len(shape) == 1:
        return (1, shape[0])
    return (shape[0], math.prod(shape[1:]))


def as_2d(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a)
    return a.reshape(matrix_shape(a.shape))


def _edges(n: int, block: int) -> np.ndarray:
    return np.append(np.arange(0, n, block, dtype=np.int64), np.int64(n))


def _reduce_axis(a: np.ndarray, b: int, axis: int, op: str) -> np.ndarray:
    """Reduce consecutive groups of ``b`` along ``axis`` (0 or 1) with sum/max/min; reshape, no loops."""
    if b == 1:
        return a.astype(np.float64) if op == "sum" else a
    n = a.shape[axis]
    nf = n // b
    kw = {"dtype": np.float64} if op == "sum" else {}
    f = getattr(np, op)
    parts = []
    if axis == 0:
        if nf:
            parts.append(f(a[: nf * b].reshape(nf, b, a.shape[1]), axis=1, **kw))
        if n % b:
            parts.append(f(a[nf * b :], axis=0, keepdims=True, **kw))
    else:
        if nf:
            parts.append(f(a[:, : nf * b].reshape(a.shape[0], nf, b), axis=2, **kw))
        if n % b:
            parts.append(f(a[:, nf * b :], axis=1, keepdims=True, **kw))
    return np.concatenate(parts, axis=axis) if len(parts) > 1 else parts[0]


def _reduce(a: np.ndarray, br: int, bc: int, how: How) -> np.ndarray:
    """Block-reduce a 2-D array with fixed block sizes (the last block may be smaller)."""
    R, C = a.shape
    if R == 0 or C == 0:
        return np.zeros((math.ceil(R / br), math.ceil(C / bc)), np.float32)
    if br == 1 and bc == 1:
        return np.asarray(a, np.float32)
    if how == "mean":
        s = _reduce_axis(_reduce_axis(a, br, 0, "sum"), bc, 1, "sum")
        nr = np.diff(_edges(R, br)).astype(np.float64)
        nc = np.diff(_edges(C, bc)).astype(np.float64)
        return (s / np.outer(nr, nc)).astype(np.float32)
    if how == "maxabs":
        mx = _reduce_axis(_reduce_axis(a, br, 0, "max"), bc, 1, "max")
        mn = _reduce_axis(_reduce_axis(a, br, 0, "min"), bc, 1, "min")
        return np.where(mx >= -mn, mx, mn).astype(np.float32)  # ties keep the positive element
    raise ValueError(f"how must be 'mean' or 'maxabs', not {how!r}")


def _block(n: int, max_n: int) -> int:
    return max(1, math.ceil(n / max(1, int(max_n))))


def downsample(
    a: np.ndarray, max_rows: int, max_cols: int, how: How = "mean"
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Block-reduce ``a`` to at most max_rows × max_cols cells.

    Returns (small, row_edges, col_edges): cell (i, j) covers rows row_edges[i]:row_edges[i+1] and columns
    col_edges[j]:col_edges[j+1]. ``how="mean"`` averages a block; ``"maxabs"`` keeps the block's element
    with the largest |value|, sign included (so outliers stay visible). 1-D input is treated as 1×N.
    """
    a2 = as_2d(a)
    R, C = a2.shape
    br, bc = _block(R, max_rows), _block(C, max_cols)
    return _reduce(a2, br, bc, how), _edges(R, br), _edges(C, bc)


# ----------------------------------------------------------------------------------------------------------
# Reading windows


def read_window(store: WeightSource, name: str, rows: tuple[int, int], cols: tuple[int, int]) -> np.ndarray:
    """``view2d[rows, cols]`` read through ``get_slice`` (only those rows leave the file)."""
    shape = tuple(store.shape(name))
    (r0, r1), (c0, c1) = rows, cols
    if len(shape) == 0:
        return np.asarray(store.get(name), np.float32).reshape(1, 1)[r0:r1, c0:c1]
    if len(shape) == 1:
        return np.asarray(store.get_slice(name, slice(c0, c1)), np.float32).reshape(1, -1)[r0:r1]
    if len(shape) == 2:
        return np.asarray(store.get_slice(name, slice(r0, r1), slice(c0, c1)), np.float32)
    block = np.asarray(store.get_slice(name, slice(r0, r1)), np.float32)
    return block.reshape(r1 - r0, -1)[:, c0:c1]


def window_bounds(
    shape2: tuple[int, int], rows: tuple[int, int] | None, cols: tuple[int, int] | None, name: str
) -> tuple[tuple[int, int], tuple[int, int]]:
    """Clamp a requested window to the tensor (zoom UIs overshoot); refuse an empty one."""
    out = []
    for rng, n, what in ((rows, shape2[0], "rows"), (cols, shape2[1], "cols")):
        if rng is None:
            out.append((0, n))
            continue
        try:
            a, b = (int(round(float(v))) for v in rng)
        except (TypeError, ValueError):
            raise UserError(
                f"{what} window {rng!r} for {name} is not a (start, stop) pair", "pass e.g. (0, 64)"
            ) from None
        a, b = max(0, min(a, n)), max(0, min(b, n))
        if b <= a:
            raise UserError(
                f"{what} window {rng!r} for {name} is empty (the tensor has {n} {what})",
                f"pick start < stop within 0..{n}",
            )
        out.append((a, b))
    return out[0], out[1]


def _row_chunks(r0: int, r1: int, ncols: int, align: int = 1):
    """Row ranges of about CHUNK_ELEMS elements each, multiples of ``align`` rows."""
    step = align * max(1, CHUNK_ELEMS // max(1, ncols * align))
    for a in range(r0, r1, step):
        yield a, min(a + step, r1)


_ABSMAX: weakref.WeakKeyDictionary[Any, dict[str, float]] = weakref.WeakKeyDictionary()


def _cached_absmax(store: WeightSource, name: str) -> float | None:
    try:
        return _ABSMAX.get(store, {}).get(name)
    except TypeError:
        return None


def _remember_absmax(store: WeightSource, name: str, value: float) -> None:
    try:
        _ABSMAX.setdefault(store, {})[name] = value
    except TypeError:  # store not weak-referenceable: no cache
        pass


def tensor_absmax(store: WeightSource, name: str) -> float:
    """max |w| over the whole tensor, read in row chunks and cached per store."""
    hit = _cached_absmax(store, name)
    if hit is not None:
        return hit
    R, C = matrix_shape(store.shape(name))
    m = 0.0
    for a, b in _row_chunks(0, R, C):
        w = read_window(store, name, (a, b), (0, C))
        if w.size:
            m = max(m, float(np.nanmax(w)), -float(np.nanmin(w)))
    _remember_absmax(store, name, m)
    return m


@dataclass
class MatrixView:
    """A window of one tensor, block-reduced for display, with everything needed to label it."""

    name: str
    shape: tuple[int, ...]  # the tensor's own shape
    rows: tuple[int, int]  # window in the 2-D view, half-open
    cols: tuple[int, int]
    z: np.ndarray  # float32 [n_row_blocks, n_col_blocks]
    row_edges: np.ndarray  # absolute row index where each cell starts (+ the window end)
    col_edges: np.ndarray
    block: tuple[int, int]  # (rows, cols) of weights per cell; (1, 1) = exact
    how: str  # "mean" | "maxabs"
    vmax: float  # colour scale is [-vmax, +vmax], centred on 0
    vmax_scope: (
        str  # |max| of: "tensor" (whole, stable while zooming), "window" (its weights), "cells" (shown)
    )
    trained: bool
    source: str  # where the values come from (store.description)
    all_zero: bool = False  # every weight in the window is 0 (vmax is then 1 by convention)

    @property
    def exact(self) -> bool:
        return self.block == (1, 1)

    @property
    def is_vector(self) -> bool:
        return len(self.shape) <= 1

    @property
    def row_centres(self) -> np.ndarray:
        """Cell centres in real row indices (integers when exact)."""
        e = self.row_edges
        return e[:-1] if self.block[0] == 1 else (e[:-1] + e[1:] - 1) / 2

    @property
    def col_centres(self) -> np.ndarray:
        e = self.col_edges
        return e[:-1] if self.block[1] == 1 else (e[:-1] + e[1:] - 1) / 2

    @property
    def cell_label(self) -> str:
        """What one cell's value is: "value", "mean of 51×1 block", "max |w| of 4×4 block (signed)"."""
        if self.exact:
            return "value"
        br, bc = self.block
        return (
            f"mean of {br}×{bc} block" if self.how == "mean" else f"largest |w| of {br}×{bc} block (signed)"
        )

    def summary(self) -> dict[str, Any]:
        """JSON-able description (no values) for the app's stores and the details panel."""
        return {
            "name": self.name,
            "shape": list(self.shape),
            "rows": list(self.rows),
            "cols": list(self.cols),
            "cells": list(self.z.shape),
            "block": list(self.block),
            "exact": self.exact,
            "how": self.how,
            "cell_label": self.cell_label,
            "vmax": self.vmax,
            "vmax_scope": self.vmax_scope,
            "trained": self.trained,
            "source": self.source,
            "all_zero": self.all_zero,
        }


def matrix_view(
    store: WeightSource,
    name: str,
    rows: tuple[int, int] | None = None,
    cols: tuple[int, int] | None = None,
    max_px: tuple[int, int] = (600, 800),
    how: How = "mean",
    scale: Literal["tensor", "window", "cells"] = "tensor",
) -> MatrixView:
    """Read ``name[rows, cols]`` (2-D view) in row chunks and reduce it to at most max_px = (rows, cols) cells.

    Memory stays bounded (one chunk at a time). Colour range: ``scale="tensor"`` uses |max| of the whole
    tensor so colours do not jump while zooming (one chunked pass over tensors up to ABSMAX_WHOLE_LIMIT
    elements, cached; bigger tensors fall back to the window); ``"window"`` uses |max| of the window's
    weights; ``"cells"`` uses |max| of the shown cells, which makes block means of a reduced overview
    visible (means of many weights are much smaller than single weights).
    """
    if store.resolve(name) is None:
        raise UserError(
            f"no weight tensor named {name!r} in {store.description}", "pick a parameter of the model"
        )
    shape = tuple(store.shape(name))
    shape2 = matrix_shape(shape)
    (r0, r1), (c0, c1) = window_bounds(shape2, rows, cols, name)
    br, bc = _block(r1 - r0, max_px[0]), _block(c1 - c0, max_px[1])
    parts, wmax = [], 0.0
    for a, b in _row_chunks(r0, r1, c1 - c0, align=br):
        w = read_window(store, name, (a, b), (c0, c1))
        if w.size:
            wmax = max(wmax, float(np.nanmax(w)), -float(np.nanmin(w)))
        parts.append(_reduce(w, br, bc, how))
    z = np.concatenate(parts, axis=0) if len(parts) > 1 else parts[0]
    whole = (r0, r1, c0, c1) == (0, shape2[0], 0, shape2[1])
    if whole:
        _remember_absmax(store, name, wmax)
    vmax, scope = wmax, "window"
    if scale == "tensor" and (whole or math.prod(shape2) <= ABSMAX_WHOLE_LIMIT):
        vmax, scope = (wmax if whole else tensor_absmax(store, name)), "tensor"
    elif scale == "cells":
        vmax, scope = (float(np.nanmax(np.abs(z))) if z.size else 0.0), "cells"
    return MatrixView(
        name=name,
        shape=shape,
        rows=(r0, r1),
        cols=(c0, c1),
        z=z,
        row_edges=_edges(r1 - r0, br) + r0,
        col_edges=_edges(c1 - c0, bc) + c0,
        block=(br, bc),
        how=how,
        vmax=vmax if vmax > 0 else 1.0,
        vmax_scope=scope,
        all_zero=wmax == 0,
        trained=bool(getattr(store, "trained", True)),
        source=str(getattr(store, "description", "")),
    )


def axis_labels(name: str, shape: tuple[int, ...]) -> tuple[str, str]:
    """(row axis title, column axis title) in neural-network terms for a parameter name."""
    low = name.lower()
    if len(shape) <= 1:
        return "", "neuron (index)"
    if any(k in low for k in ("word_embeddings", "embed_tokens", "wte.", "shared.", "tok_embeddings")):
        return "token id (row)", "feature (column)"
    if any(k in low for k in ("position_embeddings", "wpe.", "embed_positions")):
        return "position (row)", "feature (column)"
    if "token_type_embeddings" in low:
        return "token type (row)", "feature (column)"
    return "output neuron (row)", "input neuron (column)"


def value_at(store: WeightSource, name: str, row: int, col: int) -> float:
    """The exact stored value at (row, col) of the 2-D view (for a 1-D tensor row is 0)."""
    R, C = matrix_shape(store.shape(name))
    if not (0 <= row < R and 0 <= col < C):
        raise UserError(
            f"({row}, {col}) is outside {name}, which is {R}×{C} as a matrix",
            f"pick row in 0..{R - 1}, col in 0..{C - 1}",
        )
    return float(read_window(store, name, (row, row + 1), (col, col + 1))[0, 0])


# ----------------------------------------------------------------------------------------------------------
# Statistics


def stats(store: WeightSource, name: str) -> dict[str, Any]:
    """Summary numbers of the whole tensor, computed in row chunks (bounded memory, float64 sums)."""
    shape = tuple(store.shape(name))
    R, C = matrix_shape(shape)
    n, mean, m2 = 0, 0.0, 0.0
    lo, hi, sq, near = math.inf, -math.inf, 0.0, 0
    for a, b in _row_chunks(0, R, C):
        w = read_window(store, name, (a, b), (0, C)).astype(np.float64)
        k = w.size
        if k == 0:
            continue
        cm = float(w.mean())
        cm2 = float(((w - cm) ** 2).sum())
        d = cm - mean  # Chan et al. pairwise combination: exact and stable across chunks
        tot = n + k
        mean += d * k / tot
        m2 += cm2 + d * d * n * k / tot
        n = tot
        lo, hi = min(lo, float(w.min())), max(hi, float(w.max()))
        sq += float(np.square(w).sum())
        near += int(np.count_nonzero(np.abs(w) < NEAR_ZERO))
    return {
        "name": name,
        "shape": list(shape),
        "numel": int(math.prod(shape)),
        "dtype": store.dtype(name),
        "mean": mean if n else math.nan,
        "std": math.sqrt(m2 / n) if n else math.nan,
        "min": lo if n else math.nan,
        "max": hi if n else math.nan,
        "absmax": max(abs(lo), abs(hi)) if n else math.nan,
        "fro_norm": math.sqrt(sq),
        "near_zero_share": near / n if n else math.nan,
        "near_zero_threshold": NEAR_ZERO,
        "trained": bool(getattr(store, "trained", True)),
    }


def histogram(
    store: WeightSource, name: str, bins: int = 60, value_range: tuple[float, float] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Exact histogram of all values, chunked: (counts int64 [bins], edges float64 [bins+1])."""
    R, C = matrix_shape(store.shape(name))
    if value_range is None:
        s = stats(store, name)
        value_range = (s["min"], s["max"])
    lo, hi = value_range
    if not (math.isfinite(lo) and math.isfinite(hi)):
        lo, hi = 0.0, 1.0
    if hi <= lo:  # constant tensor (LayerNorm gains at init): one bin around the value
        lo, hi = lo - 0.5, hi + 0.5
    counts = np.zeros(bins, np.int64)
    edges = np.histogram_bin_edges(np.zeros(0), bins=bins, range=(lo, hi))
    for a, b in _row_chunks(0, R, C):
        c, _ = np.histogram(read_window(store, name, (a, b), (0, C)), bins=bins, range=(lo, hi))
        counts += c
    return counts, edges


# ----------------------------------------------------------------------------------------------------------
# Attention heads


class HeadSlice(NamedTuple):
    """The part of a weight tensor one attention head owns: ``tensor`` indices start:stop along ``dim``.

    dim 0 = rows = output neurons (query/key/value weights and biases); dim 1 = columns = input neurons
    (the attention output projection, which reads the concatenated heads).
    """

    head: int
    dim: int
    start: int
    stop: int
    parts: tuple[tuple[int, int], ...] = ()  # fused Q|K|V (GPT-2's c_attn): the head's Q, K and V row bands

    @property
    def bands(self) -> tuple[tuple[int, int], ...]:
        """Every (start, stop) the head owns along ``dim``: one band, or Q, K and V of a fused weight."""
        return self.parts or ((self.start, self.stop),)

    @property
    def range(self) -> range:
        return range(self.start, self.stop)


def param_split(name: str, shape: tuple[int, ...] | list[int], heads: HeadCounts | int | None) -> ParamHeads:
    """The hierarchy's head split of ``name`` (UserError when it has none or the sizes do not fit)."""
    dim = head_axis(name)
    shape = tuple(int(d) for d in shape)
    if dim is None or dim >= len(shape):
        raise UserError(
            f"{name} is not split by attention head",
            "per-head views exist for query/key/value weights and biases and the attention output projection",
        )
    try:
        split = param_heads(name, shape[dim], heads)
    except ValueError as e:
        raise UserError(str(e), "pass the model's number of attention heads") from None
    if split is None:
        raise UserError(f"{name}: the number of attention heads is unknown", "pass the model's number of heads")
    return split


def head_slices(name: str, shape: tuple[int, ...] | list[int], heads: HeadCounts | int) -> list[HeadSlice]:
    """The slice each of the parameter's own heads owns (its key/value heads for K and V under GQA)."""
    split = param_split(name, shape, heads)
    out = []
    for h in range(split.count):
        bands = split.bands(h)
        out.append(HeadSlice(h, split.axis, bands[0][0], bands[0][1], bands if split.parts else ()))
    return out


def query_head_slice(name: str, shape: tuple[int, ...] | list[int], heads: HeadCounts | int,
                     query_head: int) -> HeadSlice:
    """The slice query head ``query_head`` reads of ``name`` (its key/value head's for K and V)."""
    split = param_split(name, shape, heads)
    if not 0 <= int(query_head) < split.count * split.group:
        raise UserError(f"head {query_head} is out of range", f"use 0..{split.count * split.group - 1}")
    return head_slices(name, shape, heads)[split.owner(int(query_head))]


def head_window(shape: tuple[int, ...], hs: HeadSlice) -> tuple[tuple[int, int], tuple[int, int]]:
    """(rows, cols) window of the 2-D view that one attention head owns: the one head-slice helper."""
    R, C = matrix_shape(shape)
    if len(shape) == 1:
        return (0, 1), (hs.start, hs.stop)
    if hs.dim == 0:
        return (hs.start, hs.stop), (0, C)
    return (0, R), (hs.start, hs.stop)


def head_norms(store: WeightSource, name: str, num_heads: HeadCounts | int) -> np.ndarray:
    """Frobenius norm of each head's slice: how much weight each head carries."""
    shape = tuple(store.shape(name))
    out = []
    for hs in head_slices(name, shape, num_heads):
        sq = 0.0
        for band in hs.bands:  # a fused Q|K|V head: all three of its bands
            r, c = head_window(shape, HeadSlice(hs.head, hs.dim, band[0], band[1]))
            sq += float(np.square(read_window(store, name, r, c).astype(np.float64)).sum())
        out.append(math.sqrt(sq))
    return np.asarray(out)


def short_name(name: str, keep: int = 40) -> str:
    """A parameter name short enough for a panel title: from "layer.N" on, else its last parts."""
    if len(name) <= keep:
        return name
    i = name.find("layer.")
    if 0 <= i and len(name) - i <= keep:
        return name[i:]
    parts = name.split(".")
    out = parts[-1]
    for p in reversed(parts[:-1]):
        if len(out) + len(p) + 1 > keep - 2:
            break
        out = f"{p}.{out}"
    return "…" + out
