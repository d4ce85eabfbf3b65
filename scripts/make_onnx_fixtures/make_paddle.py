"""The same small BERT written in ``paddle.nn`` -> ONNX by ``paddle.onnx.export`` (paddle2onnx, Paddle 3's PIR).
Records Paddle's own parameter count (``named_parameters``) and the outputs on common.IDS.

Run with a venv that has paddlepaddle and paddle2onnx (never the project's venv):
    /work/venvs/i23/bin/python scripts/make_onnx_fixtures/make_paddle.py
"""

from __future__ import annotations

import math
import tempfile
from pathlib import Path

import numpy as np
import paddle
from common import IDS, OUT, SPEC, TYPES, random_like, versions, write_json
from paddle import nn

OPSET = 17


class SelfAttention(nn.Layer):
    def __init__(self, h: int, heads: int):
        super().__init__()
        self.heads, self.d = heads, h // heads
        self.query, self.key, self.value = nn.Linear(h, h), nn.Linear(h, h), nn.Linear(h, h)
        self.output = nn.Linear(h, h)

    def forward(self, x, mask):
        b, t = x.shape[0], x.shape[1]

        def split(y):
            return y.reshape([b, t, self.heads, self.d]).transpose([0, 2, 1, 3])

        q, k, v = split(self.query(x)), split(self.key(x)), split(self.value(x))
        scores = paddle.matmul(q, k, transpose_y=True) / math.sqrt(self.d) + mask
        probs = nn.functional.softmax(scores, axis=-1)
        ctx = paddle.matmul(probs, v).transpose([0, 2, 1, 3]).reshape([b, t, self.heads * self.d])
        return self.output(ctx)


class Layer(nn.Layer):
    def __init__(self, h: int, heads: int, ffn: int):
        super().__init__()
        self.attention = SelfAttention(h, heads)
        self.attention_norm = nn.LayerNorm(h, epsilon=1e-12)
        self.intermediate = nn.Linear(h, ffn)
        self.output = nn.Linear(ffn, h)
        self.output_norm = nn.LayerNorm(h, epsilon=1e-12)

    def forward(self, x, mask):
        x = self.attention_norm(x + self.attention(x, mask))
        return self.output_norm(x + self.output(nn.functional.gelu(self.intermediate(x), approximate=False)))


class Bert(nn.Layer):
    def __init__(self):
        super().__init__()
        h = SPEC["hidden"]
        self.word_embeddings = nn.Embedding(SPEC["vocab"], h)
        self.position_embeddings = nn.Embedding(SPEC["max_positions"], h)
        self.token_type_embeddings = nn.Embedding(SPEC["segments"], h)
        self.embeddings_norm = nn.LayerNorm(h, epsilon=1e-12)
        self.layers = nn.LayerList([Layer(h, SPEC["heads"], SPEC["ffn"]) for _ in range(SPEC["layers"])])
        self.pooler = nn.Linear(h, h)

    def forward(self, input_ids, token_type_ids, attention_mask):
        t = paddle.shape(input_ids)[1]
        pos = paddle.arange(t, dtype="int64").unsqueeze(0)
        x = self.word_embeddings(input_ids) + self.position_embeddings(pos) + \
            self.token_type_embeddings(token_type_ids)
        x = self.embeddings_norm(x)
        mask = (1.0 - attention_mask.unsqueeze([1, 2]).astype("float32")) * -10000.0
        for layer in self.layers:
            x = layer(x, mask)
        return x, paddle.tanh(self.pooler(x[:, 0]))


def main() -> None:
    paddle.seed(0)
    model = Bert()
    rng = np.random.default_rng(0)
    for name, p in model.named_parameters():
        p.set_value(random_like(tuple(p.shape), name.replace("norm.weight", "norm.gamma"), rng))
    model.eval()
    ids = np.asarray([IDS], dtype=np.int64)
    feed = {"input_ids": ids, "token_type_ids": np.asarray([TYPES], dtype=np.int64),
            "attention_mask": np.ones_like(ids)}
    seq, pooled = model(*(paddle.to_tensor(v) for v in feed.values()))
    spec = [paddle.static.InputSpec([None, None], "int64", name=k) for k in feed]
    with tempfile.TemporaryDirectory() as d:
        prefix = str(Path(d) / "bert")
        paddle.onnx.export(model, prefix, input_spec=spec, opset_version=OPSET)
        (OUT / "paddle.onnx").write_bytes(Path(prefix + ".onnx").read_bytes())
    write_json("paddle.json", {
        "framework": "paddle", "model": "a BERT in paddle.nn (make_paddle.py)", "spec": SPEC,
        "params": int(sum(int(np.prod(p.shape)) for _, p in model.named_parameters())),
        "params_how": "sum of numel over paddle Layer.named_parameters()",
        "inputs": {k: v.tolist() for k, v in feed.items()},
        "outputs": {"sequence_output": seq.numpy()[0].tolist(), "pooled_output": pooled.numpy()[0].tolist()},
        "exporter": "paddle.onnx.export (paddle2onnx)",
        "versions": versions("paddlepaddle", "paddle2onnx", "onnx"), "opset": OPSET,
    })


if __name__ == "__main__":
    main()
