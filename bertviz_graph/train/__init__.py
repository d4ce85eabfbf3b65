"""One real training step on the graph: what trains (trainable.py), the loss (objectives.py), the gradients of
every parameter and op by autograd (step.py), the textbook rule on one edge (edge.py), the update and N steps
on a copy (update.py), and a small labelled set (data.py). Data beside the graph, keyed by node ids and
parameter names, like a run."""

from __future__ import annotations

from typing import Any

from bertviz_graph.run.load import load_runnable


def train_graph(graph: Any, text: str, pair: str | None = None, **kwargs: Any):
    """Load ``graph``'s real model and take one step (``step.train_step``); the model is not changed."""
    from bertviz_graph.train.step import train_step  # lazy: start-up (numpy)

    return train_step(graph, load_runnable(graph), text, pair, **kwargs)
