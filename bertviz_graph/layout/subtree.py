"""Composition by translation: each container's part of the picture in its own exact units, memoised.

A click changes the containers from the opened box up to the root; every other container (the 47 untouched
layers of a 48-layer model) has the same children, the same local layout and the same edges inside as before.
So each container's *part* — its children's boxes and the routes of the edges whose innermost common
container it is, both relative to its own top-left corner — is memoised under a token that stands for its
whole subtree, and a click recomputes only the parts whose subtree changed.

Coordinates are integers in hundredths of a pixel: a frame's absolute origin is its parent's origin plus an
integer offset, so a part placed by translation is exactly the part composed from the root (with floats the
sum's grouping would move 12 of 16,909 route points by 0.01 px; ``benchmarks/translation_check.py``). The
picture is the same as with floats to within 0.01 px: every local value is rounded to a hundredth once.

The memo is process-wide and keyed by content (container id, the local layout object, its children and their
subtree tokens, the edges' pieces): every tab gets the same answer, and it is bounded in entries and bytes.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping
from typing import Any

from bertviz_graph.layout.pieces import Builder, kind_group
from bertviz_graph.layout.types import NodeBox, Point
from bertviz_graph.memo import Memo
from bertviz_graph.memsize import approx_bytes

IPoint = tuple[int, int]


def q(v: float) -> int:
    """A local coordinate in hundredths of a pixel (the one rounding every value gets)."""
    return round(v * 100)


def iline(a: IPoint, b: IPoint) -> list[IPoint]:
    """dot_io.line in hundredths: c1, c2, b — depends on b - a only, so it translates exactly."""
    dx, dy = b[0] - a[0], b[1] - a[1]
    return [(a[0] + round(dx / 3), a[1] + round(dy / 3)), (a[0] + round(2 * dx / 3), a[1] + round(2 * dy / 3)), b]


class Part:
    """One container's share of the picture, relative to its top-left corner, in hundredths."""

    __slots__ = ("boxes", "subs", "routes", "labels", "lay", "nbytes")

    def __init__(self, lay: Any):
        self.lay = lay  # held: the memo key names it by id(), which stays unique while this part lives
        self.boxes: list[tuple[str, int, int, float, float]] = []  # child id, centre x, y, w, h
        self.subs: dict[str, IPoint] = {}  # child container -> its origin
        self.routes: dict[str, list[IPoint]] = {}  # edges whose innermost common container this is
        self.labels: dict[str, IPoint] = {}
        self.nbytes = 0


class PartMemo(Memo):
    """Subtree key -> Part; bounded like the layout cache (entries and bytes)."""

    def __init__(self, max_entries: int = 20_000, max_bytes: int = 96 * 1024**2):
        super().__init__(max_entries, max_bytes=max_bytes)

    def entry_bytes(self, key: Any, value: Any) -> int:
        return part_key_bytes(key) + approx_bytes(value)  # walking a stack's key cost ~10 ms per cold click


def part_key_bytes(key: tuple[Any, ...]) -> int:
    """``approx_bytes`` of a part's memo key (``_part``) from its counts and id lengths, erring large (tested)."""
    cid, _lay, kids, _tokens, sigs = key
    n = 256 + (len(cid) if cid else 0) + sum(len(k) for k in kids) + 132 * len(kids)
    return n + sum(360 + len(s[0]) + 200 * len(s[1]) for s in sigs)


_default = PartMemo()
_tokens = itertools.count(1)  # a part's token: never reused, so an evicted subtree can never be mistaken


def default_parts() -> PartMemo:
    """The process-wide memo of composed parts ``compose`` uses when given none."""
    return _default


Parts = dict[str | None, tuple[int, "Part"]]  # container (None: the top level) -> (token, its part)


