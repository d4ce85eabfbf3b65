"""FLOPs per ATen op: exact for the matrix products, element counts for elementwise work.

A multiply-add counts as 2 FLOPs. Ops that only move or re-view data (view, transpose, expand, slice,
dropout at inference, embedding lookups) count 0.
"""

from __future__ import annotations

from math import prod

# Elementwise-like ops: FLOPs per output element (small constants for the fused ones, documented estimates).
_PER_ELEMENT = {
    "add": 1, "sub": 1, "mul": 1, "div": 1, "rsub": 1, "neg": 1, "pow": 1, "sqrt": 1, "rsqrt": 1,
    "exp": 1, "tanh": 1, "erf": 1, "where": 1, "maximum": 1, "minimum": 1, "relu": 1, "sigmoid": 1,
    "mean": 1, "sum": 1, "var_mean": 2, "var": 2, "reciprocal": 1, "abs": 1, "log": 1,
    "gelu": 8,  # 0.5·x·(1+erf(x/√2)) or the tanh form
    "softmax": 3, "_softmax": 3, "log_softmax": 3, "_log_softmax": 3,  # exp, sum, divide
    "layer_norm": 7, "native_layer_norm": 7,  # mean, centre, square, mean, rsqrt, scale, shift
}
_FREE = {
    "view", "_unsafe_view", "reshape", "transpose", "permute", "expand", "slice", "select", "unsqueeze",
    "squeeze", "contiguous", "clone", "t", "dropout", "native_dropout", "embedding", "gather", "arange",
    "zeros", "ones", "full", "scalar_tensor", "alias", "detach", "to", "_to_copy", "split", "chunk",
    "cat", "index_select", "lift_fresh_copy", "ge", "gt", "lt", "le", "eq", "ne", "masked_fill",
    "copy", "empty", "zeros_like", "ones_like", "full_like", "type_as", "flatten",
}


def op_flops(op: str, in_shapes: list[list[int] | None], out_shape: list[int] | None) -> int:
    """FLOPs of one call of ``op`` (short ATen name) given its tensor input shapes and output shape."""
    out_numel = prod(out_shape) if out_shape else 0
    if op == "linear" and len(in_shapes) >= 2 and in_shapes[1]:
        k = in_shapes[1][-1]  # weight is [out, in]
        bias = out_numel if len(in_shapes) > 2 and in_shapes[2] else 0
        return 2 * out_numel * k + bias
    if op in ("addmm",) and len(in_shapes) >= 3 and in_shapes[1]:
        return 2 * out_numel * in_shapes[1][-1] + out_numel
    if op in ("mm", "bmm", "matmul", "baddbmm") and len(in_shapes) >= 2 and in_shapes[0]:
        k = in_shapes[0][-1]
        return 2 * out_numel * k
    if op in ("scaled_dot_product_attention", "_scaled_dot_product_flash_attention_for_cpu") and len(in_shapes) >= 3:
        q, k, v = in_shapes[:3]
        if q and k and v:
            batch = prod(q[:-2])
            lq, e = q[-2], q[-1]
            s, ev = k[-2], v[-1]
            return 2 * batch * lq * s * e + 2 * batch * lq * s * ev + 3 * batch * lq * s
    if op in _FREE:
        return 0
    return _PER_ELEMENT.get(op, 1) * out_numel
