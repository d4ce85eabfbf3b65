"""Per-group totals: parameters (tied or shared tensors counted once), FLOPs, op count, boundary shapes."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bertviz_graph.hierarchy.tree import Hierarchy


def compute_aggregates(h: Hierarchy) -> None:
    g = h.graph.g
    for gid, grp in h.groups.items():
        leaves = h.leaves(gid)
        inside = set(leaves)
        # Parameters *used* by the group's ops, each tensor once: a shared ALBERT layer instance and a
        # tied decoder both report the weights they really apply.
        used: set[str] = set()
        for n in leaves:
            d = g.nodes[n]
            if d["kind"] == "param":
                used.add(n)
            elif d["kind"] == "op":
                used.update(p for p in g.predecessors(n) if g.nodes[p]["kind"] == "param")
        grp.params = sum(g.nodes[p]["numel"] for p in used)
        ops = [n for n in leaves if g.nodes[n]["kind"] == "op"]
        grp.n_ops = len(ops)
        grp.flops = sum(g.nodes[n].get("flops", 0) for n in ops)
        grp.inputs = _boundary(g, inside, incoming=True)
        grp.outputs = _boundary(g, inside, incoming=False)


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
