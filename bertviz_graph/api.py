"""The Python API: a thin facade over the one-way pipeline, for notebooks and scripts.

    sources -> tracer -> OpGraph -> hierarchy -> view -> layout -> presenters -> renderers

The core stages never import a later one (``tests/test_imports.py``): ``OpGraph`` knows nothing of
hierarchies or views, ``View`` nothing of layout or rendering. The conveniences people type live here:
``trace`` returns a ``Graph`` (an ``OpGraph`` with ``.view(...)``), whose views (``View``, a core
``view.View`` with ``.layout()``, ``.to_svg()``, ``.save()`` and an SVG repr) each call the later stages.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

from bertviz_graph import view as _core_view
from bertviz_graph.app import make_app
from bertviz_graph.comparison import diff_graphs
from bertviz_graph.errors import UserError
from bertviz_graph.graph import OpGraph
from bertviz_graph.hierarchy.tree import build_hierarchy
from bertviz_graph.html import save_html
from bertviz_graph.io import write_atomic
from bertviz_graph.layout import layout_of
from bertviz_graph.pipeline import graph_of
from bertviz_graph.render.export import write_view
from bertviz_graph.render.svg import to_svg
from bertviz_graph.run import run_text
from bertviz_graph.train import train_graph

__all__ = ["Graph", "View", "app", "diff", "prune", "show", "show_diff", "show_pruning", "trace"]


class View(_core_view.View):
    """A core ``View`` plus the ways to draw it. Every operation (open, close, reveal ...) returns one."""

    def layout(self):

        return layout_of(self)

    def to_svg(self, legend: bool = True) -> str:

        return to_svg(self.layout(), legend=legend)

    def _repr_svg_(self) -> str:
        return self.to_svg()

    def save(self, path: str | Path) -> Path:
        """Write .svg .pdf .png .dot .json (laid-out view) or .graphml (the flat op graph)."""

        path = Path(path)
        if path.suffix.lower() == ".graphml":
            write_atomic(path, self.hierarchy.graph.to_graphml())
            return path
        write_view(self.layout(), path)
        return path


def make_view(graph: OpGraph, depth: int | None = None, open: tuple[str, ...] | list[str] = (),
              unfold: bool = False, show_params: bool = True, direction: str = "TB") -> View:
    """The overview of ``graph``, or ``depth`` levels opened, plus the ``open`` groups (and their ancestors)."""
    h = graph.hierarchy if graph.hierarchy is not None else build_hierarchy(graph)
    if depth is None:
        v = View.default(h, show_params=show_params, direction=direction)
    else:
        v = View(h, show_params=show_params, direction=direction)
    if unfold:
        v = v.unfold(all_series=True)
    if depth is not None:
        v = v.open_depth(depth)
    for gid in open:
        v = v.reveal(gid).open(gid) if gid in h.groups else v.reveal(gid)
    return v


class Graph(OpGraph):
    """The OpGraph ``trace`` returns, with its hierarchy built and ``.view(...)`` to look at it."""

    @classmethod
    def of(cls, graph: OpGraph) -> Graph:
        if isinstance(graph, cls):
            return graph
        # the same nx graph, modules and hierarchy: a new face on the traced data, not a copy of it
        return cls(g=graph.g, modules=graph.modules, meta=graph.meta, hierarchy=graph.hierarchy,
                   module=graph.module)

    def view(self, depth: int | None = None, open: tuple[str, ...] | list[str] = (), unfold: bool = False,
             show_params: bool = True, direction: str = "TB") -> View:
        """A view of this graph: the overview, or ``depth`` levels opened, plus the ``open`` groups."""
        if self.hierarchy is None:
            self.hierarchy = build_hierarchy(self)
        return make_view(self, depth, open, unfold, show_params, direction)

    def run(self, text: str | None = None, pair: str | None = None, ids: list[int] | None = None):
        """Run a sentence (or a pair, or token ids) through the real model: every op's output, keyed by this
        graph's node ids (``bertviz_graph.run.run_text``; the graph itself is not changed)."""

        return run_text(self, text, pair, ids)

    def save_html(self, path: str | Path, *, text: str | None = None, pair: str | None = None,
                  weights: str = "preview", view: View | None = None) -> Path:
        """One offline HTML file of the explorer (``bertviz_graph.html``): opens from disk, no server, no
        network. ``text``/``pair``: a sentence run into it; ``weights``: "preview", "full" or "none"."""

        return save_html(self, path, text=text, pair=pair, weights=weights, view=view)

    def train_step(self, text: str, pair: str | None = None, **kwargs: Any):
        """One real training step on this graph's model (``bertviz_graph.train.step.train_step``): a ``Step``
        with ``.loss``, ``.grad(name)``, ``.trainable``, ``.edge(module, out, in)``; the model is not changed."""

        return train_graph(self, text, pair, **kwargs)

    def prune(self, method: str = "magnitude", amount: float = 0.3, **kwargs: Any):
        """Prune this graph's trained model: a ``Pruned`` with ``.record``, ``.metrics()`` and
        ``.save(folder)``; the graph itself is not changed."""
        return prune(self, method, amount, **kwargs)

    def diff(self, other: Any):
        """Compare with another graph (or anything ``trace`` takes), aligned by structure and role."""

        return diff_graphs(self, other if isinstance(other, OpGraph) else trace(other))


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
    replay_program: bool = True,
) -> Graph:
    """Trace a model into its op graph and build the hierarchy over it.

    ``model``: a preset name ("bert-base-uncased"), a local Hugging Face folder (config.json + safetensors),
    a model id in the local Hugging Face cache, a saved graph (.json), an ONNX file (.onnx), or an ``nn.Module`` (then give
    ``example_inputs``). ``attention``: "eager" shows QKᵀ, softmax and ·V as ops; "sdpa" the fused kernel.
    ``ops``: "aten" or "primitive" (LayerNorm, GELU, softmax as elementary math, like a TensorFlow graph).
    Returns a ``Graph`` (an ``OpGraph``) whose ``.hierarchy`` holds the module tree with the repeated layers
    folded, and whose ``.view(...)`` is a picture of any cut through it.
    """

    graph = graph_of(model, example_inputs, head=head, attention=attention, ops=ops, seq_len=seq_len,
                     cache=cache, fold=fold, progress=progress, replay_program=replay_program)
    return Graph.of(graph)


