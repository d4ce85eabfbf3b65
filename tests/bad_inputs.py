"""Files the README's bad-input table refers to, made in a scratch folder (used by test_bad_input.py)."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import torch

import bertviz_graph as bg


def valid_graph() -> dict:
    """A small real graph file (a traced Linear), as ``bertviz-graph trace -o`` writes it."""
    model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU())
    return bg.trace(model, (torch.zeros(1, 4),), cache=False).to_json_dict()


def _safetensors(path: Path, header: dict, data: bytes) -> None:
    raw = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + data)


def make_bad_inputs(root: Path) -> None:
    root.mkdir(parents=True, exist_ok=True)
    good = valid_graph()
    op = next(i for i, n in enumerate(good["nodes"]) if n["kind"] == "op")
    par = next(i for i, n in enumerate(good["nodes"]) if n["kind"] == "param")

    def variant(name: str, change) -> None:
        data = json.loads(json.dumps(good))
        change(data)
        (root / name).write_text(json.dumps(data))

    (root / "not-json.json").write_text('{"format": "bertviz_graph.OpGraph", "nodes": [')
    (root / "not-a-graph.json").write_text('{"hello": 1}')
    variant("old-version.json", lambda d: d.update(version=99))
    variant("wrong-type.json", lambda d: d.update(nodes="all of them"))
    variant("nan-shape.json", lambda d: d["nodes"][op].update(shape=[1, float("nan")]))
    variant("negative-size.json", lambda d: d["nodes"][par].update(numel=-12))
    variant("absurd-size.json", lambda d: d["nodes"][par].update(shape=[2**40, 2**40], numel=2**80))
    variant("dangling-edge.json", lambda d: d["edges"].append({"source": d["nodes"][op]["id"], "target": "nowhere"}))
    variant("duplicate-id.json", lambda d: d["nodes"].append(dict(d["nodes"][op])))
    variant("path-traversal.json", lambda d: d["nodes"][op].update(module="../../etc/passwd"))
    variant("foreign-weights.json", lambda d: d["meta"].update(weight_files=["/etc/passwd"]))
    (root / "empty-folder").mkdir(exist_ok=True)
    pickled = root / "pickle-model"
    pickled.mkdir(exist_ok=True)
    (pickled / "pytorch_model.bin").write_bytes(b"\x80\x04not really")
    cfg = {"model_type": "bert", "vocab_size": 100, "hidden_size": 32, "num_hidden_layers": 1,
           "num_attention_heads": 2, "intermediate_size": 64, "max_position_embeddings": 32}
    for name, change in (("huge-vocab", {"vocab_size": 10**12}), ("trillion-params",
                         {"hidden_size": 1_000_000, "intermediate_size": 4_000_000, "num_hidden_layers": 100}),
                         ("negative-layers", {"num_hidden_layers": -3}), ("lying-offsets", {}),
                         ("truncated-weights", {}), ("bad-config-json", {})):
        folder = root / name
        folder.mkdir(exist_ok=True)
        (folder / "config.json").write_text(json.dumps({**cfg, **change}))
    (root / "bad-config-json" / "config.json").write_text("{model_type: bert")
    # two tensors claiming the same bytes
    _safetensors(root / "lying-offsets" / "model.safetensors",
                 {"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                  "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}, bytes(12))
    _safetensors(root / "truncated-weights" / "model.safetensors",
                 {"a": {"dtype": "F32", "shape": [1000], "data_offsets": [0, 4000]}}, bytes(100))
