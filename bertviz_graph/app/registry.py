"""Which model a browser tab shows: ONE function, ``model_for(app, spec) -> AppContext``.

A tab names its model in its own state: the ``ids.MODEL`` store (a spec string; "" is the model the server
was started with) and the page URL (``?model=spec``, read on load, so a reload or a bookmark reopens it).
A spec is a preset or packaged name, a model folder / graph.json / .onnx path (allowed by the server's
``Policy``), or ``job:<id>`` for a copy pruned in the app (resolved inside the server's jobs folder, never
a path from the browser). The server keeps one ``Registry`` per app: spec -> ``AppContext`` (graph,
hierarchy, weights, caches, runs), built once, never re-initialised, LRU-bounded in entries and in bytes that
follow what each model holds as it grows (``AppContext.nbytes``, re-read at every lookup); any worker process
builds a missing entry from the trace cache on first use.

How a panel gets its model (one line per callback)::

    @app.callback(Output(...), Input(...), State(ids.MODEL, "data"))
    def _cb(x, spec=None):
        C = model_for(app, spec)      # the tab's model, whatever other tabs show

Routes that the browser calls directly (downloads) pass ``?model=spec`` and call ``model_for`` the same way.
"""

from __future__ import annotations

import logging
import os
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bertviz_graph import format as fmt
from bertviz_graph.app.context import AppContext
from bertviz_graph.errors import UserError
from bertviz_graph.jobs import temp_root
from bertviz_graph.pipeline import graph_of
from bertviz_graph.pruning import job as J
from bertviz_graph.sources.packaged import packaged_dir
from bertviz_graph.sources.presets import ALIASES, preset_config

log = logging.getLogger(__name__)
MAX_SPEC = 1024  # characters: a path or name longer than this is refused before anything reads it
JOB_PREFIX = "job:"
ENV_BUDGET = "BERTVIZ_GRAPH_MODELS_MB"
DEFAULT_BUDGET_MB = 1024
MODEL_HEADER = "X-Bertviz-Model"  # on every answer computed on a model: "name params[; name params]"


@dataclass(frozen=True)
class Policy:
    """What a tab may open. Loopback: any path (the local user's own files). Shared host: presets, packaged
    models, folders under ``models_dir`` and the server's own jobs; ``any_path`` opts out
    (app/serve_options.py makes it from ``serve``'s options)."""

    any_path: bool = True
    models_dir: Path | None = None


def _named(text: str) -> bool:
    """A preset or packaged model name (never a path)."""

    return packaged_dir(ALIASES.get(text, text)) is not None or preset_config(text) is not None


def budget_bytes() -> int:
    """Bytes all models of one server process may hold (``BERTVIZ_GRAPH_MODELS_MB``, default 1024)."""
    try:
        return max(64, int(os.environ.get(ENV_BUDGET, str(DEFAULT_BUDGET_MB)))) * 1024**2
    except ValueError:
        return DEFAULT_BUDGET_MB * 1024**2


def _in_jobs_folder(text: str) -> bool:
    try:
        return Path(text).resolve().is_relative_to(temp_root().resolve()) and Path(text).is_absolute()
    except (OSError, ValueError):
        return False


