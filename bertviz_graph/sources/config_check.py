"""Refuse a config.json whose sizes no real model has, before any model (even on the meta device) is built.

A hostile or mistyped config (hidden_size 1e9, vocab 1e12) would otherwise make tracing or the random
weights shown for structure-only models try to allocate far more than any machine has.
"""

from __future__ import annotations

from typing import Any

from bertviz_graph import format as fmt
from bertviz_graph.errors import UserError

MAX_PARAMS = 10**12  # above the largest dense models; the estimate below ignores experts
MAX_DIM = 2**31
_SIZE_KEYS = (
    "vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads", "num_key_value_heads",
    "intermediate_size", "max_position_embeddings", "type_vocab_size", "embedding_size", "head_dim",
    "n_embd", "n_layer", "n_head", "n_positions", "n_inner", "dim", "n_layers", "n_heads", "hidden_dim",
    "num_hidden_groups", "inner_group_num", "num_labels",
)


def estimate_params(cfg: dict[str, Any]) -> int:
    """A rough dense-transformer parameter count: embeddings + per layer (attention + MLP)."""
    def get(*keys: str, default: int = 0) -> int:
        for k in keys:
            v = cfg.get(k)
            if isinstance(v, int) and not isinstance(v, bool):
                return v
        return default

    hidden = get("hidden_size", "n_embd", "dim")
    layers = get("num_hidden_layers", "n_layer", "n_layers", default=1)
    inter = get("intermediate_size", "n_inner", "hidden_dim", default=4 * hidden)
    vocab = get("vocab_size")
    positions = get("max_position_embeddings", "n_positions")
    return (vocab + positions) * hidden + layers * (4 * hidden * hidden + 3 * hidden * inter)


def check_config_sizes(cfg: dict[str, Any], source: str = "config.json") -> None:
    """UserError naming the field when a size is not a positive integer of sane magnitude."""
    fix = "check config.json (sizes must be positive integers a real model could have)"
    for key in _SIZE_KEYS:
        if key not in cfg or cfg[key] is None:
            continue
        v = cfg[key]
        if isinstance(v, bool) or not isinstance(v, int):
            raise UserError(f"{source}: {key} is {v!r}, not an integer", fix)
        if v < 0 or (v == 0 and key not in ("type_vocab_size", "num_labels")):
            raise UserError(f"{source}: {key} is {v}; it must be positive", fix)
        if v > MAX_DIM:
            raise UserError(f"{source}: {key} is {fmt.count(v)}, larger than any model has (limit {fmt.count(MAX_DIM)})", fix)
    n = estimate_params(cfg)
    if n >= MAX_PARAMS:
        raise UserError(f"{source}: these sizes make about {n:.1e} parameters (limit {MAX_PARAMS:.0e})", fix)
