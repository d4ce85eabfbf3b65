"""Which Linear of a flatly named layer is the query, key, value or attention output (paddle2onnx's
``MatMul.3`` has no scope to say so): read off the attention's own data flow. QKᵀ is the MatMul of two
computed values that feeds the Softmax, its first operand comes from the query Linear and its second from
the key; the ·V MatMul reads the Softmax and the value Linear; the first Linear after it is the output."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bertviz_graph.onnx.importer import OpRec, Work

_THROUGH = {"Reshape", "Transpose", "Add", "Mul", "Div", "Cast", "Squeeze", "Unsqueeze", "QuantizeLinear",
            "DequantizeLinear", "DynamicQuantizeLinear", "Dropout", "Identity", "Where"}
_MATMUL = ("MatMul", "Gemm", "MatMulInteger")
Linear = Callable[["OpRec"], bool]


def _back(w: Work, lin: Linear, value: str, want_linear: bool, depth: int = 10) -> OpRec | None:
    """The nearest op upstream of ``value`` that is a Linear (or a MatMul of two computed values)."""
    r = w.by_id.get(w.producer.get(value, ""))
    if r is None or depth == 0:
        return None
    if r.op_type in _MATMUL:
        if lin(r) == want_linear:
            return r
        if want_linear:
            return None
    if r.op_type not in _THROUGH:
        return None
    for v in r.inputs:
        if v and w.kind.get(v) not in ("param", "const") and v in w.producer:
            found = _back(w, lin, v, want_linear, depth - 1)
            if found is not None:
                return found
    return None


def _forward(w: Work, lin: Linear, value: str, want_linear: bool, depth: int = 10) -> OpRec | None:
    for oid, _ in w.consumers.get(value, []):
        r = w.by_id.get(oid)
        if r is None:
            continue
        if r.op_type in _MATMUL and lin(r) == want_linear:
            return r
        if r.op_type in _THROUGH and depth and r.outputs:
            found = _forward(w, lin, r.outputs[0], want_linear, depth - 1)
            if found is not None:
                return found
    return None


def linear_stems(w: Work, is_weight: Callable[[str], bool]) -> dict[str, str]:
    """op id of a Linear's MatMul -> "query" | "key" | "value" | "attention_output". ``is_weight(value)``:
    does a trained tensor reach this input (patterns.weight_source, passed in: no import loop)."""

    def lin(r: OpRec) -> bool:
        return r.op_type in _MATMUL and len(r.inputs) > 1 and is_weight(r.inputs[1])

    out: dict[str, str] = {}
    for s in w.ops:
        if s.op_type != "Softmax" or not s.inputs or not s.outputs:
            continue
        qk = _back(w, lin, s.inputs[0], want_linear=False)
        pv = _forward(w, lin, s.outputs[0], want_linear=False)
        if qk is None or pv is None or len(qk.inputs) < 2 or len(pv.inputs) < 2:
            continue
        found = {"query": _back(w, lin, qk.inputs[0], True), "key": _back(w, lin, qk.inputs[1], True),
                 "value": _back(w, lin, pv.inputs[1], True),
                 "attention_output": _forward(w, lin, pv.outputs[0], True)}
        if all(found.values()) and len({r.id for r in found.values()}) == 4:
            out.update({r.id: stem for stem, r in found.items()})
    return out
