"""FLOPs checked against torch.utils.flop_counter.FlopCounterMode (matrix products and attention kernels)
and against hand counts for what it does not cover; both op levels agree; uncountable ops say unknown."""

from __future__ import annotations

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

import bertviz_graph as bg
from bertviz_graph.hierarchy.tree import ROOT
from bertviz_graph.tracer.flops import ATTENTION_OPS, op_flops

LINEAR = ("linear", "addmm")
PRODUCTS = ("matmul", "bmm", "mm", "baddbmm")


def counted(model, *args) -> dict[str, int]:
    """FlopCounterMode's count per ATen op (overload packet name)."""
    with FlopCounterMode(display=False) as fc:
        model(*args)
    return {str(k).split(".")[1]: v for k, v in fc.get_flop_counts()["Global"].items()}


def ours(graph, ops: tuple[str, ...]) -> tuple[int, int]:
    """Our FLOPs of these ops, and the elementwise extras flop_counter leaves out (bias adds; for attention
    kernels scale, mask and the softmax's 5 per score), hand-counted from the graph's shapes."""
    g = graph.g
    total = extra = 0
    for n, d in graph.nodes("op"):
        if d["op"] not in ops:
            continue
        total += d["flops"]
        shapes = [g.edges[u, n]["shape"] for u in sorted(g.predecessors(n), key=lambda u: g.edges[u, n]["index"])]
        out = 1
        for s in d["shape"]:
            out *= s
        if d["op"] in ("linear",) and len(shapes) == 3 or d["op"] in ("addmm", "baddbmm"):
            extra += out
        if d["op"] in ATTENTION_OPS:
            q, k = shapes[0], shapes[1]
            scores = q[0] * q[1] * q[2] * k[2]
            extra += scores * (1 + 5 + (1 if len(shapes) > 3 else 0))
    return total, extra


def _bert_base(attention: str):
    from transformers import AutoModelForMaskedLM

    from bertviz_graph.sources.build import make_config
    from bertviz_graph.sources.presets import preset_config

    with torch.device("meta"):
        return AutoModelForMaskedLM.from_config(make_config(preset_config("bert-base-uncased"), attention),
                                                attn_implementation=attention).eval()


def test_bert_base_per_op_class_matches_flop_counter():
    graph = bg.trace("bert-base-uncased")
    ref = counted(_bert_base("eager"), torch.zeros(1, 16, dtype=torch.long, device="meta"))
    lin, bias = ours(graph, LINEAR)
    assert lin - bias == ref["addmm"] == 3_486_892_032  # every Linear, the MLM decoder included
    prod_, _ = ours(graph, PRODUCTS)
    assert prod_ == ref["bmm"] == 12 * 2 * (2 * 12 * 16 * 16 * 64)  # QKᵀ and ·V per layer


def _gpt2(attention: str):
    from transformers import GPT2Config, GPT2Model

    torch.manual_seed(0)
    cfg = GPT2Config(n_layer=2, n_embd=64, n_head=4, n_positions=32, vocab_size=100, use_cache=False,
                     bos_token_id=0, eos_token_id=0,
                     attn_implementation=attention)
    return GPT2Model(cfg).eval()


@pytest.mark.parametrize("attention", ["eager", "sdpa"])
def test_gpt2_per_op_class_matches_flop_counter(attention):
    model = _gpt2(attention)
    ids = torch.arange(12).unsqueeze(0)
    graph = bg.trace(model, (ids,))
    # flop_counter has no formula for the CPU flash kernel; on the math backend the same attention runs
    # as two batched matmuls per layer, which it does count
    from torch.nn.attention import SDPBackend, sdpa_kernel

    with sdpa_kernel(SDPBackend.MATH):
        ref = counted(model, ids)
    lin, bias = ours(graph, LINEAR)
    assert lin - bias == ref["addmm"] > 0  # GPT-2's Conv1D is addmm(bias, x, W)
    prod_, _ = ours(graph, PRODUCTS)
    att, extra = ours(graph, ATTENTION_OPS)
    assert prod_ + att - extra == ref["bmm"] == 2 * 2 * (2 * 4 * 12 * 12 * 16)
    if attention == "sdpa":
        assert prod_ == 0 and att > 0  # the fused kernel is counted, not 1 per element


def _module_totals(graph) -> dict[str, int]:
    out: dict[str, int] = {}
    for _, d in graph.nodes("op"):
        out[d["module"]] = out.get(d["module"], 0) + (d["flops"] or 0)
    return out


