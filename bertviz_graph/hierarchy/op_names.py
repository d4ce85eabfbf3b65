"""Ops named for what they do: "Q·Kᵀ", "× 1/√64 = 0.125", "+ mask", "softmax over keys", "·V",
"merge heads", "+ bias", "residual +", LayerNorm's mean/variance/normalise/scale/shift and GELU's formula
steps at the primitive level; addmm's ×1 factors said to be no-ops.

A pure pass over the OpGraph: ``op_names(graph) -> {op node id: name}`` (ops it cannot place keep their
ATen name, which also stays in every tooltip and details panel as ``target``). It reads the module each op
ran in (its class: Linear, LayerNorm, GELU, *SelfAttention, *Output) and the op's neighbours, so it needs
no model code and works the same on eager-attention and decomposed (primitive) traces.
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any

_MATMULS = ("matmul", "bmm", "mm", "baddbmm")
_PASS = ("view", "_unsafe_view", "reshape", "expand", "clone", "contiguous", "alias", "dropout",
         "native_dropout")  # value-preserving: look through them when walking the graph


def _kind_of_module(cls: str) -> str:
    if cls in ("Linear", "Conv1D"):
        return "linear"
    if "LayerNorm" in cls:
        return "layernorm"
    if "GELU" in cls or cls == "GELUActivation":
        return "gelu"
    if "SelfAttention" in cls or cls in ("MultiHeadSelfAttention", "AlbertAttention"):
        return "attention"
    if cls.endswith("Output"):  # BertSelfOutput, BertOutput: dense, dropout, residual add, LayerNorm
        return "output"
    if "Embeddings" in cls:
        return "embeddings"
    return "other"


def _head_dim(graph: Any) -> int | None:
    cfg = graph.meta.get("config") or {}
    hidden = cfg.get("hidden_size") or cfg.get("dim")
    heads = cfg.get("num_attention_heads") or cfg.get("n_heads")
    return hidden // heads if hidden and heads else None


def op_names(graph: Any) -> dict[str, str]:
    """{op id: what it does} for the ops whose role is known (others are left out)."""
    g = graph.g
    by_module: dict[str, list[str]] = defaultdict(list)
    for n, d in g.nodes(data=True):
        if d["kind"] == "op":
            by_module[d.get("module") or ""].append(n)
    names: dict[str, str] = {}
    d_head = _head_dim(graph)

    def op(n: str) -> str:
        return g.nodes[n].get("op", "") if n in g else ""

    def preds(n: str) -> list[str]:
        return list(g.predecessors(n))

    def is_param(n: str) -> bool:
        return g.nodes[n]["kind"] in ("param", "buffer")

    def source_op(n: str) -> str:
        """The op that made ``n``'s value, looking through views, copies and dropout."""
        seen = 0
        while op(n) in _PASS and seen < 8:
            ps = [p for p in preds(n) if g.nodes[p]["kind"] == "op"]
            if not ps:
                break
            n, seen = ps[0], seen + 1
        return n

    for module, ops in by_module.items():
        ops.sort(key=lambda n: g.nodes[n].get("order", 0))
        info = graph.modules.get(module)
        kind = _kind_of_module(info.cls if info else "")
        if kind == "linear":
            _name_linear(g, ops, names, op, preds, is_param)
        elif kind == "layernorm":
            _name_layernorm(g, ops, names, op, preds, is_param)
        elif kind == "gelu":
            _name_gelu(g, ops, names, op, preds)
        elif kind == "attention":
            _name_attention(g, ops, names, op, preds, source_op, d_head)
        elif kind == "output":
            for n in ops:
                if op(n) == "add" and len([p for p in preds(n) if not is_param(p)]) == 2:
                    names[n] = "residual +"
        elif kind == "embeddings":
            for n in ops:
                if op(n) == "add":
                    names[n] = "+ (embeddings sum)"
    return names


def _name_linear(g, ops, names, op, preds, is_param) -> None:
    for n in ops:
        o = op(n)
        ps = preds(n)
        if o == "linear":
            names[n] = "x·Wᵀ + b" if len([p for p in ps if is_param(p)]) >= 2 else "x·Wᵀ"
        elif o == "addmm":
            names[n] = "b + x·Wᵀ"
        elif o in ("mm", "matmul"):
            names[n] = "x·Wᵀ"
        elif o in ("permute", "t", "transpose") and any(is_param(p) for p in ps):
            names[n] = "Wᵀ"
        elif o == "mul" and any(is_param(p) for p in ps):
            names[n] = "× 1 (addmm β, no effect)"
        elif o == "mul" and any(op(p) in ("mm", "matmul") for p in ps):
            names[n] = "× 1 (addmm α, no effect)"
        elif o == "add":
            names[n] = "+ bias"


