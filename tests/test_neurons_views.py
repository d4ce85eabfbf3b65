"""From ops to neurons: neuron views of Linears and heads, the mapping text, the textbook network view."""

from __future__ import annotations

import numpy as np
import pytest

import bertviz_graph as bg
from bertviz_graph.errors import UserError
from bertviz_graph.neurons.mapping import mapping_text
from bertviz_graph.neurons.textbook import collect_bands, textbook_figure
from bertviz_graph.neurons.views import (
    head_matrix,
    linear_candidates,
    neuron_detail,
    neuron_view,
    resolve_linear,
    store_for,
)

L0 = "bert.encoder.layer.0"


# ----------------------------------------------------------------------------------------------------------
# Which Linear


def test_resolve_linear_from_any_id(tiny_graph):
    g = tiny_graph
    dense = f"{L0}.intermediate.dense"
    for nid in (dense, f"{L0}.intermediate", f"param:{dense}.weight", f"{dense}.weight"):
        r = resolve_linear(g, nid)
        assert (r.gid, r.weight, r.in_features, r.out_features) == (dense, f"{dense}.weight", 128, 512)
        assert r.bias == f"{dense}.bias" and r.split is None
    op = next(n for n in g.hierarchy.leaves(dense) if g.g.nodes[n]["kind"] == "op")
    assert resolve_linear(g, op).gid == dense
    with pytest.raises(UserError, match="3 fully-connected layers") as e:
        resolve_linear(g, f"{L0}.attention.self")
    assert "query" in str(e.value)
    assert [c for c, _ in linear_candidates(g, f"{L0}.attention.self")] == [
        f"{L0}.attention.self.{k}" for k in ("query", "key", "value")]
    with pytest.raises(UserError):
        resolve_linear(g, f"{L0}.output.LayerNorm")
    with pytest.raises(UserError):
        resolve_linear(g, "nope")
    # the tied MLM decoder reads the word embedding as its [out=vocab, in=hidden] weight
    dec = resolve_linear(g, "cls.predictions.decoder")
    assert dec.weight == "bert.embeddings.word_embeddings.weight" and dec.out_features == 30522
    q = resolve_linear(g, f"{L0}.attention.self.query")
    assert (q.split, q.heads, q.d_head) == (0, 2, 64)
    o = resolve_linear(g, f"{L0}.attention.output.dense")
    assert (o.split, o.heads, o.d_head) == (1, 2, 64)


# ----------------------------------------------------------------------------------------------------------
# Neuron view: counts and per-head slices


def test_ffn_neuron_view_counts(base_graph):
    fig = neuron_view(base_graph, f"{L0}.intermediate.dense")
    sub = fig.layout.title.subtitle.text
    assert "showing 300 of 2,359,296 edges" in sub  # 768 × 3072
    assert "RANDOM weights, not trained" in sub  # structure-only preset: said plainly
    assert "shared by all 16 positions" in fig.layout.title.text
    outs = next(t for t in fig.data if t.name == "output neurons")
    assert len(outs.customdata) == 24 and all(0 <= i < 3072 for i in outs.customdata)
    assert all(t.meta == f"{L0}.intermediate.dense" for t in fig.data)


def test_head_slices_are_rows_of_qkv_and_columns_of_output(tiny_graph):
    g = tiny_graph
    store = store_for(g)
    assert store_for(g) is store  # one store per graph
    for k in ("query", "key", "value"):
        W = np.asarray(store.get(f"{L0}.attention.self.{k}.weight"))
        for h in (0, 1):
            np.testing.assert_array_equal(head_matrix(g, f"{L0}.attention.self.{k}", h), W[h * 64:(h + 1) * 64])
    W = np.asarray(store.get(f"{L0}.attention.output.dense.weight"))
    for h in (0, 1):
        np.testing.assert_array_equal(head_matrix(g, f"{L0}.attention.output.dense", h), W[:, h * 64:(h + 1) * 64])
    with pytest.raises(UserError, match="not split by attention head"):
        head_matrix(g, f"{L0}.intermediate.dense", 0)
    with pytest.raises(UserError, match="out of range"):
        head_matrix(g, f"{L0}.attention.self.query", 2)


