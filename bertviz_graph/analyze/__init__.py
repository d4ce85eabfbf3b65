"""Is all of BERT needed? Measurements beside the graph: how alike the heads' attention is, what removing a
layer's feed-forward (or attention) block changes, and how much of each weight matrix's rank is used.

    import bertviz_graph as bg
    from bertviz_graph import analyze
    d = analyze.head_distances("all-MiniLM-L6-v2", sentences)   # (heads × heads), layer-major, JS in nats
    analyze.cka(X, Y)                                            # linear CKA of two [samples × features]
    a = analyze.ablate("all-MiniLM-L6-v2", "ffn", layer=3, text="The cat sat.")
    a.last_hidden_state                                          # [tokens × hidden] of the ablated model
    analyze.spectra("all-MiniLM-L6-v2")                          # singular values and ranks per matrix
"""

from __future__ import annotations

from typing import Any

__all__ = ["head_distances", "head_report", "cka", "ablate", "ablation_study", "spectra", "HeadReport",
           "Ablated", "Spectrum"]
# module names differ from the functions they hold, so importing a module never shadows its function
_LAZY = {"head_distances": "heads", "head_report": "heads", "HeadReport": "heads", "cka": "linear_cka",
         "ablate": "ablation", "ablation_study": "ablation", "Ablated": "ablation", "spectra": "ranks",
         "Spectrum": "ranks"}


def __getattr__(name: str) -> Any:  # torch is imported only when an analysis runs
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"bertviz_graph.analyze.{_LAZY[name]}"), name)
    raise AttributeError(name)
