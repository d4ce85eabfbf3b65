"""Which model a browser tab shows: ONE function, ``model_for(app, spec) -> AppContext``.

A tab names its model in its own state: the ``ids.MODEL`` store (a spec string; "" is the model the server
was started with) and the page URL (``?model=spec``, read on load, so a reload or a bookmark reopens it).
A spec is a preset or packaged name, a model folder / graph.json / .onnx path (allowed by the server's
``Policy``), or ``job:<id>`` for a copy pruned in the app (resolved inside the server's jobs folder, never
a path from the browser). The server keeps one ``Registry`` per app: spec -> ``AppContext`` (graph,
hierarchy, weights, caches), built once, never re-initialised, LRU-bounded in entries and bytes; any
worker process builds a missing entry from the trace cache on first use.

How a panel gets its model (one line per callback)::

    @app.callback(Output(...), Input(...), State(ids.MODEL, "data"))
    def _cb(x, spec=None):
        C = model_for(app, spec)      # the tab's model, whatever other tabs show

Routes that the browser calls directly (downloads) pass ``?model=spec`` and call ``model_for`` the same way.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bertviz_graph import format as fmt
from bertviz_graph.app.context import AppContext
from bertviz_graph.errors import UserError
from bertviz_graph.memo import Memo
from bertviz_graph.pipeline import graph_of
from bertviz_graph.pruning import job as J
from bertviz_graph.sources.packaged import packaged_dir
from bertviz_graph.sources.presets import ALIASES, preset_config

log = logging.getLogger(__name__)
MAX_SPEC = 1024  # characters: a path or name longer than this is refused before anything reads it
JOB_PREFIX = "job:"


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


class Registry:
    """spec -> AppContext, bounded (LRU, ``size`` entries and ``max_bytes``); the default is always held."""

    def __init__(self, default: AppContext, policy: Policy | None = None, size: int = 6,
                 max_bytes: int = 1536 * 1024**2):
        self.default = default
        self.policy = policy or Policy()
        self._models = Memo(size, max_bytes=max_bytes)
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
        if not key:
            return self.default
        return self._models.get_or_make(key, lambda: AppContext(self._graph(key),
                                                                direction=self.default.direction))

    def _graph(self, key: str):

        if key.startswith(JOB_PREFIX):

            folder = J.result_folder(key[len(JOB_PREFIX):])
            if folder is None:
                raise UserError("that pruned copy is not on this server (any more)", "prune the model again")
            return graph_of(str(folder))
        return graph_of(key)


def registry_of(app: Any) -> Registry:
    return app.server.extensions["bertviz_graph.registry"]


def model_for(app: Any, spec: Any) -> AppContext:
    """The model a tab shows, from its ``ids.MODEL`` store value (see the module docstring)."""
    return registry_of(app).model_for(spec)


def spec_of(C: AppContext, registry: Registry, spec: Any) -> str:
    """The spec a page built for ``C`` keeps in its store ("" for the default model)."""
    return "" if C is registry.default else registry.normalise(spec)