def test_head_neuron_view_draws_only_that_head(tiny_graph):
    g = tiny_graph
    W = np.asarray(store_for(g).get(f"{L0}.attention.self.query.weight"))
    fig = neuron_view(g, f"{L0}.attention.self.query", head=1, max_out=10, max_in=12, max_edges=60)
    assert "head 1: output neurons 64–127" in fig.layout.title.text
    assert "showing 60 of 8,192 edges" in fig.layout.title.subtitle.text  # 64 rows × 128 inputs
    outs = next(t for t in fig.data if t.name == "output neurons")
    assert all(64 <= o < 128 for o in outs.customdata)
    edge_hover = next(t for t in fig.data if t.mode == "markers" and t.text is not None)
    for txt in edge_hover.text:  # "w[out o, in i] = v": real indices of the full matrix
        o, i, v = (float(x) for x in __import__("re").findall(r"-?[\d.]+(?:e-?\d+)?", txt)[:3])
        assert 64 <= o < 128 and W[int(o), int(i)] == pytest.approx(v, rel=1e-3, abs=1e-6)
    # attention output projection: head 1 owns input columns 64..127
    fig = neuron_view(g, f"{L0}.attention.output.dense", head=1)
    ins = next(t for t in fig.data if t.name == "input neurons")
    assert all(64 <= i < 128 for i in ins.customdata)
    assert "showing" in fig.layout.title.subtitle.text and "8,192 edges" in fig.layout.title.subtitle.text


def test_neuron_detail_is_the_row(tiny_graph):
    g = tiny_graph
    store = store_for(g)
    W = np.asarray(store.get(f"{L0}.intermediate.dense.weight"))
    fig = neuron_detail(g, f"{L0}.intermediate.dense", 300)
    bars = fig.data[0]
    assert list(bars.x) == [str(i) for i in range(128)]
    np.testing.assert_array_equal(np.asarray(bars.y, np.float32), W[300])
    assert "output neuron 300" in fig.layout.title.text and "bias 0" in fig.layout.title.subtitle.text
    Wo = np.asarray(store.get(f"{L0}.attention.output.dense.weight"))
    fig = neuron_detail(g, f"{L0}.attention.output.dense", 5, head=1)
    assert list(fig.data[0].x) == [str(i) for i in range(64, 128)]
    np.testing.assert_array_equal(np.asarray(fig.data[0].y, np.float32), Wo[5, 64:128])
    with pytest.raises(UserError, match="outside 64..127"):
        neuron_detail(g, f"{L0}.attention.self.key", 3, head=1)


# ----------------------------------------------------------------------------------------------------------
# The mapping text


def _text(rows):
    return "\n".join(f"{k} => {v}" for k, v in rows)


def test_mapping_text_on_bert_base(base_graph):
    g = base_graph
    gg = g.g
    lin = next(n for n in g.hierarchy.leaves(f"{L0}.intermediate.dense") if gg.nodes[n]["kind"] == "op")
    t = _text(mapping_text(g, lin))
    assert "fully-connected layer: 768 input neurons → 3072 output neurons, 2,359,296 weighted edges" in t
    assert "shared by all 16 token positions" in t
    assert "input edge [1, 16, 768] => 1 sequence × 16 token positions × 768 neurons" in t
    ops = {d.get("op"): n for n, d in gg.nodes(data=True) if d["kind"] == "op" and d.get("module", "").startswith(L0 + ".")}
    assert "per-neuron" in _text(mapping_text(g, ops["gelu"]))
    adds = [n for n, d in gg.nodes(data=True) if d.get("op") == "add" and d.get("module", "").startswith(L0 + ".")]
    assert any("skip connection" in _text(mapping_text(g, a)) for a in adds)
    assert all("per-neuron" in _text(mapping_text(g, a)) for a in adds)
    t = _text(mapping_text(g, ops["layer_norm"]))
    assert "per-token normalisation" in t and "2×768 = 1,536 trained parameters" in t
    t = _text(mapping_text(g, ops["softmax"]))
    assert "edges between token positions" in t and "computed from the input" in t and "no trained parameter" in t
    t = _text(mapping_text(g, f"{L0}.attention.self.query"))
    assert "12 heads => head h owns output neurons (rows) h·64" in t
    t = _text(mapping_text(g, f"{L0}.attention.output.dense"))
    assert "input neurons (columns)" in t
    assert "16 token positions × 768 neurons" in _text(mapping_text(g, f"{ops['layer_norm']}->x"))
    t = _text(mapping_text(g, "bert.encoder.layer[0-11]"))
    assert "12 stacked copies" in t and "7,087,872" in t
    t = _text(mapping_text(g, "param:bert.embeddings.word_embeddings.weight"))
    assert "30,522 one-hot inputs to 768 neurons" in t and "tied" in t


def test_mapping_text_for_every_node(tiny_graph):
    h = tiny_graph.hierarchy
    for _, x in h.walk():
        rows = mapping_text(tiny_graph, x)
        assert rows and all(k and v for k, v in rows), x
    with pytest.raises(UserError):
        mapping_text(tiny_graph, "no-such-node")


# ----------------------------------------------------------------------------------------------------------
# Textbook view


