"""Cut pruned heads and feed-forward neurons physically out of a model: every affected Linear is replaced by
a smaller ``nn.Linear`` holding only the kept rows / columns (transformers 5 has no ``prune_heads``).

What the "parameters and FLOPs saved" of the Pruning tab promise is what this model saves; the tests
count it with ``torch.utils.flop_counter.FlopCounterMode`` and ``numel``.
"""

from __future__ import annotations

import copy
from typing import Any

import torch
import torch.nn as nn

from bertviz_graph.errors import UserError
from bertviz_graph.pruning.arch import LayerParts, find_layers


def _sliced(lin: nn.Linear, rows: torch.Tensor | None = None, cols: torch.Tensor | None = None) -> nn.Linear:
    w = lin.weight.detach()
    w = w[rows] if rows is not None else w
    w = w[:, cols] if cols is not None else w
    out = nn.Linear(w.shape[1], w.shape[0], bias=lin.bias is not None, dtype=w.dtype, device=w.device)
    with torch.no_grad():
        out.weight.copy_(w)
        if lin.bias is not None:
            out.bias.copy_(lin.bias.detach()[rows] if rows is not None else lin.bias.detach())
    return out


def _replace(model: nn.Module, path: str, new: nn.Module) -> None:
    parent, _, name = path.rpartition(".")
    setattr(model.get_submodule(parent) if parent else model, name, new)


def _cut_heads(model: nn.Module, lp: LayerParts, pruned: list[int]) -> None:
    keep_heads = [h for h in range(lp.heads) if h not in set(pruned)]
    if not keep_heads:
        raise UserError(f"every head of layer {lp.index} is pruned: the layer's attention cannot be cut out "
                        "as a smaller Linear", "prune fewer heads")
    d = lp.d_head
    idx = torch.tensor([h * d + j for h in keep_heads for j in range(d)], dtype=torch.long)
    for part in ("query", "key", "value"):
        _replace(model, lp.names[part], _sliced(getattr(lp, part), rows=idx))
    _replace(model, lp.names["attn_out"], _sliced(lp.attn_out, cols=idx))
    owner = model.get_submodule(lp.names["query"].rpartition(".")[0])
    for name in ("num_attention_heads", "n_heads", "num_heads"):  # the head count the reshapes read
        if isinstance(getattr(owner, name, None), int):
            setattr(owner, name, len(keep_heads))
    if isinstance(getattr(owner, "all_head_size", None), int):
        owner.all_head_size = len(keep_heads) * d


def _cut_neurons(model: nn.Module, lp: LayerParts, pruned: list[int]) -> None:
    gone = set(pruned)
    idx = torch.tensor([i for i in range(lp.ffn_in.out_features) if i not in gone], dtype=torch.long)
    _replace(model, lp.names["ffn_in"], _sliced(lp.ffn_in, rows=idx))
    _replace(model, lp.names["ffn_out"], _sliced(lp.ffn_out, cols=idx))


def shrink(model: nn.Module, record: Any) -> nn.Module:
    """A copy of ``model`` with the record's pruned heads and neurons removed (``record``: a PruneRecord or
    its JSON). Unstructured zeros stay: they cannot be cut out of a dense matrix."""
    rec = record if isinstance(record, dict) else record.to_json()
    heads = {int(k): list(v) for k, v in (rec.get("heads") or {}).items() if v}
    neurons = {int(k): list(v) for k, v in (rec.get("neurons") or {}).items() if v}
    out = copy.deepcopy(model)
    if heads:
        for lp in find_layers(out, "heads"):
            if heads.get(lp.index):
                _cut_heads(out, lp, heads[lp.index])
    if neurons:
        for lp in find_layers(out, "neurons"):
            if neurons.get(lp.index):
                _cut_neurons(out, lp, neurons[lp.index])
    return out
