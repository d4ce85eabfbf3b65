"""One model's training steps, shared by the app's Training tab, its colour-by and its tooltips: a small LRU of
immutable results keyed by the step's inputs (the tab keeps only those inputs, in its ``bv-train`` store), so a
tab's step is found again by every callback and two tabs with the same inputs share one result, never a
mutable object. N steps on a copy are a job in the server's jobs folder (train/job.py), not kept here."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

SIZE = 3  # steps kept per model (a bert-base step holds ~0.5 GB of gradients)


def spec_key(spec: dict | None) -> tuple | None:
    """The cache key of a tab's step inputs (the nonce only says 'again'), None for no step."""
    if not isinstance(spec, dict) or not spec.get("text"):
        return None
    return tuple(sorted((k, str(v)) for k, v in spec.items() if k != "nonce"))


class TrainSession:
    def __init__(self, graph: Any, runnable: Callable[[], Any], size: int = SIZE):
        self.graph = graph
        self._runnable = runnable  # the model to train (loaded on first use, by the run session)
        self._steps: OrderedDict[tuple, tuple[Any, list[float] | None, str | None]] = OrderedDict()
        self._lock = threading.Lock()
        self.size = size

    def cached(self, spec: dict | None) -> tuple[Any, list[float] | None, str | None] | None:
        """(step, losses, trained copy's folder) of a step already taken, else None (never computes)."""
        key = spec_key(spec)
        with self._lock:
            return self._steps.get(key) if key is not None else None

    def step(self, spec: dict) -> tuple[Any, list[float] | None, str | None]:
        """(the step of ``spec``, None, None), computed once (the tuple keeps room for a copy's losses/folder)."""
        from bertviz_graph.train.step import train_step  # lazy: start-up (numpy)

        hit = self.cached(spec)
        if hit is not None:
            return hit
        run = self._runnable()
        obj = None if spec.get("objective") in (None, "auto") else spec["objective"]
        step = train_step(self.graph, run, spec["text"], spec.get("pair") or None, objective=obj,
                          target=spec.get("target"), lr=float(spec.get("lr") or 0),
                          trainable=spec.get("set") or "all", mask=spec.get("mask") or None)
        with self._lock:
            self._steps[spec_key(spec)] = (step, None, None)
            while len(self._steps) > self.size:
                self._steps.popitem(last=False)
        return step, None, None
