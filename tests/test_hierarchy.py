"""Hierarchy: the module tree, roles and labels, aggregates, series folding."""

from __future__ import annotations

from bertviz_graph.hierarchy.tree import ROOT


def test_bert_base_tree(base_graph):
    h = base_graph.hierarchy
    (series,) = h.series()
    assert series.id == "bert.encoder.layer[0-11]" and series.label == "BertLayer ×12"
    assert series.members == [f"bert.encoder.layer.{i}" for i in range(12)]
    assert h.parent(series.id) == "bert.encoder"
    assert series.params == 12 * 7_087_872
    # parameters sit in the module that owns them, not in a global inputs bin
    assert h.parent("param:bert.encoder.layer.3.attention.self.query.weight") == \
        "bert.encoder.layer.3.attention.self.query"
    assert h.groups[ROOT].params == 109_514_298


def test_roles_and_labels(base_graph):
    h = base_graph.hierarchy
    g = h.groups
    assert g["bert.embeddings"].role == "embeddings"
    sa = g["bert.encoder.layer.0.attention.self"]
    assert sa.role == "attention" and sa.label == "Self-attention" and sa.sublabel == "12 heads, d_head 64"
    assert g["bert.encoder.layer.0.attention.output"].role == "attention_output"
    ffn = g["bert.encoder.layer.0.intermediate"]
    assert ffn.role == "ffn" and "768→3072" in ffn.sublabel and "GELU" in ffn.sublabel
    out = g["bert.encoder.layer.0.output"]
    assert out.role == "ffn_output" and "3072→768" in out.sublabel
    assert g["cls"].role == "head" and "tied" in g["cls"].sublabel
    assert g["bert.encoder.layer.0.attention.self.query"].sublabel == "Linear 768→768"


def test_aggregates(base_graph):
    h = base_graph.hierarchy
    layer = h.groups["bert.encoder.layer.0"]
    assert layer.params == 7_087_872
    assert layer.n_ops == 29
    ffn_params = h.groups["bert.encoder.layer.0.intermediate"].params + h.groups["bert.encoder.layer.0.output"].params
    assert abs(ffn_params / layer.params - 2 / 3) < 0.01  # the feed-forward part holds two thirds
    q = h.groups["bert.encoder.layer.0.attention.self.query"]
    assert q.flops == 2 * 16 * 768 * 768 + 16 * 768
    assert q.inputs == [[1, 16, 768]] and q.outputs == [[1, 16, 768]]
    assert h.groups["bert.embeddings.word_embeddings"].params == 30522 * 768
    # the head reports the tied decoder weight it applies; the model counts it once
    assert h.groups["cls"].params == 768 * 768 + 768 + 2 * 768 + 30522 * 768 + 30522


def test_residual_edges_marked(base_graph):
    g = base_graph.g
    residual = base_graph.hierarchy.residual
    assert len(residual) == 24  # two skip connections per layer
    assert all(g.nodes[v]["op"] == "add" for _, v in residual)
    # the hierarchy's findings stay out of the traced graph (and so out of a saved graph.json)
    assert not any("residual" in d for *_, d in g.edges(data=True))
    assert not any({"role", "label", "sublabel"} & set(d) for _, d in g.nodes(data=True))


def test_unfolded_hierarchy_keeps_all_layers(tiny_graph):
    from bertviz_graph.hierarchy.tree import build_hierarchy

    h = build_hierarchy(tiny_graph, fold=False)
    assert not h.series()
    assert h.parent("bert.encoder.layer.1") == "bert.encoder"


def test_residuals_in_other_families_and_primitive_level():
    import bertviz_graph as bg

    for name, layers in (("distilbert-base-uncased", 6), ("albert-base-v2", 12)):
        g = bg.trace(name)
        assert len(g.hierarchy.residual) == 2 * layers, name
    prim = bg.trace("bert-tiny", ops="primitive")  # LayerNorm/GELU math has inner adds: no skips
    assert len(prim.hierarchy.residual) == 2 * 2


def test_op_ids_never_collide_with_module_paths():
    import bertviz_graph as bg

    g = bg.trace("bert-tiny", head="cls")  # the classifier has a top-level module called `dropout`
    h = g.hierarchy
    assert "dropout" in h.groups and g.g.nodes["dropout_op"]["op"] == "dropout"
    assert not set(h.groups) & {n for n, d in g.nodes("op")}
    assert h.leaves("bert.embeddings")[-1] == "dropout_op"
