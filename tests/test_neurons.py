"""The textbook picture of a fully-connected layer (neurons/fc.py) and the role/tensor texts (explain.py)."""

from __future__ import annotations

import numpy as np
import pytest

from bertviz_graph.neurons.explain import explain_overview, explain_role, explain_tensor
from bertviz_graph.neurons.fc import fc_figure, neuron_figure, neuron_incoming, sample_fc


@pytest.fixture(scope="module")
def ffn_w():
    """A feed-forward expand weight [out=3072, in=768], as BERT-base has."""
    return np.random.default_rng(0).normal(0, 0.02, (3072, 768)).astype(np.float32)


def test_sample_fc_counts_and_fractions(ffn_w):
    s = sample_fc(ffn_w, max_out=24, max_in=24, max_edges=300)
    assert s.total_edges == 2_359_296 and s.in_features == 768 and s.out_features == 3072
    assert s.drawn_edges == len(s.edges) == 300
    assert s.edge_fraction == pytest.approx(300 / 2_359_296)
    drawn = sum(abs(w) for _, _, w in s.edges)
    assert s.mass_fraction == pytest.approx(drawn / np.abs(ffn_w.astype(np.float64)).sum(), rel=1e-6)
    assert "showing 300 of 2,359,296 edges" in s.caption() and "of total |w|" in s.caption()


def test_sample_fc_picks_the_strongest(ffn_w):
    s = sample_fc(ffn_w, max_out=10, max_in=12, max_edges=50)
    norms = np.linalg.norm(ffn_w.astype(np.float64), axis=1)
    assert set(s.outputs.tolist()) == set(np.argsort(-norms)[:10].tolist())
    # inputs: round-robin union of each picked output's strongest inputs
    order = s.outputs[np.argsort(-norms[s.outputs], kind="stable")]
    ranked = np.argsort(-np.abs(ffn_w[order]), axis=1, kind="stable")
    want: list[int] = []
    for r in range(768):
        for row in ranked:
            if int(row[r]) not in want and len(want) < 12:
                want.append(int(row[r]))
    assert s.inputs.tolist() == sorted(want)
    for o in s.outputs:  # every drawn output's single strongest input is drawn
        assert int(np.argmax(np.abs(ffn_w[o]))) in s.inputs
    # drawn edges are the 50 largest |w| among the picked rows x picked inputs, strongest first
    block = np.abs(ffn_w[np.ix_(s.outputs, s.inputs)])
    assert sorted((abs(w) for _, _, w in s.edges), reverse=True) == [abs(w) for _, _, w in s.edges]
    assert min(abs(w) for _, _, w in s.edges) == pytest.approx(np.sort(block.ravel())[::-1][49])
    for i, o, w in s.edges:
        assert ffn_w[o, i] == w and i in s.inputs and o in s.outputs
    assert sample_fc(ffn_w, 10, 12, 50).edges == s.edges  # deterministic


def test_sample_fc_ties_and_offsets():
    W = np.zeros((6, 5), np.float32)
    W[4, 2] = -3.0
    W[1, 0] = 2.0
    s = sample_fc(W, max_out=2, max_in=2, max_edges=10, row_offset=100, col_offset=1000)
    assert s.outputs.tolist() == [101, 104] and s.inputs.tolist() == [1000, 1002]
    assert s.edges[0] == (1002, 104, -3.0) and s.edges[1] == (1000, 101, 2.0)
    assert s.mass_fraction == pytest.approx(1.0)
    z = sample_fc(np.zeros((4, 4), np.float32), max_out=2, max_in=2)
    assert z.outputs.tolist() == [0, 1] and z.mass_fraction == 0.0  # ties broken by index


def test_fc_figure_groups_edges(ffn_w):
    s = sample_fc(ffn_w[:64], max_out=8, max_in=8, max_edges=40, row_offset=128)
    fig = fc_figure(s, "query, head 2", out_label="output neurons (head 2)")
    line_traces = [t for t in fig.data if t.mode == "lines"]
    assert 1 <= len(line_traces) <= 8  # grouped by sign x width bucket, not one per edge
    assert sum(list(t.x).count(None) for t in line_traces) == 40
    colors = {t.line.color for t in line_traces}
    assert colors <= {"rgb(33,102,172)", "rgb(178,24,43)"}
    assert "showing 40 of 49,152 edges" in fig.layout.title.subtitle.text
    neuron_traces = [t for t in fig.data if t.mode == "markers+text"]
    assert any("output neuron 1" in h for h in neuron_traces[1].hovertext)
    assert all(int(v) >= 128 for v in neuron_traces[1].text)