@pytest.mark.parametrize("name", ["bert-tiny", "distilbert-base-uncased", "albert-base-v2", "all-MiniLM-L6-v2"])
def test_textbook_bands_follow_module_dims(name):
    g = bg.trace(name)
    h = g.hierarchy
    bands, brackets = collect_bands(h)
    hidden, heads = h.ctx["hidden"], h.ctx["heads"]
    assert len(brackets) == 1
    series = h.groups[brackets[0].gid]
    assert brackets[0].count == len(series.members) == h.ctx["layers"]
    assert brackets[0].shared == (name == "albert-base-v2")
    kinds = [b.kind for b in bands]
    assert kinds[0] == "embeddings" and "attention" in kinds
    for b in bands:
        assert b.gid in h.groups
        a = h.groups[b.gid].attrs
        if b.kind == "linear":
            assert (b.in_features, b.width) == (a["in_features"], a["out_features"])
        elif b.kind == "norm":
            assert b.width == a["normalized_shape"][0]
        elif b.kind == "attention":
            assert b.width == hidden and b.heads == heads
    # query, key and value read the same tensor: one level, each split into heads of d_head
    qkv = [b for b in bands if b.kind == "linear" and b.heads]
    assert len(qkv) == 3 and len({b.level for b in qkv}) == 1
    assert all(b.width == hidden and b.width // b.heads == hidden // heads for b in qkv)
    ffn = [b for b in bands if b.kind == "linear" and b.width == h.ctx["ffn"]]
    assert len(ffn) == 1 and ffn[0].in_features == hidden
    assert sum(1 for b in bands if b.residual_from is not None) >= 2  # both skips of the layer
    fig = textbook_figure(h)
    bars = next(t for t in fig.data if t.type == "bar")
    assert set(bars.customdata) == {b.gid for b in bands}
    marks = [t for t in fig.data if t.customdata is not None and t.type == "scatter"]
    assert [m.customdata[0] for m in marks] == [brackets[0].gid]


def test_textbook_bert_base(base_graph):
    h = base_graph.hierarchy
    bands, brackets = collect_bands(h)
    widths = [(b.kind, b.width) for b in bands if not b.thin]
    assert widths[:7] == [("embeddings", 768), ("linear", 768), ("linear", 768), ("linear", 768),
                          ("attention", 768), ("linear", 768), ("linear", 3072)]
    assert [b.width for b in bands if b.kind == "linear"][-1] == 30522
    fig = textbook_figure(h)
    bars = next(t for t in fig.data if t.type == "bar")
    # 12 head bars for each of Q, K, V and the attention mix; the decoder band is drawn cut
    assert list(bars.customdata).count(f"{L0}.attention.self.query") == 12
    assert list(bars.customdata).count(f"{L0}.attention.self") == 12
    dec = next(b for b in bands if b.gid == "cls.predictions.decoder")
    assert dec.cut and dec.drawn_width < 30522
    texts = [a.text for a in fig.layout.annotations]
    assert "768×3072 = 2,359,296 weights" in texts and "3072×768 = 2,359,296 weights" in texts
    assert any("3 × 768×768 = 1,769,472 weights" == t for t in texts)
    assert any("×12" in (m.text[0] or "") for m in fig.data if m.type == "scatter" and m.text is not None
               and m.customdata is not None)


# ----------------------------------------------------------------------------------------------------------
# Notebook widget methods


def test_widget_methods(tiny_graph):
    from bertviz_graph.widget import GraphWidget

    w = GraphWidget(tiny_graph)
    with pytest.raises(UserError, match="none selected"):
        w.neurons()
    w.select(f"{L0}.attention.self.query")
    assert "head 1: output neurons 64–127" in w.neurons(head=1).layout.title.text
    assert "output neuron 70" in w.neuron(70, head=1).layout.title.text
    assert w.mapping()[0][0] == "Linear 128→128"
    # the details pane carries the mapping too
    assert w.details["mapping"] and ["in neural-network terms", "↓"] in w.details["rows"]
    assert any("fully-connected layer" in v for _, v in w.details["rows"])
    net = w.network(link=False)
    assert next(t for t in net.data if t.type == "bar").customdata[0] == "bert.embeddings"
    chart = w.chart("flops", "treemap", link=False)
    assert chart.data[0].type == "treemap"
    # a click in a linked figure opens the group in the widget (series) or selects it in place (Linear)
    linked = w.network()
    assert type(linked).__name__ in ("FigureWidget", "Figure")
    w._open_from_figure("bert.encoder.layer[0-1]")
    assert "bert.encoder.layer[0-1]" in w.state["opened"] and w.selected == "bert.encoder.layer[0-1]"
    w._open_from_figure(f"{L0}.intermediate.dense")
    assert w.selected == f"{L0}.intermediate.dense"
    w._open_from_figure("")  # the model root: nothing to open
    assert w.selected == f"{L0}.intermediate.dense"
