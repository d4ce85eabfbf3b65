"""Pruning what-if: prune a trained model's weights, heads or feed-forward neurons, measure what it costs,
and write the result as a normal model folder.

    import bertviz_graph as bg
    p = bg.prune("all-MiniLM-L6-v2", method="magnitude", amount=0.3)   # or graph.prune(...)
    p.metrics()            # agreement with the unpruned model (+ Lee Spearman with task="lee")
    p.save("minilm-30")    # config.json + model.safetensors + tokenizer: every command accepts it
    bg.prune_sweep("all-MiniLM-L6-v2", ["magnitude"], [0, 0.1, ..., 0.9])   # curve rows, random baseline
"""

from __future__ import annotations

from typing import Any

from bertviz_graph.pruning.methods import BASELINE, METHODS, RECORD_KEY, check_method

__all__ = ["prune", "Pruned", "METHODS", "BASELINE", "RECORD_KEY", "PruneRecord", "check_method",
           "load_trained", "sentence_batches"]
_LAZY = {"prune": "api", "Pruned": "api", "load_trained": "api", "sentence_batches": "api",
         "PruneRecord": "core"}


def __getattr__(name: str) -> Any:  # torch is imported only when pruning is used
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"bertviz_graph.pruning.{_LAZY[name]}"), name)
    raise AttributeError(name)
