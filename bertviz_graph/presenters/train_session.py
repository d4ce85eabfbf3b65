"""One model's training steps, shared by the app's Training tab, its colour-by and its tooltips: a small LRU of
immutable results keyed by the step's inputs (the tab keeps only those inputs, in its ``bv-train`` store), so a
tab's step is found again by every callback and two tabs with the same inputs share one result, never a
mutable object. A trained copy's temporary folder is removed when its step leaves the cache."""

from __future__ import annotations

import shutil
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bertviz_graph.train.update import save_trained, train_steps

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
        self._progress: dict[tuple, tuple[int, int, float]] = {}  # steps on a copy under way: (k, n, loss)
        self.size = size

    def progress(self, spec: dict | None) -> tuple[int, int, float] | None:
        """(steps done, steps asked, last loss) of N steps on a copy under way in this process, else None."""
        with self._lock:
            return self._progress.get(spec_key(spec)) if spec_key(spec) is not None else None

    def cached(self, spec: dict | None) -> tuple[Any, list[float] | None, str | None] | None:
        """(step, losses, trained copy's folder) of a step already taken, else None (never computes)."""
        key = spec_key(spec)
        with self._lock:
            return self._steps.get(key) if key is not None else None

    def step(self, spec: dict, progress: Callable[[int, int, float], None] | None = None
             ) -> tuple[Any, list[float] | None, str | None]:
        """The step of ``spec`` (and its N steps on a copy when ``spec["steps"]`` > 1), computed once."""
        from bertviz_graph.train.step import train_step  # lazy: start-up (numpy)

        hit = self.cached(spec)
        if hit is not None:
            return hit
        run = self._runnable()
        obj = None if spec.get("objective") in (None, "auto") else spec["objective"]
        lr = float(spec.get("lr") or 0)
        pair = spec.get("pair") or None
        step = train_step(self.graph, run, spec["text"], pair, objective=obj, target=spec.get("target"), lr=lr,
                          trainable=spec.get("set") or "all", mask=spec.get("mask") or None)
        losses, folder = None, None
        key = spec_key(spec)

        def report(k: int, n: int, loss: float) -> None:
            with self._lock:
                self._progress[key] = (k, n, loss)
            if progress is not None:
                progress(k, n, loss)

        if spec.get("steps"):
            with self._lock:
                self._progress[key] = (0, int(spec["steps"]), float("nan"))
            try:
                model, losses = train_steps(run, [{"text": spec["text"], "pair": pair, "target": spec.get("target")}],
                                            int(spec["steps"]), lr, spec.get("set") or "all",
                                            spec.get("opt") or "sgd", obj, report)
                # the trained copy as a folder the Compare tab reads (a temporary one, removed when evicted)
                name = f"{run.name}-after-{len(losses)}-steps".replace("/", "_")
                folder = str(save_trained(model, Path(tempfile.mkdtemp(prefix="bvg-trained-")) / name, run))
            except BaseException:
                with self._lock:
                    self._progress.pop(key, None)
                raise
        with self._lock:
            self._steps[key] = (step, losses, folder)
            self._progress.pop(key, None)  # done: the cache has it now
            while len(self._steps) > self.size:
                old = self._steps.popitem(last=False)[1][2]
                if old:
                    shutil.rmtree(Path(old).parent, ignore_errors=True)
        return step, losses, folder