@pytest.mark.parametrize("name", ["bert-base-uncased", "gpt2", "gpt2-module"])
def test_aten_and_primitive_levels_agree(name):
    if name == "gpt2-module":
        model, ids = _gpt2("eager"), torch.arange(12).unsqueeze(0)
        a, p = bg.trace(model, (ids,), ops="aten"), bg.trace(model, (ids,), ops="primitive")
    else:
        a, p = bg.trace(name, ops="aten"), bg.trace(name, ops="primitive")
    ta, tp = a.hierarchy.groups[ROOT].flops, p.hierarchy.groups[ROOT].flops
    assert a.hierarchy.groups[ROOT].flops_unknown == p.hierarchy.groups[ROOT].flops_unknown == 0
    assert abs(ta - tp) / ta < 0.01, (ta, tp)
    # composites count what their decomposition counts: every LayerNorm exactly
    ma, mp = _module_totals(a), _module_totals(p)
    norms = [m for m, info in a.modules.items() if info.cls in ("LayerNorm",)]
    assert norms
    for m in norms:
        assert ma[m] == mp[m], m


class _Reduce(torch.nn.Module):
    def forward(self, x):
        return x.sum(-1) + x.mean(-1)


class _Baddbmm(torch.nn.Module):
    def forward(self, bias, a, b):
        return torch.baddbmm(bias, a, b)


class _Topk(torch.nn.Module):
    def forward(self, x):
        return torch.topk(x, 3).values * 2


def test_reductions_count_their_input():
    x = torch.randn(4, 768)
    g = bg.trace(_Reduce(), (x,))
    by_op = {d["op"]: d["flops"] for _, d in g.nodes("op")}
    assert by_op["sum"] == 4 * 768 and by_op["mean"] == 4 * 768  # not 4 (one per output)


def test_baddbmm_takes_k_from_the_right_operand():
    bias, a, b = torch.randn(2, 5, 7), torch.randn(2, 5, 11), torch.randn(2, 11, 7)
    g = bg.trace(_Baddbmm(), (bias, a, b))
    (flops,) = [d["flops"] for _, d in g.nodes("op") if d["op"] == "baddbmm"]
    ref = counted(_Baddbmm(), bias, a, b)["baddbmm"]
    assert flops == ref + 2 * 5 * 7 == 2 * 2 * 5 * 7 * 11 + 2 * 5 * 7
    assert op_flops("baddbmm", [[2, 5, 7], [2, 5, 11], [2, 11, 7]], [2, 5, 7]) == flops


def test_uncountable_op_is_unknown_everywhere(capsys):
    from bertviz_graph.cli import main
    from bertviz_graph.details import node_details

    g = bg.trace(_Topk(), (torch.randn(2, 10),))
    topk = next(n for n, d in g.nodes("op") if d["op"] == "topk")
    assert g.g.nodes[topk]["flops"] is None
    h = g.hierarchy
    assert h.groups[ROOT].flops_unknown == 1 and h.groups[ROOT].flops == 2 * 3  # the mul still counts
    assert dict(node_details(h, topk)["rows"])["FLOPs"] == "unknown"
    assert "+ unknown (1 ops not countable)" in dict(node_details(h, ROOT)["rows"])["FLOPs"]
    # the app's hover: the view carries "unknown", not a number
    v = g.view(depth=3)
    node = next(n for n in v.data().nodes if n.id == topk)
    assert node.attrs.get("flops_unknown") == 1 and "flops" not in node.attrs
    # the tooltip the app, the widget and the SVG export share (one renderer)
    svg = v.to_svg()
    tip = svg.split(f'data-id="{topk}"', 1)[1].split("</title>", 1)[0]
    assert "FLOPs unknown" in tip and "flops_unknown" not in tip
    # the CLI's tree
    saved = __import__("tempfile").mktemp(suffix=".json")
    g.save(saved)
    assert main(["info", saved, "--depth", "1"]) == 0
    assert "FLOPs 6 + unknown" in capsys.readouterr().out


class _Composites(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.norm = torch.nn.LayerNorm(24)

    def forward(self, x):
        a = torch.nn.functional.gelu(x)
        b = torch.nn.functional.gelu(x, approximate="tanh")
        return torch.softmax(self.norm(a + b), dim=-1)


def test_composites_count_what_their_decomposition_counts():
    x = torch.randn(3, 5, 24)
    a = bg.trace(_Composites(), (x,), ops="aten")
    p = bg.trace(_Composites(), (x,), ops="primitive")
    assert {d["op"] for _, d in a.nodes("op")} >= {"gelu", "layer_norm", "softmax"}
    assert not {"gelu", "layer_norm", "softmax"} & {d["op"] for _, d in p.nodes("op")}
    assert a.hierarchy.groups[ROOT].flops == p.hierarchy.groups[ROOT].flops
