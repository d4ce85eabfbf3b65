"""What the widget's weight pane shows: one tensor (or one head's slice, or a zoomed window of it) as a PNG
plus the numbers around it (shape, colour scale, statistics, per-head norms). Built on render.weights, so
the picture is the same block-reduced image the app shows; a 30522×768 embedding is never sent whole."""

from __future__ import annotations

import math
from typing import Any

from bertviz_graph.errors import UserError
from bertviz_graph.render import weights as rw

MAX_PX = (384, 384)  # cells (rows, cols) at most: the pane is ~320 px wide


def head_window(shape: tuple[int, ...], hs: rw.HeadSlice) -> tuple[tuple[int, int], tuple[int, int]]:
    """(rows, cols) window of the 2-D view that one attention head owns."""
    R, C = rw.matrix_shape(shape)
    if len(shape) == 1:
        return (0, 1), (hs.start, hs.stop)
    if hs.dim == 0:
        return (hs.start, hs.stop), (0, C)
    return (0, R), (hs.start, hs.stop)


def _meaning(name: str, shape: tuple[int, ...]) -> str:
    rows, cols = rw.axis_labels(name, shape)
    if len(shape) <= 1:
        return f"{shape[0] if shape else 1} numbers, one per neuron (bias or LayerNorm scale/shift)."
    if rows.startswith("output neuron"):
        return (f"Row i holds the {shape[1]:,} incoming edge weights of output neuron i; column j the outgoing "
                f"weights of input neuron j: {math.prod(shape):,} edges of a fully-connected layer.")
    return f"Each row is the {shape[1]:,}-number vector looked up for one {rows.split(' (')[0]}."


def matrix_payload(
    store: Any,
    name: str,
    *,
    head: int | None = None,
    rows: tuple[int, int] | list[int] | None = None,
    cols: tuple[int, int] | list[int] | None = None,
    num_heads: int | None = None,
    stats_cache: dict[str, dict] | None = None,
    max_px: tuple[int, int] = MAX_PX,
) -> tuple[bytes, dict[str, Any]]:
    """(PNG bytes, JSON-able meta) for the weight pane. ``head`` picks one attention head's slice of a
    query/key/value/attention-output weight; ``rows``/``cols`` a window (half-open) of the 2-D view."""
    key = store.resolve(name)
    if key is None:
        raise UserError(f"no weight tensor named {name!r} in {store.description}", "pick a parameter of the model")
    shape = tuple(int(d) for d in store.shape(name))
    heads: dict[str, Any] | None = None
    if num_heads and rw.head_split_dim(name) is not None:
        try:
            slices = rw.head_slices(name, shape, num_heads)
        except UserError:
            slices = []
        if slices:
            if head is not None:
                if not 0 <= int(head) < len(slices):
                    raise UserError(f"{name} has {len(slices)} heads; {head} is out of range",
                                    f"use 0..{len(slices) - 1}")
                rows, cols = head_window(shape, slices[int(head)])
            norms = [float(x) for x in rw.head_norms(store, name, num_heads)]
            heads = {"count": len(slices), "dim": slices[0].dim, "size": slices[0].stop - slices[0].start,
                     "head": None if head is None else int(head), "norms": norms}
    elif head is not None:
        raise UserError(f"{name} is not split by attention head",
                        "per-head views exist for query/key/value weights and the attention output dense")
    mv = rw.matrix_view(store, name, rows=tuple(rows) if rows else None, cols=tuple(cols) if cols else None,
                        max_px=max_px)
    cache = stats_cache if stats_cache is not None else {}
    if name not in cache:
        cache[name] = rw.stats(store, name)
    st = cache[name]
    row_label, col_label = rw.axis_labels(name, shape)
    meta = {
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
        "heads": heads,
        "meaning": " ".join(x for x in (_meaning(name, shape), _store_note(store, name)) if x),
        "notice": None if mv.trained else (
            "No checkpoint was loaded, so these are random initial values (normal, std 0.02), not what a "
            "trained BERT learned. Point show() at a folder with model.safetensors to see trained weights."),
        "picked": None,
    }
    return rw.to_png_bytes(mv), meta


def _store_note(store, name: str) -> str:
    """How the shown matrix differs from the stored one (an ONNX [in, out] weight shown [out, in])."""
    note = store.note(name) if hasattr(store, "note") else None
    return f"{note}." if note else ""
