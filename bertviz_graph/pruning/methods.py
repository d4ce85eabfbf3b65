"""The pruning methods by name (no torch import: the CLI lists them cheaply)."""

from __future__ import annotations

from bertviz_graph.errors import UserError
from bertviz_graph.hierarchy.pruned import RECORD_KEY as _RECORD_KEY

METHODS = ("magnitude", "magnitude-layer", "magnitude-matrix", "random",
           "heads-importance", "heads-entropy", "heads-random",
           "neurons-activation", "neurons-weight", "neurons-random", "heads-redundant", "low-rank")
BASELINE = {"magnitude": "random", "magnitude-layer": "random", "magnitude-matrix": "random", "random": "random",
            "heads-importance": "heads-random", "heads-entropy": "heads-random", "heads-random": "heads-random",
            "neurons-activation": "neurons-random", "neurons-weight": "neurons-random",
            "neurons-random": "neurons-random", "heads-redundant": "heads-random", "low-rank": "random"}
NEEDS_DATA = ("heads-importance", "heads-entropy", "neurons-activation", "heads-redundant")
# written into config.json: what was pruned, read back by the views (hierarchy.pruned marks the groups)
RECORD_KEY = _RECORD_KEY


def check_method(method: str, amount: float) -> None:
    if method not in METHODS:
        raise UserError(f"unknown pruning method '{method}'", f"use one of: {', '.join(METHODS)}")
    if not isinstance(amount, (int, float)) or not 0.0 <= float(amount) < 1.0:
        raise UserError(f"amount {amount} is outside [0, 1)",
                        "give the fraction to prune, e.g. --amount 0.3 (1.0 would remove everything)")


def family(method: str) -> str:
    return method.split("-")[0] if method.startswith(("heads", "neurons")) else "weights"
