"""The one-layer-and-replicate fast path gives exactly torch.export's graph of the whole model."""

from __future__ import annotations

import pytest

from bertviz_graph.sources.build import build_model
from bertviz_graph.sources.presets import preset_config
from bertviz_graph.sources.resolve import ModelSource
from bertviz_graph.tracer import _meta, trace_source
from bertviz_graph.tracer.export_tracer import export_trace
from bertviz_graph.tracer.fast import eligible, fast_trace

CONFIGS = {
    "bert-base": (preset_config("bert-base-uncased"), "mlm"),
    "albert": ({**preset_config("albert-base-v2"), "hidden_size": 128, "num_attention_heads": 4,
                "intermediate_size": 256, "num_hidden_layers": 4}, "mlm"),
    "gpt2": ({"model_type": "gpt2", "n_layer": 3, "n_embd": 64, "n_head": 4, "vocab_size": 100,
              "n_positions": 32, "use_cache": False}, "base"),
    "llama-gqa": ({"model_type": "llama", "num_hidden_layers": 3, "hidden_size": 64, "num_attention_heads": 4,
                   "num_key_value_heads": 2, "intermediate_size": 128, "vocab_size": 100,
                   "max_position_embeddings": 64, "use_cache": False}, "base"),
}


def _source(cfg: dict, head: str) -> ModelSource:
    return ModelSource(name="m", origin="local", config=dict(cfg), head=head)


def _full_export(cfg: dict, head: str, ops: str):
    src = build_model(_source(cfg, head))
    return export_trace(src.model, src.example_inputs, {}, _meta(src, "eager", ops, 16), ops)


@pytest.mark.parametrize("name", list(CONFIGS))
def test_fast_path_equals_full_export_op_by_op(name):
    cfg, head = CONFIGS[name]
    ops = "primitive" if name == "gpt2" else "aten"
    full = _full_export(cfg, head, ops)
    src = _source(cfg, head)
    fast = fast_trace(src, lambda model: _meta(src, "eager", ops, 16, model), ops, "eager", 16)
    assert fast is not None, "the fast path refused a config it should take"
    assert fast.meta["replicated"]["layers"] == eligible(cfg)[0] > 1
    assert list(fast.g.nodes) == list(full.g.nodes) or set(fast.g.nodes) == set(full.g.nodes)
    for node, data in full.g.nodes(data=True):
        assert fast.g.nodes[node] == data, node
    full_edges = {(u, v): d for u, v, d in full.g.edges(data=True)}
    fast_edges = {(u, v): d for u, v, d in fast.g.edges(data=True)}
    assert fast_edges == full_edges
    assert fast.modules == full.modules
    assert {k: v for k, v in fast.meta.items() if k not in ("replicated", "tracer")} == full.meta


def test_fast_path_refuses_layers_that_differ():
    cfg = dict(CONFIGS["gpt2"][0], scale_attn_by_inverse_layer_idx=True)
    assert eligible(cfg) is None
    graph = trace_source(_source(cfg, "base"), use_cache=False)  # the whole model is exported instead
    assert "replicated" not in graph.meta
    assert graph.meta["tracer"] == "torch.export"


def test_presets_take_the_fast_path():
    graph = trace_source(_source(preset_config("bert-tiny"), "mlm"), use_cache=False)
    assert graph.meta["replicated"] == {"unit": "bert.encoder.layer.0", "layers": 2}