def show(model: Any = None, example_inputs: Any = None, *, height: int = 640,
         open: tuple[str, ...] | list[str] = (), select: str | None = None, show_params: bool = True,
         direction: str = "TB", **trace_kwargs: Any):
    """The explorer as a notebook widget (JupyterLab, Notebook 7, VS Code, marimo; works offline).

    ``model``: a preset name ("bert-base-uncased"), a local Hugging Face folder, a model id in the local
    Hugging Face cache, a saved graph (.json), an ``OpGraph`` from ``trace``, a ``View``
    (``graph.view(depth=2)``), or an ``nn.Module`` with ``example_inputs``. ``open``: groups to open;
    ``select``: a node to select; other keywords go to ``trace`` (attention="sdpa", ...).
    Returns a ``GraphWidget``: click boxes to open them, or drive it from Python (``w.open(...)``,
    ``w.select(...)``, ``w.to_svg("model.svg")``). Bad input raises ``ShowError`` (a ``UserError``) whose
    message names the problem and the fix.
    """
    from bertviz_graph.widget import ShowError  # lazy: start-up (anywidget, traitlets)

    try:
        return _show(model, example_inputs, height=height, open=open, select=select, show_params=show_params,
                     direction=direction, **trace_kwargs)
    except ShowError:
        raise
    except UserError as e:
        raise ShowError(e.problem, e.fix) from None


def _show(model: Any, example_inputs: Any, *, height: int, open: tuple[str, ...] | list[str], select: str | None,
          show_params: bool, direction: str, **trace_kwargs: Any):
    from bertviz_graph.widget import GraphWidget  # lazy: start-up (anywidget, traitlets)

    allowed = set(inspect.signature(trace).parameters) - {"model", "example_inputs"}
    unknown = sorted(set(trace_kwargs) - allowed)
    if unknown:
        raise UserError(f"show() got unknown option(s): {', '.join(unknown)}",
                        f"options: height, open, select, show_params, direction, {', '.join(sorted(allowed))}")
    view = None
    if isinstance(model, _core_view.View):
        view, graph = model, model.hierarchy.graph
    elif isinstance(model, OpGraph):
        graph = trace(model, **trace_kwargs)
    else:
        graph = trace(model, example_inputs, **trace_kwargs)
    w = GraphWidget(graph, view=view, height=height, show_params=show_params, direction=direction)
    if isinstance(open, str):
        open = [open]
    if open:
        w.open(*open)
    if select:
        w.select(select)
    return w


def app(model: Any = None, example_inputs: Any = None, **kwargs: Any):
    """The Dash web app for ``model`` (not started). In a notebook: ``app(...).run(jupyter_mode="inline")``;
    from a shell, ``bertviz-graph serve`` does the same on http://127.0.0.1:8050.

    Keywords ``trace`` knows (attention, ops, head, ...) go to it; the rest to ``app.make_app``."""

    traced = set(inspect.signature(trace).parameters)
    graph = trace(model, example_inputs, **{k: v for k, v in kwargs.items() if k in traced})
    return make_app(graph, **{k: v for k, v in kwargs.items() if k not in traced})


def prune(model: Any, method: str = "magnitude", amount: float = 0.3, **kwargs: Any):
    """Prune a trained model (name, folder or graph): ``method`` one of ``bertviz_graph.pruning.METHODS``,
    ``amount`` in [0, 1). Returns a ``Pruned``: ``.record``, ``.metrics(task="lee")``, ``.save(folder)``."""
    from bertviz_graph.pruning.api import prune as _prune  # lazy: start-up (torch)

    return _prune(model, method, amount, **kwargs)


def diff(a: Any, b: Any, **kwargs: Any):
    """Compare two models (anything ``trace`` takes), aligned by structure and role: a ``GraphDiff``."""

    return diff_graphs(trace(a, **kwargs), trace(b, **kwargs))


def show_diff(a: Any, b: Any, **kwargs: Any):
    """Two models side by side in a notebook: two explorers that open, close and select together, aligned
    by structure and role (``bertviz_graph.widget.diff``)."""
    from bertviz_graph.widget.diff import (  # lazy: start-up (anywidget, traitlets)
        show_diff as _show_diff,  # lazy: start-up (anywidget, numpy, traitlets)
    )

    return _show_diff(a, b, **kwargs)


def show_pruning(model: Any, **kwargs: Any):
    """The pruning panel in a notebook (summary, savings, heads grid) for a pruned folder or graph."""
    from bertviz_graph.widget.pruning import pruning_widget  # lazy: start-up (anywidget, traitlets)

    return pruning_widget(trace(model, **kwargs))
