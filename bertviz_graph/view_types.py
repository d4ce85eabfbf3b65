"""The data a View hands to layout and renderers (plain dataclasses, no torch, no networkx).

A View is the hierarchy cut at the groups the user has opened:
- every visible thing is a ``VNode``; an opened group is a VNode with ``expanded=True`` whose children
  (VNodes with ``parent`` == its id) are drawn inside it as a frame;
- every visible connection is a ``VEdge`` between two visible VNodes. Its ``container`` is the innermost
  expanded VNode that holds both ends (None = the top level); layout routes it inside that container.
  An end can be an expanded frame itself: that means "enters/leaves the frame from outside/inside" (e.g. the
  previous, hidden layer of a folded ×12 series feeding the instance that is shown).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class VNode:
    id: str
    kind: str  # "op" | "param" | "buffer" | "input" | "output" | "group" | "series"
    label: str  # first line: "query", "BertLayer ×12", "softmax"
    sublabel: str = ""  # second line: "Linear 768→768", "[1, 12, 16, 16]"
    role: str = "other"  # semantic role, drives colour (see hierarchy.roles.ROLE_STYLE)
    parent: str | None = None  # id of the expanded VNode that contains this one
    expanded: bool = False
    expandable: bool = False
    count: int = 1  # members of a series (drawn as a stack), 1 otherwise
    attrs: dict[str, Any] = field(default_factory=dict)  # shapes, params, flops ... for hover and details


@dataclass
class VEdge:
    id: str
    source: str  # VNode ids
    target: str
    container: str | None  # innermost expanded VNode containing both ends; None = top level
    kind: str = "data"  # "data" | "param" (weight into its op) | "residual" (skip connection)
    count: int = 1  # tensors aggregated into this edge
    shapes: list[list[int]] = field(default_factory=list)  # distinct tensor shapes, in order seen
    label: str = ""  # what to print on the edge: "[1, 16, 768]", "2 tensors"


@dataclass
class ViewData:
    """What layout and renderers read: nodes in parent-before-child order, and edges."""

    title: str
    subtitle: str
    nodes: list[VNode]
    edges: list[VEdge]

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "subtitle": self.subtitle,
            "nodes": [asdict(n) for n in self.nodes],
            "edges": [asdict(e) for e in self.edges],
        }

    @classmethod
    def from_json_dict(cls, d: dict[str, Any]) -> ViewData:
        return cls(
            title=d["title"],
            subtitle=d["subtitle"],
            nodes=[VNode(**n) for n in d["nodes"]],
            edges=[VEdge(**e) for e in d["edges"]],
        )
