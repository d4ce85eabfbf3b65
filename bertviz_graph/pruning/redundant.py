"""heads-redundant: prune one head of each near-duplicate pair first. Heads are ordered greedily: take the
closest remaining pair (mean Jensen-Shannon divergence of their attention rows, analyze.heads) and remove the
one of the two that is closer on average to all remaining heads (it duplicates more); repeat."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn

from bertviz_graph.analyze.heads import attention_rows, js_sums
from bertviz_graph.pruning.arch import find_layers


def redundancy_order(dist: np.ndarray) -> list[int]:
    """The heads in the order they are pruned (layer-major indices)."""
    d = np.array(dist, dtype=float)
    np.fill_diagonal(d, np.inf)
    alive = list(range(len(d)))
    order: list[int] = []
    while len(alive) > 1:
        sub = d[np.ix_(alive, alive)]
        a, b = np.unravel_index(np.argmin(sub), sub.shape)
        fin = np.where(np.isfinite(sub), sub, 0.0)
        mean = fin.sum(1) / max(len(alive) - 1, 1)
        drop = alive[a] if mean[a] <= mean[b] else alive[b]
        order.append(drop)
        alive.remove(drop)
    return order + alive


def redundancy_scores(model: nn.Module, batches: list[dict]) -> torch.Tensor:
    """(layers, heads) position in the pruning order: the lowest are pruned first (prune.heads.pick_lowest)."""

    layers = find_layers(model, "heads")
    total, rows = None, 0
    for p, _ids in attention_rows(model, batches):
        s = js_sums(p)
        total = s if total is None else total + s
        rows += p.shape[1]
    dist = total / max(rows, 1)
    rank = np.empty(len(dist))
    rank[redundancy_order((dist + dist.T) / 2)] = np.arange(len(dist))
    return torch.tensor(rank, dtype=torch.float32).reshape(len(layers), layers[0].heads)
