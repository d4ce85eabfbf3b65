"""Find the repeated blocks (the layers) of a graph whose node names carry no hierarchy.

paddle2onnx (``p2o.MatMul.12``) and the dynamo exporter without its metadata name nodes flatly, but a
BERT's layers still run the same ops in the same order. Each op becomes a token (op type, attributes,
output shape, parameter shapes); the longest stretch of the token sequence made of one block repeated k
times (k >= 2) is taken as the layers. Where a block starts is chosen so that as few tensors as possible
cross from one block into the next (a layer hands on the hidden state, not its intermediate values).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Repeat:
    start: int  # index of the first op of block 0
    period: int  # ops per block
    copies: int  # number of blocks


def _longest_run(mask: np.ndarray) -> tuple[int, int]:
    """(start, length) of the longest run of True in ``mask``."""
    if not mask.any():
        return 0, 0
    padded = np.concatenate(([0], mask.astype(np.int8), [0]))
    d = np.diff(padded)
    starts, ends = np.flatnonzero(d == 1), np.flatnonzero(d == -1)
    k = int(np.argmax(ends - starts))
    return int(starts[k]), int(ends[k] - starts[k])


def find_repeat(tokens: Sequence[int], cut_cost: Callable[[int], tuple], min_period: int = 4) -> Repeat | None:
    """The repeat covering the most ops (ties: the shorter block). Block starts minimise the summed
    ``cut_cost(c)`` of their cuts (e.g. (tensors crossing cut c, -their uses after it))."""
    a = np.asarray(tokens, dtype=np.int64)
    n = len(a)
    best: tuple[int, int, int, int] | None = None  # (coverage, -period, run start, run length)
    for p in range(min_period, n // 2 + 1):
        start, length = _longest_run(a[:-p] == a[p:])
        if length < p:
            continue
        copies = (length + p) // p
        cand = (copies * p, -p, start, length)
        if best is None or cand[:2] > best[:2]:
            best = cand
    if best is None:
        return None
    _, neg_p, run_start, length = best
    p = -neg_p
    end = run_start + length + p  # the region [run_start, end) is p-periodic
    choice: tuple[int, tuple, int] | None = None  # (-copies, summed cost, start)
    for s in range(run_start, run_start + p):
        copies = (end - s) // p
        if copies < 2:
            continue
        costs = [cut_cost(s + k * p) for k in range(copies + 1) if s + k * p <= n]
        cost = tuple(sum(c[i] for c in costs) for i in range(len(costs[0]))) if costs else ()
        cand = (-copies, cost, s)
        if choice is None or cand < choice:
            choice = cand
    if choice is None:
        return None
    return Repeat(start=choice[2], period=p, copies=-choice[0])


def cut_costs(n: int, uses: Sequence[tuple[int, Sequence[int]]]) -> list[tuple[int, int]]:
    """For cut positions 0..n (cut c lies before op c): (tensors crossing the cut, -their uses after it).
    ``uses``: (producer position, consumer positions) per tensor. A layer boundary is crossed by few
    tensors (the hidden state) that many ops then read (Q, K, V and the residual)."""
    cross = np.zeros(n + 2, dtype=np.int64)
    fan = np.zeros(n + 2, dtype=np.int64)
    for p, qs in uses:
        qs = sorted(q for q in qs if q > p)
        if not qs:
            continue
        cross[p + 1] += 1
        cross[qs[-1] + 1] -= 1
        # uses after cut c, for p < c <= q_last: the number of q >= c
        for i, q in enumerate(qs):
            lo = p + 1 if i == 0 else qs[i - 1] + 1
            fan[lo] += len(qs) - i
            fan[q + 1] -= len(qs) - i
    cross, fan = np.cumsum(cross), np.cumsum(fan)
    return [(int(cross[c]), -int(fan[c])) for c in range(n + 1)]
