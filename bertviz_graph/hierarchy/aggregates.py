"""Per-group totals: parameters, FLOPs, op count, boundary shapes.

One counting rule for parameters, used by the tree, the details panel, the charts, the CLI and the series:
each tensor is counted once, at the op that first reads it (or at its own leaf when no op reads it).
A tied decoder weight therefore counts at the word-embedding lookup, ALBERT's shared layer at its first
call; every other group that reads the tensor names it in ``Group.reads_elsewhere`` instead of adding it
again. So the totals of a group's children (plus its loose leaves) add up to the group's total.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import networkx as nx

    from bertviz_graph.hierarchy.types import Hierarchy


def param_homes(g: nx.DiGraph) -> dict[str, str]:
    """Parameter node -> the leaf where it is counted: its first reading op, else the parameter itself."""
    homes: dict[str, str] = {}
    for n, d in g.nodes(data=True):
        if d["kind"] != "param":
            continue
        users = [v for v in g.successors(n) if g.nodes[v]["kind"] == "op"]
        homes[n] = min(users, key=lambda v: g.nodes[v]["order"]) if users else n
    return homes


def param_leaf_values(g: nx.DiGraph) -> dict[str, int]:
    """Leaf node -> parameters counted there (the same rule as the group totals)."""
    out: dict[str, int] = {}
    for p, home in param_homes(g).items():
        out[home] = out.get(home, 0) + int(g.nodes[p].get("numel", 0))
    return out


def weight_edge_kinds(g: nx.DiGraph, homes: dict[str, str] | None = None) -> dict[tuple[str, str], str]:
    """Parameter edges that are not a plain "weight into its op": ``"tied"`` when the tensor is read under
    another of its names (BERT's decoder reading the word embeddings), ``"shared"`` when a later call or
    instance reads a tensor already used (ALBERT's one layer, run 12 times)."""
    homes = param_homes(g) if homes is None else homes
    out: dict[tuple[str, str], str] = {}
    for p, d in g.nodes(data=True):
        if d["kind"] != "param":
            continue
        owner, home = d.get("module", ""), homes.get(p, p)
        home_module = g.nodes[home].get("module", "")
        for v in g.successors(p):
            mv = g.nodes[v].get("module", "")
            inside_owner = not owner or mv == owner or mv.startswith(owner + ".")
            if d.get("tied") and not inside_owner:
                out[(p, v)] = "tied"
            elif v != home and mv != home_module:
                out[(p, v)] = "shared"
    return out


def compute_aggregates(h: Hierarchy, only: list[str] | None = None) -> None:
    """Fill params, reads_elsewhere, flops, n_ops, inputs, outputs of every group (or of ``only``)."""
    g = h.graph.g
    homes = param_homes(g)
    if only is None:
        h.edge_kinds = weight_edge_kinds(g, homes)
    counted_at = {}  # leaf -> params counted there
    for p, home in homes.items():
        counted_at.setdefault(home, []).append(p)
    for gid in only if only is not None else list(h.groups):
        grp = h.groups[gid]
        leaves = h.leaves(gid)
        inside = set(leaves)
        mine = [p for n in leaves for p in counted_at.get(n, ())]
        grp.params = sum(g.nodes[p]["numel"] for p in mine)
        # Tensors the group reads but that are counted where they were first used (tie or sharing named).
        used: set[str] = set()
        for n in leaves:
            if g.nodes[n]["kind"] == "op":
                used.update(p for p in g.predecessors(n) if g.nodes[p]["kind"] == "param")
        grp.reads_elsewhere = {
            g.nodes[p]["name"]: _home_group(h, homes[p])
            for p in sorted(used - set(mine), key=lambda x: g.nodes[x]["order"])
        }
        ops = [n for n in leaves if g.nodes[n]["kind"] == "op"]
        grp.n_ops = len(ops)
        flops = [g.nodes[n].get("flops") for n in ops]
        grp.flops = sum(f for f in flops if f)
        grp.flops_unknown = sum(1 for f in flops if f is None)
        grp.inputs = _boundary(g, inside, incoming=True)
        grp.outputs = _boundary(g, inside, incoming=False)


def _home_group(h: Hierarchy, leaf: str) -> str:
    return h.parent(leaf) or ""


def _boundary(g, inside: set[str], incoming: bool) -> list[list[int]]:
    """Shapes of the activations crossing the group boundary (parameters excluded), one per tensor."""
    seen: set[str] = set()
    shapes: list[list[int]] = []
    for n in sorted(inside, key=lambda x: g.nodes[x]["order"]):
        edges = g.in_edges(n, data=True) if incoming else g.out_edges(n, data=True)
        for u, v, d in edges:
            other = u if incoming else v
            tensor = u  # a tensor is identified by its producer
            if other in inside or g.nodes[u]["kind"] in ("param", "buffer") or tensor in seen:
                continue
            seen.add(tensor)
            if d.get("shape"):
                shapes.append(d["shape"])
    return shapes
