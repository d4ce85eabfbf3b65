"""The mapping "graph element -> neural-network terms" in words, for the selected node (prose beside
``neurons/explain.py``; the drawings are in ``neurons/views.py``).

- ``mapping_text``: (term, explanation) rows for an op, a parameter, a module or a folded series;
- ``mapping_overview``: the short answer to "where are the neurons in this op graph?".
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bertviz_graph import format as fmt
from bertviz_graph.details import dims_for
from bertviz_graph.errors import UserError
from bertviz_graph.hierarchy.heads import head_axis, param_heads
from bertviz_graph.neurons.explain import explain_overview, explain_tensor
from bertviz_graph.neurons.linear_ops import LINEAR_OPS, linear_features, linear_users, params_read
from bertviz_graph.neurons.views import heads_of, hierarchy_of, is_conv1d, linear_candidates

if TYPE_CHECKING:
    from bertviz_graph.graph import OpGraph
    from bertviz_graph.hierarchy.tree import Hierarchy
def _shape_text(s: list[int] | None) -> str:
    return "[" + ", ".join(map(str, s)) + "]" if s else "[]"


def _dims(h: Hierarchy, gid: str | None = None) -> dict[str, Any]:
    attrs = h.groups[gid].attrs if gid in h.groups else {}
    return dims_for(h, attrs)


def _positions(h: Hierarchy) -> str:
    seq = h.ctx.get("seq")
    return f"all {seq} token positions" if seq else "every token position"


def _tensor_meaning(shape: list[int], dims: dict[str, Any]) -> str:
    text = explain_tensor(shape, dims=dims)
    if len(shape) == 4 and shape[1] == 1 and text.endswith(" numbers"):
        return (f"attention mask: {shape[2]}×{shape[3]} (query × key positions), added to the scores, the same "
                "for every head; not trained")
    return text


def _tensor_rows(h: Hierarchy, node: str, dims: dict[str, Any]) -> list[tuple[str, str]]:
    """Input and output edges of an op, in neuron terms."""

    g = h.graph.g
    rows: list[tuple[str, str]] = []
    seen: set[str] = set()
    for u, _, ed in g.in_edges(node, data=True):
        if g.nodes[u]["kind"] in ("param", "buffer") or not ed.get("shape"):
            continue
        txt = _shape_text(ed["shape"])
        if txt in seen:
            continue
        seen.add(txt)
        rows.append((f"input edge {txt}", _tensor_meaning(ed["shape"], dims)))
    shape = g.nodes[node].get("shape")
    if shape:
        rows.append((f"output edge {_shape_text(shape)}", _tensor_meaning(shape, dims)))
    return rows


def _linear_rows(h: Hierarchy, n_in: int, n_out: int, what: str) -> list[tuple[str, str]]:
    return [
        (what, f"a fully-connected layer: {n_in} input neurons → {n_out} output neurons, {fmt.count(n_in * n_out)} "
               f"weighted edges (one trained weight each) + {n_out} biases"),
        ("all positions", f"shared by {_positions(h)}: the textbook layer is applied to each "
                                           "token's vector separately"),
        (f"weight W [{n_out}, {n_in}]", "row i = the incoming edges of output neuron i; column j = the outgoing "
                                        "edges of input neuron j"),
    ]


def _op_rows(h: Hierarchy, node: str) -> list[tuple[str, str]]:
    g = h.graph.g
    d = g.nodes[node]
    op = d.get("op", "")
    role = h.role_of(node)
    home = h.parent(node)
    dims = _dims(h, home)
    hidden = dims.get("hidden")
    rows: list[tuple[str, str]] = []
    params = params_read(g, node)  # at the primitive level W arrives as permute(W)
    if role == "linear" or (op in LINEAR_OPS and any(len(g.nodes[p].get("shape") or []) == 2 for p in params)):
        w = next((p for p in params if len(g.nodes[p].get("shape") or []) == 2), None)
        if w is not None:
            n_out, n_in = g.nodes[w]["shape"]
            if is_conv1d(h.graph, home, g.nodes[w]["name"]):  # stored [in, out]
                n_out, n_in = n_in, n_out
            rows += _linear_rows(h, n_in, n_out, f"op {op} (Linear)")
            kinds = {h.edge_kinds.get((w, x)) for x in (node, *g.predecessors(node))}  # via permute(W) too
            if "tied" in kinds:
                rows.append(("tied weight", f"reads {g.nodes[w]['name']}: the same trained numbers as that layer"))
            elif "shared" in kinds:
                rows.append(("shared weight", f"reads {g.nodes[w]['name']}: the same tensor every repeat of "
                                              "this layer uses (counted once, at its first use)"))
    elif role == "softmax":
        rows.append((f"op {op}", "attention weights: edges between token positions (per head, a "
                                 f"{h.ctx.get('seq') or 'N'}×{h.ctx.get('seq') or 'N'} table) whose weights are "
                                 "computed from the input; no trained parameter"))
    elif role == "matmul":
        rows.append((f"op {op}", "attention matmul: both operands come from the input (Q·Kᵀ gives scores "
                                 "between positions; weights·V mixes the value vectors), so no trained weight"))
    elif role == "layernorm":
        n = (d.get("shape") or [hidden])[-1]
        rows.append((f"op {op}", f"per-token normalisation over the {n} neurons of each position, then a gain "
                                 f"and a shift per neuron: 2×{n} = {fmt.count(2 * n)} trained parameters, no edges"
                                 if isinstance(n, int) else "per-token normalisation"))
    elif role == "activation":
        rows.append((f"op {op}", "per-neuron: each number passes through the function on its own; no weights, "
                                 "no edges"))
    elif role == "embedding":
        w = next((p for p in params if len(g.nodes[p].get("shape") or []) == 2), None)
        if w is not None:
            n, dim = g.nodes[w]["shape"]
            rows.append((f"op {op}", f"table lookup = a fully-connected layer from {fmt.count(n)} one-hot input neurons to "
                                     f"{dim} neurons, no bias; only the active input's {dim} edges matter"))
    elif op == "add":
        residual = any(h.is_residual(u, node) for u in g.predecessors(node))
        if residual:
            rows.append(("op add (skip connection)", "per-neuron: adds the block's input back, unchanged, to its "
                                                      "output; no weights"))
        elif params:
            rows.append(("op add (bias)", "per-neuron: each neuron's own trained offset"))
        else:
            rows.append(("op add", "per-neuron addition (or a broadcast mask); no weights, no edges"))
    elif role == "elementwise":
        rows.append((f"op {op}", "per-neuron: works number by number; no weights, no edges"))
    elif role == "shape":
        heads, d_head = h.ctx.get("heads"), h.ctx.get("d_head")
        eg = f" (e.g. {hidden} → {heads} heads × {d_head})" if hidden and heads and d_head else ""
        rows.append((f"op {op}", f"regroups the same numbers{eg}; no computation"))
    elif role == "dropout":
        rows.append((f"op {op}", "identity at inference; in training it zeroes random neurons"))
    else:
        rows.append((f"op {op}", "an op without a specific neural-network meaning; see its shapes"))
    return rows + _tensor_rows(h, node, dims)


def _param_rows(h: Hierarchy, node: str) -> list[tuple[str, str]]:
    g = h.graph.g
    d = g.nodes[node]
    shape = d.get("shape") or []
    name = d["name"]
    users = [g.nodes[v].get("op") for v in g.successors(node)] + (["linear"] if linear_users(g, node) else [])
    rows: list[tuple[str, str]] = []
    if len(shape) == 2 and "embedding" in users:
        rows.append((f"table {_shape_text(shape)}", f"{fmt.count(shape[0])} rows of {shape[1]} numbers; as a layer: the "
                                                    f"edges from {fmt.count(shape[0])} one-hot inputs to {shape[1]} neurons"))
        if any(u in LINEAR_OPS for u in users):
            rows.append(("also an output layer's weight", f"tied: read as W [{shape[0]}, {shape[1]}] = "
                                                          f"{fmt.count(shape[0])} output neurons × {shape[1]} input "
                                                          f"neurons, {fmt.count(shape[0] * shape[1])} edges"))
    elif len(shape) == 2:
        rows.append((f"weight {_shape_text(shape)}", f"the weighted edges of a fully-connected layer: "
                                                     f"{shape[0]} output neurons × {shape[1]} input neurons = "
                                                     f"{fmt.count(shape[0] * shape[1])} edges"))
    elif len(shape) == 1:
        low = name.lower()
        if "norm" in low:
            what = "gain" if low.endswith(("weight", "gamma")) else "shift"
            rows.append((f"{what} {_shape_text(shape)}", f"one trained {what} per neuron ({shape[0]}); no edges"))
        else:
            rows.append((f"bias {_shape_text(shape)}", f"one trained offset per output neuron ({shape[0]})"))
    else:
        rows.append((f"parameter {_shape_text(shape)}", "trained numbers"))
    if d.get("tied"):
        rows.append(("tied", "also used as " + ", ".join(d["tied"])))
    return rows


def _group_rows(h: Hierarchy, gid: str) -> list[tuple[str, str]]:

    grp = h.groups[gid]
    dims = _dims(h, gid)
    rows: list[tuple[str, str]] = []
    a = grp.attrs
    if grp.kind == "series":
        n = len(grp.members)
        each = h.groups[grp.members[0]].params
        rows.append((f"{grp.label}", f"{n} stacked copies of the same layer structure, "
                                     + ("ALL with the same weights (shared)" if grp.shared_weights
                                        else f"each with its own {fmt.count(each)} trained parameters")))
    elif linear_features(a) is not None:  # a Linear, or GPT-2's Conv1D (nx → nf)
        n_in, n_out = linear_features(a)
        conv = grp.cls == "Conv1D"
        rows += _linear_rows(h, n_in, n_out, f"{'Conv1D' if conv else 'Linear'} {n_in}→{n_out}")
        if conv:
            rows.append(("stored [in, out]", f"GPT-2's Conv1D keeps W as [{n_in}, {n_out}] (y = x·W + b): the same "
                                             f"layer; views show it transposed as W [{n_out}, {n_in}]"))
        split = head_axis(f"{gid}.weight")
        try:
            lay = param_heads(f"{gid}.weight", n_out if split == 0 else n_in, heads_of(h, gid))
        except ValueError:
            lay = None
        if lay is not None and lay.parts:
            p, d = lay.part, lay.d
            rows.append(("Q, K, V fused", f"output neurons 0–{p - 1} are the queries, {p}–{2 * p - 1} the keys, "
                                          f"{2 * p}–{3 * p - 1} the values; in each, head h owns h·{d} … (h+1)·{d}−1"))
        elif lay is not None:
            d = lay.d
            owns = "output neurons (rows)" if split == 0 else "input neurons (columns)"
            who = f"{lay.count} key/value heads" if lay.group > 1 else f"{lay.count} heads"
            shared = f"; each serves {lay.group} query heads" if lay.group > 1 else ""
            rows.append((who, f"head h owns {owns} h·{d} … (h+1)·{d}−1{shared}"))
    elif grp.role == "layernorm":
        n = (a.get("normalized_shape") or [dims.get("hidden")])[0]
        rows.append((f"LayerNorm({n})", f"per-token normalisation over the {n} neurons of each position; "
                                        f"2×{n} = {fmt.count(2 * n)} trained parameters (gain and shift per neuron), "
                                        "no edges" if isinstance(n, int) else "per-token normalisation"))
    elif grp.role == "embedding" and "num_embeddings" in a:
        n, dim = a["num_embeddings"], a["embedding_dim"]
        rows.append((f"Embedding {n}×{dim}", f"table lookup = a fully-connected layer from {fmt.count(n)} one-hot inputs "
                                             f"to {dim} neurons, no bias"))
    elif grp.role == "activation":
        rows.append((grp.label, "per-neuron: each number goes through the function on its own; no weights"))
    elif grp.role == "attention":
        heads = heads_of(h, gid)
        seq = h.ctx.get("seq")
        lin = [c for c in linear_candidates(h.graph, gid)]
        rows.append(("query, key, value", f"{len(lin) or 3} fully-connected layers; their output neurons split "
                                          f"into {heads or 'several'} heads"
                                          + (f" × {dims.get('d_head')}" if dims.get("d_head") else "")))
        rows.append(("softmax(QKᵀ/√d)", f"per head, a {seq or 'N'}×{seq or 'N'} table of edges between token "
                                        "positions whose weights are computed from the input: no trained "
                                        "parameter"))
        rows.append(("· V", "each position's output = the weighted sum of the value vectors"))
    else:
        cands = linear_candidates(h.graph, gid)
        if cands:
            n_w = 0
            for c, _ in cands:
                n_in, n_out = linear_features(h.groups[c].attrs) or (0, 0)
                n_w += n_in * n_out
            rows.append((grp.label, f"{len(cands)} fully-connected layer{'s' if len(cands) > 1 else ''} "
                                    f"({fmt.count(n_w)} weighted edges) plus per-neuron ops"))
        else:
            rows.append((grp.label, "no fully-connected layer inside; per-neuron or reshaping ops"))
    if grp.params and grp.kind != "series":
        rows.append(("trained parameters", f"{fmt.count(grp.params)}"))
    for label, shapes in (("input edge", grp.inputs[:2]), ("output edge", grp.outputs[:1])):
        for s in shapes:
            rows.append((f"{label} {_shape_text(s)}", _tensor_meaning(s, dims)))
    return rows


def mapping_text(graph: OpGraph, node_id: str) -> list[tuple[str, str]]:
    """The on-screen mapping for the selected element: [(graph element, what it is in neural-network terms)].

    ``node_id`` is a group, an OpGraph node, or an edge "u->v" (a tensor).
    """
    h = hierarchy_of(graph)
    g = graph.g
    if node_id in h.groups:
        return _group_rows(h, node_id)
    if node_id in g:
        kind = g.nodes[node_id]["kind"]
        if kind == "op":
            return _op_rows(h, node_id)
        if kind in ("param", "buffer"):
            return _param_rows(h, node_id) if kind == "param" else [
                ("buffer", "stored numbers that are not trained (e.g. position ids)")]
        shape = g.nodes[node_id].get("shape")
        return [(f"{kind} {_shape_text(shape)}", explain_tensor(shape, dims=_dims(h)) if shape else kind)]
    if "->" in node_id:
        u, v = node_id.split("->", 1)
        v = v.split("#", 1)[0]  # "a->b#shared": the second edge of another kind between the same boxes
        shape = None
        if g.has_edge(u, v):
            shape = g.edges[u, v].get("shape")
        elif u in g:
            shape = g.nodes[u].get("shape")
        elif u in h.groups and h.groups[u].outputs:
            shape = h.groups[u].outputs[0]
        if shape:
            return [(f"tensor edge {_shape_text(shape)}", _tensor_meaning(shape, _dims(h)))]
    raise UserError(f"no node '{node_id}' in this model", "select a node of the graph")


def mapping_overview(graph: OpGraph) -> str:
    """The one-paragraph answer to "how does this graph relate to a textbook network?"."""
    return explain_overview(_dims(hierarchy_of(graph)))
