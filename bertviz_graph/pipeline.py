"""Any model the user names -> an OpGraph with its hierarchy: the one path every entry point takes.

``bertviz_graph.trace`` (the facade) wraps it in a ``Graph``; the app's model switcher and the side-by-side
diff call it directly, since the front ends must not import the facade above them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bertviz_graph.errors import UserError
from bertviz_graph.graph import OpGraph
from bertviz_graph.graph_file import load_graph_file
from bertviz_graph.hierarchy.tree import build_hierarchy
from bertviz_graph.sources.resolve import resolve
from bertviz_graph.tracer import cache_dir, trace_source


def graph_of(model: Any = None, example_inputs: Any = None, *, head: str = "auto", attention: str = "eager",
             ops: str = "aten", seq_len: int = 16, cache: bool = True, fold: bool = True,
             progress: Any = None, replay_program: bool = True) -> OpGraph:
    """The traced (or loaded, or imported) graph of ``model`` with ``.hierarchy`` built; see ``trace``.
    ``replay_program``: on a trace-cache miss also record the first sentence's replay program (run/stored.py,
    seconds on big models); a command that runs no sentence in its process (info, export) skips it."""

    if isinstance(seq_len, bool) or not isinstance(seq_len, int) or seq_len < 1:
        raise UserError(f"seq_len {seq_len!r} is not a positive number of token positions",
                        "use seq_len=1 or more (default 16)")
    if isinstance(model, OpGraph):
        graph = model
    elif isinstance(model, (str, Path)) and str(model).endswith(".json") and Path(model).is_file():

        graph = load_graph_file(Path(model))
    elif isinstance(model, (str, Path)) and str(model).lower().endswith(".onnx"):
        from bertviz_graph.onnx import import_onnx  # lazy: start-up (numpy)

        graph = import_onnx(Path(model).expanduser(), seq_len=seq_len)
    elif isinstance(model, (str, Path)) and _framework_folder(model):  # TF SavedModel / Paddle: via ONNX
        from bertviz_graph.onnx import import_onnx  # lazy: start-up (numpy)
        from bertviz_graph.onnx.convert import convert_folder  # lazy: start-up (numpy)

        graph = import_onnx(convert_folder(Path(model).expanduser(), cache_dir()), seq_len=seq_len)
    else:
        source = resolve(model, head=head, example_inputs=example_inputs)
        graph = trace_source(source, attention=attention, ops=ops, seq_len=seq_len, use_cache=cache,
                             progress=progress)
        if source.origin == "module":
            graph.module = source.model
        elif cache and replay_program and graph.meta.get("cache") == "miss":  # torch is imported already: a hit never pays this
            from bertviz_graph.run.stored import write_for  # lazy: torch's dispatch modules

            write_for(graph)  # the first capture's replay program, beside the trace cache (run/stored.py)
    if graph.hierarchy is None:
        graph.hierarchy = build_hierarchy(graph, fold=fold)
    return graph


def _framework_folder(model: str | Path) -> bool:
    if not Path(model).expanduser().is_dir():  # a preset or Hub name: spare the ONNX package's import (~0.3 s)
        return False
    from bertviz_graph.onnx.convert import framework_of  # lazy: start-up (numpy)

    return framework_of(Path(model).expanduser()) is not None
