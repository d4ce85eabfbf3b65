"""The intermediate layer (seed 001; "Undivided Attention", Kornblith et al.'s CKA): remove layer k's
feed-forward block (its contribution to the residual stream is zero, so the layer's output is the LayerNorm
of the attention block's output alone), or its attention block, or shrink every intermediate layer to m% of
its neurons, and measure what changes: every layer's representation against the original's (linear CKA on
the same sentences' real tokens) and a held-out task metric with its bootstrap interval.

Removing a block = zeroing its output projection's weight and bias, on a private copy of the model, so the
block adds exactly nothing before the residual LayerNorm.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn as nn

from bertviz_graph.analyze.inputs import RANDOM_NOTE, encode, need_tokenizer, read_sentences, runnable
from bertviz_graph.analyze.linear_cka import cka
from bertviz_graph.errors import UserError
from bertviz_graph.pruning.arch import find_layers
from bertviz_graph.pruning.core import neuron_scores
from bertviz_graph.pruning.holdout import split
from bertviz_graph.pruning.intervals import lee_with_interval
from bertviz_graph.pruning.neurons import pick_per_layer, zero_neurons
from bertviz_graph.run.load import tokenize

KINDS = ("ffn", "attn")


@contextmanager
def removed(model: nn.Module, kind: str, layer: int) -> Iterator[None]:
    """While inside, layer ``layer``'s FFN (``"ffn"``) or attention (``"attn"``) block outputs zero (its
    output Linear's weight and bias are zero); restored after."""

    if kind not in KINDS:
        raise UserError(f"unknown ablation '{kind}'", "use ffn (the feed-forward block) or attn (attention)")
    layers = find_layers(model, "neurons" if kind == "ffn" else "heads")
    if not 0 <= layer < len(layers):
        raise UserError(f"layer {layer} does not exist: the model has layers 0..{len(layers) - 1}",
                        f"give --layer between 0 and {len(layers) - 1}")
    lin = layers[layer].ffn_out if kind == "ffn" else layers[layer].attn_out
    saved = [(t, t.detach().clone()) for t in (lin.weight, lin.bias) if t is not None]
    with torch.no_grad():
        for t, _ in saved:
            t.zero_()
    try:
        yield
    finally:
        with torch.no_grad():
            for t, v in saved:
                t.copy_(v)


@contextmanager
def shrunk(model: nn.Module, keep: float, scores: torch.Tensor) -> Iterator[None]:
    """While inside, every intermediate layer keeps only its ``keep`` share of neurons (highest
    ``scores``); the others' in-rows and out-columns are zero."""

    layers = find_layers(model, "neurons")
    saved = [(t, t.detach().clone()) for lp in layers for t in (lp.ffn_in.weight, lp.ffn_in.bias,
                                                                  lp.ffn_out.weight) if t is not None]
    zero_neurons(layers, pick_per_layer(scores, 1.0 - keep))
    try:
        yield
    finally:
        with torch.no_grad():
            for t, v in saved:
                t.copy_(v)


@torch.no_grad()
def layer_states(model: nn.Module, batches: list[dict]) -> list[np.ndarray]:
    """Every layer's output over the real tokens of all sentences: [tokens × hidden] per layer (float64),
    captured with forward hooks on the layer modules (not ``output_hidden_states``)."""

    layers = find_layers(model, "heads")
    mods = [model.get_submodule(lp.path) for lp in layers]
    out: list[list[np.ndarray]] = [[] for _ in mods]
    for batch in batches:
        got: dict[int, torch.Tensor] = {}
        hs = [m.register_forward_hook(lambda _m, _a, o, i=i, got=got: got.__setitem__(
            i, o[0] if isinstance(o, tuple) else o)) for i, m in enumerate(mods)]
        try:
            model(**batch)
        finally:
            for h in hs:
                h.remove()
        mask = batch["attention_mask"].bool()
        for i in range(len(mods)):
            out[i].append(got[i][mask].double().numpy())
    return [np.concatenate(x) for x in out]


@dataclass
class Ablated:
    """An ablated model's outputs: for ``text`` its ``last_hidden_state`` [tokens × hidden]; for sentences
    the per-layer CKA against the original and (``task``) the held-out metric with its interval."""

    kind: str
    layer: int | None
    last_hidden_state: torch.Tensor | None = None
    cka: list[float] = field(default_factory=list)
    metrics: dict[str, float] = field(default_factory=dict)


