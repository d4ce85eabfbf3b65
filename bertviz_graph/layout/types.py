"""What layout returns: absolute boxes for every VNode and one Bézier route per VEdge."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bertviz_graph.view_types import ViewData

Point = tuple[float, float]

JSON_VERSION = 1


@dataclass
class NodeBox:
    """A node's box: centre (x, y), size (w, h); absolute px, y grows downward."""

    id: str
    x: float
    y: float
    w: float
    h: float

    @property
    def left(self) -> float:
        return self.x - self.w / 2

    @property
    def right(self) -> float:
        return self.x + self.w / 2

    @property
    def top(self) -> float:
        return self.y - self.h / 2

    @property
    def bottom(self) -> float:
        return self.y + self.h / 2


@dataclass
class LaidOutView:
    """A view with positions. ``routes[e]`` is a cubic Bézier path in dot's convention:
    p0, then triples (c1, c2, p) — so ``len(route) % 3 == 1``. Edges that cannot be drawn
    (self-loops, unknown ends) have no route."""

    view: ViewData
    width: float
    height: float
    boxes: dict[str, NodeBox]
    routes: Mapping[str, list[Point]]  # a dict, or subtree.RouteMap (made when read)
    label_pos: dict[str, Point]
    direction: str = "TB"
    # each container's part in its own coordinates (layout/subtree.py), as composed; None when read back from
    # JSON or made by hand (render/svg_layers.py derives them). Not part of the picture's value.
    parts: Any = field(default=None, compare=False, repr=False)

    @property
    def route_points(self) -> int:
        """How many points the routes hold (a lazily made route is not made to count it)."""
        count = getattr(self.routes, "point_count", None)
        return count() if count is not None else sum(len(r) for r in self.routes.values())

    def to_json_dict(self) -> dict[str, Any]:
        """Plain JSON for the app and the widget (round-trips with ``from_json_dict``)::

        {"version": 1, "direction": "TB", "width": W, "height": H,
         "view": ViewData.to_json_dict(),
         "boxes": {node_id: {"x": cx, "y": cy, "w": w, "h": h}},   # centre and size, px, y down
         "routes": {edge_id: [[x, y], ...]},   # p0 then (c1, c2, p) triples: SVG "M p0 C c1 c2 p ..."
         "label_pos": {edge_id: [x, y]}}       # centre of the edge's label, when it has one
        """
        return {
            "version": JSON_VERSION,
            "direction": self.direction,
            "width": self.width,
            "height": self.height,
            "view": self.view.to_json_dict(),
            "boxes": {k: {"x": b.x, "y": b.y, "w": b.w, "h": b.h} for k, b in self.boxes.items()},
            "routes": {k: [[x, y] for x, y in pts] for k, pts in self.routes.items()},
            "label_pos": {k: [x, y] for k, (x, y) in self.label_pos.items()},
        }

    @classmethod
    def from_json_dict(cls, d: dict[str, Any]) -> LaidOutView:
        return cls(
            view=ViewData.from_json_dict(d["view"]),
            width=d["width"],
            height=d["height"],
            boxes={k: NodeBox(k, b["x"], b["y"], b["w"], b["h"]) for k, b in d["boxes"].items()},
            routes={k: [(p[0], p[1]) for p in pts] for k, pts in d["routes"].items()},
            label_pos={k: (p[0], p[1]) for k, p in d["label_pos"].items()},
            direction=d.get("direction", "TB"),
        )