class RouteMap(Mapping[str, list[Point]]):
    """Edge id -> absolute route, made from its part's hundredths when first read: a click's SVG is drawn from
    the parts and never reads them (27,000 points at depth 5 of 48 layers, ~7 ms a click)."""

    __slots__ = ("_src", "_made")

    def __init__(self, src: dict[str, tuple[int, int, list[IPoint]]]):
        self._src = src  # edge id -> (origin x, origin y, points), in the view's edge order
        self._made: dict[str, list[Point]] = {}

    def __getitem__(self, eid: str) -> list[Point]:
        got = self._made.get(eid)
        if got is None:
            ox, oy, pts = self._src[eid]
            got = self._made[eid] = [((ox + x) / 100, (oy + y) / 100) for x, y in pts]
        return got

    def __iter__(self) -> Iterator[str]:
        return iter(self._src)

    def __len__(self) -> int:
        return len(self._src)

    def __contains__(self, eid: object) -> bool:
        return eid in self._src

    def __repr__(self) -> str:
        return repr(dict(self.items()))

    def point_count(self) -> int:
        """How many points the routes hold, none of them made."""
        return sum(len(pts) for _x, _y, pts in self._src.values())


def compose_parts(b: Builder, memo: PartMemo) -> tuple[dict[str, NodeBox], RouteMap,
                                                      dict[str, Point], Parts]:
    """Absolute boxes, routes and label positions of a built view (every container laid out), and each
    container's part (``render/svg_layers.py`` draws from them)."""
    by_top: dict[str | None, list[str]] = {}
    for e in b.view.edges:
        if b.edge_pieces.get(e.id):
            by_top.setdefault(b.edge_top[e.id], []).append(e.id)
    edges = {e.id: e for e in b.view.edges}
    parts: dict[str | None, tuple[int, Part]] = {}
    qp: QPieces = {}

    def part_of(cid: str | None) -> tuple[int, Part]:
        """This container's (token, part), its children's first (bottom-up, iterative: deep views)."""
        order, stack = [], [cid]
        while stack:
            x = stack.pop()
            order.append(x)
            stack.extend(k for k in b.conts[x].children if k in b.conts)
        for x in reversed(order):
            parts[x] = _part(b, x, by_top.get(x, ()), edges, parts, memo, qp)
        return parts[cid]

    part_of(None)
    boxes: dict[str, NodeBox] = {}
    abs_routes: dict[str, tuple[int, int, list[IPoint]]] = {}
    abs_labels: dict[str, Point] = {}
    origin: dict[str | None, IPoint] = {None: (0, 0)}
    stack: list[str | None] = [None]
    while stack:  # top-down: a frame's origin is known before its children are placed
        cid = stack.pop()
        p = parts[cid][1]
        ox, oy = origin[cid]
        for k, x, y, w, h in p.boxes:
            boxes[k] = NodeBox(k, (ox + x) / 100, (oy + y) / 100, w, h)
            if k in p.subs:
                sx, sy = p.subs[k]
                origin[k] = (ox + sx, oy + sy)
                stack.append(k)
        for eid, pts in p.routes.items():
            abs_routes[eid] = (ox, oy, pts)
        for eid, (x, y) in p.labels.items():
            abs_labels[eid] = ((ox + x) / 100, (oy + y) / 100)
    # in the view's edge order, as before
    routes = RouteMap({e.id: abs_routes[e.id] for e in b.view.edges if e.id in abs_routes})
    labels = {e.id: abs_labels[e.id] for e in b.view.edges if e.id in abs_labels}
    return boxes, routes, labels, parts


def parts_from_boxes(lv: Any) -> Parts:
    """The parts of a view laid out without them (read back from JSON, made by hand): each container's
    children and routes relative to its frame's corner, from the absolute boxes; token 0 (not memoised)."""
    b = Builder(lv.view, lv.direction)
    b.split_edges()
    parts: Parts = {}
    for cid, c in b.conts.items():
        box = lv.boxes.get(cid) if cid is not None else None
        if cid is not None and box is None:
            continue
        ox, oy = (q(box.left), q(box.top)) if box is not None else (0, 0)
        p = Part(None)
        for k in c.children:
            kb = lv.boxes.get(k)
            if kb is None:
                continue
            p.boxes.append((k, q(kb.x) - ox, q(kb.y) - oy, kb.w, kb.h))
            if k in b.conts:
                p.subs[k] = (q(kb.left) - ox, q(kb.top) - oy)
        parts[cid] = (0, p)
    for e in lv.view.edges:
        if e.id not in lv.routes or e.id not in b.edge_top or b.edge_top[e.id] not in parts:
            continue
        cid = b.edge_top[e.id]
        _, p = parts[cid]
        ox, oy = (0, 0) if cid is None else (q(lv.boxes[cid].left), q(lv.boxes[cid].top))
        p.routes[e.id] = [(q(x) - ox, q(y) - oy) for x, y in lv.routes[e.id]]
        if e.id in lv.label_pos:
            x, y = lv.label_pos[e.id]
            p.labels[e.id] = (q(x) - ox, q(y) - oy)
    return parts


