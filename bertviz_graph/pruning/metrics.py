"""What pruning costs: losses for head importance, and agreement of a pruned model with the unpruned one.

Agreement, on the same sentences: embedding cosine (mean-pooled last hidden state, what sentence-transformers'
MiniLM uses), top-1 fill-mask agreement at masked positions (masked-LM checkpoints), top-1 logits agreement
(classifiers). Task metrics: Spearman between the model's cosine similarities and human similarity judgements
(the Lee corpus), and probe accuracy: how well a logistic regression on the sentence embeddings predicts
given labels on sentences it was not fitted on (cross-validated; scikit-learn).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

CONTRASTIVE_SCALE = 20.0  # sentence-transformers' MultipleNegativesRankingLoss default


def model_kind(model: nn.Module) -> str:
    name = type(model).__name__
    if name.endswith("ForMaskedLM"):
        return "mlm"
    if name.endswith("ForSequenceClassification"):
        return "cls"
    return "base"


def mean_pool(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    m = mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * m).sum(1) / m.sum(1).clamp_min(1.0)


def embed(model: nn.Module, batch: dict) -> torch.Tensor:
    """Mean-pooled last hidden state, from the base model's own output (not ``output_hidden_states``:
    transformers 5 records those through hooks that another thread's run of the model can leave empty)."""
    base = getattr(model, "base_model", model)
    out = base(**batch)
    hidden = out.last_hidden_state if hasattr(out, "last_hidden_state") else out[0]
    return mean_pool(hidden, batch["attention_mask"])


def mask_positions(batch: dict, special_ids: set[int], every: int = 7) -> torch.Tensor:
    """Deterministic ~15% of the real, non-special tokens (at least one per sentence) as a bool (B, T)."""
    ids, att = batch["input_ids"], batch["attention_mask"].bool()
    ok = att & ~torch.isin(ids, torch.tensor(sorted(special_ids) or [-1]))
    pos = torch.zeros_like(ok)
    for b in range(ids.shape[0]):
        real = ok[b].nonzero().flatten()
        if len(real):
            pos[b, real[:: every]] = True
    return pos


@dataclass
class Reference:
    """What the unpruned model produced per batch: embeddings, masked positions and predictions."""

    embeddings: list[torch.Tensor]
    masked: list[torch.Tensor | None]
    predictions: list[torch.Tensor | None]  # top-1 ids at masked positions (mlm) or classes (cls)


def masked_batch(batch: dict, pos: torch.Tensor | None, mask_id: int | None) -> dict:
    if pos is None or mask_id is None:
        return batch
    b = dict(batch)
    b["input_ids"] = batch["input_ids"].masked_fill(pos, mask_id)
    return b


@torch.no_grad()
def reference(model: nn.Module, batches: list[dict], tokenizer=None) -> Reference:
    kind = model_kind(model)
    special = set(getattr(tokenizer, "all_special_ids", []) or [])
    mask_id = getattr(tokenizer, "mask_token_id", None)
    embs, masked, preds = [], [], []
    for batch in batches:
        embs.append(embed(model, batch))
        if kind == "mlm" and mask_id is not None:
            pos = mask_positions(batch, special)
            logits = model(**masked_batch(batch, pos, mask_id)).logits
            masked.append(pos)
            preds.append(logits[pos].argmax(-1))
        elif kind == "cls":
            masked.append(None)
            preds.append(model(**batch).logits.argmax(-1))
        else:
            masked.append(None)
            preds.append(None)
    return Reference(embs, masked, preds)


def loss_for(model: nn.Module, ref: Reference, batches: list[dict], tokenizer=None,
             labels: list[torch.Tensor] | None = None):
    """The per-example loss head importance differentiates, for this model's kind.

    mlm: cross-entropy of the original tokens at the masked positions. cls: cross-entropy against the given
    labels, else against the unpruned model's own predictions. base (sentence embeddings): in-batch
    contrastive loss of retrieving each sentence's unpruned embedding among the batch's (the loss
    sentence-transformers trains MiniLM with); needs two or more sentences per batch.
    """
    kind = model_kind(model)
    index = {id(b): i for i, b in enumerate(batches)}
    mask_id = getattr(tokenizer, "mask_token_id", None)

    def fn(m: nn.Module, batch: dict) -> torch.Tensor:
        i = index[id(batch)]
        if kind == "mlm" and ref.masked[i] is not None:
            pos = ref.masked[i]
            logits = m(**masked_batch(batch, pos, mask_id)).logits
            target = batch["input_ids"].masked_fill(~pos, -100)
            tok = F.cross_entropy(logits.transpose(1, 2), target, reduction="none", ignore_index=-100)
            return tok.sum(1) / pos.sum(1).clamp_min(1)
        if kind == "cls":
            target = labels[i] if labels is not None else ref.predictions[i]
            return F.cross_entropy(m(**batch).logits, target, reduction="none")
        e = F.normalize(embed(m, batch), dim=-1)
        e0 = F.normalize(ref.embeddings[i], dim=-1)
        logits = CONTRASTIVE_SCALE * e @ e0.T
        return F.cross_entropy(logits, torch.arange(len(e)), reduction="none")

    return fn


