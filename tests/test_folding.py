"""Series folding is sound both ways: blocks that differ in any op argument, overload, buffer, argument
order or in how their inputs come from outside never fold; identical blocks called in a loop with
parent-level ops between them (residual adds, per-layer norms, GPT-2 and Llama layouts) fold into one
series, with the in-between ops kept next to the block they run with."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

import bertviz_graph as bg
from bertviz_graph.hierarchy.series import STEP
from bertviz_graph.hierarchy.tree import ROOT, build_hierarchy

D = 16


class Block(nn.Module):
    """One configurable block; the knobs change exactly one structural fact each."""

    def __init__(self, approximate="none", eps=1e-5, scale=1.0, p=0.1, swap=False, buf=None):
        super().__init__()
        self.lin = nn.Linear(D, D)
        self.norm = nn.LayerNorm(D, eps=eps)
        self.drop = nn.Dropout(p)
        self.approximate, self.scale, self.swap = approximate, scale, swap
        if buf is not None:
            self.register_buffer("offset", torch.full((D,), float(buf)))

    def forward(self, x, y=None):
        h = F.gelu(self.lin(x), approximate=self.approximate) * self.scale
        if hasattr(self, "offset"):
            h = h + self.offset
        other = x if y is None else y
        h = (other - h) if self.swap else (h - other)
        return self.drop(self.norm(h))


class Stack(nn.Module):
    def __init__(self, blocks, second_input=False):
        super().__init__()
        self.blocks = nn.ModuleList(blocks)
        self.second_input = second_input

    def forward(self, x):
        y = x * 3.0
        for i, blk in enumerate(self.blocks):
            # block 0 takes (x, y), the others (x, x) when second_input: the same code, other wiring
            x = blk(x, y if (self.second_input and i == 0) else None) if self.second_input else blk(x)
        return x


def _trace(model, n=1):
    model.eval()
    return bg.trace(model, (torch.randn(n, 4, D),))


def _series(graph):
    return [(s.id, len(s.members)) for s in graph.hierarchy.series()]


def test_identical_blocks_fold():
    g = _trace(Stack([Block() for _ in range(3)]))
    assert _series(g) == [("blocks[0-2]", 3)]


@pytest.mark.parametrize("knob", [
    {"approximate": "tanh"},  # GELU approximation (a keyword argument)
    {"eps": 1e-6},  # LayerNorm eps (a scalar argument)
    {"scale": 100.0},  # a ×100 scale factor
    {"p": 0.2},  # dropout p
    {"swap": True},  # argument order: other - h instead of h - other
])
def test_blocks_differing_in_one_argument_never_fold(knob):
    g = _trace(Stack([Block(), Block(**knob)]))
    assert _series(g) == [], knob
    # and the same pair with the knob on both sides folds again (the test can fail both ways)
    g2 = _trace(Stack([Block(**knob), Block(**knob)]))
    assert _series(g2) == [("blocks[0-1]", 2)], knob


def test_buffers_with_other_values_never_fold():
    assert _series(_trace(Stack([Block(buf=1.0), Block(buf=2.0)]))) == []
    assert _series(_trace(Stack([Block(buf=1.0), Block(buf=1.0)]))) == [("blocks[0-1]", 2)]
    assert _series(_trace(Stack([Block(buf=1.0), Block()]))) == []  # a buffer against none


def test_inputs_from_outside_count():
    # Block 0 reads two distinct outside tensors (x, y), block 1 reads x twice: same ops, other wiring.
    g = _trace(Stack([Block(), Block(), Block()], second_input=True))
    assert _series(g) == [("blocks[1-2]", 2)]


def test_op_overload_is_part_of_the_signature():
    g = _trace(Stack([Block(), Block()]))
    assert _series(g) == [("blocks[0-1]", 2)]
    g2 = copy.deepcopy(g)
    g2.hierarchy = None
    op = next(n for n, d in g2.nodes("op") if d["module"] == "blocks.1.lin")
    g2.g.nodes[op]["target"] = g2.g.nodes[op]["target"].replace(".default", ".out")  # only the overload
    assert not build_hierarchy(g2).series()


def test_differently_named_siblings_never_fold():
    class KV(nn.Module):
        def __init__(self):
            super().__init__()
            self.k_proj, self.v_proj = nn.Linear(D, D), nn.Linear(D, D)

        def forward(self, x):
            return self.k_proj(x), self.v_proj(x)

    assert _series(_trace(KV())) == []


class Residual(nn.Module):
    """for blk in blocks: x = x + blk(x)  (or x = blk(x) + x), optionally x = norm_i(...)."""

    def __init__(self, n=4, order="x+blk", norms=False):
        super().__init__()
        self.embed = nn.Linear(D, D)
        self.blocks = nn.ModuleList(nn.Sequential(nn.Linear(D, D), nn.ReLU()) for _ in range(n))
        self.norms = nn.ModuleList(nn.LayerNorm(D) for _ in range(n)) if norms else None
        self.order = order
        self.head = nn.Linear(D, 2)

    def forward(self, x):
        x = self.embed(x)
        for i, blk in enumerate(self.blocks):
            x = x + blk(x) if self.order == "x+blk" else blk(x) + x
            if self.norms is not None:
                x = self.norms[i](x)
        return self.head(x)


@pytest.mark.parametrize("order,norms", [("x+blk", False), ("blk+x", False), ("x+blk", True)])
def test_loop_with_parent_level_ops_folds_into_one_series(order, norms):
    g = _trace(Residual(order=order, norms=norms))
    h = g.hierarchy
    assert _series(g) == [("blocks[0-3]", 4)]
    (series,) = h.series()
    assert series.label.endswith("×4")
    adds = sorted((n for n, d in g.nodes("op") if d["op"] == "add" and d["module"] == ""),
                  key=lambda n: g.g.nodes[n]["order"])
    assert len(adds) == 4
    for i, add in enumerate(adds):
        # each residual add sits in the step of the block it runs with, not in front of the first layer
        assert h.parent(add) == f"blocks.{i}.{STEP}"
        assert h.parent(f"blocks.{i}") == f"blocks.{i}.{STEP}"
        if norms:
            assert h.parent(f"norms.{i}") == f"blocks.{i}.{STEP}"
    assert h.groups[ROOT].children == ["embed", series.id, "head"] or \
        [c for c in h.groups[ROOT].children if c in h.groups] == ["embed", series.id, "head"]
    assert not [c for c in h.groups[ROOT].children if c in h.groups and h.groups[c].cls == "(ops)"]
    assert len(h.residual) == 4  # the skips are still found
    # the series counts each member's parameters once
    assert series.params == sum(p.numel() for m in (g.module.blocks, g.module.norms) if m is not None
                                for p in m.parameters())


def test_loop_whose_in_between_ops_differ_does_not_fold_them_together():
    class Mixed(Residual):
        def forward(self, x):
            x = self.embed(x)
            for i, blk in enumerate(self.blocks):
                x = x + blk(x) if i % 2 == 0 else x * 0.5 + blk(x)
            return self.head(x)

    g = _trace(Mixed())
    assert all(len(s.members) < 4 for s in g.hierarchy.series())


class PreOps(nn.Module):
    """x = blk(x * 0.5): the parent-level op runs before each block."""

    def __init__(self, n=3):
        super().__init__()
        self.blocks = nn.ModuleList(nn.Linear(D, D) for _ in range(n))

    def forward(self, x):
        for blk in self.blocks:
            x = blk(torch.tanh(x) * 0.5)
        return x.sum(-1)


def test_ops_before_each_block_fold_with_it():
    g = _trace(PreOps())
    h = g.hierarchy
    assert _series(g) == [("blocks[0-2]", 3)]
    tanhs = [n for n, d in g.nodes("op") if d["op"] == "tanh"]
    assert sorted(h.parent(t) for t in tanhs) == [f"blocks.{i}.{STEP}" for i in range(3)]


# --- GPT-2 and Llama layouts, written out as small modules ------------------------------------------


class GPTBlock(nn.Module):
    def __init__(self):
        super().__init__()
        self.ln_1, self.ln_2 = nn.LayerNorm(D), nn.LayerNorm(D)
        self.attn = nn.MultiheadAttention(D, 2, batch_first=True)
        self.mlp = nn.Sequential(nn.Linear(D, 4 * D), nn.GELU(approximate="tanh"), nn.Linear(4 * D, D))

    def forward(self, x, mask):
        h = self.ln_1(x)
        x = x + self.attn(h, h, h, attn_mask=mask, need_weights=False)[0]
        return x + self.mlp(self.ln_2(x))


class GPT(nn.Module):
    def __init__(self, n=3):
        super().__init__()
        self.wte, self.wpe = nn.Embedding(50, D), nn.Embedding(8, D)
        self.h = nn.ModuleList(GPTBlock() for _ in range(n))
        self.ln_f = nn.LayerNorm(D)

    def forward(self, ids):
        t = ids.shape[1]
        x = self.wte(ids) + self.wpe(torch.arange(t))
        mask = torch.triu(torch.ones(t, t, dtype=torch.bool), 1)
        for blk in self.h:
            x = blk(x, mask)
        return self.ln_f(x) @ self.wte.weight.T


class RMSNorm(nn.Module):
    def __init__(self, eps=1e-6):
        super().__init__()
        self.weight, self.eps = nn.Parameter(torch.ones(D)), eps

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


class LlamaBlock(nn.Module):
    def __init__(self, heads=4, kv=2):
        super().__init__()
        self.heads, self.kv, self.dh = heads, kv, D // heads
        self.norm1, self.norm2 = RMSNorm(), RMSNorm()
        self.q = nn.Linear(D, D, bias=False)
        self.k = nn.Linear(D, kv * self.dh, bias=False)
        self.v = nn.Linear(D, kv * self.dh, bias=False)
        self.o = nn.Linear(D, D, bias=False)
        self.gate, self.up = nn.Linear(D, 3 * D, bias=False), nn.Linear(D, 3 * D, bias=False)
        self.down = nn.Linear(3 * D, D, bias=False)

    def forward(self, x, cos, sin):
        b, t, _ = x.shape
        h = self.norm1(x)
        q = self.q(h).view(b, t, self.heads, self.dh).transpose(1, 2)
        k = self.k(h).view(b, t, self.kv, self.dh).transpose(1, 2)
        v = self.v(h).view(b, t, self.kv, self.dh).transpose(1, 2)
        q, k = q * cos + q.flip(-1) * sin, k * cos + k.flip(-1) * sin  # rotary, from outside
        k = k.repeat_interleave(self.heads // self.kv, 1)
        v = v.repeat_interleave(self.heads // self.kv, 1)
        a = torch.softmax(q @ k.transpose(-1, -2) / self.dh ** 0.5, -1) @ v
        x = x + self.o(a.transpose(1, 2).reshape(b, t, D))
        h = self.norm2(x)
        return x + self.down(F.silu(self.gate(h)) * self.up(h))


class Llama(nn.Module):
    def __init__(self, n=3):
        super().__init__()
        self.embed = nn.Embedding(50, D)
        self.layers = nn.ModuleList(LlamaBlock() for _ in range(n))
        self.norm = RMSNorm()

    def forward(self, ids):
        x = self.embed(ids)
        pos = torch.arange(ids.shape[1], dtype=torch.float32)[:, None] * torch.ones(D // 4)
        cos, sin = pos.cos(), pos.sin()
        for layer in self.layers:
            x = layer(x, cos, sin)
        return self.norm(x)


@pytest.mark.parametrize("cls,path", [(GPT, "h[0-2]"), (Llama, "layers[0-2]")])
def test_gpt2_and_llama_layouts_fold(cls, path):
    model = cls().eval()
    g = bg.trace(model, (torch.arange(6).unsqueeze(0),))
    assert _series(g) == [(path, 3)]
    # the mask / rotary ops computed once at the model level stay outside the series
    (series,) = g.hierarchy.series()
    inside = set(g.hierarchy.leaves(series.id))
    assert any(d["op"] in ("triu", "cos") for n, d in g.nodes("op") if n not in inside)


def test_llama_layout_with_one_block_using_other_eps_does_not_fold():
    model = Llama().eval()
    model.layers[1].norm2.eps = 1e-5
    g = bg.trace(model, (torch.arange(6).unsqueeze(0),))
    assert all(len(s.members) < 3 for s in g.hierarchy.series())


def test_recorded_arguments_are_plain_json_and_fold_the_same_after_loading(tmp_path):
    import json

    from bertviz_graph.graph import OpGraph

    class Masked(nn.Module):
        def __init__(self):
            super().__init__()
            self.blocks = nn.ModuleList(nn.Linear(D, D) for _ in range(3))

        def forward(self, x):
            for blk in self.blocks:
                x = blk(x).masked_fill(x > 3, float("-inf")).clamp(min=-1e4)
            return x

    g = _trace(Masked())
    text = json.dumps(g.to_json_dict(), allow_nan=False)  # -inf is stored as data, not as a bare token
    fills = [d for _, d in g.nodes("op") if d["op"] == "masked_fill"]
    assert fills and fills[0]["args"][2] == {"float": "-inf"}
    path = tmp_path / "g.json"
    path.write_text(text)
    again = OpGraph.load(path)
    assert [(s.id, s.members) for s in build_hierarchy(again).series()] == \
        [(s.id, s.members) for s in g.hierarchy.series()] == [("blocks[0-2]", ["blocks.0.<step>", "blocks.1.<step>",
                                                                               "blocks.2.<step>"])]


def test_dispatch_tracer_records_the_same_arguments():
    class DataDependent(Stack):
        def forward(self, x):
            if float(x.sum()) > -1e9:  # data-dependent Python branch: torch.export refuses, fallback traces
                for blk in self.blocks:
                    x = blk(x)
            return x

    g = _trace(DataDependent([Block(), Block(), Block(eps=1e-6)]))
    assert g.meta["tracer"] == "dispatch"
    assert _series(g) == [("blocks[0-1]", 2)]  # the third block's eps differs
