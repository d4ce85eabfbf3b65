"""Hand-built, model-like ViewData for layout and render tests (no torch, no tracing)."""

from __future__ import annotations

from bertviz_graph.view_types import VEdge, ViewData, VNode

SHAPE = "[1, 16, 768]"


def layer_nodes(
    p: str, parent: str, label: str = "BertLayer", count: int = 1
) -> tuple[list[VNode], list[VEdge]]:
    """One opened BERT layer: attention frame (opened) with q/k/v + weights, Add & LayerNorm, FFN groups."""
    a = f"{p}.attention"
    n = [
        VNode(p, "group", label, "layer 768", "layer", parent, expanded=True, expandable=True, count=count),
        VNode(a, "group", "BertSelfAttention", "12 heads", "attention", p, expanded=True, expandable=True),
    ]
    for x in ("query", "key", "value"):
        n.append(VNode(f"{a}.{x}.weight", "param", f"{x}.weight", "[768, 768]", "param", a))
        n.append(VNode(f"{a}.{x}", "op", x, "Linear 768→768", "linear", a))
    n += [
        VNode(f"{a}.scores", "op", "matmul", "Q·Kᵀ", "matmul", a),
        VNode(f"{a}.softmax", "op", "softmax", "[1, 12, 16, 16]", "softmax", a),
        VNode(f"{a}.context", "op", "matmul", "A·V", "matmul", a),
        VNode(f"{a}.dense.weight", "param", "dense.weight", "[768, 768]", "param", a),
        VNode(f"{a}.dense", "op", "dense", "Linear 768→768", "linear", a),
        VNode(f"{p}.add", "op", "add", "", "elementwise", p),
        VNode(f"{p}.ln", "op", "LayerNorm", "768", "layernorm", p),
        VNode(f"{p}.intermediate", "group", "BertIntermediate", "768→3072, GELU", "ffn", p, expandable=True),
        VNode(
            f"{p}.output",
            "group",
            "BertOutput",
            "3072→768 + Add & LayerNorm",
            "ffn_output",
            p,
            expandable=True,
        ),
    ]
    e = []

    def edge(s: str, t: str, kind: str = "data", label: str = "") -> None:
        # the container: innermost expanded node holding both ends (layout recomputes it anyway)
        e.append(VEdge(f"{s}->{t}", s, t, None, kind, 1, [], label))

    for x in ("query", "key", "value"):
        edge(f"{a}.{x}.weight", f"{a}.{x}", "param")
    edge(f"{a}.query", f"{a}.scores", label=SHAPE)
    edge(f"{a}.key", f"{a}.scores", label=SHAPE)
    edge(f"{a}.scores", f"{a}.softmax", label="[1, 12, 16, 16]")
    edge(a, f"{a}.softmax", label="mask")  # the frame itself as source: enters from outside (hidden)
    edge(f"{a}.softmax", f"{a}.context")
    edge(f"{a}.value", f"{a}.context", label=SHAPE)
    edge(f"{a}.dense.weight", f"{a}.dense", "param")
    edge(f"{a}.context", f"{a}.dense", label=SHAPE)
    edge(f"{a}.dense", f"{p}.add", label=SHAPE)
    edge(f"{p}.add", f"{p}.ln")
    edge(f"{p}.ln", f"{p}.intermediate", label=SHAPE)
    edge(f"{p}.intermediate", f"{p}.output", label="[1, 16, 3072]")
    edge(f"{p}.ln", f"{p}.output", "residual")
    return n, e


def bert_like(open_layers: int = 1, series: bool = True, title: str = "bert-base-uncased") -> ViewData:
    """Embeddings, a collapsed 'BertLayer ×N' series feeding ``open_layers`` opened identical layers, pooler.

    The hidden series members feed the first open layer (q, k, v and the residual into its Add), and one
    edge ends on the first layer's frame itself.
    """
    nodes = [
        VNode("input_ids", "input", "input_ids", "[1, 16]", "input"),
        VNode("emb", "group", "BertEmbeddings", "word + position + type", "embeddings", expandable=True),
        VNode("enc", "group", "BertEncoder", "12 layers", "encoder", expanded=True, expandable=True),
    ]
    edges = [
        VEdge("e_in", "input_ids", "emb", None, "data", 1, [[1, 16]], "[1, 16]"),
    ]
    prev_out: list[str] = []
    if series:
        nodes.append(
            VNode(
                "enc.series", "series", "BertLayer", "layers 0-10", "layer", "enc", expandable=True, count=11
            )
        )
        edges.append(VEdge("e_emb_series", "emb", "enc.series", None, "data", 1, [], SHAPE))
        prev_out = ["enc.series"]
    for i in range(open_layers):
        p = f"enc.layer.{i}"
        n, e = layer_nodes(p, "enc")
        nodes += n
        edges += e
        srcs = prev_out or ["emb"]
        a = f"{p}.attention"
        for s in srcs:
            for x in ("query", "key", "value"):
                edges.append(
                    VEdge(f"{s}->{a}.{x}", s, f"{a}.{x}", "enc", "data", 1, [], SHAPE if x == "query" else "")
                )
            edges.append(VEdge(f"{s}->{p}.add", s, f"{p}.add", "enc", "residual"))
        if i == 0 and series:
            edges.append(VEdge("e_series_frame", "enc.series", p, "enc", "data", 1, [], "layer 10 out"))
        prev_out = [f"{p}.output"]
    nodes.append(VNode("pooler", "group", "BertPooler", "dense + tanh", "pooler", expandable=True))
    nodes.append(VNode("pooler_output", "output", "pooler_output", "[1, 768]", "output"))
    edges.append(VEdge("e_pool", prev_out[0], "pooler", None, "data", 1, [], SHAPE))
    edges.append(VEdge("e_out", "pooler", "pooler_output", None, "data", 1, [], "[1, 768]"))
    return ViewData(title, "BertModel · 109,482,240 parameters", nodes, edges)
