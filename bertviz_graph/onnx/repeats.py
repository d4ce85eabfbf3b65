"""Find the repeated blocks (the layers) of a graph whose node names carry no hierarchy.

paddle2onnx (``p2o.MatMul.12``) and the dynamo exporter without its metadata name nodes flatly, but a
BERT's layers still run the same ops in the same order. Each op becomes a token (op type, attributes,
output shape, parameter shapes); the longest stretch of the token sequence made of one block repeated k
times (k >= 2) is taken as the layers. Where a block starts is chosen so that as few tensors as possible
cross from one block into the next (a layer hands on the hidden state, not its intermediate values).
"""

from __future__ import annotations

from collections.abc import Sequence
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


def find_repeat(tokens: Sequence[int], crossings: Sequence[int], min_period: int = 4) -> Repeat | None:
    """The repeat covering the most ops (ties: the shorter block). ``crossings[c]`` is the number of
    tensors produced before position c and still used at or after it; block starts minimise its sum."""
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
    cross = np.asarray(crossings, dtype=np.int64)
    choice: tuple[int, int, int] | None = None  # (-copies, crossing sum, start)
    for s in range(run_start, run_start + p):
        copies = (end - s) // p
        if copies < 2:
            continue
        cost = int(sum(cross[s + k * p] for k in range(copies + 1) if s + k * p < len(cross)))
        cand = (-copies, cost, s)
        if choice is None or cand < choice:
            choice = cand
    if choice is None:
        return None
    return Repeat(start=choice[2], period=p, copies=-choice[0])


def crossing_counts(n: int, spans: Sequence[tuple[int, int]]) -> list[int]:
    """For cut positions 0..n: how many (producer, last consumer) spans p < c <= q contain the cut."""
    diff = np.zeros(n + 2, dtype=np.int64)
    for p, q in spans:
        if q > p:
            diff[p + 1] += 1
            diff[q + 1] -= 1
    return np.cumsum(diff)[: n + 1].tolist()
