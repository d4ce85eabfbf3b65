"""Redundant heads (Clark et al. 2019, "What does BERT look at?"): the distance between every pair of heads
is the mean, over sentences and query tokens, of the Jensen-Shannon divergence (natural log) between the two
heads' attention rows, padding excluded. Plus what each head attends to ([CLS], [SEP], punctuation, itself),
its entropy and its importance, a clustering and a 2-D map of the heads.

Attention rows are recomputed from the captured query and key projections (softmax(QKᵀ/√d + mask), float64),
so the numbers do not depend on the attention kernel or on ``output_attentions``.
"""

from __future__ import annotations

import string
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from bertviz_graph.analyze.inputs import RANDOM_NOTE, encode, need_tokenizer, read_sentences, runnable
from bertviz_graph.pruning.arch import find_layers, query_key_outputs
from bertviz_graph.pruning.heads import head_importance as importance
from bertviz_graph.pruning.metrics import loss_for, reference

NEAR_DUPLICATE = 0.05  # JS divergence (nats, max ln 2 ≈ 0.69) under which two heads count as near-duplicates
_PUNCT = set(string.punctuation) | {"“", "”", "’", "‘", "—", "–", "…"}


@torch.no_grad()
def attention_rows(model: torch.nn.Module, batches: list[dict]):
    """Per sentence, the attention of every head as float64 (layers · heads, n, n) over its n real tokens,
    with the sentence's token ids. Layer-major: row l · heads + h."""

    layers = find_layers(model, "heads")
    base = getattr(model, "base_model", model)  # the encoder only: a masked-LM head is ~20% of bert-base's forward
    for batch in batches:
        captured = query_key_outputs(base, layers, batch)
        mask = batch["attention_mask"].bool()
        maps = []
        for lp in layers:
            q = captured[(lp.index, "q")].double()
            k = captured[(lp.index, "k")].double()
            b, t, _ = q.shape
            q = q.view(b, t, lp.heads, lp.d_head).transpose(1, 2)
            k = k.view(b, t, lp.heads, lp.d_head).transpose(1, 2)
            s = (q @ k.transpose(-1, -2)) / lp.d_head ** 0.5
            maps.append(s.masked_fill(~mask[:, None, None, :], float("-inf")).softmax(-1))
        allmaps = torch.cat(maps, dim=1)  # (B, L·H, T, T)
        for i in range(allmaps.shape[0]):
            n = int(mask[i].sum())
            yield allmaps[i, :, :n, :n].numpy(), batch["input_ids"][i, :n]


def _entropy_rows(p: np.ndarray) -> np.ndarray:
    from scipy.special import xlogy

    return -xlogy(p, p).sum(-1)


def js_sums(p: np.ndarray, block: int = 16) -> np.ndarray:
    """Σ over query rows of JS(p_a, p_b) for every pair of heads of one sentence: JS = H(m) − (H(p)+H(q))/2
    with m the mean of the two rows. ``p``: (heads, n, n).

    numpy float32 (SIMD log) in place on one (block, heads, n, n) temporary per block, upper block-triangle
    only (JS is symmetric), sums in float64: 2.8x faster than float64 xlogy on bert-base's 144 heads and
    within 1e-8 nats of it (benchmarks/analyze_bench.py). Not torch: its threads on a loaded 2-core machine
    made this 5-10x slower, and the app cannot limit them per request."""
    q = np.asarray(p, dtype=np.float32)
    tiny = np.float32(np.finfo(np.float32).tiny)  # 0 · log(tiny) = 0: a zero weight adds nothing
    h = -(q * np.log(np.maximum(q, tiny))).sum((-1, -2), dtype=np.float64)  # (N,) Σ_rows H(p_a)
    n_heads = q.shape[0]
    out = np.empty((n_heads, n_heads))
    for a in range(0, n_heads, block):
        b = min(a + block, n_heads)
        m = q[a:b, None] + q[None, a:]
        m *= np.float32(0.5)
        lm = np.maximum(m, tiny)
        np.log(lm, out=lm)
        lm *= m
        v = -lm.sum((-1, -2), dtype=np.float64) - (h[a:b, None] + h[None, a:]) / 2
        out[a:b, a:] = v
        out[a:, a:b] = v.T
    return np.clip(out, 0.0, None)