def _part(b: Builder, cid: str | None, top_edges, edges, parts, memo: PartMemo, qp: QPieces) -> tuple[int, Part]:
    c = b.conts[cid]
    lay = c.layout
    assert lay is not None
    sigs = []
    for eid in top_edges:
        e = edges[eid]
        pk = (e.source, kind_group(e.kind))
        start, end = b.edge_ends[eid]
        seq = b.edge_pieces[eid]
        owner = next((i for i, cj in enumerate(seq) if b.label_owner.get(cj) == eid), -1)
        sigs.append((eid, tuple(seq), c.port_index["in"][pk] if start is not None else -1,
                     c.port_index["out"][pk] if end is not None else -1, owner))
    kids = tuple(c.children)
    key = (cid, id(lay), kids, tuple(parts[k][0] for k in kids if k in parts), tuple(sigs))
    hit = memo.get(key)
    if hit is not None:
        return hit
    p = _make_part(b, cid, sigs, parts, qp)
    got = (next(_tokens), p)
    memo.put(key, got)
    return got


QPieces = dict[int, tuple[Any, list[list[IPoint] | None]]]


def _piece(qp: QPieces, lay: Any, j: int) -> list[IPoint]:
    """Piece j of a local layout in hundredths. ``qp`` lives for one composition: the 48 layers of a stack
    share one layout, quantised once (keyed by id(), the layouts being held by the composition)."""
    got = qp.get(id(lay))
    if got is None:
        got = qp[id(lay)] = (lay, [None] * len(lay.pieces))
    cached = got[1][j]
    if cached is None:
        cached = got[1][j] = [(round(u * 100), round(v * 100)) for u, v in lay.pieces[j]]
    return cached


def _make_part(b: Builder, cid: str | None, sigs: list, parts, qp: QPieces) -> Part:
    c = b.conts[cid]
    lay = c.layout
    p = Part(lay)
    for i, k in enumerate(c.children):
        cx, cy = lay.child_xy[i]
        w, h = b.child_size(k)
        x, y = q(cx), q(cy)
        p.boxes.append((k, x, y, w, h))
        if k in b.conts:
            p.subs[k] = (x - q(w / 2), y - q(h / 2))
    rel: dict[str | None, IPoint] = {cid: (0, 0)}

    def origin(x: str | None) -> IPoint:
        """A descendant container's origin relative to this one (from the memoised parts below)."""
        if x not in rel:
            par = b.parent[x] if x is not None else None
            px, py = origin(par)
            sx, sy = (parts[par][1].subs if par != cid else p.subs)[x]
            rel[x] = (px + sx, py + sy)
        return rel[x]

    def border(side: str, k: int) -> IPoint:
        off = q((lay.in_border if side == "in" else lay.out_border)[k])
        edge = 0 if side == "in" else q(lay.w if b.lr else lay.h)
        return (edge, off) if b.lr else (off, edge)

    npts = 0
    for eid, seq, k_in, k_out, owner in sigs:
        pts: list[IPoint] = []
        if k_in >= 0:
            pts.append(border("in", k_in))
        for i, (x, j) in enumerate(seq):
            ox, oy = origin(x)
            xl = b.conts[x].layout
            seg = [(ox + u, oy + v) for u, v in _piece(qp, xl, j)]
            if not pts:
                pts.extend(seg)
            else:
                a, s0 = pts[-1], seg[0]
                if abs(a[0] - s0[0]) + abs(a[1] - s0[1]) > 1:
                    pts.extend(iline(a, s0))  # across a frame border, from inner port to outer piece
                pts.extend(seg[1:])
            if i == owner and xl.piece_lp[j] is not None:
                lp = xl.piece_lp[j]
                p.labels[eid] = (ox + q(lp[0]), oy + q(lp[1]))
        if k_out >= 0:
            pts.extend(iline(pts[-1], border("out", k_out)))
        p.routes[eid] = pts
        npts += len(pts)
    p.nbytes = 400 + 120 * len(p.boxes) + 64 * npts + 200 * len(sigs)
    return p
