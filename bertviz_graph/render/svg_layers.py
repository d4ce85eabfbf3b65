"""The diagram's four layers drawn container by container: each container's share memoised, placed by translation.

``to_svg`` draws every opened frame, then every edge, then every closed box, then the frame titles again (over
edges that cross a title bar). Each layer is nested like the layout's containers (``layout/subtree.py``): a
container's own shapes (its children's boxes and the edges whose route it owns) in its own coordinates, then
each child frame's share inside ``<g class="at" transform="translate(x,y)">``. Sibling frames never overlap,
so drawing frames depth-first instead of by depth changes no pixel.

Two memos make a click format only the containers from the opened box to the root (the 47 untouched layers
of a 48-layer model are reused as strings):

- a container's own shapes, under its part's token (its subtree's geometry) and the content they are drawn
  from (each child box's fields and fill, each owned edge's ends, kind, label and stroke); each entry gets a
  number of its own;
- a container's whole share of each layer (own shapes and nested children), under that number and its child
  frames' share numbers. Shares of more than ``BIG`` characters (the root, a 48-layer stack: they change on
  every click) are joined again each time rather than kept.

A view laid out elsewhere (read back from JSON, made by hand) has no parts: they are derived from its absolute
boxes (``subtree.parts_from_boxes``) and drawn the same way, without the memos.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any

from bertviz_graph.hierarchy.style import role_color
from bertviz_graph.layout import measure
from bertviz_graph.layout.subtree import Part, parts_from_boxes
from bertviz_graph.layout.types import LaidOutView, NodeBox
from bertviz_graph.memo import Memo
from bertviz_graph.render.svg_shapes import edge_into, frame, frame_title, leaf_into, nums
from bertviz_graph.view_types import VEdge, VNode

Layers = tuple[str, str, str, str]  # frames, edges, closed boxes, frame titles
Share = tuple[list[str], list[str], list[str], list[str]]  # the same, as lines (a memoised share: one string)
BIG = 1 << 19  # characters: a share this long is not memoised (it changes on every click anyway)
_numbers = itertools.count(1)  # an entry's number: never reused, so an evicted entry is never mistaken


class ShapeMemo(Memo):
    """Own shapes: (token, content) -> (number, layers, the attrs dicts the key names by id); shares:
    (number, child share numbers) -> (number, layers). Bounded in entries and bytes."""

    def __init__(self, max_entries: int = 40_000, max_bytes: int = 64 * 1024**2):
        super().__init__(max_entries, max_bytes=max_bytes)

    def entry_bytes(self, key: Any, value: Any) -> int:
        # own shapes' key: a tuple of ~10 fields per box and per edge; a share's: a few numbers
        nk = 200 + 400 * (len(key[1]) + len(key[2])) if len(key) == 3 else 100 + 40 * len(key[1])
        return nk + sum(56 + (len(x) if isinstance(x, str) else sum(map(len, x))) for x in value[1])


_default = ShapeMemo()


def default_shapes() -> ShapeMemo:
    """The process-wide memo of containers' shapes (content-keyed: every tab gets the same strings)."""
    return _default


def diagram_layers(lv: LaidOutView, fills: Mapping[str, str], strokes: Mapping[str, tuple[str, float]],
                   memo: ShapeMemo | None = None) -> Share:
    """The frames, edges, closed boxes and frame titles of ``lv``, each a list of SVG lines in diagram
    coordinates (nested translations inside). Edges without a route (self-loops, unknown ends) are drawn as their tooltip
    only, at the top level."""
    view = lv.view
    parts: dict[str | None, tuple[int, Part]] = lv.parts if lv.parts is not None else parts_from_boxes(lv)
    memo = default_shapes() if memo is None else memo
    by_id = {n.id: n for n in view.nodes}
    edges = {e.id: e for e in view.edges}
    names = {n.id: measure.display_label(n) for n in view.nodes}
    order, stack = [], [None]
    while stack:  # containers top-down; shares are made bottom-up (children first)
        cid = stack.pop()
        order.append(cid)
        stack.extend(parts[cid][1].subs)
    shares: dict[str | None, tuple[int, Share]] = {}
    for cid in reversed(order):
        token, p = parts[cid]
        num, own = _own_shapes(token, p, by_id, edges, names, fills, strokes, memo)
        shares[cid] = _share(num, own, p, shares, memo)
    frames, lines, leaves, titles = shares[None][1]
    lines = list(lines)  # a memoised share's list is not ours to extend
    for e in view.edges:
        if e.id not in lv.routes:
            edge_into(e, None, None, names, strokes.get(e.id), lines)
    return frames, lines, leaves, titles


