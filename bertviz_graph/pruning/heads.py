"""Attention heads: a mask on each head's output (hooks), head importance (Michel et al. 2019), attention
entropy, and pruning a head by zeroing its slice of Q, K, V and the output projection.

transformers 5 removed ``head_mask``; the mask here is a forward pre-hook on each layer's output projection,
whose input is the concatenated per-head context (B, T, heads · d_head). Importance I_h = E_x |∂L(x)/∂ξ_h|
is computed with one mask per example (ξ of shape (B, layers, heads)), so one backward pass gives every
example's own gradient and the absolute value is taken per example, as the definition asks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch
import torch.nn as nn

from bertviz_graph.pruning.arch import LayerParts, query_key_outputs


@contextmanager
def head_mask(layers: list[LayerParts], xi: torch.Tensor) -> Iterator[None]:
    """Multiply head h of layer l by ``xi[..., l, h]`` while the block runs. ``xi``: (layers, heads) for one
    mask shared by the batch, or (batch, layers, heads) for one mask per example."""
    handles = []
    for lp in layers:
        def pre(_mod: nn.Module, args: tuple, lp: LayerParts = lp) -> tuple:
            x = args[0]
            b, t, d = x.shape
            m = xi[..., lp.index, :]
            m = m.reshape(1, 1, lp.heads, 1) if m.dim() == 1 else m.reshape(b, 1, lp.heads, 1)
            return ((x.view(b, t, lp.heads, d // lp.heads) * m.to(x.dtype)).view(b, t, d), *args[1:])

        handles.append(lp.attn_out.register_forward_pre_hook(pre))
    try:
        yield
    finally:
        for h in handles:
            h.remove()


def head_importance(model: nn.Module, layers: list[LayerParts], batches: list[dict],
                    loss_fn: Callable[[nn.Module, dict], torch.Tensor], normalize: bool = False) -> torch.Tensor:
    """(layers, heads) importance E_x |∂L(x)/∂ξ_h| over the examples of ``batches``.

    ``loss_fn(model, batch)`` returns one loss per example (shape (B,)). ``normalize``: divide each layer by
    its L2 norm (Michel et al.'s code does, so layers compare on one scale when ranking globally).
    """
    n_layers, n_heads = len(layers), layers[0].heads
    total = torch.zeros(n_layers, n_heads, dtype=torch.float64)
    count = 0
    was = [(p, p.requires_grad) for p in model.parameters()]
    for p, _ in was:
        p.requires_grad_(False)  # only ξ needs a gradient: no weight gradients are allocated
    try:
        for batch in batches:
            b = batch["input_ids"].shape[0]
            xi = torch.ones(b, n_layers, n_heads, requires_grad=True)
            with head_mask(layers, xi):
                losses = loss_fn(model, batch)
            (grad,) = torch.autograd.grad(losses.sum(), xi)
            total += grad.abs().sum(0).double()
            count += b
    finally:
        for p, r in was:
            p.requires_grad_(r)
    imp = (total / max(count, 1)).float()
    if normalize:
        imp = imp / imp.norm(dim=1, keepdim=True).clamp_min(1e-20)
    return imp


@torch.no_grad()
def head_entropy(model: nn.Module, layers: list[LayerParts], batches: list[dict]) -> torch.Tensor:
    """(layers, heads) mean entropy (nats) of each head's attention distribution over real tokens, from the
    query and key projections (softmax(QKᵀ/√d + mask)), so it does not depend on the attention kernel."""
    n_layers, n_heads = len(layers), layers[0].heads
    total = torch.zeros(n_layers, n_heads, dtype=torch.float64)
    tokens = 0
    for batch in batches:
        captured = query_key_outputs(model, layers, batch)
        mask = batch["attention_mask"].bool()  # (B, T)
        for lp in layers:
            q, k = captured[(lp.index, "q")], captured[(lp.index, "k")]
            b, t, _ = q.shape
            q = q.view(b, t, lp.heads, lp.d_head).transpose(1, 2)
            k = k.view(b, t, lp.heads, lp.d_head).transpose(1, 2)
            scores = q @ k.transpose(-1, -2) / lp.d_head ** 0.5
            scores = scores.masked_fill(~mask[:, None, None, :], float("-inf"))
            p = scores.softmax(-1)
            ent = -(p * p.clamp_min(1e-30).log()).sum(-1)  # (B, H, T)
            total[lp.index] += (ent * mask[:, None, :]).sum((0, 2)).double()
        tokens += int(mask.sum())
    return (total / max(tokens, 1)).float()


def random_scores(n_layers: int, n_heads: int, seed: int = 0) -> torch.Tensor:
    return torch.rand(n_layers, n_heads, generator=torch.Generator().manual_seed(seed))


def pick_lowest(scores: torch.Tensor, amount: float) -> dict[int, list[int]]:
    """The round(amount · n) lowest-scoring units, globally; {layer: [unit, ...]} (ties by position)."""
    k = int(round(amount * scores.numel()))
    order = torch.argsort(scores.flatten(), stable=True)[:k]
    out: dict[int, list[int]] = {}
    for i in order.tolist():
        out.setdefault(i // scores.shape[1], []).append(i % scores.shape[1])
    return {layer: sorted(v) for layer, v in sorted(out.items())}


@torch.no_grad()
def zero_heads(layers: list[LayerParts], heads: dict[int, list[int]]) -> None:
    """Prune heads in place: their rows of Q, K, V (weights and biases) and columns of the output projection
    become zero, so each pruned head's context is exactly zero and adds nothing to the layer's output."""
    for lp in layers:
        for h in heads.get(lp.index, []):
            sl = slice(h * lp.d_head, (h + 1) * lp.d_head)
            for lin in (lp.query, lp.key, lp.value):
                lin.weight[sl] = 0.0
                if lin.bias is not None:
                    lin.bias[sl] = 0.0
            lp.attn_out.weight[:, sl] = 0.0
