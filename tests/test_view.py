"""The view: states, aggregated edges, operations, search."""

from __future__ import annotations

import pytest

from bertviz_graph.errors import UserError
from bertviz_graph.view import View, ViewState

SERIES = "bert.encoder.layer[0-11]"


def ids(view):
    return {n.id for n in view.data().nodes}


def test_default_overview(base_graph):
    v = base_graph.view()
    nodes = {n.id: n for n in v.data().nodes}
    assert nodes[SERIES].kind == "series" and nodes[SERIES].count == 12 and not nodes[SERIES].expanded
    assert nodes["bert.embeddings"].expanded is False
    assert len(nodes) < 15  # an overview, not a hairball
    edges = {(e.source, e.target): e for e in v.data().edges}
    e = edges[("bert.embeddings", SERIES)]
    assert e.shapes == [[1, 16, 768]] and e.container == "bert"
    tied = edges[("bert.embeddings", "cls")]
    assert tied.kind == "tied" and tied.label == "tied weight"  # drawn apart from ordinary weights


def test_open_series_shows_one_member_and_edges_cross_its_frame(base_graph):
    v = base_graph.view().open_instance(SERIES, 5)
    data = v.data()
    nodes = {n.id: n for n in data.nodes}
    assert nodes[SERIES].expanded and "6 of 12" in nodes[SERIES].label
    assert "bert.encoder.layer.5.attention" in nodes and "bert.encoder.layer.0.attention" not in nodes
    edges = {(e.source, e.target): e for e in data.edges}
    # the hidden layer 4 feeds layer 5: the edge enters from the series frame itself
    into = edges[(SERIES, "bert.encoder.layer.5.attention")]
    assert into.container == SERIES
    # residual inside the layer stays visible with its blocks collapsed
    res = edges[("bert.encoder.layer.5.attention", "bert.encoder.layer.5.output")]
    assert res.kind == "residual" and res.shapes == [[1, 16, 768]]


def test_open_down_to_the_weight_matrix(base_graph):
    q = "bert.encoder.layer.0.attention.self.query"
    v = base_graph.view().reveal(q).open(q)
    nodes = {n.id: n for n in v.data().nodes}
    w = nodes[f"param:{q}.weight"]
    assert w.kind == "param" and w.sublabel == "768×768" and w.parent == q
    edges = {(e.source, e.target): e for e in v.data().edges}
    linear = next(n for n in nodes.values() if n.parent == q and n.kind == "op")
    assert edges[(w.id, linear.id)].kind == "param"


def test_open_all_and_unfold(base_graph):
    v = base_graph.view()
    full = v.open_all()
    unfolded = v.open_all().unfold(all_series=True)
    n_full, n_unf = len(full.data().nodes), len(unfolded.data().nodes)
    assert n_unf > 5 * n_full / 2  # 12 layers drawn instead of one
    layer_frames = [n for n in unfolded.data().nodes if n.id.startswith("bert.encoder.layer.") and n.id.count(".") == 3]
    assert len(layer_frames) == 12
    # every visible op appears once; every OpGraph op is visible when everything is open and unfolded
    ops = [n for n in unfolded.data().nodes if n.kind == "op"]
    assert len(ops) == len(base_graph.ops())


def test_depth_and_state_roundtrip(tiny_graph):
    v = tiny_graph.view(depth=0)
    assert all(not n.expanded for n in v.data().nodes)
    v2 = tiny_graph.view(depth=2)
    assert len(v2.data().nodes) > len(v.data().nodes)
    st = ViewState.from_json_dict(v2.state.to_json_dict())
    assert st == v2.state
    assert ids(View(tiny_graph.hierarchy, st)) == ids(v2)
    with pytest.raises(UserError, match="below 0"):
        v.open_depth(-1)


def test_bad_group_names(tiny_graph):
    v = tiny_graph.view()
    with pytest.raises(UserError, match="no group 'bert.encodr'") as e:
        v.open("bert.encodr")
    assert "bert.encoder" in str(e.value)
    with pytest.raises(UserError, match="out of range"):
        v.open_instance("bert.encoder.layer[0-1]", 7)


def test_search_reveal_highlight(base_graph):
    v = base_graph.view()
    hits = v.find("query")
    assert hits[0] == "bert.encoder.layer.0.attention.self.query"
    assert len([h for h in hits if h.endswith(".query")]) == 12
    # hidden matches highlight the box that hides them
    assert v.highlight(hits[:1]) == {SERIES}
    shown = v.reveal(hits[0])
    assert hits[0] in shown.highlight(hits[:1])
    assert v.find("soft.*max")  # regex
    assert v.find("layer[") == [SERIES]  # an invalid regex is searched as plain text


def test_depth_with_unfold_opens_every_layer(base_graph):
    v = base_graph.view(depth=9, unfold=True)
    ops = [n for n in v.data().nodes if n.kind == "op"]
    assert len(ops) == len(base_graph.ops())  # all 12 layers, every op
    folded = base_graph.view(depth=9)
    assert len([n for n in folded.data().nodes if n.kind == "op"]) == len(base_graph.ops()) - 11 * 29
