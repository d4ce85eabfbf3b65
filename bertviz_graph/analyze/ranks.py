"""How full is the pot (seed 004): every weight matrix's singular values, effective rank (Roy & Vetterli
2007: exp of the entropy of the normalised singular values), stable rank (‖W‖²_F / ‖W‖²_2) and the share of
energy (Σσ²) in the top r singular values.

Exact singular values, batched: matrices of one shape go through one ``torch.linalg.svdvals`` call (float32,
LAPACK), which on bert-base is fast enough that no randomized approximation is needed (9.7 s for its 74 matrices
at load ~8-20, within 4.5e-6 of σ_max of float64 SVD). scipy's sgesvd per matrix was 1.35-1.8x faster on a
quiet core but 670 s under load (OpenBLAS threads spinning), so torch it stays (benchmarks/RESULTS.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from bertviz_graph.analyze.inputs import runnable
from bertviz_graph.pruning.arch import linear_weights

SPECTRA_RANDOM_NOTE = ("structure only: these weights are random (seeded), so the spectra are those of random "
                       "matrices and say nothing about learned capacity; load a trained model folder")


@dataclass
class Spectrum:
    """One weight matrix: its parameter name, shape and singular values (descending)."""

    name: str
    shape: tuple[int, int]
    values: np.ndarray

    @property
    def full_rank(self) -> int:
        return min(self.shape)

    @property
    def effective_rank(self) -> float:
        return effective_rank(self.values)

    @property
    def stable_rank(self) -> float:
        return stable_rank(self.values)

    def energy(self, r: int) -> float:
        """Share of Σσ² in the top ``r`` singular values."""
        e = self.values.astype(np.float64) ** 2
        return float(e[:r].sum() / e.sum()) if e.sum() > 0 else 0.0

    def rank_for_energy(self, share: float) -> int:
        """The fewest singular values holding ``share`` of the energy."""
        e = self.values.astype(np.float64) ** 2
        c = np.cumsum(e) / max(e.sum(), 1e-300)
        return int(np.searchsorted(c, share) + 1)

    def row(self) -> dict[str, Any]:
        return {"matrix": self.name, "rows": self.shape[0], "cols": self.shape[1], "full_rank": self.full_rank,
                "effective_rank": self.effective_rank, "stable_rank": self.stable_rank,
                "effective_over_full": self.effective_rank / self.full_rank,
                "rank_90_energy": self.rank_for_energy(0.9), "energy_top_10pct":
                self.energy(max(1, self.full_rank // 10)), "sigma_max": float(self.values[0])}


def effective_rank(s: np.ndarray) -> float:
    s = np.asarray(s, np.float64)
    p = s / s.sum()
    p = p[p > 0]
    return float(np.exp(-(p * np.log(p)).sum()))


def stable_rank(s: np.ndarray) -> float:
    s = np.asarray(s, np.float64)
    return float((s ** 2).sum() / s[0] ** 2) if s[0] > 0 else 0.0


@torch.no_grad()
def matrix_spectra(model: torch.nn.Module, layers_only: bool = False) -> list[Spectrum]:
    """Singular values of every Linear weight (inside the transformer layers only, or all)."""

    mats = [(f"{path}.weight", lin.weight.detach()) for path, lin in linear_weights(model, layers_only)]
    by_shape: dict[tuple[int, int], list[int]] = {}
    for i, (_, w) in enumerate(mats):
        by_shape.setdefault(tuple(w.shape), []).append(i)
    values: dict[int, np.ndarray] = {}
    for idx in by_shape.values():
        batch = torch.stack([mats[i][1].float() for i in idx])
        if batch.shape[-1] > batch.shape[-2]:  # same values; LAPACK is ~3x faster on tall matrices
            batch = batch.mT
        s = torch.linalg.svdvals(batch.contiguous())
        for i, row in zip(idx, s):
            values[i] = row.numpy()
    return [Spectrum(n, tuple(w.shape), values[i]) for i, (n, w) in enumerate(mats)]


@dataclass
class Spectra:
    matrices: list[Spectrum]
    trained: bool
    name: str
    notes: list[str]

    def rows(self) -> list[dict[str, Any]]:
        return [m.row() for m in self.matrices]


def spectra(model: Any, layers_only: bool = False) -> Spectra:
    """Singular values and ranks of every weight matrix of ``model`` (name, folder, graph)."""
    run = runnable(model)
    return Spectra(matrix_spectra(run.model, layers_only), bool(run.trained), run.name,
                   [] if run.trained else [SPECTRA_RANDOM_NOTE])
