"""source -> OpGraph: pick the tracer, fall back when torch.export refuses, cache the result on disk."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bertviz_graph.errors import UserError
from bertviz_graph.graph import OpGraph
from bertviz_graph.sources.build import build_model
from bertviz_graph.sources.resolve import ModelSource
from bertviz_graph.torch_lock import torch_exclusive
from bertviz_graph.tracer.dispatch_tracer import dispatch_trace
from bertviz_graph.tracer.export_tracer import export_trace
from bertviz_graph.tracer.fast import fast_trace
from bertviz_graph.version import __version__

ATTENTION = ("eager", "sdpa")
# Bump when the tracers' output changes, so caches from an older bertviz_graph are not reused.
TRACER_REVISION = 7  # 7: merge of op source lines (4) with run facts + FLOPs (6)
OPS_LEVELS = ("aten", "primitive")
# Meta keys that belong to one run (which checkpoint, what it is called), never to a cache entry.
RUN_KEYS = ("name", "origin", "weight_files", "structure_only", "notes", "cache", "warnings")


def cache_dir() -> Path:
    return Path(os.environ.get("BERTVIZ_GRAPH_CACHE", os.path.expanduser("~/.cache/bertviz_graph")))


def lib_version(name: str) -> str:
    """A library's installed version from its package metadata, without importing it (a cache hit must not
    pay torch's and transformers' import: seconds). Always the metadata, never ``module.__version__``: they
    differ for PyPI's CUDA torch ("2.13.0" vs "2.13.0+cu130"), and the key must not depend on what is
    imported yet."""
    import importlib.metadata

    return importlib.metadata.version(name)


def cache_key(source: ModelSource, attention: str, ops: str, seq_len: int) -> str | None:
    """Config + options + library versions. User modules are not cached (their code can change freely)."""
    if source.config is None:
        return None

    blob = json.dumps([source.config, source.head, attention, ops, seq_len, lib_version("torch"),
                       lib_version("transformers"), __version__, TRACER_REVISION], sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


def trace_source(source: ModelSource, attention: str = "eager", ops: str = "aten", seq_len: int = 16,
                 use_cache: bool = True, progress: Callable[[str], None] | None = None) -> OpGraph:
    if attention not in ATTENTION:
        raise UserError(f"unknown attention '{attention}'", f"use one of: {', '.join(ATTENTION)}")
    if ops not in OPS_LEVELS:
        raise UserError(f"unknown ops level '{ops}'", f"use one of: {', '.join(OPS_LEVELS)}")
    say = progress or (lambda _msg: None)
    key = cache_key(source, attention, ops, seq_len) if use_cache else None
    cached = cache_dir() / f"{key}.json" if key else None
    if cached is not None and cached.is_file():
        try:
            graph = OpGraph.load(cached)
        except (ValueError, KeyError, json.JSONDecodeError):
            cached.unlink(missing_ok=True)  # stale or corrupt cache entry: trace again
        else:
            graph.meta.update(run_meta(source))  # never another checkpoint's name, weights or notes
            graph.meta["cache"] = "hit"
            return graph


    say(f"building {source.name} ({'structure only, meta device' if source.structure_only else source.origin})")
    with torch_exclusive():  # torch.export's state is process-global: one trace or run at a time
        # Identical layers: export one and replicate it (same graph, a fraction of the time; see tracer.fast).
        graph = fast_trace(source, lambda model: _meta(source, attention, ops, seq_len, model), ops, attention,
                           seq_len) if source.model is None else None
        if graph is None:
            build_model(source, attention=attention, seq_len=seq_len)
            meta = _meta(source, attention, ops, seq_len)
            say("tracing with torch.export")
            graph = _trace_model(source, meta, ops, say)
    graph.meta["params"] = graph.param_count()
    if cached is not None:
        try:
            cached.parent.mkdir(parents=True, exist_ok=True)
            structural = {k: v for k, v in graph.meta.items() if k not in RUN_KEYS}
            OpGraph(g=graph.g, modules=graph.modules, meta=structural).save(cached)
        except (OSError, UserError):
            pass  # a read-only cache folder must not stop the user
    graph.meta["cache"] = "miss"
    return graph


def _trace_model(source: ModelSource, meta: dict, ops: str, say: Callable[[str], None]) -> OpGraph:

    try:
        graph = export_trace(source.model, source.example_inputs, source.example_kwargs, meta, ops)
        graph.meta["tracer"] = "torch.export"
        return graph
    except Exception as export_error:  # torch.export raises many types; all mean "try the fallback"
        first = str(export_error).strip().splitlines()[0][:200] if str(export_error).strip() else type(
            export_error).__name__
        say(f"torch.export refused the model ({first}); using the dispatch tracer")
        try:
            graph = dispatch_trace(source.model, source.example_inputs, source.example_kwargs, meta)
        except Exception as fallback_error:
            second = str(fallback_error).strip().splitlines()[0][:200] if str(fallback_error).strip() else type(
                fallback_error).__name__
            raise UserError(
                f"cannot trace {source.name}: torch.export failed ({first}) and the fallback tracer failed "
                f"({second})",
                "check that the model runs on the example inputs: model(*example_inputs)" if source.origin == "module"
                else f"{source.config.get('model_type') if source.config else 'this model'} cannot be traced "
                     "structure-only (its code needs real values); trace the loaded model instead: "
                     "bg.trace(model, (input_ids,))",
            ) from fallback_error
        graph.meta["tracer"] = "dispatch"
        graph.meta["tracer_note"] = f"torch.export refused the model: {first}"
        return graph


def run_meta(source: ModelSource) -> dict[str, Any]:
    """Facts of this run, not of the structure: attached from the source on every load, never cached
    (two fine-tunes with one config.json share a cache entry but not their name or weights)."""
    return {
        "name": source.name,
        "origin": source.origin,
        "weight_files": [str(p) for p in source.weight_files],
        "structure_only": source.structure_only,
        "notes": list(source.notes),
    }


def _meta(source: ModelSource, attention: str, ops: str, seq_len: int, model: Any = None) -> dict[str, Any]:
    import torch
    import transformers

    return {
        **run_meta(source),
        "head": source.head,
        "config": source.config,
        "attention": attention,
        "ops": ops,
        "seq_len": seq_len if source.origin != "module" else None,
        "model_class": type(model if model is not None else source.model).__name__,
        "versions": {"torch": torch.__version__, "transformers": transformers.__version__},
    }