def test_neuron_incoming(ffn_w):
    idx, w = neuron_incoming(ffn_w, 17)
    assert idx.tolist() == list(range(768))
    np.testing.assert_array_equal(w, ffn_w[17])
    idx, w = neuron_incoming(ffn_w, 17, top=5)
    want = np.argsort(-np.abs(ffn_w[17]), kind="stable")[:5]
    assert idx.tolist() == want.tolist()
    np.testing.assert_array_equal(w, ffn_w[17, want])
    with pytest.raises(IndexError):
        neuron_incoming(ffn_w, 3072)
    fig = neuron_figure(ffn_w, 17, top=5)
    assert (
        list(fig.data[0].x) == [str(i) for i in want]
        and "5 largest |w| of 768" in fig.layout.title.subtitle.text
    )


DIMS = {
    "hidden": 768,
    "heads": 12,
    "d_head": 64,
    "ffn": 3072,
    "vocab": 30522,
    "seq": 16,
    "layers": 12,
    "act": "GELU",
}


@pytest.mark.parametrize(
    "role,must",
    [
        ("attention", ["12 heads", "64", "16×16", "not trained", "fully-connected"]),
        ("ffn", ["768→3072", "GELU", "neuron by neuron"]),
        ("embedding", ["30522", "one-hot", "768"]),
        ("layernorm", ["768", "1536"]),
        ("shape", ["no computation", "12 heads × 64"]),
        ("dropout", ["identity"]),
        ("elementwise", ["neuron by neuron", "no weights"]),
        ("layer", ["7,087,872"]),
        ("encoder", ["12 transformer layers", "its own trained weights"]),
    ],
)
def test_explain_role_uses_numbers(role, must):
    # a group's parameter count is the real one the hierarchy measured, passed in (no BERT formula)
    text = explain_role(role, {**DIMS, "params": 7_087_872} if role == "layer" else DIMS)
    for m in must:
        assert m in text, (role, m, text)


def test_explain_linear_and_other_numbers():
    t = explain_role("linear", {"in_features": 768, "out_features": 3072, "seq": 9})
    assert "768×3072 = 2,359,296" in t and "3072 biases" in t and "9 token positions" in t
    t = explain_role("linear", {"in_features": 100, "out_features": 7})
    assert "100×7 = 700" in t and "7 biases" in t
    assert "6 heads of 32" in explain_role("attention", {"hidden": 192, "heads": 6})  # d_head derived
    for role in [
        "embeddings", "attention_output", "ffn_output", "pooler", "head", "activation", "softmax", "matmul",
        "param", "buffer", "input", "output", "model", "other", "something-new",
    ]:  # fmt: skip
        assert len(explain_role(role, DIMS)) > 40
        assert len(explain_role(role, {})) > 40  # no numbers: words instead, no crash
    assert "1000" in explain_role("head", {"in_features": 768, "out_features": 1000})
    assert "2,359,296 edges" in explain_overview(DIMS)


def test_explain_tensor():
    assert (
        explain_tensor([1, 16, 768], dims=DIMS)
        == "1 sequence × 16 token positions × 768 neurons (features) per position"
    )
    assert (
        explain_tensor([1, 12, 16, 16], dims=DIMS)
        == "12 heads × 16×16 attention weights between token positions"
    )
    assert explain_tensor([1, 12, 16, 64], dims=DIMS) == "12 heads × 16 positions × 64 neurons per head"
    assert explain_tensor([1, 12, 16, 16]) == "12 heads × 16×16 attention weights between token positions"
    assert "3072 neurons of the feed-forward layer" in explain_tensor([1, 16, 3072], dims=DIMS)
    assert "30522 scores" in explain_tensor([1, 16, 30522], dims=DIMS)
    assert "64 neurons per head × 16 positions" in explain_tensor([1, 12, 64, 16], dims=DIMS)
    assert "3072 output neurons × 768 input neurons" in explain_tensor([3072, 768], dims=DIMS)
    assert "30522 token ids" in explain_tensor([30522, 768], dims=DIMS)
    assert "attention mask" in explain_tensor([1, 1, 1, 16], dims=DIMS)
    assert explain_tensor([2, 3], names=["a", "b"]) == "2 a × 3 b"
    assert explain_tensor([]) == "a single number"
    with pytest.raises(ValueError):
        explain_tensor([2, 3], names=["a"])
