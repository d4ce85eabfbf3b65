"""What the model's head makes of a run: masked-LM top-k at each [MASK], the sentence embedding (pooled as the
checkpoint's sentence-transformers config says, else mean) and cosine similarity, classifier logits.

All from the output the captured pass produced (the graph's output node), so it is the same run."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bertviz_graph.run.load import Runnable
from bertviz_graph.torch_lock import torch_exclusive


@dataclass
class Prediction:
    kind: str  # "mlm" | "embedding" | "cls" | "qa" | "none"
    rows: list[dict[str, Any]] = field(default_factory=list)  # per [MASK] / per label / per span
    embedding: np.ndarray | None = None  # pooled sentence vector
    pooling: str = ""
    note: str = ""


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def pooling_mode(run: Runnable) -> str:
    """"mean" / "cls" / "max" from the checkpoint's 1_Pooling/config.json, "mean" when there is none."""
    for cand in ([run.folder / "1_Pooling" / "config.json"] if run.folder else []):
        if cand.is_file():
            cfg = json.loads(cand.read_text())
            for key, mode in (("pooling_mode_cls_token", "cls"), ("pooling_mode_max_tokens", "max")):
                if cfg.get(key):
                    return mode
    return "mean"


def pool(hidden: np.ndarray, mode: str = "mean", normalize: bool = True) -> np.ndarray:
    """[T, d] -> [d]: the sentence vector."""
    v = hidden[0] if mode == "cls" else hidden.max(0) if mode == "max" else hidden.mean(0)
    return v / (np.linalg.norm(v) + 1e-12) if normalize else v


def embed(run: Runnable, text: str, pair: str | None = None) -> np.ndarray:
    """A plain forward pass (no capture) of ``text``: its pooled, normalised embedding."""
    import torch


    toks = run.tokenize(text, pair)
    with torch.no_grad(), torch_exclusive():  # an eager pass beside an export would take its code paths
        out = run.model(torch.tensor([toks.input_ids]))
    return pool(out[0][0].float().numpy(), pooling_mode(run))


def predict(run: Runnable, acts: Any, k: int = 5, other: str | None = None) -> Prediction:
    """The head's reading of this run; ``other``: a second sentence to compare embeddings with."""
    out = acts.output(0)[0].float().numpy()  # logits [T, V] or hidden states [T, d]
    tok = run.tokenizer
    note = "" if run.trained else "random weights: these predictions mean nothing"
    if run.head == "mlm":
        mask_id = getattr(tok, "mask_token_id", None) if tok is not None else None
        rows = []
        for i, t in enumerate(acts.tokens.input_ids):
            if mask_id is not None and t == mask_id:
                p = _softmax(out[i])
                top = np.argsort(-p)[:k]
                rows.append({"position": i, "tokens": tok.convert_ids_to_tokens([int(j) for j in top]),
                             "probs": [float(p[j]) for j in top]})
        if not rows:
            note = (note + "; " if note else "") + "no [MASK] in the text: type [MASK] where a word should be guessed"
        return Prediction("mlm", rows, note=note)
    if run.head == "cls":
        p = _softmax(out[0] if out.ndim == 2 and out.shape[0] > 1 else out.reshape(-1))
        labels = (run.config or {}).get("id2label") or {}
        rows = [{"label": labels.get(str(i), labels.get(i, f"LABEL_{i}")), "logit": float(x), "prob": float(pi)}
                for i, (x, pi) in enumerate(zip(out.reshape(-1), p))]
        return Prediction("cls", rows, note=note)
    if run.head in ("base", "custom") and out.ndim == 2:
        mode = pooling_mode(run)
        vec = pool(out, mode)
        rows = []
        if other:
            o = embed(run, other)
            rows.append({"other": other, "cosine": float(vec @ o)})
        return Prediction("embedding", rows, embedding=vec, pooling=mode, note=note)
    return Prediction("none", note=f"no prediction view for the {run.head} head")
