"""Which graph ops' outputs each drawn edge carries: one pass over the graph's edges, shared by the Run tab's edge
tooltips (presenters/activations.py) and the training step's backward edges (presenters/training_graph.py)."""

from __future__ import annotations

from typing import Any

WEIGHT_EDGES = ("param", "shared", "tied")  # view edge kinds that carry weights (view.py), not activations


def ops_per_edge(graph: Any, view: Any) -> dict[str, list[str]]:
    """View edge id -> the graph ops whose outputs it carries (activations only, in graph order)."""
    g = graph.g
    by_pair: dict[tuple[str, str], set[str]] = {}
    for u, v in g.edges():
        if g.nodes[u]["kind"] in ("param", "buffer"):
            continue
        ru, rv = view.rep(u), view.rep(v)
        if ru is not None and rv is not None and ru != rv:
            by_pair.setdefault((ru, rv), set()).add(u)
    return {e.id: sorted(by_pair.get((e.source, e.target), ()), key=lambda x: g.nodes[x].get("order", 0))
            for e in view.data().edges if e.kind not in WEIGHT_EDGES}
