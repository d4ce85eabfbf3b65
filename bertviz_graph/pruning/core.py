"""One entry point for every pruning method: score, choose, zero in place, and say what was done.

Methods (``METHODS``):
    magnitude, magnitude-layer, magnitude-matrix   smallest |w| of the layers' Linear weights (one threshold
                                                    over all, per transformer layer, per matrix)
    random                                          the same number of weights per matrix, at random
    heads-importance, heads-entropy, heads-random   whole attention heads: lowest Michel importance, highest
                                                    attention entropy (the most uniform heads), at random
    heads-redundant                                 one head of each near-duplicate pair first (closest
                                                    Jensen-Shannon attention, the less important of the
                                                    two; prune.redundant)
    low-rank                                        each layer Linear replaced by its rank-r truncation,
                                                    r keeping (1 − amount) of its parameters as two factors
    neurons-activation, neurons-weight, neurons-random   feed-forward neurons per layer: lowest mean
                                                    |activation|, lowest ‖w_in‖·‖w_out‖, at random
Every pruned weight is an exact zero in an unchanged architecture, so the result saves as a normal
``save_pretrained`` folder that every tool loads.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn as nn

from bertviz_graph.errors import UserError
from bertviz_graph.pruning import heads as H
from bertviz_graph.pruning import magnitude as M
from bertviz_graph.pruning import neurons as N
from bertviz_graph.pruning.arch import find_layers
from bertviz_graph.pruning.lowrank import low_rank_prune
from bertviz_graph.pruning.methods import NEEDS_DATA, check_method, family
from bertviz_graph.pruning.metrics import loss_for, reference
from bertviz_graph.pruning.redundant import redundancy_scores


@dataclass
class PruneRecord:
    """What was pruned; JSON-able, stored in config.json under ``RECORD_KEY``."""

    method: str
    amount: float
    sentences: int = 0
    heads: dict[int, list[int]] = field(default_factory=dict)  # layer -> pruned heads
    neurons: dict[int, list[int]] = field(default_factory=dict)  # layer -> pruned FFN neurons
    n_heads: int = 0
    n_layers: int = 0
    ffn: int = 0
    scores: list[list[float]] | None = None  # heads: importance / entropy / random (layers × heads)
    score_name: str = ""
    sparsity: dict[str, list[int]] = field(default_factory=dict)  # param name -> [zeros, numel]
    layer_paths: list[str] = field(default_factory=list)
    effect: dict[str, float] = field(default_factory=dict)  # agreement with the unpruned model, when measured
    source: str = ""  # what was pruned (a model name or folder): the app's way back to the original

    def to_json(self) -> dict[str, Any]:
        d = dict(vars(self))
        d["heads"] = {str(k): v for k, v in self.heads.items()}
        d["neurons"] = {str(k): v for k, v in self.neurons.items()}
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> PruneRecord:
        d = dict(d)
        d["heads"] = {int(k): list(v) for k, v in (d.get("heads") or {}).items()}
        d["neurons"] = {int(k): list(v) for k, v in (d.get("neurons") or {}).items()}
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in d.items() if k in known})


def sparsity_of(model: nn.Module) -> dict[str, list[int]]:
    """[zeros, numel] of every weight matrix (2-D parameter)."""
    return {n: [int((p == 0).sum()), p.numel()] for n, p in model.named_parameters() if p.dim() == 2}


def head_scores(model: nn.Module, method: str, batches: list[dict], tokenizer=None, labels=None,
                seed: int = 0) -> tuple[torch.Tensor, str]:
    """(layers × heads scores, their name); the lowest are pruned first."""
    layers = find_layers(model, "heads")
    if method == "heads-importance":

        ref = reference(model, batches, tokenizer)
        return H.head_importance(model, layers, batches, loss_for(model, ref, batches, tokenizer, labels),
                                 normalize=True), "importance (Michel et al., per-layer L2 normalised)"
    if method == "heads-redundant":

        return redundancy_scores(model, batches, tokenizer, labels), "redundancy order (0 = pruned first)"
    if method == "heads-entropy":
        # high entropy = attention spread evenly = the head averages; those go first, so negate
        return -H.head_entropy(model, layers, batches), "attention entropy (nats; highest pruned first)"
    return H.random_scores(len(layers), layers[0].heads, seed), "random"


def neuron_scores(model: nn.Module, method: str, batches: list[dict], seed: int = 0) -> torch.Tensor:
    layers = find_layers(model, "neurons")
    if method == "neurons-activation":
        return N.activation_scores(model, layers, batches)
    if method == "neurons-weight":
        return N.weight_scores(layers)
    gen = torch.Generator().manual_seed(seed)
    return torch.rand(len(layers), layers[0].ffn_in.out_features, generator=gen)


@torch.no_grad()
def apply_choice(model: nn.Module, method: str, amount: float, scores: torch.Tensor | None = None,
                 seed: int = 0) -> PruneRecord:
    """Zero the weights ``method`` chooses (given precomputed ``scores`` for heads/neurons)."""
    rec = PruneRecord(method=method, amount=float(amount))
    fam = family(method)
    if fam == "heads":
        layers = find_layers(model, "heads")
        rec.heads = H.pick_lowest(scores, amount)
        H.zero_heads(layers, rec.heads)
    elif fam == "neurons":
        layers = find_layers(model, "neurons")
        rec.neurons = N.pick_per_layer(scores, amount)
        N.zero_neurons(layers, rec.neurons)
    elif method == "random":
        M.random_prune(model, amount, seed)
    elif method == "low-rank":

        low_rank_prune(model, amount)
    else:
        M.magnitude_prune(model, amount, {"magnitude": "global", "magnitude-layer": "layer",
                                          "magnitude-matrix": "matrix"}[method])
    return rec


def prune_module(model: nn.Module, method: str, amount: float, batches: list[dict] | None = None,
                 tokenizer=None, labels=None, seed: int = 0) -> PruneRecord:
    """Prune ``model`` in place (it must be yours: nothing is copied) and return the record."""
    check_method(method, amount)
    if any(p.is_meta for p in model.parameters()):
        raise UserError("the model has no weights (structure only, meta device): there is nothing to prune",
                        "load a checkpoint folder with model.safetensors")
    if method in NEEDS_DATA and not batches:
        raise UserError(f"{method} needs sentences to score on", "pass sentences (or use the built-in set)")
    scores, score_name = None, ""
    fam = family(method)
    if fam == "heads":
        scores, score_name = head_scores(model, method, batches or [], tokenizer, labels, seed)
    elif fam == "neurons":
        scores = neuron_scores(model, method, batches or [], seed)
        score_name = method.split("-", 1)[1]
    rec = apply_choice(model, method, amount, scores, seed)
    if fam != "weights":
        layers = find_layers(model, fam)
        rec.n_layers, rec.n_heads, rec.ffn = len(layers), layers[0].heads, layers[0].ffn_in.out_features
        rec.layer_paths = [lp.path for lp in layers]
    if fam == "heads":
        shown = -scores if method == "heads-entropy" else scores  # the grid shows entropy itself
        rec.scores, rec.score_name = shown.tolist(), score_name
    if method in NEEDS_DATA:
        rec.sentences = sum(int(b["input_ids"].shape[0]) for b in batches or [])
    rec.sparsity = sparsity_of(model)
    return rec
