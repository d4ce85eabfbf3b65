"""One model's runs, shared by every callback of the app and by the widget: the model is loaded once
(lazily, in the background if asked), the last few runs are kept in a small LRU keyed by the input, so the
browser only holds the text it ran and the server keeps no per-session state."""

from __future__ import annotations

import logging
import threading
from typing import Any

from cachetools import LRUCache

from bertviz_graph.errors import UserError
from bertviz_graph.graph import OpGraph
from bertviz_graph.memsize import approx_bytes
from bertviz_graph.threads import start_background

log = logging.getLogger(__name__)

EXAMPLE = "The cat sat on the mat because it was tired."
EXAMPLE_PAIR = "The dog slept."


def can_run(graph: OpGraph) -> str | None:
    """None when the graph's model can run, else the reason (shown instead of the Run button)."""
    meta = graph.meta
    if graph.module is not None:
        return None
    if meta.get("origin") == "onnx":  # run by onnxruntime (run/onnx_run.py); text needs a tokenizer
        from bertviz_graph.run.onnx_run import tokenizer_beside  # lazy: start-up (numpy)

        if not tokenizer_beside(graph):
            return ("an ONNX file holds no vocabulary and no tokenizer is beside it: put the model's tokenizer.json "
                    "or vocab.txt next to the .onnx file to run sentences here (the CLI also takes --tokenizer DIR "
                    "or --ids)")
        return None
    if not meta.get("config"):
        return "this graph has no model config (a traced nn.Module saved to JSON): nothing to run"
    if meta.get("origin") != "preset" and not meta.get("weight_files"):
        return ("structure only: the model folder has config.json but no *.safetensors weights, so there is "
                "nothing to run. Add model.safetensors (model.save_pretrained(dir)).")
    return None


class RunSession:
    def __init__(self, graph: OpGraph, size: int = 4):
        self.graph = graph
        self._lock = threading.Lock()
        self._computing = threading.Lock()
        self._loading = threading.Lock()
        self._runs: LRUCache = LRUCache(maxsize=size)
        self._runnable = None
        self.last_key: tuple | None = None  # the most recent run (the widget's colour-by follows it)
        self._sizes: LRUCache = LRUCache(maxsize=size)  # run key -> {op id: RMS of its output}
        self._run_bytes: dict[tuple, int] = {}  # run key -> bytes it holds (measured once, when kept)
        self._model_bytes = 0  # the loaded model's parameters and buffers

    @property
    def runnable(self):
        from bertviz_graph.run.route import load_runnable  # lazy: start-up (numpy)  # PyTorch or onnxruntime

        reason = can_run(self.graph)
        if reason:
            raise UserError(reason, "open a model folder with weights, or a preset (random weights)")
        with self._loading:  # not the cache lock: a cached-run lookup must not wait for a model load
            if self._runnable is None:
                self._runnable = load_runnable(self.graph)
                self._model_bytes = _model_bytes(self._runnable)
            return self._runnable

    @property
    def nbytes(self) -> int:
        """What this model's runs hold now: the kept runs and the loaded model (the app's model registry
        adds it to the model's size, so its byte budget follows the runs: app/registry.py)."""
        with self._lock:
            kept = set(self._runs.keys())
            for k in [k for k in self._run_bytes if k not in kept]:
                del self._run_bytes[k]
            return self._model_bytes + sum(self._run_bytes.values())

    def preload(self, text: str = EXAMPLE) -> threading.Thread | None:
        """Run ``text`` in a background thread (the model's load and export are the slow part of a first
        run), so the page that shows it finds it done. Safe beside a trace: both take the torch lock."""
        if can_run(self.graph):
            return None

        def go() -> None:
            try:
                self.run(text)
                # a trace cached by `info`/`export` (or served before) may have no replay program yet: record it
                # now, after the example, so the next sentences of other lengths replay (run/stored.py)
                from bertviz_graph.run.stored import write_for  # lazy: torch (imported by the run above)

                write_for(self.graph)
            except Exception:  # noqa: BLE001 - the Run tab says what is wrong when it asks again
                log.debug("preloading the example run failed", exc_info=True)

        return start_background(go, name="bv-run-preload")

    def run(self, text: str | None = None, pair: str | None = None, ids: list[int] | None = None) -> Any:
        from bertviz_graph.run.route import capture  # lazy: start-up (numpy)

        key = self.key_of(text, pair, ids)
        with self._lock:
            hit = self._runs.get(key)
        if hit is None:
            with self._computing:  # one capture at a time: a page asking for the preloaded run waits for it
                with self._lock:
                    hit = self._runs.get(key)
                if hit is None:
                    run = self.runnable
                    hit = capture(self.graph, run, run.tokenize(text, pair, ids))
                    with self._lock:
                        self._runs[key] = hit
                        self._run_bytes[key] = _run_bytes(hit)
        self.last_key = key
        return hit

    def cached(self, text: str | None = None, pair: str | None = None, ids: list[int] | None = None) -> Any:
        """The run of this input if it is in the cache, else None (never runs the model)."""
        with self._lock:
            return self._runs.get(self.key_of(text, pair, ids))

    @staticmethod
    def key_of(text: str | None = None, pair: str | None = None, ids: list[int] | None = None) -> tuple:
        return (text or "", pair or "", tuple(ids or ()))

    def sizes(self, key: tuple) -> dict[str, float]:
        """{op id: RMS of its output} for the run with input ``key`` (run again if it left the cache)."""
        from bertviz_graph.presenters.activations import node_sizes  # lazy: start-up (numpy, plotly)

        with self._lock:
            hit = self._sizes.get(key)
        if hit is None:
            hit = node_sizes(self.graph, self.run(*key[:2], list(key[2]) or None))
            with self._lock:
                self._sizes[key] = hit
        return hit

    def activation_value(self, h, node_id: str, key: tuple | None = None) -> float | None:
        """RMS of the output of a node (an op, or a group's last op) in the run ``key`` (default: the last
        one); None if not kept."""
        from bertviz_graph.presenters.activations import op_for  # lazy: start-up (numpy, plotly)

        key = key if key is not None else self.last_key
        if key is None:
            return None
        op = op_for(self.graph, h, node_id)
        return self.sizes(key).get(op) if op is not None else None


def _run_bytes(acts: Any) -> int:
    """Bytes one run keeps: its stored op outputs plus the model's own outputs (logits)."""
    return int(getattr(acts, "stored_bytes", 0) or 0) + approx_bytes(getattr(acts, "outputs", None))


def _model_bytes(runnable: Any) -> int:
    """Bytes of a loaded torch model's parameters and buffers (0 for an onnxruntime session)."""
    model = getattr(runnable, "model", None)
    tensors = [*getattr(model, "parameters", list)(), *getattr(model, "buffers", list)()] if model is not None else []
    return sum(t.numel() * t.element_size() for t in tensors)
