"""The hierarchy's data: ``Group`` (a module, op bundle or folded ×N series) and ``Hierarchy`` (the tree
over an OpGraph with the model's facts in ``ctx``). Built by ``tree.build_hierarchy``; the passes that fill
it (series folding, aggregates) read these types from here, so no module imports the builder back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bertviz_graph.graph import OpGraph

ROOT = ""


@dataclass
class Group:
    id: str
    kind: str  # "module" | "series"
    cls: str
    label: str
    sublabel: str
    role: str
    parent: str | None
    children: list[str] = field(default_factory=list)  # group ids and leaf node ids, in execution order
    members: list[str] = field(default_factory=list)  # series only: the folded groups, in order
    shared_weights: bool = False  # series only: members read the very same parameters (ALBERT)
    attrs: dict[str, Any] = field(default_factory=dict)  # module attributes (in/out features, ...)
    # aggregates (filled by aggregates.compute)
    params: int = 0  # each tensor once, where first used (see aggregates)
    reads_elsewhere: dict[str, str] = field(default_factory=dict)  # param name -> group counting it
    flops: int = 0
    flops_unknown: int = 0  # ops whose FLOPs cannot be counted (not included in ``flops``)
    n_ops: int = 0
    inputs: list[list[int]] = field(default_factory=list)
    outputs: list[list[int]] = field(default_factory=list)


@dataclass
class Hierarchy:
    """The tree over an OpGraph. What the hierarchy decides about a leaf node (its role and label) and
    which edges are residual (skip) connections live here, not in the OpGraph's node attributes, so the
    graph (and a saved graph.json) stays what the tracer recorded."""

    graph: OpGraph
    groups: dict[str, Group]
    parent_of: dict[str, str]  # every leaf node and group -> its parent group id
    ctx: dict[str, Any]  # model-wide dims: hidden, heads, d_head, ffn, vocab, layers
    node_role: dict[str, str] = field(default_factory=dict)  # leaf node -> role ("linear", "param", ...)
    node_label: dict[str, tuple[str, str]] = field(default_factory=dict)  # leaf node -> (label, sublabel)
    residual: frozenset[tuple[str, str]] = frozenset()  # (u, v) edges that are skip connections
    edge_kinds: dict[tuple[str, str], str] = field(default_factory=dict)  # (param, op) -> "tied" | "shared"

    # --- navigation -----------------------------------------------------------------------------
    def is_group(self, x: str) -> bool:
        return x in self.groups

    def parent(self, x: str) -> str | None:
        return self.parent_of.get(x)

    def ancestors(self, x: str) -> list[str]:
        """Parents from the direct one up to the root."""
        out = []
        p = self.parent_of.get(x)
        while p is not None:
            out.append(p)
            p = self.parent_of.get(p)
        return out

    def depth(self, x: str) -> int:
        return len(self.ancestors(x))

    def leaves(self, gid: str) -> list[str]:
        """All OpGraph nodes under a group (depth-first, execution order)."""
        out: list[str] = []
        stack = [gid]
        while stack:
            cur = stack.pop()
            kids = self.groups[cur].children if cur in self.groups else None
            if kids is None:
                out.append(cur)
            else:
                stack.extend(reversed(kids))
        return out

    def series(self) -> list[Group]:
        return [g for g in self.groups.values() if g.kind == "series"]

    def label_of(self, x: str) -> str:
        if x in self.groups:
            return self.groups[x].label
        return self.node_label.get(x, (x, ""))[0]

    def sublabel_of(self, x: str) -> str:
        if x in self.groups:
            return self.groups[x].sublabel
        return self.node_label.get(x, (x, ""))[1]

    def role_of(self, x: str) -> str:
        if x in self.groups:
            return self.groups[x].role
        return self.node_role.get(x, "other")

    def is_residual(self, u: str, v: str) -> bool:
        return (u, v) in self.residual

    def walk(self, gid: str = ROOT, depth: int = 0):
        """Yield (depth, id) depth-first over groups and leaves."""
        yield depth, gid
        for c in self.groups[gid].children if gid in self.groups else []:
            yield from self.walk(c, depth + 1)
