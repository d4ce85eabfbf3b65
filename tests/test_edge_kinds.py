"""Edges keep their kinds when aggregated; the neuron views work at both op levels."""

from __future__ import annotations

import numpy as np
import pytest

import bertviz_graph as bg
from bertviz_graph.api import View

L0 = "bert.encoder.layer.0"


@pytest.fixture(scope="module")
def albert():
    return bg.trace("albert-base-v2")


@pytest.mark.parametrize("instance", [0, 3])
def test_albert_shared_weights_are_not_a_data_edge(albert, instance):
    h = albert.hierarchy
    s = next(x for x in h.series() if x.shared_weights)
    v = View(h).reveal(s.id).open(s.id).open_instance(s.id, instance)
    edges = v.data().edges
    shared = [e for e in edges if e.kind == "shared"]
    # the 16 tensors of the one shared layer: weights, named as such, drawn apart from the activation
    assert len(shared) == 1 and shared[0].count == 16 and shared[0].label == "16 shared weights"
    between = [e for e in edges if (e.source, e.target) == (shared[0].source, shared[0].target)]
    assert sorted(e.kind for e in between) == ["data", "shared"]
    assert next(e for e in between if e.kind == "data").count == 1
    assert not any(e.kind == "data" and e.count > 2 for e in edges)  # never "17 tensors"
    assert len({e.id for e in edges}) == len(edges)
    # independent: the graph's own edges into the shown member from parameters it does not own
    g = albert.g
    member = s.members[instance]
    if instance:
        foreign = {u for u, w in g.edges() if g.nodes[u]["kind"] == "param" and w in set(h.leaves(member))}
        assert len(foreign) == 16


def test_tied_label_only_on_tied_weights(base_graph, albert):
    for graph in (base_graph, albert):
        for depth in (None, 1, 2):
            edges = graph.view(depth=depth).data().edges
            tied = [e for e in edges if e.kind == "tied"]
            assert len(tied) == 1 and tied[0].label == "tied weight", depth
            assert "word_embeddings" in tied[0].source or tied[0].source.endswith("embeddings")
            assert all(e.label != "tied weight" for e in edges if e.kind != "tied")


def test_renderers_draw_kinds_apart(albert, tmp_path):
    from bertviz_graph.hierarchy.style import EDGE_STYLE

    h = albert.hierarchy
    s = next(x for x in h.series() if x.shared_weights)
    v = View(h).reveal(s.id).open(s.id).open_instance(s.id, 2)
    svg = v.to_svg()
    assert 'data-kind="shared"' in svg and 'data-kind="tied"' in svg
    assert EDGE_STYLE["shared"][3] in svg and EDGE_STYLE["tied"][3] in svg  # legend names both
    # the app and the widget draw this same SVG: each kind in its own colour
    assert 'data-kind="data"' in svg
    assert len({EDGE_STYLE[k][0] for k in ("data", "param", "shared", "tied")}) == 4
    for k in ("shared", "tied"):
        edge = svg.split(f'data-kind="{k}"', 1)[1].split("</g>", 1)[0]
        assert EDGE_STYLE[k][0] in edge
    dot = tmp_path / "v.dot"
    v.save(dot)
    assert EDGE_STYLE["shared"][0] in dot.read_text()


@pytest.fixture(scope="module")
def levels():
    return bg.trace("bert-tiny", ops="aten"), bg.trace("bert-tiny", ops="primitive")


def test_neuron_views_at_both_op_levels(levels):
    from bertviz_graph.neurons.mapping import mapping_text
    from bertviz_graph.neurons.textbook import collect_bands
    from bertviz_graph.neurons.views import head_matrix, neuron_view, resolve_linear

    aten, prim = levels
    assert any(d["op"] == "mm" for _, d in prim.nodes("op")) and not any(
        d["op"] == "linear" for _, d in prim.nodes("op"))
    for gid in (f"{L0}.intermediate.dense", f"{L0}.attention.self.query", "cls.predictions.decoder"):
        a, p = resolve_linear(aten, gid), resolve_linear(prim, gid)
        assert (p.weight, p.bias, p.in_features, p.out_features) == (a.weight, a.bias, a.in_features,
                                                                      a.out_features), gid
    # the product op and the weight parameter resolve too
    mm = next(n for n, d in prim.nodes("op") if d["module"] == f"{L0}.intermediate.dense" and d["op"] == "mm")
    assert resolve_linear(prim, mm).bias == f"{L0}.intermediate.dense.bias"
    assert resolve_linear(prim, f"param:{L0}.output.dense.weight").gid == f"{L0}.output.dense"
    np.testing.assert_array_equal(head_matrix(aten, f"{L0}.attention.self.key", 1),
                                  head_matrix(prim, f"{L0}.attention.self.key", 1))
    neuron_view(prim, f"{L0}.attention.self.query", head=1)
    assert "128 input neurons → 512 output neurons" in " ".join(t for _, t in mapping_text(prim, mm))
    ba = [(b.kind, b.name, b.width) for b in collect_bands(aten.hierarchy)[0]]
    bp = [(b.kind, b.name, b.width) for b in collect_bands(prim.hierarchy)[0]]
    assert bp == ba and ("attention", "attention", 128) in bp


def test_mapping_text_names_tied_and_shared_apart(albert, levels):
    from bertviz_graph.neurons.mapping import mapping_text

    g = albert.g
    q3 = next(n for n, d in albert.nodes("op") if d["module"].endswith("attention.query@3"))
    rows = dict(mapping_text(albert, q3))
    assert "shared weight" in rows and "tied weight" not in rows
    dec = next(n for n, d in albert.nodes("op") if d["module"] == "predictions.decoder" and d["op"] == "linear")
    assert "tied weight" in dict(mapping_text(albert, dec))
    q0 = next(n for n, d in albert.nodes("op") if d["module"].endswith("attention.query") and d["op"] == "linear")
    assert not {"tied weight", "shared weight"} & set(dict(mapping_text(albert, q0)))
    assert g.nodes[q0]["order"] < g.nodes[q3]["order"]
    for graph in levels:
        op = next(n for n, d in graph.nodes("op") if d["module"] == "cls.predictions.decoder"
                  and d["op"] in ("linear", "mm"))
        assert "tied weight" in dict(mapping_text(graph, op)), graph.meta["ops"]
