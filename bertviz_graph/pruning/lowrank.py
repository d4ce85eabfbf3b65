"""low-rank: every Linear inside the layers replaced by its best rank-r approximation (Eckart-Young: the
truncated SVD), with r the largest rank whose two factors (m·r + r·n) keep at most (1 − amount) of the
matrix's m·n parameters. Stored dense (same architecture, saves as a normal folder); the factors are what
would be deployed."""

from __future__ import annotations

import torch
import torch.nn as nn

from bertviz_graph.pruning.arch import linear_weights


def rank_for(shape: tuple[int, int], amount: float) -> int:
    m, n = shape
    return max(0, min(min(m, n), int((1.0 - amount) * m * n // (m + n))))


@torch.no_grad()
def low_rank_prune(model: nn.Module, amount: float) -> dict[str, int]:
    """Truncate in place; returns {module path: rank kept}."""
    kept = {}
    for path, lin in linear_weights(model):
        w = lin.weight
        r = rank_for(tuple(w.shape), amount)
        u, s, vh = torch.linalg.svd(w.double(), full_matrices=False)
        w.copy_(((u[:, :r] * s[:r]) @ vh[:r]).to(w.dtype))
        kept[path] = r
    return kept