def _share(num: int, own: Layers, p: Part, shares: dict[str | None, tuple[int, Share]], memo: ShapeMemo,
           ) -> tuple[int, Share]:
    """A container's share of each layer: its own shapes, then each child frame's share in its translation."""
    if not num:  # not memoised (parts derived from absolute boxes)
        return 0, _nested(own, p, shares)
    key = (num, tuple(shares[k][0] for k in p.subs))
    hit = memo.get(key)
    if hit is not None:
        return hit
    got = _nested(own, p, shares)
    if sum(len(s) for layer in got for s in layer) > BIG:
        return next(_numbers), got  # left as pieces: joined once, into the picture
    kept = (next(_numbers), tuple(["\n".join(layer)] if layer else [] for layer in got))
    memo.put(key, kept)
    return kept


def _nested(own: Layers, p: Part, shares: dict[str | None, tuple[int, Share]]) -> Share:
    out: Share = tuple([s] if s else [] for s in own)  # type: ignore[assignment]
    for k, (sx, sy) in p.subs.items():
        inner = shares[k][1]
        x, y = nums(sx / 100, sy / 100)
        at = f'<g class="at" transform="translate({x},{y})">'
        for layer in range(4):
            if inner[layer]:
                out[layer].append(at)
                out[layer].extend(inner[layer])
                out[layer].append("</g>")
    return out


def _own_shapes(token: int, p: Part, by_id: dict[str, VNode], edges: dict[str, VEdge], names: dict[str, str],
                fills: Mapping[str, str], strokes: Mapping[str, tuple[str, float]], memo: ShapeMemo,
                ) -> tuple[int, Layers]:
    kids = [by_id[k] for k, *_ in p.boxes]
    kid_fills = [fills.get(n.id) or role_color(n.role) for n in kids]
    key = None
    if token:  # 0: parts derived from absolute boxes, drawn once
        # the attrs dicts by identity (the views of one hierarchy share them; the entry holds them)
        nodes = tuple((id(n.attrs), n.id, n.label, n.sublabel, n.kind, n.role, n.expandable, n.expanded, n.count,
                       n.parent, f) for n, f in zip(kids, kid_fills, strict=True))
        ekeys = []
        for eid in p.routes:
            e = edges[eid]
            s = strokes.get(eid)
            ekeys.append((eid, e.source, e.target, e.kind, e.label, e.count, names.get(e.source, e.source),
                          names.get(e.target, e.target), tuple(s) if s is not None else None))
        key = (token, nodes, tuple(ekeys))
        hit = memo.get(key)
        if hit is not None:
            return hit[0], hit[1]
    frames: list[str] = []
    titles: list[str] = []
    leaves: list[str] = []
    for (k, x, y, w, h), n, fill in zip(p.boxes, kids, kid_fills, strict=True):
        b = NodeBox(k, x / 100, y / 100, w, h)
        parent = n.parent if n.parent in by_id else None
        if k in p.subs:
            frames += frame(n, b, fill, parent)
            titles += frame_title(n, b, halo=fill)
        else:
            leaf_into(n, b, fill, parent, leaves)
    lines: list[str] = []
    for eid, pts in p.routes.items():
        lp = p.labels.get(eid)
        s = strokes.get(eid)
        edge_into(edges[eid], [(u / 100, v / 100) for u, v in pts], (lp[0] / 100, lp[1] / 100) if lp else None,
                   names, tuple(s) if s is not None else None, lines)
    own: Layers = ("\n".join(frames), "\n".join(lines), "\n".join(leaves), "\n".join(titles))  # one shape a line
    if key is None:
        return 0, own
    num = next(_numbers)
    memo.put(key, (num, own, tuple(n.attrs for n in kids)))
    return num, own
