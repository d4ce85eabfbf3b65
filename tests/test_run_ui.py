"""The run presenters behind the graph's edge tooltips, colour-by change and a head's outlined slices, checked
against independent computations (forward hooks on the real model, the weight's own head split)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import bertviz_graph as bg
from bertviz_graph.errors import UserError
from bertviz_graph.presenters import activations as PA
from bertviz_graph.presenters import weights as pw
from bertviz_graph.presenters.run_session import RunSession
from bertviz_graph.view import View
from tests.tiny_models import tiny_model

TEXT = "The cat sat on the mat."


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    path = tiny_model(tmp_path_factory.mktemp("tiny") / "bert", cls="BertModel")
    g = bg.trace(path)
    s = RunSession(g)
    return g, s, s.run(TEXT)


def _hook(run, module: str, text: str = TEXT):
    """(input, output) of ``module`` from a forward hook on the model itself (not our capture)."""
    seen = {}
    mod = run.model.get_submodule(module)
    h = mod.register_forward_hook(lambda _m, i, o: seen.update(i=i[0] if i else None, o=o[0] if isinstance(o, tuple) else o))
    with torch.no_grad():
        run.model(torch.tensor([run.tokenize(text).input_ids]))
    h.remove()
    x = seen["i"]
    return (None if x is None else x.double()), seen["o"].double()


def test_change_of_a_layer_equals_hooks(tiny):
    g, s, acts = tiny
    h = g.hierarchy
    layer = next(x for x in h.groups if x.endswith("encoder.layer.1"))
    attn = next(x for x in h.groups if x.endswith("encoder.layer.0.attention"))
    got = PA.change_values(g, h, acts, [layer, attn])
    for gid in (layer, attn):
        module = gid.split(".", 1)[1] if gid.startswith(("bert.", "model.")) else gid
        x, y = _hook(s.runnable, module)
        want = float(torch.linalg.norm(y - x) / torch.linalg.norm(x))
        assert isinstance(got[gid], float), got[gid]
        assert got[gid] == pytest.approx(want, rel=1e-5)
        assert 0 < got[gid] < 10


def test_change_undefined_says_why(tiny):
    g, _s, acts = tiny
    h = g.hierarchy
    emb = next(x for x in h.groups if x.endswith("embeddings"))
    got = PA.change_values(g, h, acts, [emb, "input:input_ids"])
    assert got[emb] == "no input has the output's shape"  # token ids [1, T] -> hidden [1, T, 32]
    assert "no output op" in got["input:input_ids"]


def test_folded_stack_change_is_the_whole_stack(tiny):
    g, s, acts = tiny
    h = g.hierarchy
    series = next(x for x, grp in h.groups.items() if grp.kind == "series")
    got = PA.change_values(g, h, acts, [series])[series]
    x, _ = _hook(s.runnable, "encoder.layer.0")
    _, y = _hook(s.runnable, "encoder.layer.1")
    assert got == pytest.approx(float(torch.linalg.norm(y - x) / torch.linalg.norm(x)), rel=1e-5)


def test_edge_carries_its_source_ops_output(tiny):
    g, s, acts = tiny
    view = View.default(g.hierarchy)
    edge = next(e for e in view.data().edges if e.source.endswith("embeddings") and e.kind == "data")
    et, tv, what = PA.edge_view(g, view, acts, edge.id)
    assert len(et.tensors) == 1 and "carries the output of" in what
    _, y = _hook(s.runnable, "embeddings")  # BertEmbeddings' output (eval: dropout is the identity)
    np.testing.assert_allclose(tv.matrix, y[0].numpy(), rtol=1e-5, atol=1e-6)
    tip = PA.edge_tips(g, view, acts)[edge.id]
    rms = float(torch.sqrt((y ** 2).mean()))
    assert f"RMS {rms:.4g}" in tip and f"max {float(y.max()):.4g}" in tip and "×".join(map(str, y.shape)) in tip


def test_aggregated_edge_names_its_tensors(tiny):
    g, _s, acts = tiny
    h = g.hierarchy
    layer0 = next(x for x in h.groups if x.endswith("encoder.layer.0"))
    view = View.default(h).reveal(layer0).open(layer0)
    tips = PA.edge_tips(g, view, acts)
    for e in view.data().edges:  # every drawn edge names exactly the tensors it stands for
        et = PA.edge_tensors(g, view, e.id)
        assert len(et.tensors) == e.count, e.id
        if e.kind not in PA.WEIGHT_EDGES:
            assert et.tensors[0] in tips[e.id]
        else:
            assert e.id not in tips and "weights" in PA.edge_summary(g, acts, et)
    # an edge standing for two tensors says so and describes each (the view merges such tensors into one)
    two = [n for n, d in g.nodes("op") if len(d.get("shape") or []) == 3][:2]
    line = PA.edge_summary(g, acts, PA.EdgeTensors("a->b", "a", "b", "data", two))
    assert line.startswith("2 tensors — ") and two[0] in line and two[1] in line
    with pytest.raises(UserError, match="no edge"):
        PA.edge_tensors(g, view, "nowhere->nothing")


def test_head_band_rows_and_columns(tiny):
    g, s, _acts = tiny
    from bertviz_graph.details import weights_for

    store = weights_for(g)
    q = next(d["name"] for _, d in g.nodes("param") if d["name"].endswith("layer.0.attention.self.query.weight"))
    o = next(d["name"] for _, d in g.nodes("param") if d["name"].endswith("layer.0.attention.output.dense.weight"))
    figs = pw.head_slice_figures(store, [q, o], 4, 2)
    assert [n for n, *_ in figs] == [q, o]
    (_, fq, cq), (_, fo, co) = figs
    band_q = [sh for sh in fq.layout.shapes if sh.name == "head 2"][0]
    band_o = [sh for sh in fo.layout.shapes if sh.name == "head 2"][0]
    # hidden 32, 4 heads: head 2 owns query rows 16:24 and output-projection columns 16:24
    assert (band_q.y0, band_q.y1, band_q.x0, band_q.x1) == (15.5, 23.5, -0.5, 31.5)
    assert (band_o.x0, band_o.x1, band_o.y0, band_o.y1) == (15.5, 23.5, -0.5, 31.5)
    assert "rows 16:24" in cq and "columns 16:24" in co
    assert len(fq.layout.shapes) == 3  # the band and the dimmed rest above and below
    # the band covers exactly the rows the model's own head split gives head 2
    W = s.runnable.model.get_submodule("encoder.layer.0.attention.self.query").weight.detach()
    d = W.shape[0] // 4
    assert (int(band_q.y0 + 0.5), int(band_q.y1 + 0.5)) == (2 * d, 3 * d)


def test_widget_edge_output_node_and_colours(tiny):
    from bertviz_graph.widget import GraphWidget

    g, s, _acts = tiny
    w = GraphWidget(g)
    assert w._tips == {}  # nothing run yet: no tooltips, no run colours
    w.run(TEXT)
    edge = next(e.id for e in w.view.data().edges if e.source.endswith("embeddings") and e.kind == "data")
    assert "RMS" in w._tips["edges"][edge]
    w.select_edge(edge)
    assert w.edge == edge and w.details["edge"] and w.details["image"].startswith("data:image/png;base64,")
    fig = w.activation()  # no box selected: the selected edge's tensor
    _, y = _hook(s.runnable, "embeddings")
    np.testing.assert_allclose(np.asarray(fig.data[0].z), y[0].numpy(), rtol=1e-5, atol=1e-6)
    w.select("output:0")
    assert w.edge == "" and any(r[0] == "predictions" for r in w.details["rows"])
    w.color_by = "change"
    assert 'fill="#f4f4f4"' in w.svg and "Legend" not in w.svg
    w.color_by = "nonsense"
    assert w.color_by == "role" and "unknown colour-by" in w.error


def test_tied_weight_edge_carries_the_weight_not_an_activation():
    g = bg.trace("bert-tiny")  # BertForMaskedLM: the MLM decoder is tied to the word embeddings
    h = g.hierarchy
    layer0 = next(x for x in h.groups if x.endswith("encoder.layer.0"))
    view = View.default(h).reveal(layer0).open(layer0)
    tied = next(e for e in view.data().edges if e.kind == "tied")
    et = PA.edge_tensors(g, view, tied.id)
    assert et.tensors == ["param:bert.embeddings.word_embeddings.weight"]
    assert PA.edge_summary(g, None, et).startswith("weights (not activations): bert.embeddings.word_embeddings")
