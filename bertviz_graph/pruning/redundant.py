"""heads-redundant: prune one head of each near-duplicate pair first. Heads are ordered greedily: take the
closest remaining pair (mean Jensen-Shannon divergence of their attention rows, analyze.heads) and remove the
less important of the two (Michel importance on the same scoring sentences: of two heads that attend alike,
the one the loss needs less); without importance, the one closer on average to all remaining heads (it
duplicates more). Repeat."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn

from bertviz_graph.analyze.heads import attention_rows, js_sums
from bertviz_graph.pruning.arch import find_layers
from bertviz_graph.pruning.heads import head_importance
from bertviz_graph.pruning.metrics import loss_for, reference


def redundancy_order(dist: np.ndarray, importance: np.ndarray | None = None) -> list[int]:
    """The heads in the order they are pruned (layer-major indices); ``importance`` (N,) decides within a
    pair (the less important goes)."""
    d = np.array(dist, dtype=float)
    np.fill_diagonal(d, np.inf)
    imp = None if importance is None else np.asarray(importance, dtype=float).reshape(-1)
    alive = list(range(len(d)))
    order: list[int] = []
    while len(alive) > 1:
        sub = d[np.ix_(alive, alive)]
        a, b = np.unravel_index(np.argmin(sub), sub.shape)
        if imp is not None and imp[alive[a]] != imp[alive[b]]:
            drop = alive[a] if imp[alive[a]] < imp[alive[b]] else alive[b]
        else:
            fin = np.where(np.isfinite(sub), sub, 0.0)
            mean = fin.sum(1) / max(len(alive) - 1, 1)
            drop = alive[a] if mean[a] <= mean[b] else alive[b]
        order.append(drop)
        alive.remove(drop)
    return order + alive


def redundancy_scores(model: nn.Module, batches: list[dict], tokenizer=None, labels=None,
                      use_importance: bool = True) -> torch.Tensor:
    """(layers, heads) position in the pruning order: the lowest are pruned first (prune.heads.pick_lowest).
    Importance (``use_importance``, needs ``tokenizer``) is Michel's, as heads-importance scores it."""
    layers = find_layers(model, "heads")
    total, rows = None, 0
    for p, _ids in attention_rows(model, batches):
        s = js_sums(p)
        total = s if total is None else total + s
        rows += p.shape[1]
    dist = total / max(rows, 1)
    imp = None
    if use_importance and tokenizer is not None:
        ref = reference(model, batches, tokenizer)
        imp = head_importance(model, layers, batches, loss_for(model, ref, batches, tokenizer, labels),
                              normalize=True).numpy()
    rank = np.empty(len(dist))
    rank[redundancy_order((dist + dist.T) / 2, imp)] = np.arange(len(dist))
    return torch.tensor(rank, dtype=torch.float32).reshape(len(layers), layers[0].heads)
