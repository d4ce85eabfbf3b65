"""Small BERT-like ONNX graphs built with onnx.helper, named the way tf2onnx and paddle2onnx name nodes.

The weights are numpy arrays kept in ``weights`` (stored [in, out] as exporters do), so tests can compare
what the importer shows against them. LayerNorm is in its primitive form (ReduceMean, Sub, Pow, ...) and
GELU in its Erf form, as TensorFlow graphs have them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


@dataclass
class Built:
    model: onnx.ModelProto
    weights: dict[str, np.ndarray] = field(default_factory=dict)  # initializer name -> array
    layers: int = 0
    hidden: int = 0
    ffn: int = 0
    vocab: int = 0

    def expected_params(self) -> int:
        h, f = self.hidden, self.ffn
        per_layer = 4 * (h * h + h) + (h * f + f) + (f * h + h) + 2 * 2 * h
        return self.vocab * h + 2 * h + self.layers * per_layer


class _Namer:
    def __init__(self, style: str):
        self.style, self.n, self.k = style, 0, {}

    def node(self, scope: str, op: str) -> str:
        self.n += 1
        if self.style == "paddle":
            return f"p2o.{op}.{self.n}"
        prefix = "StatefulPartitionedCall/" if self.style == "tf2" else ""
        return f"{prefix}{scope}/{op}__{self.n}" if self.n % 3 == 0 else f"{prefix}{scope}/{op}"

    def weight(self, scope: str, kind: str) -> str:
        if self.style == "paddle":
            base = {"kernel": "w_0", "bias": "b_0", "gamma": "w_0", "beta": "b_0", "table": "w_0"}[kind]
            family = {"kernel": "linear", "bias": "linear", "gamma": "layer_norm", "beta": "layer_norm",
                      "table": "embedding"}[kind]
            idx = self.k.setdefault((family, scope), len([1 for f, _ in self.k if f == family]))
            return f"{family}_{idx}.{base}"
        return f"{scope}/{kind}:0"


def bert_like(style: str = "tf", layers: int = 3, hidden: int = 16, heads: int = 2, ffn: int = 32,
              vocab: int = 50, seed: int = 0) -> Built:
    rng = np.random.default_rng(seed)
    nm = _Namer(style)
    nodes: list[onnx.NodeProto] = []
    inits: list[onnx.TensorProto] = []
    out = Built(model=None, layers=layers, hidden=hidden, ffn=ffn, vocab=vocab)  # type: ignore[arg-type]
    counter = [0]

    def val(scope: str) -> str:
        counter[0] += 1
        return f"{scope.replace('/', '_')}_t{counter[0]}"

    def const(name: str, arr: np.ndarray) -> str:
        inits.append(numpy_helper.from_array(arr, name))
        return name

    def weight(scope: str, kind: str, arr: np.ndarray) -> str:
        name = nm.weight(scope, kind)
        out.weights[name] = arr
        return const(name, arr)

    def op(scope: str, op_type: str, inputs: list[str], **attrs) -> str:
        y = val(scope)
        nodes.append(helper.make_node(op_type, inputs, [y], name=nm.node(scope, op_type), **attrs))
        return y

    def linear(scope: str, x: str, n_in: int, n_out: int) -> str:
        w = weight(scope, "kernel", rng.normal(0, 0.02, (n_in, n_out)).astype(np.float32))
        b = weight(scope, "bias", rng.normal(0, 0.02, (n_out,)).astype(np.float32))
        return op(scope, "Add", [op(scope, "MatMul", [x, w]), b])

    def layernorm(scope: str, x: str) -> str:
        mean = op(scope + "/moments", "ReduceMean", [x], axes=[-1], keepdims=1)
        centred = op(scope, "Sub", [x, mean])
        sq = op(scope, "Pow", [centred, const(val("two"), np.array(2.0, np.float32))])
        var = op(scope + "/moments", "ReduceMean", [sq], axes=[-1], keepdims=1)
        std = op(scope, "Sqrt", [op(scope, "Add", [var, const(val("eps"), np.array(1e-12, np.float32))])])
        normed = op(scope, "Div", [centred, std])
        g = weight(scope, "gamma", (1 + rng.normal(0, 0.1, (hidden,))).astype(np.float32))
        b = weight(scope, "beta", rng.normal(0, 0.1, (hidden,)).astype(np.float32))
        return op(scope, "Add", [op(scope, "Mul", [normed, g]), b])

    def gelu(scope: str, x: str) -> str:
        e = op(scope, "Erf", [op(scope, "Div", [x, const(val("sqrt2"), np.array(1.4142135, np.float32))])])
        one = op(scope, "Add", [e, const(val("one"), np.array(1.0, np.float32))])
        return op(scope, "Mul", [op(scope, "Mul", [x, one]), const(val("half"), np.array(0.5, np.float32))])

    d = hidden // heads
    table = weight("bert/embeddings/word_embeddings", "table",
                   rng.normal(0, 0.02, (vocab, hidden)).astype(np.float32))
    x = op("bert/embeddings", "Gather", [table, "input_ids"], axis=0)
    x = layernorm("bert/embeddings/LayerNorm", x)
    split = const("shape_heads", np.array([0, 0, heads, d], np.int64))
    merge = const("shape_merge", np.array([0, 0, hidden], np.int64))
    scale = const("scale", np.array(np.sqrt(d), np.float32))
    for i in range(layers):
        s = f"bert/encoder/layer_{i}"
        q = op(s + "/attention/self", "Transpose",
               [op(s + "/attention/self", "Reshape", [linear(s + "/attention/self/query", x, hidden, hidden), split])],
               perm=[0, 2, 1, 3])
        k = op(s + "/attention/self", "Transpose",
               [op(s + "/attention/self", "Reshape", [linear(s + "/attention/self/key", x, hidden, hidden), split])],
               perm=[0, 2, 3, 1])
        v = op(s + "/attention/self", "Transpose",
               [op(s + "/attention/self", "Reshape", [linear(s + "/attention/self/value", x, hidden, hidden), split])],
               perm=[0, 2, 1, 3])
        scores = op(s + "/attention/self", "Div", [op(s + "/attention/self", "MatMul", [q, k]), scale])
        probs = op(s + "/attention/self", "Softmax", [scores], axis=-1)
        ctx = op(s + "/attention/self", "MatMul", [probs, v])
        ctx = op(s + "/attention/self", "Reshape", [op(s + "/attention/self", "Transpose", [ctx], perm=[0, 2, 1, 3]),
                                                    merge])
        attn = linear(s + "/attention/output/dense", ctx, hidden, hidden)
        x = layernorm(s + "/attention/output/LayerNorm", op(s + "/attention/output", "Add", [attn, x]))
        inter = gelu(s + "/intermediate", linear(s + "/intermediate/dense", x, hidden, ffn))
        o = linear(s + "/output/dense", inter, ffn, hidden)
        x = layernorm(s + "/output/LayerNorm", op(s + "/output", "Add", [o, x]))
    nodes.append(helper.make_node("Identity", [x], ["last_hidden_state"], name=nm.node("bert", "Identity")))
    graph = helper.make_graph(
        nodes, f"bert_{style}",
        [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "sequence"])],
        [helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT, ["batch", "sequence", hidden])],
        initializer=inits)
    out.model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name=style)
    return out
