"""Edge splitting, ports and keys: a view cut into containers, each VEdge into one piece per container level.

A *container* is an expanded VNode (or the top level). A VEdge that crosses frames becomes a chain of pieces:
at the innermost container holding both ends the piece joins the two children holding them; inside each such
child it runs to a *port* on the child's border. Ports are ordered canonically, so identical containers (the
layers of a stack) get identical structural keys and share one dot layout.
"""

from __future__ import annotations

import logging
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any

from bertviz_graph.hierarchy.style import WEIGHT_KINDS
from bertviz_graph.layout import measure
from bertviz_graph.layout.dot_io import LocalLayout
from bertviz_graph.view_types import VEdge, ViewData, VNode

log = logging.getLogger(__name__)

PortKey = tuple[str, str]  # (id of the edge's source VNode, kind group): one port per signal and kind
# An end of a piece inside a container: ("c", child_id, None | (side, PortKey)) or ("p", side, PortKey)
Ep = tuple[Any, ...]


def kind_group(kind: str) -> str:
    """Ports and weights per kind group: every weight kind (plain, shared, tied) routes as a weight."""
    return "param" if kind in WEIGHT_KINDS else kind if kind == "residual" else "data"



@dataclass
class Container:
    id: str | None
    node: VNode | None
    children: list[str]
    height: int = 0
    ports: dict[str, dict[PortKey, None]] = field(default_factory=lambda: {"in": {}, "out": {}})
    port_index: dict[str, dict[PortKey, int]] = field(default_factory=dict)
    piece_ids: dict[tuple[Ep, Ep, str], int] = field(default_factory=dict)
    pieces: list[tuple[Ep, Ep, str]] = field(default_factory=list)
    piece_label: list[str] = field(default_factory=list)
    layout: LocalLayout | None = None


