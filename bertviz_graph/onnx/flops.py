"""FLOPs of common ONNX ops, through the same counting rules as the ATen ops (``tracer.flops``).

Symbolic dimensions (batch, sequence) have no value in the file; FLOPs are counted with them set to the
sizes ``concrete`` is given (batch 1 and the trace sequence length by default), and the graph says so.
"""

from __future__ import annotations

from typing import Any

from bertviz_graph.tracer.flops import op_flops

# ONNX op type -> the ATen short name with the same FLOPs rule
_AS_ATEN = {
    "MatMul": "matmul", "MatMulInteger": "matmul", "QLinearMatMul": "matmul", "Gemm": "addmm",
    "Add": "add", "Sub": "sub", "Mul": "mul", "Div": "div", "Neg": "neg", "Pow": "pow", "Sqrt": "sqrt",
    "Reciprocal": "reciprocal", "Exp": "exp", "Log": "log", "Tanh": "tanh", "Erf": "erf", "Relu": "relu",
    "Sigmoid": "sigmoid", "Abs": "abs", "Where": "where", "Max": "maximum", "Min": "minimum",
    "Gelu": "gelu", "FastGelu": "gelu", "BiasGelu": "gelu", "Softmax": "softmax", "LogSoftmax": "log_softmax",
    "LayerNormalization": "layer_norm", "SkipLayerNormalization": "layer_norm",
    "ReduceMean": "mean", "ReduceSum": "sum", "GlobalAveragePool": "mean",
}
_FREE = {
    "Reshape", "Transpose", "Squeeze", "Unsqueeze", "Flatten", "Expand", "Slice", "Gather", "GatherND",
    "GatherElements", "Concat", "Split", "Shape", "Size", "Identity", "Dropout", "Cast", "CastLike",
    "Constant", "ConstantOfShape", "Range", "Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual",
    "Not", "And", "Or", "IsNaN", "QuantizeLinear", "DequantizeLinear", "DynamicQuantizeLinear", "Tile", "Pad",
}


def concrete(shape: list[Any] | None, sizes: dict[str, int], default: int) -> list[int] | None:
    if shape is None:
        return None
    return [d if isinstance(d, int) else sizes.get(str(d), default) for d in shape]


def onnx_flops(op_type: str, attrs: dict[str, Any], in_shapes: list[list[int] | None],
               out_shape: list[int] | None) -> int:
    """FLOPs of one ONNX node with concrete input and output shapes."""
    if op_type in _FREE or out_shape is None:
        return 0
    if op_type == "Gemm" and len(in_shapes) >= 2 and in_shapes[0]:
        k = in_shapes[0][0] if attrs.get("transA") else in_shapes[0][-1]
        out = 1
        for d in out_shape:
            out *= d
        return 2 * out * k + (out if len(in_shapes) > 2 and in_shapes[2] else 0)
    return op_flops(_AS_ATEN.get(op_type, op_type.lower()), in_shapes, out_shape)
