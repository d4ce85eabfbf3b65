"""GPT-2's Conv1D (W stored [in, out]) in the neuron view and the weights panels, checked against the module."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import bertviz_graph as bg
from bertviz_graph.details import ModuleWeights, weights_for
from bertviz_graph.errors import UserError
from bertviz_graph.neurons.views import head_matrix, neuron_detail, neuron_view, resolve_linear
from bertviz_graph.presenters import weights as pw
from bertviz_graph.render import weights as rw

H, HEADS, D = 32, 4, 8
QKV = "h.0.attn.c_attn"


@pytest.fixture(scope="module")
def gpt2():
    from transformers import GPT2Config, GPT2Model

    torch.manual_seed(0)
    cfg = GPT2Config(n_layer=2, n_embd=H, n_head=HEADS, n_positions=32, vocab_size=100, use_cache=False,
                     bos_token_id=0, eos_token_id=0, attn_implementation="eager")
    model = GPT2Model(cfg).eval()
    with torch.no_grad():  # distinct values everywhere (biases start at 0), so a wrong index cannot pass
        for p in model.parameters():
            p.copy_(torch.randn_like(p))
    return model, bg.trace(model, (torch.arange(8).unsqueeze(0),))


def _stored(model, path: str) -> np.ndarray:
    return model.get_submodule(path).weight.detach().numpy()  # Conv1D: [in, out]


def test_conv1d_resolves_as_a_linear_with_fan_in_and_out(gpt2):
    model, g = gpt2
    for path, n_in, n_out in ((QKV, H, 3 * H), ("h.0.attn.c_proj", H, H), ("h.0.mlp.c_fc", H, 4 * H),
                              ("h.0.mlp.c_proj", 4 * H, H)):
        assert _stored(model, path).shape == (n_in, n_out)
        r = resolve_linear(g, path)
        assert (r.in_features, r.out_features, r.stored_in_out) == (n_in, n_out, True)
        assert "[in, out]" in r.layout_note
    q = resolve_linear(g, QKV)
    assert (q.fused_qkv, q.split, q.heads, q.d_head) == (True, 0, HEADS, D) and "fused query/key/value" in q.label
    assert (resolve_linear(g, "h.0.attn.c_proj").split, resolve_linear(g, "h.0.mlp.c_proj").split) == (1, None)


def test_neuron_view_edges_are_the_transposed_stored_weight(gpt2):
    model, g = gpt2
    W = _stored(model, "h.0.mlp.c_fc")  # [in=32, out=128]
    fig = neuron_view(g, "h.0.mlp.c_fc", max_out=10, max_in=10, max_edges=60)
    edges = [t for t in fig.data if t.mode == "markers" and t.text]
    hits = 0
    for txt in edges[0].text:  # "w[out o, in i] = v"
        o, i = int(txt.split("out ")[1].split(",")[0]), int(txt.split("in ")[1].split("]")[0])
        assert float(txt.split("= ")[1]) == pytest.approx(float(W.T[o, i]), rel=1e-3, abs=1e-4)
        hits += 1
    assert hits == 60 and "stored [in, out] = 32×128" in fig.layout.title.subtitle.text
    outs = [t for t in fig.data if t.name == "output neurons"][0].customdata
    assert max(outs) >= H  # output indices run to 128: with the transpose dropped they stop at 32


def test_output_neuron_incoming_weights_are_a_stored_column(gpt2):
    model, g = gpt2
    W = _stored(model, "h.0.mlp.c_fc")
    j = 77
    fig = neuron_detail(g, "h.0.mlp.c_fc", j)
    bar = fig.data[0]
    got = dict(zip((int(x) for x in bar.x), np.asarray(bar.y, np.float64), strict=True))
    assert len(got) == H
    np.testing.assert_allclose([got[i] for i in range(H)], W[:, j], rtol=1e-6)
    assert "column 77" in fig.layout.title.subtitle.text
    with pytest.raises(UserError, match="outside"):
        neuron_detail(g, "h.0.mlp.c_fc", 4 * H)  # 128 is past the 128 output neurons


def test_fused_qkv_head_slices_are_the_right_stored_columns(gpt2):
    model, g = gpt2
    W = _stored(model, QKV)  # [32, 96] = [in, Q | K | V]
    for head in range(HEADS):
        q, k, v = (W[:, p * H + head * D: p * H + (head + 1) * D].T for p in range(3))
        np.testing.assert_array_equal(head_matrix(g, QKV, head), np.concatenate([q, k, v]))
        fig = neuron_view(g, QKV, head=head)
        outs = set([t for t in fig.data if t.name == "output neurons"][0].customdata)
        own = {p * H + head * D + r for p in range(3) for r in range(D)}
        assert outs <= own and any(o >= 2 * H for o in outs)  # V rows are drawn too
        assert f"Q neurons {head * D}–{head * D + D - 1}" in fig.layout.title.text
    slices = rw.head_slices(f"{QKV}.weight", (3 * H, H), HEADS)
    assert slices[2].bands == ((16, 24), (48, 56), (80, 88))


def test_weights_panel_shows_out_by_in_with_a_note(gpt2):
    model, g = gpt2
    store = weights_for(g)
    name = f"{QKV}.weight"
    W = _stored(model, QKV)
    assert store.shape(name) == (3 * H, H) and ModuleWeights(model).shape(name) == (H, 3 * H)
    m = pw.matrix(store, name, num_heads=HEADS, how="mean", max_px=(512, 512))
    assert m.meta()["full"] == [3 * H, H] and "[in, out]" in m.note and "[in, out]" in m.meta()["meaning"]
    np.testing.assert_allclose(m.view.z, W.T, rtol=1e-6)  # one cell per weight: the heatmap IS W.T
    assert rw.value_at(store, name, 70, 3) == pytest.approx(float(W[3, 70]))
    # per head: norms of Q, K and V bands together, and the head's three bands outlined
    want = [np.sqrt(sum(np.square(W[:, p * H + h * D: p * H + (h + 1) * D]).sum() for p in range(3)))
            for h in range(HEADS)]
    np.testing.assert_allclose(m.heads.norms, want, rtol=1e-5)
    fig = m.figure()
    assert "Q 8:16, K 40:48, V 72:80" in pw.highlight_head(fig, m, HEADS, 1)
    outlined = [(s.y0 + 0.5, s.y1 + 0.5) for s in fig.layout.shapes if s.line.width]
    assert outlined == [(8, 16), (40, 48), (72, 80)]
    ph = pw.per_head(store, name, HEADS)
    assert len(ph.data) == 3 * HEADS and "Q, K, V fused: rows 0:32, 32:64, 64:96" in ph.layout.title.subtitle.text
    np.testing.assert_allclose(ph.data[4].z, W[:, H + D: H + 2 * D].T, rtol=1e-6)  # head 1 K: Q, K, V a row


def test_dropping_the_transpose_fails(gpt2):
    """The honest check: without the transposing view, the stored [in, out] layout breaks the same asserts."""
    model, g = gpt2
    raw = ModuleWeights(model)
    W = _stored(model, "h.0.mlp.c_fc")
    assert raw.shape("h.0.mlp.c_fc.weight") != (4 * H, H)
    assert not np.allclose(raw.get_slice("h.0.mlp.c_fc.weight", slice(0, H), slice(0, H)), W.T[:H, :H])
    # the neuron view re-wraps a raw store itself, so a caller's ModuleWeights still reads [out, in]
    np.testing.assert_array_equal(head_matrix(g, "h.0.mlp.c_fc", store=raw), W.T)


def test_gpt2_preset_c_attn_views():
    g = bg.trace("gpt2")
    gid = "transformer.h.0.attn.c_attn"
    r = resolve_linear(g, gid)
    assert (r.in_features, r.out_features, r.heads, r.d_head, r.fused_qkv) == (768, 2304, 12, 64, True)
    fig = neuron_view(g, gid, head=11)
    assert "Q neurons 704–767, K 1472–1535, V 2240–2303" in fig.layout.title.text
    assert "RANDOM" in fig.layout.title.subtitle.text
    store = weights_for(g)
    assert store.shape(f"{gid}.weight") == (2304, 768)
    assert rw.head_slices(f"{gid}.weight", (2304, 768), 12)[0].bands == ((0, 64), (768, 832), (1536, 1600))


def test_run_time_contributions_transpose_conv1d(gpt2):
    model, g = gpt2
    from bertviz_graph.presenters.activations import neuron_view as run_view

    class Acts:  # the two tensors the run view reads: the Linear's input and output at each token
        tokens = labels = ["a", "b"]
        trained = True

        def __init__(self, x, y, src, op):
            self._a = {src: x, op: y}

        def array(self, n):
            return self._a[n]

    from bertviz_graph.presenters.activations import _linear_op  # noqa: PLC2701 - test of the same module

    op, src = _linear_op(g, "h.0.mlp.c_fc")
    conv = model.get_submodule("h.0.mlp.c_fc")
    x = torch.randn(1, 2, H)
    y = conv(x).detach()
    nv = run_view(g, Acts(x.numpy(), y.numpy(), src, op), conv.weight.detach().numpy(),
                  conv.bias.detach().numpy(), "h.0.mlp.c_fc", 1)
    Wt = conv.weight.detach().numpy().T
    for j, i, c in nv.edges:
        assert c == pytest.approx(float(Wt[i, j] * x[0, 1, j]), rel=1e-5)


def test_head_params_of_gpt2_attention(gpt2):
    """The attention tab's per-head weights: shapes as shown ([out, in]), so the fused c_attn splits."""
    _model, g = gpt2
    from bertviz_graph.presenters.attention import head_params

    ps = head_params(g, "h.0.attn", 1, HEADS)
    assert ps["h.0.attn.c_attn.weight"] == (0, D, 2 * D) and ps["h.0.attn.c_attn.bias"] == (0, D, 2 * D)
    assert ps["h.0.attn.c_proj.weight"] == (1, D, 2 * D)
    store = weights_for(g)
    names = [n for n in ps if n.endswith(".weight")]
    figs = pw.head_slice_figures(store, names, HEADS, 1)
    assert [n for n, _, _ in figs] == names and "Q 8:16, K 40:48, V 72:80" in figs[0][2]


def test_matrix_of_one_fused_head_says_where_k_and_v_are(gpt2):
    model, g = gpt2
    m = pw.matrix(weights_for(g), f"{QKV}.weight", num_heads=HEADS, head=2, how="mean", max_px=(512, 512))
    W = _stored(model, QKV)
    np.testing.assert_allclose(m.view.z, W[:, 2 * D: 3 * D].T, rtol=1e-6)
    assert "K rows are 48:56, its V rows 80:88" in m.note