class Builder:
    def __init__(self, view: ViewData, direction: str):
        self.view = view
        self.lr = direction == "LR"
        self.direction = direction
        self.nodes: dict[str, VNode] = {}
        for n in view.nodes:
            if n.id in self.nodes:
                log.warning("duplicate VNode id %r: keeping the first", n.id)
                continue
            self.nodes[n.id] = n
        kids: dict[str | None, list[str]] = {None: []}
        self.parent: dict[str, str | None] = {}
        for n in self.nodes.values():
            p = n.parent if n.parent in self.nodes and n.parent != n.id else None
            if n.parent is not None and p is None:
                log.warning("VNode %r has unknown parent %r: drawn at the top level", n.id, n.parent)
            self.parent[n.id] = p
            kids.setdefault(p, []).append(n.id)
        self._break_cycles(kids)
        # a container is any expanded node, and any node that has children to draw
        self.conts: dict[str | None, Container] = {None: Container(None, None, kids[None])}
        for n in self.nodes.values():
            if n.expanded or n.id in kids:
                self.conts[n.id] = Container(n.id, n, kids.get(n.id, []))
        self.child_pos: dict[str, int] = {}
        for c in self.conts.values():
            for i, k in enumerate(c.children):
                self.child_pos[k] = i
        self.edge_pieces: dict[str, list[tuple[str | None, int]]] = {}
        self.edge_ends: dict[str, tuple[str | None, str | None]] = {}  # frame borders to start/end at
        self.edge_top: dict[str, str | None] = {}  # innermost container holding both ends: owns the route
        self.label_owner: dict[tuple[str | None, int], str] = {}
        # per-call memos: a box's size is asked for by its container's key and again by _compose, and an
        # edge's ends climb the same parent chains (~20% of a warm 48-layer layout was these repeats)
        self._sizes: dict[tuple[str, str, str, int], tuple[float, float]] = {}
        self._anc: dict[str, list[str | None]] = {}

    def _break_cycles(self, kids: dict[str | None, list[str]]) -> None:
        """A parent chain that loops would hang us: cut it at the top level."""
        sound: set[str] = set()  # nodes whose chain reaches the root: a walk stops at one (O(nodes), not O(n·depth))
        for nid in list(self.parent):
            seen, cur = set(), nid
            while cur is not None and cur not in seen and cur not in sound:
                seen.add(cur)
                cur = self.parent[cur]
            if cur is None or cur in sound:
                sound |= seen
                continue
            # loop: hang this node at the top level
            log.warning("VNode %r is inside a parent loop: drawn at the top level", nid)
            old = self.parent[nid]
            kids[old].remove(nid)
            kids[None].append(nid)
            self.parent[nid] = None

    # ---- pieces -------------------------------------------------------------------------------------
    def ancestors(self, nid: str) -> list[str | None]:
        """The frames holding nid, innermost first, then None (the root). Shared: do not modify."""
        out = self._anc.get(nid)
        if out is None:
            out = []
            cur = self.parent[nid]
            while cur is not None:
                out.append(cur)
                cur = self.parent[cur]
            out.append(None)
            self._anc[nid] = out
        return out

    def node_size(self, nid: str) -> tuple[float, float]:
        """measure.node_size, once per distinct box text (the 48 layers of a stack repeat theirs)."""
        n = self.nodes[nid]
        k = (n.label, n.sublabel, n.kind, n.count)
        size = self._sizes.get(k)
        if size is None:
            size = self._sizes[k] = measure.node_size(n)
        return size

    def _add_piece(self, cont: str | None, tail: Ep, head: Ep, kg: str) -> int:
        c = self.conts[cont]
        key = (tail, head, kg)
        idx = c.piece_ids.get(key)
        if idx is None:
            idx = c.piece_ids[key] = len(c.pieces)
            c.pieces.append(key)
            c.piece_label.append("")
            for ep in (tail, head):
                if ep[0] == "p":
                    c.ports[ep[1]][ep[2]] = None
                elif ep[2] is not None:
                    self.conts[ep[1]].ports[ep[2][0]][ep[2][1]] = None
        return idx

    def split_edges(self) -> None:
        for e in self.view.edges:
            s, t = e.source, e.target
            if s not in self.nodes or t not in self.nodes:
                log.warning("edge %r: unknown end %r -> %r: not drawn", e.id, s, t)
                continue
            if s == t:
                continue  # self-loops are not drawn
            self._split(e)

    def _split(self, e: VEdge) -> None:
        s, t = e.source, e.target
        kg = kind_group(e.kind)
        if s not in self.conts and t not in self.conts and self.parent[s] == self.parent[t]:
            # two boxes side by side in one container (most edges): one piece, no ports
            self._one_piece(e, self.parent[s], ("c", s, None), ("c", t, None), kg)
            return
        pk: PortKey = (s, kg)
        sa = ([s] if s in self.conts else []) + self.ancestors(s)
        ta = ([t] if t in self.conts else []) + self.ancestors(t)
        tset = set(ta)
        top = next(a for a in sa if a in tset)  # innermost container holding both ends
        seq: list[tuple[str | None, int]] = []
        start = end = None
        # source side: from s up through the frames that hold it, to the child of `top`
        if s == top:
            src: Ep = ("p", "in", pk)
            start = s  # enters the frame from outside: the route starts on its top border
        else:
            cur, port = s, None
            for a in self.ancestors(s):
                if a == top:
                    break
                seq.append((a, self._add_piece(a, ("c", cur, port), ("p", "out", pk), kg)))
                cur, port = a, ("out", pk)
            src = ("c", cur, port)
        # target side: chain of frames from the child of `top` down to t
        if t == top:
            dst: Ep = ("p", "out", pk)
            end = t
            tail_pieces: list[tuple[str | None, int]] = []
        else:
            chain = []
            for a in self.ancestors(t):
                if a == top:
                    break
                chain.append(a)
            chain.reverse()  # outermost first
            dst = ("c", chain[0], ("in", pk)) if chain else ("c", t, None)
            tail_pieces = []
            for i, a in enumerate(chain):
                inner: Ep = ("c", chain[i + 1], ("in", pk)) if i + 1 < len(chain) else ("c", t, None)
                tail_pieces.append((a, self._add_piece(a, ("p", "in", pk), inner, kg)))
        self._one_piece(e, top, src, dst, kg, seq, tail_pieces, start, end)

    def _one_piece(self, e: VEdge, top: str | None, src: Ep, dst: Ep, kg: str,
                   seq: list[tuple[str | None, int]] | None = None,
                   tail_pieces: list[tuple[str | None, int]] = (),  # type: ignore[assignment]
                   start: str | None = None, end: str | None = None) -> None:
        """The piece joining the two children of ``top`` that hold the ends, and the edge's whole chain."""
        main = self._add_piece(top, src, dst, kg)
        if e.label and e.kind != "param":  # a weight's shape is on its own box; tied/shared say so
            c = self.conts[top]
            if not c.piece_label[main]:
                c.piece_label[main] = e.label
                self.label_owner[(top, main)] = e.id
        seq = [] if seq is None else seq
        seq.append((top, main))
        seq.extend(tail_pieces)
        self.edge_pieces[e.id] = seq
        self.edge_ends[e.id] = (start, end)
        self.edge_top[e.id] = top

    # ---- heights, ports, keys -----------------------------------------------------------------------
    def compute_heights(self) -> list[list[Container]]:
        # children first (post-order), by an explicit stack: a recursive closure is a reference cycle holding
        # this Builder with every Container and piece (~30,000 objects at 48 layers), which only the cyclic
        # collector frees (~100 ms of a click when gc_pause ended); without it reference counting frees them
        order: list[Container] = []
        stack: list[tuple[str | None, bool]] = [(None, False)]
        while stack:
            cid, done = stack.pop()
            c = self.conts[cid]
            kids = [k for k in c.children if k in self.conts]
            if done:
                c.height = 1 + max(self.conts[k].height for k in kids) if kids else 0
                order.append(c)
            else:
                stack.append((cid, True))
                stack.extend((k, False) for k in reversed(kids))
        levels: dict[int, list[Container]] = {}
        for c in order:
            levels.setdefault(c.height, []).append(c)
        return [levels[h] for h in sorted(levels)]

    def _desc(self, c: Container, ep: Ep) -> tuple[Any, ...]:
        """A piece end without ids: child position and port index."""
        if ep[0] == "p":
            return ("p", ep[1], c.port_index[ep[1]][ep[2]])
        i = self.child_pos[ep[1]]
        if ep[2] is None:
            return ("c", i)
        side, pk = ep[2]
        return ("c", i, side, self.conts[ep[1]].port_index[side][pk])

    def canonical_ports(self, c: Container) -> None:
        """Order ports by what they connect to inside, so identical containers get identical keys."""
        for side in ("in", "out"):
            sig: dict[PortKey, list[Any]] = {pk: [] for pk in c.ports[side]}
            for tail, head, kg in c.pieces:
                mine, other = (tail, head) if side == "in" else (head, tail)
                if mine[0] == "p" and mine[1] == side:
                    d = ("p", other[1]) if other[0] == "p" else self._desc(c, other)
                    sig[mine[2]].append((repr(d), kg))
            first = {pk: i for i, pk in enumerate(c.ports[side])}
            order = sorted(sig, key=lambda pk: (sorted(sig[pk]), first[pk]))
            c.port_index[side] = {pk: i for i, pk in enumerate(order)}

    def child_size(self, cid: str) -> tuple[float, float]:
        if cid in self.conts:
            lay = self.conts[cid].layout
            assert lay is not None
            return lay.w, lay.h
        return self.node_size(cid)

    def key(self, c: Container) -> Hashable:
        kids = []
        for k in c.children:
            if k in self.conts:
                lay = self.conts[k].layout
                assert lay is not None
                kids.append((lay.w, lay.h, lay.in_border, lay.out_border))
            else:
                kids.append(self.node_size(k))
        pieces = tuple(
            (self._desc(c, t), self._desc(c, h), kg, measure.edge_label_size(lbl) if lbl else None)
            for (t, h, kg), lbl in zip(c.pieces, c.piece_label)
        )
        frame = measure.frame_title_size(c.node) if c.node is not None else None
        return (self.direction, frame, tuple(kids), len(c.ports["in"]), len(c.ports["out"]), pieces)

