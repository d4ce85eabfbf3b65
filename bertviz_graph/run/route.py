"""Which engine runs a graph's sentence: a PyTorch model through torch.export (``load``, ``capture``), an
imported .onnx file through onnxruntime (``onnx_run``). The callers (app and widget session, CLI, ``run_text``)
ask here, so neither engine imports the other."""

from __future__ import annotations

from typing import Any

from bertviz_graph.run.capture import DEFAULT_BUDGET_MB
from bertviz_graph.run.capture import capture as torch_capture
from bertviz_graph.run.load import Runnable, Tokens
from bertviz_graph.run.load import load_runnable as torch_runnable
from bertviz_graph.run.onnx_run import onnx_capture, onnx_runnable


def _onnx(graph: Any) -> bool:
    meta = getattr(graph, "meta", None)
    return isinstance(meta, dict) and meta.get("origin") == "onnx"


def load_runnable(model_or_graph: Any = None, *args: Any, **kwargs: Any) -> Runnable:
    """``run.load.load_runnable``, or the onnxruntime session of an imported .onnx file."""
    if _onnx(model_or_graph):

        return onnx_runnable(model_or_graph, kwargs.get("tokenizer"))
    kwargs.pop("tokenizer", None)
    return torch_runnable(model_or_graph, *args, **kwargs)


def capture(graph: Any, run: Runnable, tokens: Tokens, budget_mb: float | None = DEFAULT_BUDGET_MB,
            **kwargs: Any) -> Any:
    """``run.capture.capture``, or one onnxruntime pass with every intermediate value kept."""
    if _onnx(graph):

        return onnx_capture(graph, run, tokens)
    return torch_capture(graph, run, tokens, budget_mb, **kwargs)