def _name_layernorm(g, ops, names, op, preds, is_param) -> None:
    stats = {n for n in ops if op(n) in ("var_mean", "mean", "var")}
    for n in ops:
        o = op(n)
        ps = preds(n)
        if o == "layer_norm" or o == "native_layer_norm":
            names[n] = "LayerNorm"
        elif o == "var_mean":
            names[n] = "mean & variance"
        elif o == "mean":
            names[n] = "mean"
        elif o == "var":
            names[n] = "variance"
        elif o == "add" and any(p in stats for p in ps):
            names[n] = "variance + ε"
        elif o == "rsqrt":
            names[n] = "1/√(var + ε)"
        elif o == "sub":
            names[n] = "x − mean"
        elif o == "mul" and any(op(p) == "rsqrt" for p in ps):
            names[n] = "normalise"
        elif o == "mul" and any(is_param(p) for p in ps):
            names[n] = "× γ (scale)"
        elif o == "add" and any(is_param(p) for p in ps):
            names[n] = "+ β (shift)"


def _name_gelu(g, ops, names, op, preds) -> None:
    # gelu(x) = x · ½ · (1 + erf(x / √2)), decomposed as a·0.5, a·(1/√2), erf, +1, product
    for n in ops:
        o = op(n)
        succ = list(g.successors(n))
        if o == "gelu":
            names[n] = "GELU"
        elif o == "erf":
            names[n] = "erf"
        elif o == "mul" and any(op(s) == "erf" for s in succ):
            names[n] = "× 1/√2"
        elif o == "add" and any(op(p) == "erf" for p in preds(n)):
            names[n] = "1 + erf(·)"
        elif o == "mul" and any(op(p) == "add" for p in preds(n)):
            names[n] = "GELU = ½x·(1 + erf)"
        elif o == "mul":
            names[n] = "× ½"
        elif o == "tanh":
            names[n] = "tanh"


def _name_attention(g, ops, names, op, preds, source_op, d_head) -> None:
    mats = [n for n in ops if op(n) in _MATMULS]
    scores = mats[0] if mats else None
    mix = mats[1] if len(mats) > 1 else None
    if scores:
        names[scores] = "Q·Kᵀ"
    if mix:
        names[mix] = "weights · V"
    after_scores = False
    for n in ops:
        o = op(n)
        ps = preds(n)
        srcs = [source_op(p) for p in ps]
        if n == scores:
            after_scores = True
            continue
        if o in ("transpose", "permute") and scores and n in _ancestors_within(g, scores, ops, 3) \
                and _feeds_second_arg(g, n, scores, op):
            names[n] = "Kᵀ"
        elif o in ("mul", "div") and scores in srcs:
            if d_head:
                names[n] = (f"× 1/√{d_head} = {1 / math.sqrt(d_head):.4g}" if o == "mul"
                            else f"÷ √{d_head} = {math.sqrt(d_head):.4g}")
            else:
                names[n] = "× 1/√d" if o == "mul" else "÷ √d"
        elif o == "add" and after_scores and any(names.get(s, "").startswith(("× 1/√", "÷ √")) for s in srcs):
            names[n] = "+ mask"
        elif o in ("softmax", "_softmax", "_safe_softmax"):
            names[n] = "softmax over keys"
        elif o == "amax":
            names[n] = "max over keys"
        elif o == "sub" and any(op(p) == "amax" for p in ps):
            names[n] = "− max (stable softmax)"
        elif o == "exp":
            names[n] = "exp"
        elif o == "sum" and any(op(p) == "exp" for p in ps):
            names[n] = "Σ over keys"
        elif o == "div" and any(op(p) == "exp" for p in ps):
            names[n] = "softmax = exp / Σ"
        elif o in ("dropout", "native_dropout"):
            names[n] = "dropout (off in eval)"
        elif o in ("view", "reshape", "_unsafe_view") and mix and _after(g, n, mix) and \
                len(g.nodes[n].get("shape") or []) == 3:
            names[n] = "merge heads"
        elif o in ("transpose", "permute") and mix and _after(g, n, mix):
            names[n] = "heads ↔ positions"
        elif o in ("view",) and len(g.nodes[n].get("shape") or []) == 4 and not after_scores:
            names[n] = "split heads"
        elif o in ("transpose", "permute") and not after_scores:
            names[n] = "heads first"


def _ancestors_within(g, target: str, ops: list[str], depth: int) -> set[str]:
    out, frontier = set(), {target}
    inside = set(ops)
    for _ in range(depth):
        frontier = {p for f in frontier for p in g.predecessors(f) if p in inside}
        out |= frontier
    return out


def _feeds_second_arg(g, n: str, scores: str, op) -> bool:
    """Does ``n`` reach Q·Kᵀ as its second operand (the transposed keys)?"""
    x = n
    for _ in range(4):
        nxt = [s for s in g.successors(x)]
        if scores in nxt:
            return int(g.edges[x, scores].get("index", 0)) == 1
        nxt = [s for s in nxt if op(s) in ("view", "expand", "clone", "contiguous", "_unsafe_view", "reshape")]
        if not nxt:
            return False
        x = nxt[0]
    return False


def _after(g, n: str, mix: str) -> bool:
    return g.nodes[n].get("order", 0) > g.nodes[mix].get("order", 0)