@dataclass
class HeadReport:
    """Everything the heads analysis shows; head i is layer i // heads, head i % heads."""

    distances: np.ndarray  # (N, N) mean JS divergence, nats
    layers: int
    heads: int
    sentences: int
    tokens: int  # query rows averaged over
    order: list[int]  # clustered order of the heads (average linkage)
    groups: list[list[int]]  # near-duplicate groups (clusters cut at ``threshold``), 2+ heads each
    threshold: float
    mds: np.ndarray  # (N, 2) map of the heads (metric MDS on the JS distance √JS)
    shares: dict[str, np.ndarray]  # "cls" | "sep" | "punct" | "self" -> (N,) mean share of attention
    entropy: np.ndarray  # (N,) mean entropy of the attention rows, nats
    importance: np.ndarray | None  # (N,) Michel importance (per-layer normalised), when computed
    trained: bool
    name: str
    notes: list[str] = field(default_factory=list)

    def label(self, i: int) -> str:
        return f"L{i // self.heads}.H{i % self.heads}"

    @property
    def labels(self) -> list[str]:
        return [self.label(i) for i in range(self.layers * self.heads)]

    def rows(self) -> list[dict[str, Any]]:
        """One row per head (CSV and tables)."""
        group_of = {i: g for g, members in enumerate(self.groups) for i in members}
        d = self.distances + np.diag(np.full(len(self.distances), np.inf))
        out = []
        for i in range(len(self.distances)):
            j = int(np.argmin(d[i]))
            row = {"head": self.label(i), "layer": i // self.heads, "index": i % self.heads,
                   "nearest": self.label(j), "nearest_js": float(d[i, j]),
                   "group": group_of.get(i, ""), "entropy": float(self.entropy[i])}
            row.update({f"to_{k}": float(v[i]) for k, v in self.shares.items()})
            if self.importance is not None:
                row["importance"] = float(self.importance[i])
            row["mds_x"], row["mds_y"] = (float(v) for v in self.mds[i])
            out.append(row)
        return out


def _shares(p: np.ndarray, ids: torch.Tensor, special: dict[str, int | None], punct: np.ndarray
            ) -> dict[str, np.ndarray]:
    """(N,) summed over query rows: attention to [CLS], [SEP], punctuation and the query token itself."""
    out = {}
    ids = ids.numpy()
    for name in ("cls", "sep"):
        tid = special.get(name)
        cols = (ids == tid) if tid is not None else np.zeros(len(ids), dtype=bool)
        out[name] = p[:, :, cols].sum((-1, -2))
    out["punct"] = p[:, :, punct].sum((-1, -2))
    out["self"] = np.diagonal(p, axis1=-2, axis2=-1).sum(-1)
    return out


def _punct_mask(tokenizer: Any, ids: torch.Tensor) -> np.ndarray:
    toks = [t.lstrip("Ġ▁#") for t in tokenizer.convert_ids_to_tokens(ids.tolist())]
    return np.array([t != "" and all(c in _PUNCT for c in t) for t in toks], dtype=bool)


def head_distances(model: Any, sentences: Any = None, max_length: int = 128) -> np.ndarray:
    """(layers · heads)² mean Jensen-Shannon divergence (nats) between every pair of heads' attention rows,
    over the sentences' real query tokens (layer-major head order)."""
    return _measure(runnable(model), read_sentences(sentences), max_length, stats=False)[0]