class Registry:
    """spec -> AppContext, LRU-bounded in entries (``size``) and in bytes (``max_bytes``: every model of this
    process, the default included). A model's size is re-read (``AppContext.nbytes``: graph, caches, runs,
    loaded model) at every lookup, so what it gathers after it was added counts; the least recently used
    models are dropped until the total fits. The default and the model being looked up are never dropped;
    if they alone are over, the default's recomputable caches are emptied."""

    def __init__(self, default: AppContext, policy: Policy | None = None, size: int = 6,
                 max_bytes: int | None = None):
        self.default = default
        self.policy = policy or Policy()
        self.size = size
        self.max_bytes = budget_bytes() if max_bytes is None else max_bytes
        self._models: OrderedDict[str, AppContext] = OrderedDict()  # least recently used first
        self._lock = threading.Lock()
        self._making: dict[str, threading.Event] = {}
        self._held: int | None = None  # bytes counted at the last trim (measuring a graph takes ~0.2 s)
        self.evicted = 0
        files = default.graph.meta.get("weight_files") or []
        self._default_folder = Path(files[0]).parent.resolve() if files else None

    def normalise(self, spec: Any) -> str:
        """The canonical spec ("" for the default model); refuses what this server does not allow."""
        if spec is None:
            return ""
        if not isinstance(spec, str):
            raise UserError("the model name is not text", "type a preset name or a model folder")
        text = spec.strip()
        if len(text) > MAX_SPEC:
            raise UserError(f"the model name is {fmt.count(len(text))} characters (at most {MAX_SPEC})",
                            "type a preset name or a shorter path")
        if not text or text == self.default.graph.name:
            return ""
        if text.startswith(JOB_PREFIX) or _named(text):
            return text
        if self._default_folder is not None and Path(text).expanduser().resolve() == self._default_folder:
            return ""  # the server's own model by its folder ("Back" from a copy pruned from it)
        if _in_jobs_folder(text):  # a copy this server made (a trained copy the Compare tab opens)
            return str(Path(text).resolve())
        if self.policy.any_path:  # a path that exists, canonical (one registry entry); else as typed (errors)
            path = Path(text).expanduser()
            return str(path.resolve()) if path.exists() else text
        root = self.policy.models_dir
        if root is not None:
            path = (root / text).resolve() if not Path(text).is_absolute() else Path(text).resolve()
            if path.is_relative_to(root):
                return str(path)
        raise UserError(f"this server opens presets{' and folders under ' + str(root) if root else ''} only",
                        "ask the server's owner to start it with --models DIR" if root is None
                        else f"name a folder under {root}")

    def model_for(self, spec: Any) -> AppContext:
        key = self.normalise(spec)
        C = self._get_or_make(key) if key else self.default
        if C is not self.default or self._models:  # the default alone, in use: nothing to drop or count
            self.trim(keep=C)
        return C

    @property
    def held(self) -> int:
        """Bytes all models held at the last trim (counted now if none was needed yet)."""
        if self._held is None:
            with self._lock:
                self._held = self.default.nbytes + sum(C.nbytes for C in self._models.values())
        return self._held

    def _get_or_make(self, key: str) -> AppContext:
        """The entry for ``key``, built once even when several requests ask at the same time."""
        while True:
            with self._lock:
                C = self._models.get(key)
                if C is not None:
                    self._models.move_to_end(key)
                    return C
                busy = self._making.get(key)
                if busy is None:
                    self._making[key] = threading.Event()
                    break
            busy.wait(60)  # another request is building it: wait, then look again
        try:
            C = AppContext(self._graph(key), direction=self.default.direction)
            C.nbytes  # noqa: B018 - the graph's size is measured once, here, outside the lock
            with self._lock:
                self._models[key] = C
            return C
        finally:
            with self._lock:
                self._making.pop(key).set()

    def trim(self, keep: AppContext | None = None) -> int:
        """Drop least recently used models until all fit ``max_bytes`` and ``size``; returns the bytes held."""
        with self._lock:
            sizes = [(k, C, C.nbytes) for k, C in self._models.items()]
            total = self.default.nbytes + sum(n for _k, _C, n in sizes)
            for k, C, n in sizes:
                if total <= self.max_bytes and len(self._models) <= self.size:
                    break
                if C is keep:
                    continue
                del self._models[k]
                total -= n
                self.evicted += 1
                log.info("model registry: dropped %s (%.0f MB); %.0f MB held of %.0f MB", k, n / 2**20,
                         total / 2**20, self.max_bytes / 2**20)
        if total > self.max_bytes and keep is not self.default:
            total -= self.default.drop_caches()
        self._held = total
        return total

    def __len__(self) -> int:
        return len(self._models)

    def __contains__(self, spec: Any) -> bool:
        with self._lock:
            return self.normalise(spec) in self._models

    def _graph(self, key: str):

        if key.startswith(JOB_PREFIX):

            folder = J.result_folder(key[len(JOB_PREFIX):])
            if folder is None:
                raise UserError("that pruned copy is not on this server (any more)", "prune the model again")
            return graph_of(str(folder), replay_program=False)
        return graph_of(key, replay_program=False)  # the run panel's example records it, after the graph


def _note(C: AppContext) -> None:
    """Remember that this request's answer is computed on ``C`` (the ``X-Bertviz-Model`` header)."""
    from flask import g, has_request_context

    if has_request_context():
        used = g.setdefault("bv_models", [])
        if not any(x is C for x in used):
            used.append(C)


def label(C: AppContext) -> str:
    """The model's name and parameter count as the answer header states them: "name 1234"."""
    from urllib.parse import quote

    params = C.graph.meta.get("params")
    return f"{quote(C.graph.name, safe='')} {params if isinstance(params, int) else C.graph.param_count()}"


def install_model_header(server: Any) -> None:
    """Every answer computed on a model says which (name and parameter count) in ``X-Bertviz-Model``, so a
    client (benchmarks/load_bench.py) can check each answer against its tab's model, whatever its kind."""
    from flask import g

    @server.after_request
    def _model_header(response: Any) -> Any:
        used = g.get("bv_models")
        if used:
            response.headers[MODEL_HEADER] = "; ".join(label(C) for C in used)
        return response


def registry_of(app: Any) -> Registry:
    return app.server.extensions["bertviz_graph.registry"]


def model_for(app: Any, spec: Any) -> AppContext:
    """The model a tab shows, from its ``ids.MODEL`` store value (see the module docstring)."""
    C = registry_of(app).model_for(spec)
    _note(C)
    return C


def spec_of(C: AppContext, registry: Registry, spec: Any) -> str:
    """The spec a page built for ``C`` keeps in its store ("" for the default model)."""
    return "" if C is registry.default else registry.normalise(spec)