@torch.no_grad()
def agreement(model: nn.Module, ref: Reference, batches: list[dict], tokenizer=None) -> dict[str, float]:
    """Agreement with the unpruned model on the same batches."""
    kind = model_kind(model)
    mask_id = getattr(tokenizer, "mask_token_id", None)
    cos, agree, n = [], 0, 0
    for i, batch in enumerate(batches):
        cos.append(F.cosine_similarity(embed(model, batch), ref.embeddings[i], dim=-1))
        if kind == "mlm" and ref.masked[i] is not None:
            pos = ref.masked[i]
            pred = model(**masked_batch(batch, pos, mask_id)).logits[pos].argmax(-1)
            agree += int((pred == ref.predictions[i]).sum())
            n += int(pred.numel())
        elif kind == "cls":
            pred = model(**batch).logits.argmax(-1)
            agree += int((pred == ref.predictions[i]).sum())
            n += int(pred.numel())
    out = {"embedding_cosine": float(torch.cat(cos).mean())}
    if kind == "mlm":
        out["fill_mask_top1_agreement"] = agree / max(n, 1)
    elif kind == "cls":
        out["logits_top1_agreement"] = agree / max(n, 1)
    return out


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman's ρ with average ranks for ties (Pearson correlation of the ranks)."""
    def ranks(x: np.ndarray) -> np.ndarray:
        order = np.argsort(x, kind="mergesort")
        r = np.empty(len(x))
        r[order] = np.arange(len(x), dtype=float)
        xs = x[order]
        i = 0
        while i < len(x):  # average the ranks of tied values
            j = i
            while j + 1 < len(x) and xs[j + 1] == xs[i]:
                j += 1
            if j > i:
                r[order[i:j + 1]] = (i + j) / 2
            i = j + 1
        return r

    ra, rb = ranks(np.asarray(a, float)), ranks(np.asarray(b, float))
    return float(np.corrcoef(ra, rb)[0, 1])


@torch.no_grad()
def similarity_spearman(model: nn.Module, batches: list[dict], human: np.ndarray) -> float:
    """ρ between the model's pairwise cosine similarities (upper triangle) and the human ones. ``batches``
    must keep the documents in the order of ``human``'s rows."""
    e = F.normalize(torch.cat([embed(model, b) for b in batches]), dim=-1)
    sims = (e @ e.T).numpy()
    iu = np.triu_indices(len(human), k=1)
    return spearman(sims[iu], human[iu])


@torch.no_grad()
def sentence_embeddings(model: nn.Module, batches: list[dict]) -> np.ndarray:
    """Mean-pooled last hidden states of every sentence, in the batches' order, as float64 (N, hidden)."""
    return torch.cat([embed(model, b) for b in batches]).double().numpy()


def probe_accuracy(features: np.ndarray, labels: np.ndarray, folds: int = 5, repeats: int = 4,
                   seed: int = 0) -> float:
    """Held-out accuracy of a logistic-regression probe: the mean over ``repeats`` × stratified
    ``folds``-fold cross-validation (every fold scored on sentences its probe never saw). Embeddings are
    L2-normalised first (MiniLM's are compared by cosine); L2-regularised with sklearn's default C=1 (on
    Pang & Lee it did at least as well as standardised features or other C, tried by hand for MiniLM)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import RepeatedStratifiedKFold, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import Normalizer

    y = np.asarray(labels)
    k = min(folds, int(np.bincount(np.unique(y, return_inverse=True)[1]).min()))
    if k < 2:
        raise ValueError("a probe needs at least two sentences of every label")
    clf = make_pipeline(Normalizer(), LogisticRegression(C=1.0, max_iter=2000))
    cv = RepeatedStratifiedKFold(n_splits=k, n_repeats=repeats, random_state=seed)
    return float(cross_val_score(clf, features, y, cv=cv, scoring="accuracy").mean())
