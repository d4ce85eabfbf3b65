"""Ops named for what they do (hierarchy.op_names) and their source line (the tracer's stack-trace anchors),
checked against the model code and transformers' own modules, on bert-tiny (eager attention)."""

from __future__ import annotations

import inspect
from collections import Counter

import networkx as nx
import pytest

import bertviz_graph as bg
from bertviz_graph.details import node_details

L0 = "bert.encoder.layer.0"


@pytest.fixture(scope="module")
def aten():
    return bg.trace("bert-tiny")


@pytest.fixture(scope="module")
def prim():
    return bg.trace("bert-tiny", ops="primitive")


def _ops(graph, module_prefix: str) -> list[tuple[str, dict]]:
    """(op id, its attributes plus the hierarchy's label) of the ops under a module, in order."""
    h = graph.hierarchy
    return sorted(((n, {**d, "label": h.label_of(n)}) for n, d in graph.g.nodes(data=True)
                   if d["kind"] == "op" and (d.get("module") or "").startswith(module_prefix)),
                  key=lambda x: x[1]["order"])


def _by_label(graph, prefix: str, label: str) -> list[str]:
    return [n for n, d in _ops(graph, prefix) if d["label"] == label]


@pytest.mark.parametrize("fixture", ["aten", "prim"])
def test_each_layer_names_its_attention_steps_once(fixture, request):
    graph = request.getfixturevalue(fixture)
    for layer in (0, 1):
        labels = Counter(d["label"] for _, d in _ops(graph, f"bert.encoder.layer.{layer}."))
        for name in ("Q·Kᵀ", "Kᵀ", "+ mask", "weights · V", "merge heads"):
            assert labels[name] == 1, (layer, name, labels)
        assert labels["residual +"] == 2
        assert labels["softmax over keys" if fixture == "aten" else "softmax = exp / Σ"] == 1


def test_scores_and_mix_read_the_right_projections(aten):
    g = aten.g
    lin = {m: _ops(aten, f"{L0}.attention.self.{m}")[0][0] for m in ("query", "key", "value")}
    scores = _by_label(aten, L0, "Q·Kᵀ")[0]
    mix = _by_label(aten, L0, "weights · V")[0]
    up = nx.ancestors(g, scores)
    assert lin["query"] in up and lin["key"] in up and lin["value"] not in up
    assert lin["value"] in nx.ancestors(g, mix) and scores in nx.ancestors(g, mix)
    softmax = _by_label(aten, L0, "softmax over keys")[0]
    assert softmax in nx.ancestors(g, mix) and g.nodes[softmax]["shape"][-1] == g.nodes[scores]["shape"][-1]


def test_scale_names_the_value_the_model_uses(aten):
    from transformers import BertConfig
    from transformers.models.bert.modeling_bert import BertSelfAttention

    cfg = BertConfig(**{k: v for k, v in aten.meta["config"].items() if k in BertConfig().to_dict()})
    scaling = BertSelfAttention(cfg).scaling  # 1 / sqrt(head_dim), as the model multiplies
    scale = [d["label"] for _, d in _ops(aten, L0) if d["label"].startswith("× 1/√")]
    assert scale == [f"× 1/√{cfg.hidden_size // cfg.num_attention_heads} = {scaling:.4g}"]


def test_aten_name_stays_in_the_details(aten):
    scores = _by_label(aten, L0, "Q·Kᵀ")[0]
    rows = dict(node_details(aten.hierarchy, scores)["rows"])
    assert rows["op"] == "aten.matmul.default"


def test_source_is_the_line_that_made_the_op(aten):
    from transformers.models.bert import modeling_bert

    lines, start = inspect.getsourcelines(modeling_bert.eager_attention_forward)

    def line_of(text: str) -> str:
        k = next(i for i, ln in enumerate(lines) if text in ln)
        return f"modeling_bert.py:{start + k}"

    d = aten.g.nodes
    assert d[_by_label(aten, L0, "Q·Kᵀ")[0]]["source"] == line_of("torch.matmul(query, key.transpose")
    assert d[_by_label(aten, L0, "softmax over keys")[0]]["source"] == line_of("softmax(")
    assert d[_by_label(aten, L0, "weights · V")[0]]["source"] == line_of("torch.matmul(attn_weights, value)")


def test_primitive_layernorm_gelu_and_addmm_factors(prim):
    ln = [d["label"] for _, d in _ops(prim, f"{L0}.attention.output.LayerNorm")]
    assert ln == ["mean & variance", "variance + ε", "1/√(var + ε)", "x − mean", "normalise", "× γ (scale)",
                  "+ β (shift)"]
    gelu = [d["label"] for _, d in _ops(prim, f"{L0}.intermediate.intermediate_act_fn")]
    assert sorted(gelu) == sorted(["× ½", "× 1/√2", "erf", "1 + erf(·)", "GELU = ½x·(1 + erf)"])
    q = Counter(d["label"] for _, d in _ops(prim, f"{L0}.attention.self.query"))
    assert q["× 1 (addmm α, no effect)"] == 1 and q["× 1 (addmm β, no effect)"] == 1 and q["+ bias"] == 1
    # every mul in a Linear at primitive level is one of addmm's factors, none is left as a bare "mul"
    assert not [n for n, d in prim.g.nodes(data=True) if d["kind"] == "op" and prim.hierarchy.label_of(n) == "mul"
                and prim.modules.get(d["module"]) and prim.modules[d["module"]].cls == "Linear"]
