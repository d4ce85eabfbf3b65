"""The same small BERT as transformers' BertModel -> ONNX by torch.onnx.export(dynamo=True), for the
cross-exporter comparisons (parameter count, FLOPs). Runs in the project's venv (torch is a dependency):
    /work/venv/bin/python scripts/make_onnx_fixtures/make_torch.py
"""

from __future__ import annotations

import numpy as np
import torch
import transformers
from common import IDS, OUT, SPEC, TYPES, random_like, versions, write_json

OPSET = 18


def main() -> None:
    cfg = transformers.BertConfig(vocab_size=SPEC["vocab"], hidden_size=SPEC["hidden"],
                                  num_hidden_layers=SPEC["layers"], num_attention_heads=SPEC["heads"],
                                  intermediate_size=SPEC["ffn"], max_position_embeddings=SPEC["max_positions"],
                                  type_vocab_size=SPEC["segments"], hidden_act="gelu", attn_implementation="eager")
    model = transformers.BertModel(cfg).eval()
    rng = np.random.default_rng(0)
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.copy_(torch.from_numpy(random_like(tuple(p.shape), name.replace("LayerNorm.weight", "gamma"), rng)))
    feed = {"input_ids": torch.tensor([IDS]), "attention_mask": torch.ones(1, len(IDS), dtype=torch.long),
            "token_type_ids": torch.tensor([TYPES])}
    with torch.no_grad():
        out = model(**feed)
    batch, seq = torch.export.Dim("batch"), torch.export.Dim("seq", max=SPEC["max_positions"])
    prog = torch.onnx.export(model, (), kwargs=feed, dynamo=True, opset_version=OPSET,
                             dynamic_shapes={k: {0: batch, 1: seq} for k in feed}, external_data=False)
    prog.save(str(OUT / "torch_dynamo.onnx"))
    write_json("torch_dynamo.json", {
        "framework": "torch", "model": "transformers.BertModel", "spec": SPEC,
        "params": int(sum(p.numel() for p in model.parameters())),
        "params_how": "sum of numel over torch Module.parameters()",
        "inputs": {k: v.tolist() for k, v in feed.items()},
        "outputs": {"sequence_output": out.last_hidden_state[0].tolist(),
                    "pooled_output": out.pooler_output[0].tolist()},
        "exporter": "torch.onnx.export(dynamo=True)",
        "versions": versions("torch", "transformers", "onnxscript", "onnx"), "opset": OPSET,
    })


if __name__ == "__main__":
    main()
