"""FLOPs per ATen op: exact for the matrix products, hand counts for elementwise work and reductions.

A multiply-add counts as 2 FLOPs. Matrix products and attention kernels use the formulas of
``torch.utils.flop_counter`` (which counts nothing else); elementwise ops count per output element and
reductions per *input* element (a sum over 768 values is 768 additions, not 1). A composite op (LayerNorm,
GELU, softmax) counts what its decomposition at ``--ops primitive`` counts, so both levels give the same
model total. Ops that only move, select or re-view data count 0. An op that is in none of these tables
is not guessed at: its count is ``None`` ("unknown").
"""

from __future__ import annotations

from math import prod
from typing import Any

# Elementwise: FLOPs per output element.
_PER_ELEMENT = {
    "add": 1, "sub": 1, "mul": 1, "div": 1, "rsub": 1, "neg": 1, "pow": 1, "sqrt": 1, "rsqrt": 1, "square": 1,
    "exp": 1, "exp2": 1, "expm1": 1, "log": 1, "log1p": 1, "log2": 1, "tanh": 1, "erf": 1, "sin": 1, "cos": 1,
    "maximum": 1, "minimum": 1, "relu": 1, "reciprocal": 1, "abs": 1, "clamp": 1, "clamp_min": 1,
    "clamp_max": 1, "floor": 1, "ceil": 1, "round": 1, "sign": 1, "addcmul": 2, "addcdiv": 2, "lerp": 2,
    "hardtanh": 1, "leaky_relu": 1,
    "sigmoid": 4,  # 1 / (1 + exp(-x)): neg, exp, add, reciprocal
    "silu": 5,  # x · sigmoid(x)
    "gelu": 5,  # erf form 0.5·x·(1 + erf(x/√2)): mul, mul, erf, add, mul (as decomposed)
    "cumsum": 1, "diff": 1,
}
# The tanh form 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))), as torch decomposes it.
_GELU_TANH = 9
# Reductions: FLOPs per input element.
_PER_INPUT = {"sum": 1, "mean": 1, "amax": 1, "amin": 1, "max": 1, "min": 1, "prod": 1, "logsumexp": 3,
              "var": 4, "std": 4, "var_mean": 4, "std_mean": 4, "norm": 2, "linalg_vector_norm": 2}
_FREE = {
    "view", "_unsafe_view", "reshape", "transpose", "permute", "expand", "slice", "select", "unsqueeze",
    "squeeze", "contiguous", "clone", "t", "dropout", "native_dropout", "embedding", "gather", "arange",
    "zeros", "ones", "full", "scalar_tensor", "alias", "detach", "to", "_to_copy", "split", "chunk",
    "cat", "stack", "index_select", "lift_fresh_copy", "ge", "gt", "lt", "le", "eq", "ne", "masked_fill",
    "where", "copy", "empty", "zeros_like", "ones_like", "full_like", "empty_like", "new_zeros", "new_ones",
    "new_empty", "new_full", "type_as", "flatten", "unflatten", "any", "all", "logical_not", "logical_and",
    "logical_or", "bitwise_not", "bitwise_and", "bitwise_or", "tril", "triu", "repeat", "repeat_interleave",
    "index", "_unsafe_index", "narrow", "unbind", "split_with_sizes", "constant_pad_nd", "pad", "flip",
    "roll", "fill", "lift_fresh", "__and__", "__or__", "__invert__", "__xor__", "_assert_tensor_metadata", "sym_size", "item", "movedim", "as_strided", "expand_as",
    "view_as", "unfold", "diagonal", "select_scatter", "slice_scatter", "_local_scalar_dense",
}
MATMUL_OPS = ("linear", "addmm", "mm", "bmm", "matmul", "baddbmm")
ATTENTION_OPS = ("scaled_dot_product_attention", "_scaled_dot_product_flash_attention_for_cpu",
                 "_scaled_dot_product_flash_attention", "_scaled_dot_product_efficient_attention",
                 "_scaled_dot_product_attention_math", "_scaled_dot_product_cudnn_attention")


def known(op: str) -> bool:
    """Does ``op_flops`` count this op (rather than answer None)?"""
    return (op in _FREE or op in _PER_ELEMENT or op in _PER_INPUT or op in MATMUL_OPS or op in ATTENTION_OPS
            or op in ("layer_norm", "native_layer_norm", "softmax", "_softmax", "log_softmax", "_log_softmax"))


