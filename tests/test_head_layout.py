"""Per-head slices come from the hierarchy (hierarchy/heads.py) and equal the slices each family's own
attention code uses: the query/key/value tensors and the per-head outputs captured inside transformers'
forward pass (GPT-2's fused c_attn, Llama and Mistral with grouped-query K/V, T5 with d_kv, BERT)."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch
from torch.overrides import TorchFunctionMode

import bertviz_graph as bg
from bertviz_graph.hierarchy.heads import head_counts
from bertviz_graph.hierarchy.tree import build_hierarchy
from bertviz_graph.render import weights as rw
from tests.tiny_models import MINILM, TOKENIZER_FILES

SEQ = 6


class _Matmuls(TorchFunctionMode):
    """Every 4-D torch.matmul of the forward pass, with its arguments and result, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        if func is torch.matmul and all(isinstance(a, torch.Tensor) and a.dim() == 4 for a in args[:2]):
            self.calls.append((args[0].detach(), args[1].detach(), out.detach()))
        return out


def _family(name: str):
    import transformers as T

    common = {"attn_implementation": "eager"}
    if name == "bert":
        cfg = T.BertConfig(vocab_size=100, hidden_size=32, num_hidden_layers=1, num_attention_heads=4,
                           intermediate_size=48, max_position_embeddings=32, **common)
        return T.BertModel(cfg), "encoder.layer.0.attention.self.{}", ("query", "key", "value"), \
            "encoder.layer.0.attention.output.dense"
    if name == "gpt2":
        cfg = T.GPT2Config(vocab_size=100, n_embd=32, n_layer=1, n_head=4, n_positions=32, **common)
        return T.GPT2Model(cfg), "h.0.attn.{}", ("c_attn",) * 3, "h.0.attn.c_proj"
    if name in ("llama", "mistral"):
        cls = T.LlamaConfig if name == "llama" else T.MistralConfig
        cfg = cls(vocab_size=100, hidden_size=64, intermediate_size=96, num_hidden_layers=1,
                  num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=32, **common)
        model = (T.LlamaModel if name == "llama" else T.MistralModel)(cfg)
        return model, "layers.0.self_attn.{}", ("q_proj", "k_proj", "v_proj"), "layers.0.self_attn.o_proj"
    cfg = T.T5Config(vocab_size=100, d_model=32, d_kv=6, d_ff=48, num_layers=1, num_decoder_layers=1,
                     num_heads=4, decoder_start_token_id=0, **common)  # heads × d_kv = 24 ≠ d_model
    return T.T5ForConditionalGeneration(cfg), "encoder.block.0.layer.0.SelfAttention.{}", ("q", "k", "v"), \
        "encoder.block.0.layer.0.SelfAttention.o"