def _measure(run: Any, texts: list[str], max_length: int, stats: bool = True):
    tok = need_tokenizer(run)
    special = {"cls": getattr(tok, "cls_token_id", None), "sep": getattr(tok, "sep_token_id", None)}
    total, rows = None, 0
    acc: dict[str, np.ndarray] = {}
    # shortest first: sentences of one batch pad to alike lengths (the mean is order-free)
    for p, ids in attention_rows(run.model, encode(tok, sorted(texts, key=len), max_length)):
        s = js_sums(p)
        total = s if total is None else total + s
        rows += p.shape[1]
        if stats:
            parts = _shares(p, ids, special, _punct_mask(tok, ids))
            parts["entropy"] = _entropy_rows(p).sum(-1)
            for k, v in parts.items():
                acc[k] = acc.get(k, 0) + v
    dist = total / rows
    dist = (dist + dist.T) / 2  # exact up to rounding; symmetric for the clustering
    np.fill_diagonal(dist, 0.0)
    return dist, {k: v / rows for k, v in acc.items()}, rows


def head_report(model: Any, sentences: Any = None, importance: bool = True, threshold: float = NEAR_DUPLICATE,
                max_length: int = 128) -> HeadReport:
    """The full heads analysis: distances, clustering, near-duplicate groups, MDS map and per-head
    attention shares, entropy and (``importance``) Michel importance on the same sentences."""

    run = runnable(model)
    texts = read_sentences(sentences)
    layers = find_layers(run.model, "heads")
    dist, acc, rows = _measure(run, texts, max_length)
    order, groups = cluster(dist, threshold)
    imp = None
    if importance:
        imp = head_importance(run, texts, max_length).reshape(-1)
    notes = [] if run.trained else [RANDOM_NOTE]
    return HeadReport(dist, len(layers), layers[0].heads, len(texts), rows, order, groups, threshold,
                      mds(dist), {k: acc[k] for k in ("cls", "sep", "punct", "self")}, acc["entropy"], imp,
                      bool(run.trained), run.name, notes)


def head_importance(run: Any, texts: list[str], max_length: int = 128) -> np.ndarray:
    """(layers, heads) Michel importance on ``texts``, on a private copy (gradients touch the model)."""
    import copy


    model = copy.deepcopy(run.model)
    bats = encode(need_tokenizer(run), texts, max_length, batch_size=16)
    ref = reference(model, bats, run.tokenizer)
    return importance(model, find_layers(model, "heads"), bats, loss_for(model, ref, bats, run.tokenizer),
                      normalize=True).numpy()


def cluster(dist: np.ndarray, threshold: float) -> tuple[list[int], list[list[int]]]:
    """(leaf order of an average-linkage clustering, groups of 2+ heads whose clusters merge under
    ``threshold``)."""
    from scipy.cluster.hierarchy import fcluster, leaves_list, linkage
    from scipy.spatial.distance import squareform

    if len(dist) < 2:
        return list(range(len(dist))), []
    z = linkage(squareform(dist, checks=False), method="average")
    labels = fcluster(z, t=threshold, criterion="distance")
    groups: dict[int, list[int]] = {}
    for i, c in enumerate(labels):
        groups.setdefault(int(c), []).append(i)
    found = sorted((g for g in groups.values() if len(g) > 1), key=lambda g: (-len(g), g[0]))
    return [int(i) for i in leaves_list(z)], found


def mds(dist: np.ndarray, seed: int = 0) -> np.ndarray:
    """2-D metric MDS (scikit-learn) of the Jensen-Shannon distance √JS (a metric, unlike JS itself)."""
    import inspect

    from sklearn.manifold import MDS

    kw: dict[str, Any] = {"n_components": 2, "random_state": seed}
    params = inspect.signature(MDS).parameters
    if "metric_mds" in params:  # scikit-learn >= 1.8: metric names the dissimilarity
        kw.update(metric="precomputed", init="classical_mds", n_init=1)
    else:
        kw.update(dissimilarity="precomputed", n_init=4)
    return MDS(**kw).fit_transform(np.sqrt(np.clip(dist, 0, None)))