def op_flops(op: str, in_shapes: list[list[int] | None], out_shape: list[int] | None,
             kwargs: dict[str, Any] | None = None) -> int | None:
    """FLOPs of one call of ``op`` (short ATen name) from its tensor input shapes and output shape;
    ``None`` when the op is not one we can count."""
    kwargs = kwargs or {}
    out_numel = prod(out_shape) if out_shape else 0
    first = prod(in_shapes[0]) if in_shapes and in_shapes[0] else out_numel
    if op in _FREE:
        return 0
    if op in MATMUL_OPS or op in ATTENTION_OPS:
        products = _products(op, in_shapes, out_shape, out_numel)
        if products is not None:
            return products
    if op in ("softmax", "_softmax", "log_softmax", "_log_softmax"):
        return 5 * out_numel  # amax, sub, exp, sum (all over the input), div
    if op in ("layer_norm", "native_layer_norm"):
        shape = out_shape or (in_shapes[0] if in_shapes else None)
        if not shape:
            return 0
        n = prod(shape)
        width = prod(in_shapes[1]) if len(in_shapes) > 1 and in_shapes[1] else shape[-1]
        rows = n // max(width, 1)
        affine = 2 * n if len(in_shapes) > 1 and in_shapes[1] else 0
        return 4 * n + 2 * rows + 2 * n + affine  # var_mean, +eps and rsqrt per row, centre, scale, γ, β
    if op == "gelu":
        return (_GELU_TANH if kwargs.get("approximate") == "tanh" else _PER_ELEMENT["gelu"]) * out_numel
    if op in _PER_INPUT:
        return _PER_INPUT[op] * first
    if op in _PER_ELEMENT:
        return _PER_ELEMENT[op] * out_numel
    return None


def _products(op: str, in_shapes: list[list[int] | None], out_shape: list[int] | None,
              out_numel: int) -> int | None:
    """Matrix products and attention by torch.utils.flop_counter's own formulas (2 per multiply-add), plus
    what the counter leaves out: the bias add of linear/addmm/baddbmm; scale, mask and softmax in SDPA."""
    # imported here: torch costs seconds at start-up and the ONNX path and `info` need no torch
    from torch.utils import flop_counter as fc

    if op == "linear" and len(in_shapes) >= 2 and in_shapes[1]:
        n, k = in_shapes[1]  # weight is [out, in]
        bias = out_numel if len(in_shapes) > 2 and in_shapes[2] else 0
        return int(fc.mm_flop([out_numel // max(n, 1), k], [k, n])) + bias
    if op == "addmm" and len(in_shapes) >= 3 and in_shapes[1] and in_shapes[2]:
        return int(fc.addmm_flop(in_shapes[0], in_shapes[1], in_shapes[2])) + out_numel
    if op == "baddbmm" and len(in_shapes) >= 3 and in_shapes[1] and in_shapes[2]:
        return int(fc.baddbmm_flop(in_shapes[0], in_shapes[1], in_shapes[2])) + out_numel
    if op == "mm" and len(in_shapes) >= 2 and in_shapes[0] and in_shapes[1]:
        return int(fc.mm_flop(in_shapes[0], in_shapes[1]))
    if op == "bmm" and len(in_shapes) >= 2 and in_shapes[0] and in_shapes[1]:
        return int(fc.bmm_flop(in_shapes[0], in_shapes[1]))
    if op == "matmul" and len(in_shapes) >= 2 and in_shapes[0]:
        k = in_shapes[0][-1]  # matmul broadcasts: out rows × cols, each a k-long dot product
        return int(fc.mm_flop([out_numel // max(out_shape[-1] if out_shape else 1, 1), k],
                              [k, out_shape[-1] if out_shape else 1]))
    if op in ATTENTION_OPS and len(in_shapes) >= 3 and all(in_shapes[:3]):
        q, k, v = in_shapes[:3]
        lead = list(q[:-2])  # grouped-query K/V: each query head reads its KV head, as many products
        core = int(fc.sdpa_flop_count(q, [*lead, *k[-2:]], [*lead, *v[-2:]]))
        scores = prod(q[:-1]) * k[-2]  # batch · heads · L · S
        mask = scores if len(in_shapes) > 3 and in_shapes[3] else 0
        return core + scores + mask + 5 * scores  # + scale, mask, softmax over the scores
    return None