def ablate(model: Any, kind: str, layer: int, text: str | None = None, sentences: Any = None,
           task: str | None = None) -> Ablated:
    """Remove layer ``layer``'s ``kind`` block ("ffn" or "attn") and run: ``text`` gives
    ``.last_hidden_state``; ``sentences`` (list, file) gives per-layer CKA against the unablated model;
    ``task="lee"`` adds the Lee human-similarity ρ with its bootstrap 95% interval."""
    run = runnable(model, own=True)
    tok = need_tokenizer(run)
    out = Ablated(kind, layer)
    base_states = None
    if sentences is not None:
        bats = encode(tok, read_sentences(sentences))
        base_states = layer_states(run.model, bats)
    with removed(run.model, kind, layer):
        if text is not None:

            ids = torch.tensor([tokenize(run, text).input_ids])
            with torch.no_grad():
                res = getattr(run.model, "base_model", run.model)(input_ids=ids)
            out.last_hidden_state = res.last_hidden_state[0]
        if base_states is not None:
            out.cka = [cka(a, b) for a, b in zip(base_states, layer_states(run.model, bats))]
        if task == "lee":

            out.metrics = lee_with_interval(tok)(run.model)
    return out


@dataclass
class Study:
    """Every ablation of a model: rows {ablation, layer, keep, lee_spearman(_lo/_hi), cka_0..cka_L-1}."""

    rows: list[dict[str, Any]]
    base: dict[str, float]  # the unablated model's metric and interval
    scoring: str  # which sentences scored the neurons (shrink)
    measuring: str  # which sentences the CKA is measured on
    task: str  # what the held-out metric is
    shares: dict[str, float]  # the FFN's share of a layer's parameters and FLOPs
    trained: bool
    name: str
    notes: list[str] = field(default_factory=list)


def ffn_share(model: nn.Module, tokens: float) -> dict[str, float]:
    """The feed-forward block's share of one layer's parameters and of its forward FLOPs at ``tokens``
    tokens (multiply-add = 2 FLOPs; attention scores and weighted sum counted; norms and softmax not)."""

    lp = find_layers(model, "heads")[0]
    layer = model.get_submodule(lp.path)
    total = sum(p.numel() for p in layer.parameters())
    ffn = sum(p.numel() for m in (lp.ffn_in, lp.ffn_out) for p in m.parameters())
    h, f = lp.query.in_features, lp.ffn_in.out_features
    ffn_fl = 2 * tokens * 2 * h * f
    attn_fl = 2 * tokens * 4 * h * h + 2 * 2 * tokens * tokens * h
    return {"ffn_params": ffn / total, "ffn_flops": ffn_fl / (ffn_fl + attn_fl), "tokens": tokens,
            "layer_params": float(total)}


def ablation_study(model: Any, sentences: Any = None, keeps: tuple[float, ...] = (0.5, 0.25, 0.1),
                   task: str | None = "lee", progress: Any = None) -> Study:
    """Each layer's FFN removed, each layer's attention removed, and every FFN shrunk to each ``keeps``
    share: per-layer CKA against the original on the measuring half of ``sentences``; neurons scored (mean
    |activation|) on the other half; the held-out task metric (Lee ρ, documents no analysis saw)."""

    say = progress or (lambda _m: None)
    run = runnable(model, own=True)
    tok = need_tokenizer(run)
    sets = split(read_sentences(sentences), "built-in sentences" if sentences is None else str(sentences)
                 if not isinstance(sentences, list) else "your sentences")
    score_b, meas_b = encode(tok, sets.scoring), encode(tok, sets.measuring)
    task_fn = None
    if task == "lee":

        task_fn = lee_with_interval(tok)
    base_states = layer_states(run.model, meas_b)
    base = task_fn(run.model) if task_fn else {}
    n_layers = len(find_layers(run.model, "heads"))

    def measure(row: dict[str, Any]) -> dict[str, Any]:
        states = layer_states(run.model, meas_b)
        row.update({f"cka_{i}": cka(a, b) for i, (a, b) in enumerate(zip(base_states, states))})
        if task_fn:
            row.update(task_fn(run.model))
        say(f"{row['ablation']} {row.get('layer', '')}{row.get('keep', '')}: "
            + ", ".join(f"{k} {v:.3f}" for k, v in row.items() if k.startswith(("lee", "cka_" + str(n_layers - 1)))))
        return row

    rows = []
    for kind in KINDS:
        for k in range(n_layers):
            with removed(run.model, kind, k):
                rows.append(measure({"ablation": f"remove {kind}", "layer": k, "keep": ""}))
    scores = neuron_scores(run.model, "neurons-activation", score_b)
    for keep in keeps:
        with shrunk(run.model, keep, scores):
            rows.append(measure({"ablation": "shrink ffn", "layer": "all", "keep": keep}))
    tokens = float(np.mean([int(b["attention_mask"].sum()) / b["attention_mask"].shape[0] for b in meas_b]))
    return Study(rows, base, sets.scoring_name, sets.measuring_name,
                 "Lee corpus human-similarity Spearman ρ (50 documents, 1,225 pairs; bootstrap 95% over "
                 "pairs)" if task_fn else "", ffn_share(run.model, tokens), bool(run.trained), run.name,
                 [] if run.trained else [RANDOM_NOTE])
