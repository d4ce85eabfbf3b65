"""Unstructured magnitude pruning: zero the smallest |w| of the Linear weights, in place.

Scopes: "global" (one threshold over all pruned matrices, Gordon et al. 2020), "layer" (one per transformer
layer), "matrix" (the same fraction of every matrix). Written by hand rather than with
``torch.nn.utils.prune`` because that keeps ``weight_orig`` plus a float mask per matrix (three copies while
active); here the only temporary is one |w| vector of the scope's weights, then each matrix is zeroed in
place. Ties at the threshold are broken by position, so exactly round(amount * n) weights become zero.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn

from bertviz_graph.pruning.arch import layer_of, linear_weights

SCOPES = ("global", "layer", "matrix")


@torch.no_grad()
def _kth_abs(ws: list[torch.Tensor], k: int) -> tuple[float, int]:
    """The k-th smallest |w| over the tensors and how many weights equal to it are to be zeroed.

    One float32 buffer holds every |w| (filled matrix by matrix, no other copy) and is partitioned in place
    (numpy), so the peak is one copy of the pruned weights."""
    if k <= 0:
        return -1.0, 0
    n = sum(w.numel() for w in ws)
    flat = torch.empty(n, dtype=torch.float32)
    at = 0
    for w in ws:
        torch.abs(w.detach().reshape(-1), out=flat[at:at + w.numel()])
        at += w.numel()
    arr = flat.numpy()
    arr.partition(k - 1)
    thr = float(arr[k - 1])
    below = int(np.count_nonzero(arr[: k - 1] < arr[k - 1]))
    del flat, arr
    return thr, k - below


@torch.no_grad()
def _zero_below(ws: list[torch.Tensor], thr: float, ties: int) -> None:
    for w in ws:
        w.masked_fill_(w.abs() < thr, 0.0)
        if ties > 0:
            eq = (w.abs() == thr).flatten().nonzero().flatten()[:ties]
            w.view(-1)[eq] = 0.0
            ties -= len(eq)


def magnitude_targets(model: nn.Module) -> list[tuple[str, torch.Tensor]]:
    """(parameter name, weight) of the matrices magnitude pruning zeroes."""
    return [(f"{p}.weight", m.weight) for p, m in linear_weights(model)]


def magnitude_prune(model: nn.Module, amount: float, scope: str = "global") -> dict[str, tuple[int, int]]:
    """Zero ``amount`` of the Linear weights inside the layers; returns {param name: (zeros, numel)}."""
    targets = magnitude_targets(model)
    if scope == "matrix":
        buckets = {name: [(name, w)] for name, w in targets}
    elif scope == "layer":
        buckets: dict[str, list] = {}
        for name, w in targets:
            buckets.setdefault(layer_of(name), []).append((name, w))
    else:
        buckets = {"all": targets}
    for members in buckets.values():
        ws = [w for _, w in members]
        n = sum(w.numel() for w in ws)
        k = int(round(amount * n))
        if k <= 0:
            continue
        thr, ties = _kth_abs(ws, k)
        _zero_below(ws, thr, ties)
    return {name: (int((w == 0).sum()), w.numel()) for name, w in targets}


def magnitude_thresholds(model: nn.Module, amounts: list[float], scope: str = "global") -> list[dict]:
    """For a sweep: per amount, per bucket (threshold, ties); one |w| copy per bucket, computed once."""
    targets = magnitude_targets(model)
    if scope == "matrix":
        buckets = {name: [name] for name, _ in targets}
    elif scope == "layer":
        buckets = {}
        for name, _ in targets:
            buckets.setdefault(layer_of(name), []).append(name)
    else:
        buckets = {"all": [name for name, _ in targets]}
    by_name = dict(targets)
    out: list[dict] = [{} for _ in amounts]
    for key, names in buckets.items():
        flat = torch.empty(sum(by_name[n].numel() for n in names), dtype=torch.float32)
        at = 0
        for n in names:
            torch.abs(by_name[n].detach().reshape(-1), out=flat[at:at + by_name[n].numel()])
            at += by_name[n].numel()
        srt = flat.numpy()
        srt.sort()  # in place: the scope's |w| is the only copy made
        for i, a in enumerate(amounts):
            k = int(round(a * srt.size))
            if k <= 0:
                continue
            thr = float(srt[k - 1])
            below = int(np.searchsorted(srt, srt[k - 1], side="left"))
            out[i][key] = (names, thr, k - below)
        del srt, flat
    return out


def apply_thresholds(model: nn.Module, plan: dict) -> None:
    """Zero weights per a ``magnitude_thresholds`` entry (weights must be the unpruned ones)."""
    by_name = dict(magnitude_targets(model))
    for names, thr, ties in plan.values():
        _zero_below([by_name[n] for n in names], thr, ties)


@torch.no_grad()
def random_prune(model: nn.Module, amount: float, seed: int = 0) -> dict[str, tuple[int, int]]:
    """The baseline: zero a random ``amount`` of each matrix (same weights as magnitude would touch)."""
    gen = torch.Generator().manual_seed(seed)
    targets = magnitude_targets(model)
    for _, w in targets:
        k = int(round(amount * w.numel()))
        if k:
            idx = torch.randperm(w.numel(), generator=gen)[:k]
            w.view(-1)[idx] = 0.0
    return {name: (int((w == 0).sum()), w.numel()) for name, w in targets}
