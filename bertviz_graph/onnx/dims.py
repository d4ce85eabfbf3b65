"""Symbolic dimensions made honest: batch 1 and the chosen sequence length, whatever the exporter named them.

Exporters name the free dimensions of a BERT differently (torch.onnx "batch"/"seq", paddle2onnx
"DynamicDimension.N", tf2onnx "unk__N" or nothing), and many inner values get no name at all. Instead of
guessing from names, the file runs twice in onnxruntime (ONNX's own shape inference stops at Range and at
shape arithmetic it cannot follow) on token ids of fixed shapes: (batch 1, seq = the chosen length) gives the concrete shapes FLOPs are counted with, and a second pass with
(batch 2, seq + 3) tells which dimension of each value follows the batch, which the sequence, and which
their product, so edges show the short names ``batch``, ``seq`` and ``batch·seq``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from bertviz_graph.onnx.session import AllValues

BATCH, SEQ, PRODUCT = "batch", "seq", "batch·seq"


def _fixed(values: Any, batch: int, seq: int) -> dict[str, list[int]]:
    """Shapes of every value the file computes for token ids of shape [batch, seq] (all zeros: [PAD])."""
    ids = np.zeros((batch, seq), dtype=np.int64)
    try:
        got = {**values.feed(ids), **values.run(ids)}
    except Exception:  # noqa: BLE001 - a file onnxruntime cannot run keeps its symbolic shapes
        return {}
    return {k: list(v.shape) for k, v in got.items() if hasattr(v, "shape")}


def resolve_dims(path: Any, shapes: dict[str, tuple[list[Any] | None, str]],
                 seq_len: int) -> tuple[dict[str, list[int]], dict[str, tuple[list[Any] | None, str]]]:
    """(value -> concrete shape at batch 1 and ``seq_len``, value -> shape with short dim names)."""

    try:
        values = AllValues(path)
    except Exception:  # noqa: BLE001 - custom ops, too large: the symbolic shapes are used as they are
        return {}, dict(shapes)
    a = _fixed(values, 1, seq_len)
    b = _fixed(values, 2, seq_len + 3)
    concrete: dict[str, list[int]] = {}
    named: dict[str, tuple[list[Any] | None, str]] = {}
    for name, (shape, dtype) in shapes.items():
        sa, sb = a.get(name), b.get(name)
        if shape is None or sa is None or sb is None or len(sa) != len(shape) or len(sb) != len(shape):
            named[name] = (shape, dtype)
            continue
        if all(isinstance(d, int) for d in sa):
            concrete[name] = list(sa)
        dims: list[Any] = []
        for orig, da, db in zip(shape, sa, sb):
            if isinstance(orig, int) or not isinstance(da, int) or not isinstance(db, int):
                dims.append(orig)
            elif da == db:
                dims.append(da)
            elif (da, db) == (1, 2):
                dims.append(BATCH)
            elif (da, db) == (seq_len, seq_len + 3):
                dims.append(SEQ)
            elif (da, db) == (seq_len, 2 * (seq_len + 3)):
                dims.append(PRODUCT)
            else:
                dims.append("?")
        named[name] = (dims, dtype)
    return concrete, named
