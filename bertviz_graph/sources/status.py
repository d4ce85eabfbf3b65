"""Real weights or not, for a traced graph: the one rule the CLI, the app and the widget all use."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class WeightsStatus:
    """Where the values shown for a graph's weights come from: the one rule used by CLI, app and widget."""

    trained: bool  # real values (a checkpoint, or the user's in-memory module), not random stand-ins
    text: str  # one plain sentence for a banner or a note
    missing: tuple[str, ...] = ()  # checkpoint files the graph names that are no longer there


def weights_status(graph: Any) -> WeightsStatus:
    """Real weights or not: an in-memory module with values, else checkpoint files that still exist."""
    from pathlib import Path

    module = getattr(graph, "module", None)
    if module is not None:
        tensors = [*module.parameters(), *module.buffers()]
        if not any(t.is_meta for t in tensors):
            return WeightsStatus(True, f"weights of the in-memory {type(module).__name__}")
    files = [Path(p) for p in graph.meta.get("weight_files") or []]
    missing = tuple(str(p) for p in files if not p.is_file())
    if files and not missing:
        return WeightsStatus(True, f"trained weights from {', '.join(p.name for p in files)}")
    if missing:
        return WeightsStatus(False, f"weights unavailable: {missing[0]} is gone (moved or deleted since the graph "
                                    "was saved); showing the structure with RANDOM values", missing)
    if module is not None:
        return WeightsStatus(False, "the module is on the meta device (no values): showing RANDOM initial values")
    return WeightsStatus(False, "weights: random initial values (no checkpoint found), not trained")
