"""Find a fully-connected layer's op, weight and bias at either op level.

At ``--ops aten`` a Linear is one ``linear(x, W, b)``. At ``--ops primitive`` it is
``mm(x, permute(W))`` (or ``addmm``) followed by ``mul(b, 1)`` and ``add``: the weight reaches the product
through a re-view, and the bias through its own small op. Both views read the same tensors, found here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import networkx as nx

    from bertviz_graph.hierarchy.tree import Hierarchy

LINEAR_OPS = ("linear", "addmm", "mm", "matmul")
# ops that only re-view (or scale by a constant) a parameter on its way into a product or a bias add
_THROUGH = {"permute", "t", "transpose", "view", "_unsafe_view", "reshape", "expand", "unsqueeze", "alias",
            "clone", "contiguous", "mul", "_to_copy", "to"}


def params_read(g: nx.DiGraph, op: str) -> list[str]:
    """Parameter nodes an op reads, directly or through an op that only re-views that one parameter."""
    out: list[str] = []
    for p in g.predecessors(op):
        d = g.nodes[p]
        if d["kind"] == "param":
            out.append(p)
        elif d["kind"] == "op" and d.get("op") in _THROUGH:
            srcs = list(g.predecessors(p))
            if srcs and all(g.nodes[q]["kind"] in ("param", "buffer") for q in srcs):
                out.extend(q for q in srcs if g.nodes[q]["kind"] == "param")
    return out


def weight_and_bias(g: nx.DiGraph, op: str) -> tuple[str | None, str | None]:
    """(weight name, bias name) of a linear-like op: the first 2-D and the first 1-D parameter it reads."""
    weight = bias = None
    for p in params_read(g, op):
        shape = g.nodes[p].get("shape") or []
        if len(shape) == 2 and weight is None:
            weight = g.nodes[p]["name"]
        elif len(shape) == 1 and bias is None:
            bias = g.nodes[p]["name"]
    return weight, bias


def linear_op(h: Hierarchy, gid: str) -> str | None:
    """The product op of a Linear group: the first linear-like op that reads a 2-D weight."""
    g = h.graph.g
    for n in h.leaves(gid):
        d = g.nodes[n]
        # an imported (ONNX) graph names its ops by their own op types; its hierarchy marks the Linears
        if d["kind"] == "op" and (d.get("op") in LINEAR_OPS or h.role_of(n) == "linear") \
                and weight_and_bias(g, n)[0] is not None:
            return n
    return None


def linear_params(h: Hierarchy, gid: str) -> tuple[str | None, str | None]:
    """(weight, bias) of a Linear group; at the primitive level the bias is read by a later op of the group."""
    g = h.graph.g
    op = linear_op(h, gid)
    if op is None:
        return None, None
    weight, bias = weight_and_bias(g, op)
    if bias is None:
        for n in h.leaves(gid):
            if g.nodes[n]["kind"] == "op" and n != op:
                b = weight_and_bias(g, n)[1]
                if b is not None:
                    return weight, b
    return weight, bias


def linear_users(g: nx.DiGraph, param: str) -> list[str]:
    """Linear-like ops that read this parameter (directly or through a re-view)."""
    cands = set(g.successors(param))
    for v in list(cands):
        if g.nodes[v].get("op") in _THROUGH:
            cands.update(g.successors(v))
    return sorted((v for v in cands if g.nodes[v].get("kind") == "op" and g.nodes[v].get("op") in LINEAR_OPS
                   and param in params_read(g, v)), key=lambda v: g.nodes[v]["order"])


def is_softmax(g: nx.DiGraph, op: str) -> bool:
    """A softmax op, or the last op of a decomposed one: div(exp(x - amax), sum(exp(...)))."""
    d = g.nodes[op]
    if d.get("op") in ("softmax", "_softmax"):
        return True
    if d.get("op") != "div":
        return False
    preds = {g.nodes[p].get("op"): p for p in g.predecessors(op)}
    return "exp" in preds and "sum" in preds and preds["exp"] in set(g.predecessors(preds["sum"]))


def linear_features(attrs: dict[str, Any]) -> tuple[int, int] | None:
    """(in, out) features of a Linear, or of GPT-2's Conv1D (nx → nf), from its module attributes."""
    if "in_features" in attrs and "out_features" in attrs:
        return int(attrs["in_features"]), int(attrs["out_features"])
    if "nx" in attrs and "nf" in attrs:
        return int(attrs["nx"]), int(attrs["nf"])
    return None
