"""Attention maps read off a run: each layer's attention probabilities are the captured output of the op
that feeds the ·V matmul (the softmax, or its dropout in eval mode), so they are the graph's own values.

Also: per-head summaries (entropy, attention to [CLS]/[SEP]/self/previous/next, mean distance), attention
rollout across layers (Abnar & Zuidema 2020), and the Q/K/V/output slices a head owns.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bertviz_graph.errors import UserError
from bertviz_graph.graph import OpGraph


@dataclass
class AttentionMaps:
    maps: np.ndarray  # [layers, heads, tokens (query), tokens (key)] float32; rows sum to 1
    tokens: list[str]
    ops: list[str]  # graph op id holding each layer's maps
    modules: list[str]  # the attention module of each layer ("encoder.layer.3.attention.self")
    trained: bool

    @property
    def layers(self) -> int:
        return int(self.maps.shape[0])

    @property
    def heads(self) -> int:
        return int(self.maps.shape[1])

    def layer_of(self, op_id: str) -> int | None:
        """The layer whose maps an op belongs to (its softmax, ·V matmul or anything in that module)."""
        if op_id in self.ops:
            return self.ops.index(op_id)
        for i, m in enumerate(self.modules):
            if op_id == m or op_id.startswith(m + "."):
                return i
        return None


def attention_ops(graph: OpGraph) -> list[tuple[str, str]]:
    """(op id, module) of each layer's attention probabilities, in execution order.

    The probabilities are the 4-d [batch, heads, T, T] input of the second matmul of an attention module
    (QKᵀ is the first, ·V the second): true for the softmax op (aten level) and its decomposition
    (primitive level) alike."""
    g = graph.g
    if graph.meta.get("origin") == "onnx":  # an ONNX graph's Softmax nodes give [batch, heads, T, T]
        soft = [(n, d["module"]) for n, d in sorted(graph.nodes("op"), key=lambda x: x[1]["order"])
                if d.get("op") == "Softmax" and len(d.get("shape") or []) == 4]
        return soft
    by_module: dict[str, list[str]] = {}
    for n, d in sorted(graph.nodes("op"), key=lambda x: x[1]["order"]):
        if d.get("op") in ("matmul", "bmm", "einsum"):
            by_module.setdefault(d["module"], []).append(n)
    out = []
    for module, mm in by_module.items():
        if len(mm) < 2:
            continue
        # walk back from the ·V matmul through reshapes (the primitive level's matmul is view + bmm)
        stack, seen = list(g.predecessors(mm[1])), set()
        while stack:
            a = stack.pop(0)
            d = g.nodes[a]
            if a in seen or d["kind"] != "op":
                continue
            seen.add(a)
            shape = d.get("shape") or []
            if len(shape) == 4 and shape[-1] == shape[-2]:
                out.append((a, module))
                break
            if d.get("op") in _RESHAPES:
                stack.extend(g.predecessors(a))
    return sorted(out, key=lambda x: g.nodes[x[0]]["order"])


_RESHAPES = ("view", "_unsafe_view", "reshape", "expand", "clone", "contiguous", "alias")


def attention_maps(graph: OpGraph, acts) -> AttentionMaps:
    """Every layer's token × token maps for this run."""
    found = attention_ops(graph)
    if not found:
        raise UserError(f"{graph.name} has no attention-probability ops (traced with fused sdpa attention?)",
                        "trace with --attention eager (the default) to see attention maps")
    maps = np.stack([a[0] for a in acts.arrays([op for op, _ in found])]).astype(np.float32)
    return AttentionMaps(maps=maps, tokens=list(acts.labels), ops=[o for o, _ in found],
                         modules=[m for _, m in found], trained=acts.trained)


SUMMARY_KEYS = ("entropy", "to_cls", "to_sep", "to_self", "to_prev", "to_next", "distance")


def head_summaries(am: AttentionMaps) -> dict[str, np.ndarray]:
    """Per head [layers, heads]: mean entropy of a query's distribution (bits), mean attention share to
    [CLS] / [SEP] / the same / previous / next token, and mean |i - j| weighted by attention."""
    a = am.maps.astype(np.float64)
    T = a.shape[-1]
    eps = 1e-12
    out = {"entropy": -(a * np.log2(a + eps)).sum(-1).mean(-1)}
    special = {"to_cls": [i for i, t in enumerate(am.tokens) if t in ("[CLS]", "<s>")],
               "to_sep": [i for i, t in enumerate(am.tokens) if t in ("[SEP]", "</s>")]}
    for key, cols in special.items():
        out[key] = a[..., cols].sum(-1).mean(-1) if cols else np.zeros(a.shape[:2])
    idx = np.arange(T)
    out["to_self"] = a[..., idx, idx].mean(-1)
    out["to_prev"] = a[..., idx[1:], idx[:-1]].mean(-1) if T > 1 else np.zeros(a.shape[:2])
    out["to_next"] = a[..., idx[:-1], idx[1:]].mean(-1) if T > 1 else np.zeros(a.shape[:2])
    dist = np.abs(idx[:, None] - idx[None, :])
    out["distance"] = (a * dist).sum(-1).mean(-1)
    return out


def rollout(am: AttentionMaps, residual: bool = True) -> np.ndarray:
    """[layers, T, T]: how much each token's state after layer l draws on each input token, by multiplying
    head-averaged maps (with the residual connection as 0.5·I, rows renormalised) layer by layer."""
    T = am.maps.shape[-1]
    acc = np.eye(T)
    out = []
    for layer in am.maps.astype(np.float64):
        m = layer.mean(0)
        if residual:
            m = 0.5 * m + 0.5 * np.eye(T)
            m /= m.sum(-1, keepdims=True)
        acc = m @ acc
        out.append(acc.copy())
    return np.stack(out).astype(np.float32)
