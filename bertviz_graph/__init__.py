"""bertviz_graph: see what a BERT model really is, from the whole model down to one weight matrix.

    import bertviz_graph as bg
    graph = bg.trace("bert-base-uncased")        # OpGraph with .hierarchy
    graph.view(depth=2).to_svg()                 # a picture of any cut through the hierarchy
    bg.show("bert-base-uncased")                 # the explorer as a notebook widget
    bg.app("bert-base-uncased").run(jupyter_mode="inline")   # the Dash app, in a notebook cell
"""

from __future__ import annotations

import sys as _sys
import types as _types
from typing import Any

__version__ = "0.1.0"

__all__ = ["trace", "show", "show_diff", "show_pruning", "app", "prune", "diff", "__version__"]


def trace(
    model: Any = None,
    example_inputs: Any = None,
    *,
    head: str = "auto",
    attention: str = "eager",
    ops: str = "aten",
    seq_len: int = 16,
    cache: bool = True,
    fold: bool = True,
    progress: Any = None,
):
    """Trace a model into its op graph and build the hierarchy over it.

    ``model``: a preset name ("bert-base-uncased"), a local Hugging Face folder (config.json + safetensors),
    a model id in the local Hugging Face cache, a saved graph (.json), an ONNX file (.onnx), or an ``nn.Module`` (then give
    ``example_inputs``). ``attention``: "eager" shows QKᵀ, softmax and ·V as ops; "sdpa" the fused kernel.
    ``ops``: "aten" or "primitive" (LayerNorm, GELU, softmax as elementary math, like a TensorFlow graph).
    Returns an ``OpGraph`` whose ``.hierarchy`` holds the module tree with the repeated layers folded.
    """
    from pathlib import Path

    from bertviz_graph.graph import OpGraph
    from bertviz_graph.hierarchy.tree import build_hierarchy
    from bertviz_graph.sources.resolve import resolve
    from bertviz_graph.tracer import trace_source

    if isinstance(model, OpGraph):
        graph = model
    elif isinstance(model, (str, Path)) and str(model).endswith(".json") and Path(model).is_file():
        from bertviz_graph.graph_file import load_graph_file

        graph = load_graph_file(Path(model))
    elif isinstance(model, (str, Path)) and str(model).lower().endswith(".onnx"):
        from bertviz_graph.onnx import import_onnx

        graph = import_onnx(Path(model).expanduser(), seq_len=seq_len)
    else:
        source = resolve(model, head=head, example_inputs=example_inputs)
        graph = trace_source(source, attention=attention, ops=ops, seq_len=seq_len, use_cache=cache,
                             progress=progress)
        if source.origin == "module":
            graph.module = source.model
    if graph.hierarchy is None:
        graph.hierarchy = build_hierarchy(graph, fold=fold)
    return graph


def prune(model: Any, method: str = "magnitude", amount: float = 0.3, **kwargs: Any):
    """Prune a trained model (name, folder or graph): ``method`` one of ``bertviz_graph.prune.METHODS``,
    ``amount`` in [0, 1). Returns a ``Pruned``: ``.record``, ``.metrics(task="lee")``, ``.save(folder)``."""
    from bertviz_graph.prune.api import prune as _prune

    return _prune(model, method, amount, **kwargs)


def diff(a: Any, b: Any, **kwargs: Any):
    """Compare two models (anything ``trace`` takes), aligned by structure and role: a ``GraphDiff``."""
    from bertviz_graph.diff import diff_graphs

    return diff_graphs(trace(a, **kwargs), trace(b, **kwargs))


def show_diff(a: Any, b: Any, **kwargs: Any):
    """Two models side by side in a notebook: two explorers that open, close and select together, aligned
    by structure and role (``bertviz_graph.widget.diff``)."""
    from bertviz_graph.widget.diff import show_diff as _show_diff

    return _show_diff(a, b, **kwargs)


def show_pruning(model: Any, **kwargs: Any):
    """The pruning panel in a notebook (summary, savings, heads grid) for a pruned folder or graph."""
    from bertviz_graph.widget.pruning import pruning_widget

    return pruning_widget(trace(model, **kwargs))


def show(model: Any = None, example_inputs: Any = None, **kwargs: Any):
    """The explorer as a notebook widget (JupyterLab, Notebook 7, VS Code, marimo; works offline).

    ``model``: anything ``trace`` takes, or an ``OpGraph`` / ``View`` already made. Keywords: ``height``,
    ``open`` (groups to open), ``select``, ``show_params``, ``direction``, and ``trace``'s options.
    Returns a ``GraphWidget``: click boxes to open them, or drive it from Python (``w.open(...)``,
    ``w.select(...)``, ``w.to_svg("model.svg")``). Bad input raises a ``UserError`` shown as one short message.
    """
    from bertviz_graph.widget import show as _show

    return _show(model, example_inputs, **kwargs)


def app(model: Any = None, example_inputs: Any = None, **kwargs: Any):
    """The Dash web app for ``model`` (not started). In a notebook: ``app(...).run(jupyter_mode="inline")``;
    from a shell, ``bertviz-graph serve`` does the same on http://127.0.0.1:8050.

    Keywords ``trace`` knows (attention, ops, head, ...) go to it; the rest to ``app.make_app``."""
    import inspect

    from bertviz_graph.app import make_app

    traced = set(inspect.signature(trace).parameters)
    graph = trace(model, example_inputs, **{k: v for k, v in kwargs.items() if k in traced})
    return make_app(graph, **{k: v for k, v in kwargs.items() if k not in traced})


# ``bertviz_graph.app`` is both this function and the subpackage holding the Dash app (likewise ``prune`` and
# ``diff``). Importing a subpackage makes Python set the package attribute to the module, which would shadow
# the function; so that module is made callable, and ``bertviz_graph.app(...)`` works before and after.
_FACADES = {"app": app, "prune": prune, "diff": diff}


class _CallableModule(_types.ModuleType):
    def __call__(self, *args: Any, **kwargs: Any):
        return _FACADES[self.__name__.rsplit(".", 1)[-1]](*args, **kwargs)


class _Package(_types.ModuleType):
    def __setattr__(self, name: str, value: Any) -> None:
        if name in _FACADES and isinstance(value, _types.ModuleType) and type(value) is _types.ModuleType:
            value.__class__ = _CallableModule
        super().__setattr__(name, value)


_sys.modules[__name__].__class__ = _Package
