"""What every fixture shares: one small BERT's sizes, its weights' random law, and the sentence it runs.

The same structure in each framework (post-LayerNorm BERT, exact GELU, a tanh pooler on [CLS]) so that the
imported graphs can be compared: same ×N, same parameter count, same FLOPs up to each exporter's
decompositions."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parents[2] / "tests" / "data" / "onnx"
SPEC = dict(vocab=512, hidden=32, heads=4, ffn=64, layers=2, max_positions=32, segments=2)
# "[CLS] the cat sat on the mat . [SEP]" in the committed vocab.txt (made by make_vocab.py)
IDS = [2, 10, 11, 12, 13, 10, 14, 9, 3]
TYPES = [0] * len(IDS)


def random_like(shape: tuple[int, ...], name: str, rng: np.random.Generator) -> np.ndarray:
    """Distinct values for every tensor (exporters merge identical initializers and drop zero biases);
    LayerNorm scales near 1 so the activations stay in a sane range."""
    if any(k in name.lower() for k in ("gamma", "layer_norm", "layernorm", "norm")) and len(shape) == 1 \
            and ("gamma" in name or "weight" in name or "scale" in name):
        return (1.0 + rng.normal(0, 0.1, shape)).astype(np.float32)
    return rng.normal(0, 0.05, shape).astype(np.float32)


def write_json(name: str, data: dict) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / name).write_text(json.dumps(data, indent=1) + "\n")


def versions(*packages: str) -> dict[str, str]:
    import importlib.metadata as md

    out = {}
    for p in packages:
        try:
            out[p] = md.version(p)
        except md.PackageNotFoundError:
            out[p] = "not installed"
    return out
