"""Uncertainty of a task metric: a percentile bootstrap 95% interval, resampling the evaluation pairs (the
Lee corpus' document pairs) or examples, so a pruned model's score can be read against the unpruned one's
noise instead of as a finding."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch.nn as nn

from bertviz_graph.pruning.data import batches, lee_corpus, probe_sentences
from bertviz_graph.pruning.metrics import sentence_embeddings, spearman

N_BOOT = 1000


def bootstrap_spearman(a: np.ndarray, b: np.ndarray, n_boot: int = N_BOOT, seed: int = 0
                       ) -> tuple[float, float]:
    """95% percentile interval of Spearman's ρ(a, b) over ``n_boot`` resamples of the pairs (with
    replacement; average ranks for ties, scipy's rankdata)."""
    from scipy.stats import rankdata

    a, b = np.asarray(a, float), np.asarray(b, float)
    idx = np.random.default_rng(seed).integers(0, len(a), size=(n_boot, len(a)))
    ra, rb = rankdata(a[idx], axis=1), rankdata(b[idx], axis=1)
    ra -= ra.mean(1, keepdims=True)
    rb -= rb.mean(1, keepdims=True)
    rho = (ra * rb).sum(1) / np.sqrt((ra * ra).sum(1) * (rb * rb).sum(1))
    lo, hi = np.nanpercentile(rho, [2.5, 97.5])
    return float(lo), float(hi)


def bootstrap_mean(values: np.ndarray, n_boot: int = N_BOOT, seed: int = 0) -> tuple[float, float]:
    """95% percentile interval of the mean of per-example values (e.g. correct = 1 / wrong = 0)."""
    v = np.asarray(values, float)
    idx = np.random.default_rng(seed).integers(0, len(v), size=(n_boot, len(v)))
    lo, hi = np.percentile(v[idx].mean(1), [2.5, 97.5])
    return float(lo), float(hi)


def lee_pairs(tokenizer) -> Callable[[nn.Module], tuple[np.ndarray, np.ndarray]]:
    """A function model -> (the model's cosine similarity, the human similarity) of the Lee corpus' 1,225
    document pairs."""
    import torch.nn.functional as F

    docs, human = lee_corpus()
    order = sorted(range(len(docs)), key=lambda i: len(docs[i]))
    bats = batches(tokenizer, [docs[i] for i in order], batch_size=16, max_length=256, keep_order=True)
    upper = np.triu(human, 1)
    sym = (upper + upper.T)[np.ix_(order, order)]
    iu = np.triu_indices(len(docs), k=1)

    def fn(model: nn.Module) -> tuple[np.ndarray, np.ndarray]:
        import torch

        e = F.normalize(torch.from_numpy(sentence_embeddings(model, bats)), dim=-1)
        return (e @ e.T).numpy()[iu], sym[iu]

    return fn


def lee_with_interval(tokenizer, n_boot: int = N_BOOT) -> Callable[[nn.Module], dict[str, float]]:
    """model -> {"lee_spearman", "lee_spearman_lo", "lee_spearman_hi"} (ρ and its bootstrap 95% interval)."""
    pairs = lee_pairs(tokenizer)

    def fn(model: nn.Module) -> dict[str, float]:
        a, b = pairs(model)
        lo, hi = bootstrap_spearman(a, b, n_boot)
        return {"lee_spearman": spearman(a, b), "lee_spearman_lo": lo, "lee_spearman_hi": hi}

    return fn


def probe_with_interval(features: np.ndarray, labels: np.ndarray, folds: int = 5, repeats: int = 4,
                        seed: int = 0, n_boot: int = N_BOOT) -> dict[str, float]:
    """{"probe_accuracy", "probe_accuracy_lo", "probe_accuracy_hi"}: the held-out probe accuracy of
    ``prune.metrics.probe_accuracy`` (the same folds, fits and mean over folds) and a bootstrap 95% interval
    over the examples, each example's correctness averaged over the ``repeats`` folds that held it out."""
    from sklearn.base import clone
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import RepeatedStratifiedKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import Normalizer

    y = np.asarray(labels)
    k = min(folds, int(np.bincount(np.unique(y, return_inverse=True)[1]).min()))
    if k < 2:
        raise ValueError("a probe needs at least two sentences of every label")
    clf = make_pipeline(Normalizer(), LogisticRegression(C=1.0, max_iter=2000))  # as probe_accuracy
    cv = RepeatedStratifiedKFold(n_splits=k, n_repeats=repeats, random_state=seed)
    right = np.zeros(len(y))
    fold_acc = []
    for train, test in cv.split(features, y):
        ok = clone(clf).fit(features[train], y[train]).predict(features[test]) == y[test]
        right[test] += ok
        fold_acc.append(ok.mean())
    lo, hi = bootstrap_mean(right / repeats, n_boot, seed)
    return {"probe_accuracy": float(np.mean(fold_acc)), "probe_accuracy_lo": lo, "probe_accuracy_hi": hi}


def probe_interval_metric(tokenizer, labelled=None, n_boot: int = N_BOOT
                          ) -> Callable[[nn.Module], dict[str, float]]:
    """model -> probe accuracy with its bootstrap 95% interval, on the labelled sentences of
    ``prune.sweep.probe_metric`` (``labelled``, else Pang & Lee, else the built-in opinions)."""
    texts, labels, _source = probe_sentences(labelled)
    bats = batches(tokenizer, texts, batch_size=32, keep_order=True)
    y = np.asarray(labels)
    return lambda m: probe_with_interval(sentence_embeddings(m, bats), y, n_boot=n_boot)
