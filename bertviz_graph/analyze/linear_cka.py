"""Linear centered kernel alignment (Kornblith et al. 2019): how alike two representations of the same
samples are, invariant to orthogonal transforms and isotropic scaling of either side."""

from __future__ import annotations

import numpy as np


def cka(x: np.ndarray, y: np.ndarray) -> float:
    """Linear CKA of ``x`` [samples × features] and ``y`` [samples × features'] (same samples, in order).

    The feature-space form ‖YᵀX‖²_F / (‖XᵀX‖_F ‖YᵀY‖_F) on column-centred data: it equals the kernel form
    HSIC(XXᵀ, YYᵀ) / √(HSIC(XXᵀ, XXᵀ) HSIC(YYᵀ, YYᵀ)) without building samples × samples matrices."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.ndim != 2 or y.ndim != 2 or x.shape[0] != y.shape[0]:
        raise ValueError(f"cka needs two [samples × features] matrices of the same samples, got "
                         f"{x.shape} and {y.shape}")
    x = x - x.mean(0)
    y = y - y.mean(0)
    cross = np.linalg.norm(y.T @ x) ** 2
    norm = np.linalg.norm(x.T @ x) * np.linalg.norm(y.T @ y)
    return float(cross / norm) if norm > 0 else 0.0
