"""What a step minimises: the model's inputs and a loss over its outputs (plain torch, autograd does the rest).

- ``similarity``: sentence-transformers' CosineSimilarityLoss with mean pooling: u, v = the mean of the last
  hidden state over each sentence's tokens (each sentence runs alone, so none is padding), loss = (cos(u, v) - target)².
- ``mlm``: cross-entropy of the logits at the masked position(s) against the original token id(s).
- ``classify``: cross-entropy of the logits against ``label`` (the model's own classification head, or a fresh
  zero-initialised Linear on the pooled output: at zero only that head receives a gradient on step one).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bertviz_graph.errors import UserError
from bertviz_graph.run.load import Runnable, Tokens

OBJECTIVES = ("similarity", "mlm", "classify")
FRESH_LABELS = 2


@dataclass
class Objective:
    name: str
    inputs: list[Tokens]  # each run through the model on its own
    loss: Callable[[list[Any]], Any]  # the model's outputs (one per input, indexable) -> scalar tensor
    describe: str
    extra: dict[str, Any] = field(default_factory=dict)  # parameters outside the model (a fresh head)
    masked: list[int] = field(default_factory=list)


def forward(model: Any, toks: Tokens) -> Any:
    """The plain model on one input (token types for a pair): what the loss functions read."""
    import torch

    kw = {"token_type_ids": torch.tensor([toks.token_type_ids])} if toks.token_type_ids else {}
    return model(torch.tensor([toks.input_ids]), **kw)


def default_objective(run: Runnable) -> str:
    return {"mlm": "mlm", "cls": "classify"}.get(run.head, "similarity")


def build(run: Runnable, text: str, pair: str | None = None, objective: str | None = None,
          target: float | None = None, label: int | None = None, mask: str | None = None) -> Objective:
    """The inputs and loss of ``objective`` for this model (a one-line UserError when it cannot do it)."""
    name = objective or default_objective(run)
    if name not in OBJECTIVES:
        raise UserError(f"unknown objective {name!r}", f"choose one of: {', '.join(OBJECTIVES)}")
    if not text or not text.strip():
        raise UserError("the text is empty", 'give a sentence, e.g. --text "A man is playing a guitar."')
    if name == "similarity":
        return _similarity(run, text, pair, target)
    if name == "mlm":
        return _mlm(run, text, mask)
    return _classify(run, text, pair, label)


def _similarity(run: Runnable, text: str, pair: str | None, target: float | None) -> Objective:
    import torch

    if run.head not in ("base", "custom"):
        raise UserError(f"objective similarity needs a sentence encoder; this folder has a {run.head} head",
                        f"use --objective {default_objective(run)}")
    if not pair or not pair.strip():
        raise UserError("objective similarity needs a second sentence", 'pass --pair "..." (and --target 0.8)')
    t = 1.0 if target is None else float(target)
    if not -1.0 <= t <= 1.0:
        raise UserError(f"target {t:g} is outside [-1, 1] (a cosine similarity)", "pass --target between -1 and 1")
    a, b = run.tokenize(text), run.tokenize(pair)

    def loss(outs: list[Any]):
        u, v = outs[0][0][0].mean(0), outs[1][0][0].mean(0)
        return (torch.nn.functional.cosine_similarity(u, v, dim=0) - t) ** 2

    return Objective("similarity", [a, b], loss, f"(cos(u, v) − {t:g})², u and v mean-pooled last hidden states")


def _mlm(run: Runnable, text: str, mask: str | None) -> Objective:
    import torch

    if run.head != "mlm":
        fits = default_objective(run)
        raise UserError(f"objective mlm needs a masked-LM head; this {run.name} folder has {run.head!r} "
                        "(no *ForMaskedLM weights)", f"use --objective {fits}, or a folder with a BertForMaskedLM")
    tok = run.tokenizer
    mask_id = getattr(tok, "mask_token_id", None) if tok is not None else None
    if mask_id is None:
        raise UserError("this model has no tokenizer with a [MASK] token", "use a folder with its tokenizer")
    toks = run.tokenize(text)
    ids = list(toks.input_ids)
    if mask:
        word = tok(mask, add_special_tokens=False)["input_ids"]
        pos = next((i for i in range(len(ids) - len(word) + 1) if word and ids[i:i + len(word)] == word), None)
        if pos is None:
            raise UserError(f"the mask word {mask!r} is not in the sentence", "pass --mask with a word of --text")
        where = list(range(pos, pos + len(word)))
    else:  # one content word: the longest whole alphabetic token
        cands = [(len(w), -i) for i, w in enumerate(toks.tokens) if w.isalpha() and not w.startswith("[")]
        if not cands:
            raise UserError("no word to mask in the sentence", "pass --mask WORD")
        where = [-max(cands)[1]]
    targets = torch.tensor([ids[i] for i in where])
    masked = [mask_id if i in where else x for i, x in enumerate(ids)]
    words = [toks.tokens[i] for i in where]
    inp = Tokens(input_ids=masked, tokens=[("[MASK]" if i in where else w) for i, w in enumerate(toks.tokens)],
                 token_type_ids=toks.token_type_ids, truncated=toks.truncated, notes=list(toks.notes))

    def loss(outs: list[Any]):
        return torch.nn.functional.cross_entropy(outs[0][0][0, where], targets)

    return Objective("mlm", [inp], loss, f"cross-entropy at the masked {' '.join(words)!r}", masked=where)


def _classify(run: Runnable, text: str, pair: str | None, label: int | None) -> Objective:
    import torch

    extra: dict[str, Any] = {}
    if run.head == "cls":
        n = int((run.config or {}).get("num_labels") or len((run.config or {}).get("id2label") or {}) or 2)
        head = None
    elif run.head in ("base", "custom"):
        hidden = int((run.config or {}).get("hidden_size") or 0)
        if not hidden:
            raise UserError("cannot add a classifier: the model's hidden size is unknown", "use --objective similarity")
        n = FRESH_LABELS
        w = torch.nn.Parameter(torch.zeros(n, hidden))
        b = torch.nn.Parameter(torch.zeros(n))
        extra = {"classifier.weight": w, "classifier.bias": b}
        head = (w, b)
    else:
        raise UserError(f"objective classify needs a classification head or a base model; this has {run.head!r}",
                        f"use --objective {default_objective(run)}")
    lab = 0 if label is None else int(label)
    if not 0 <= lab < n:
        raise UserError(f"label {lab} is out of range: this classifier has {n} labels", f"pass --label 0..{n - 1}")
    toks = run.tokenize(text, pair)
    y = torch.tensor([lab])

    def loss(outs: list[Any]):
        if head is None:
            logits = outs[0][0]
        else:
            out = outs[0]
            pooled = out[1] if len(out) > 1 and out[1] is not None and out[1].dim() == 2 else out[0][:, 0]
            logits = pooled @ head[0].T + head[1]
        return torch.nn.functional.cross_entropy(logits, y)

    how = "its own classification head" if head is None else "a fresh zero-initialised head on the pooled output"
    return Objective("classify", [toks], loss, f"cross-entropy against label {lab} ({how})", extra=extra)
