"""Running a real sentence through a model: load it (load.py), capture every op's output (capture.py),
read attention maps off the captured softmax ops (attention.py) and the model's predictions (predict.py).

The run is data beside the graph: ``run_text(graph, "...")`` returns an ``Activations`` keyed by the
graph's node ids; the graph itself is not changed."""

from __future__ import annotations

from typing import Any


def run_text(graph: Any, text: str | None = None, pair: str | None = None, ids: list[int] | None = None,
             budget_mb: float | None = None) -> Any:
    """Tokenize ``text`` (or take ``ids``), run the real model once and capture every op of ``graph``."""
    from bertviz_graph.run.capture import DEFAULT_BUDGET_MB  # lazy: start-up (networkx, numpy)
    from bertviz_graph.run.route import (  # lazy: start-up (networkx, numpy)  # PyTorch or onnxruntime
        capture,
        load_runnable,
    )

    runnable = load_runnable(graph)
    tokens = runnable.tokenize(text, pair, ids)
    return capture(graph, runnable, tokens, DEFAULT_BUDGET_MB if budget_mb is None else budget_mb)
