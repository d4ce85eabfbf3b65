"""Feed-forward neurons: score each of a layer's intermediate neurons, prune by zeroing its in-row and out-column.

"activation": mean |activation| (after GELU) over the real tokens of the sentences, read as the input of the
FFN's output Linear. "weight": ‖w_in row‖₂ · ‖w_out column‖₂, the neuron's largest possible gain, no data
needed. Pruned neurons: GELU(0) = 0, so a neuron whose in-row and bias are zero outputs exactly nothing.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from bertviz_graph.pruning.arch import LayerParts


@torch.no_grad()
def activation_scores(model: nn.Module, layers: list[LayerParts], batches: list[dict]) -> torch.Tensor:
    """(layers, ffn) mean |activation| per neuron over real tokens."""
    total = torch.zeros(len(layers), layers[0].ffn_in.out_features, dtype=torch.float64)
    tokens = 0
    for batch in batches:
        mask = batch["attention_mask"].bool()
        handles = []
        for lp in layers:
            def pre(_m, args, i=lp.index, mask=mask):
                total[i] += args[0].abs()[mask].sum(0).double()
            handles.append(lp.ffn_out.register_forward_pre_hook(pre))
        try:
            model(**batch)
        finally:
            for h in handles:
                h.remove()
        tokens += int(mask.sum())
    return (total / max(tokens, 1)).float()


@torch.no_grad()
def weight_scores(layers: list[LayerParts]) -> torch.Tensor:
    return torch.stack([lp.ffn_in.weight.norm(dim=1) * lp.ffn_out.weight.norm(dim=0) for lp in layers])


def pick_per_layer(scores: torch.Tensor, amount: float) -> dict[int, list[int]]:
    """The round(amount · ffn) lowest-scoring neurons of every layer (activations differ in scale between
    layers, so each layer loses the same share)."""
    k = int(round(amount * scores.shape[1]))
    if k == 0:
        return {}
    return {i: sorted(torch.argsort(row, stable=True)[:k].tolist()) for i, row in enumerate(scores)}


@torch.no_grad()
def zero_neurons(layers: list[LayerParts], neurons: dict[int, list[int]]) -> None:
    for lp in layers:
        idx = neurons.get(lp.index)
        if not idx:
            continue
        t = torch.tensor(idx, dtype=torch.long)
        lp.ffn_in.weight[t] = 0.0
        if lp.ffn_in.bias is not None:
            lp.ffn_in.bias[t] = 0.0
        lp.ffn_out.weight[:, t] = 0.0