@pytest.mark.parametrize("family", ["bert", "gpt2", "llama", "mistral", "t5"])
def test_head_slices_are_the_models_own(family, tmp_path):
    torch.manual_seed(0)
    model, fmt, (qn, kn, vn), out_name = _family(family)
    model.eval()
    with torch.no_grad():  # distinct values everywhere (biases start at 0), so a wrong band cannot pass
        for p in model.parameters():
            p.copy_(torch.randn_like(p) * 0.2)
    model.save_pretrained(tmp_path, safe_serialization=True)
    for f in TOKENIZER_FILES:
        shutil.copy(MINILM / f, tmp_path / f)
    graph = bg.trace(str(tmp_path))
    h = graph.hierarchy or build_hierarchy(graph)
    counts = head_counts(h.ctx)  # the hierarchy's facts, read from the saved config
    shapes = {d["name"]: list(d["shape"]) for _, d in graph.nodes("param")}

    rotary = getattr(model, "rotary_emb", None)
    if rotary is not None:  # RoPE turns Q and K inside each head; cos = 1, sin = 0 keeps them as projected
        rotary.register_forward_hook(lambda _m, _i, o: (torch.ones_like(o[0]), torch.zeros_like(o[1])))
    seen: dict[str, torch.Tensor] = {}
    for path in {fmt.format(qn), out_name}:
        model.get_submodule(path).register_forward_pre_hook(
            lambda _m, args, p=path: seen.__setitem__(p, args[0].detach()))
    ids = torch.arange(1, SEQ + 1).unsqueeze(0)
    kw = {"decoder_input_ids": ids[:, :2]} if family == "t5" else {}
    with torch.no_grad(), _Matmuls() as mm:
        model(input_ids=ids, **kw)
    (q4, kT4, _), (_, v4, per_head_out) = mm.calls[0], mm.calls[1]  # Q·Kᵀ, then softmax·V of layer 0
    want = {"Q": q4, "K": kT4.transpose(-1, -2), "V": v4}  # [batch, query heads, seq, d] as the model uses them

    x = seen[fmt.format(qn)]
    conv1d = family == "gpt2"
    for part, leaf in zip("QKV", (qn, kn, vn), strict=True):
        name = f"{fmt.format(leaf)}.weight"
        mod = model.get_submodule(fmt.format(leaf))
        W = mod.weight.detach().T if conv1d else mod.weight.detach()  # shown as [out, in]
        b = getattr(mod, "bias", None)
        shape = shapes[name][::-1] if conv1d else shapes[name]
        assert list(W.shape) == shape
        for head in range(counts.heads):
            band = rw.query_head_slice(name, shape, counts, head).bands["QKV".index(part) if conv1d else 0]
            got = x @ W[band[0]:band[1]].T + (b.detach()[band[0]:band[1]] if b is not None else 0)
            torch.testing.assert_close(got[0], want[part][0, head], rtol=1e-4, atol=1e-5)
    # the output projection reads head h's output in its input columns
    o_name = f"{out_name}.weight"
    o_shape = shapes[o_name][::-1] if conv1d else shapes[o_name]
    for head in range(counts.heads):
        a, z = rw.query_head_slice(o_name, o_shape, counts, head).bands[0]
        torch.testing.assert_close(seen[out_name][0, :, a:z], per_head_out[0, head], rtol=1e-4, atol=1e-5)


def test_grouped_query_split_counts_key_value_heads(tmp_path):
    """llama-tiny's shape: k_proj (32 × 64) is 2 key/value heads of 16 rows, not 4 "heads" of 8."""
    from bertviz_graph.hierarchy.heads import HeadCounts, param_heads

    c = HeadCounts(heads=4, kv_heads=2, d_head=16)
    k = param_heads("model.layers.0.self_attn.k_proj.weight", 32, c)
    q = param_heads("model.layers.0.self_attn.q_proj.weight", 64, c)
    assert (k.count, k.d, k.group, [k.owner(h) for h in range(4)]) == (2, 16, 2, [0, 0, 1, 1])
    assert (q.count, q.d, q.group) == (4, 16, 1)
    slices = rw.head_slices("model.layers.0.self_attn.k_proj.weight", (32, 64), c)
    assert [(s.start, s.stop) for s in slices] == [(0, 16), (16, 32)]
    from bertviz_graph.render.weight_figures import per_head_figure
    from bertviz_graph.sources.weights import RandomWeights

    kname = "model.layers.0.self_attn.k_proj.weight"
    store = RandomWeights({kname: (32, 64)}, seed=0)
    W = np.asarray(store.get(kname), np.float64)
    titles = [a.text for a in per_head_figure(store, kname, c).layout.annotations]
    assert len(titles) == 2 and all(t.startswith("KV head") for t in titles)
    assert f"{np.linalg.norm(W[16:32]):.3g}" in titles[1]  # KV head 1 = rows 16:32, its own norm
    assert param_heads("model.layers.0.mlp.gate_up_proj.weight", 64, c) is None
    assert param_heads("encoder.q.weight", 8, c) is None  # a bare ".q" outside attention is not a head split


def test_minilm_explanation_sizes_come_from_the_hierarchy():
    """The overview quoted the intermediate size under another key and printed "intermediate-size"."""
    from transformers import AutoConfig

    from bertviz_graph.details import dims_for
    from bertviz_graph.neurons.explain import explain_overview

    graph = bg.trace("all-MiniLM-L6-v2")
    h = graph.hierarchy or build_hierarchy(graph)
    ffn = AutoConfig.from_pretrained(MINILM).intermediate_size
    assert ffn == 1536
    for dims in (h.ctx, dims_for(h)):  # what the app's details panel and the neuron views pass
        text = explain_overview(dims)
        assert f"connects 384 neurons to {ffn} " in text and "intermediate-size" not in text
        assert f"({384 * ffn:,} edges)" in text
    assert np.isfinite(h.ctx["ffn"])
