"""Lay out a view container by container, then compose the pieces into one picture.

One ``dot`` run over a whole model with nested clusters explodes with size, so instead:

1. every expanded VNode (and the top level) is a *container*; its direct children are laid out on their
   own by dot, an expanded child being one fixed-size box (its already-computed frame);
2. a VEdge is cut into *pieces*, one per container level it crosses: at its container the piece joins the
   two children holding its ends; inside such a child it runs from the deep end to an invisible *port*
   node on the child's border (in-ports at the top, rank=source; out-ports at the bottom, rank=sink).
   Pieces that share a source, kind and ends are laid out once, so fan-outs leave a frame as one line;
3. the parent sees each port as an HTML-table cell at the same border offset, so the outer piece meets
   the inner piece at the same point on the frame border;
4. containers are processed bottom-up by height, all those of one height in one dot batch; each result
   is cached under the container's structural content (sizes, ports, pieces; never ids), so identical
   layers are laid out once and a re-layout only runs dot for containers that changed;
5. composition walks top-down adding frame offsets, and concatenates each VEdge's pieces.
"""

from __future__ import annotations

import heapq
import logging
import math
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any

from bertviz_graph.errors import UserError
from bertviz_graph.hierarchy.style import WEIGHT_KINDS
from bertviz_graph.layout import measure
from bertviz_graph.layout.cache import LayoutCache, default_cache
from bertviz_graph.layout.dot_runner import DotRunner, default_runner
from bertviz_graph.layout.types import LaidOutView, NodeBox, Point
from bertviz_graph.view_types import VEdge, ViewData, VNode

log = logging.getLogger(__name__)

NODESEP = 0.25  # inches between nodes of a rank
RANKSEP = 0.30  # inches between ranks
PORT_SIZE = 0.02  # inches: invisible port nodes are points
WEIGHT = {"data": 2, "residual": 1, "param": 1}  # keep the main data chain straight (tied/shared: "param")

PortKey = tuple[str, str]  # (id of the edge's source VNode, kind group): one port per signal and kind
# An end of a piece inside a container: ("c", child_id, None | (side, PortKey)) or ("p", side, PortKey)
Ep = tuple[Any, ...]


def _kind_group(kind: str) -> str:
    """Ports and weights per kind group: every weight kind (plain, shared, tied) routes as a weight."""
    return "param" if kind in WEIGHT_KINDS else kind if kind == "residual" else "data"


@dataclass(frozen=True)
class LocalLayout:
    """dot's result for one container, in coordinates local to its frame (top-left = 0, 0)."""

    w: float
    h: float
    child_xy: tuple[Point, ...]  # child centres
    in_xy: tuple[Point, ...]  # in-port node positions (just inside the frame)
    out_xy: tuple[Point, ...]
    in_border: tuple[int, ...]  # where each port meets the border: x (TB) or y (LR)
    out_border: tuple[int, ...]
    pieces: tuple[tuple[Point, ...], ...]  # Bézier points per piece, tail -> head
    piece_lp: tuple[Point | None, ...]  # label centre per piece

    @property
    def nbytes(self) -> int:
        """Bytes in the layout cache (memsize counts an object by its ``nbytes``): estimated from the point
        count, which is what the walk spent ~6% of a warm layout finding out; errs large (tested)."""
        pts = len(self.child_xy) + len(self.in_xy) + len(self.out_xy) + len(self.piece_lp)
        pts += sum(len(p) for p in self.pieces)
        return 128 * pts + 72 * (len(self.pieces) + len(self.in_border) + len(self.out_border)) + 512


@dataclass
class _Container:
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


class _Builder:
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
        self.conts: dict[str | None, _Container] = {None: _Container(None, None, kids[None])}
        for n in self.nodes.values():
            if n.expanded or n.id in kids:
                self.conts[n.id] = _Container(n.id, n, kids.get(n.id, []))
        self.child_pos: dict[str, int] = {}
        for c in self.conts.values():
            for i, k in enumerate(c.children):
                self.child_pos[k] = i
        self.edge_pieces: dict[str, list[tuple[str | None, int]]] = {}
        self.edge_ends: dict[str, tuple[str | None, str | None]] = {}  # frame borders to start/end at
        self.label_owner: dict[tuple[str | None, int], str] = {}
        # per-call memos: a box's size is asked for by its container's key and again by _compose, and an
        # edge's ends climb the same parent chains (~20% of a warm 48-layer layout was these repeats)
        self._sizes: dict[tuple[str, str, str, int], tuple[float, float]] = {}
        self._anc: dict[str, list[str | None]] = {}

    def _break_cycles(self, kids: dict[str | None, list[str]]) -> None:
        """A parent chain that loops would hang us: cut it at the top level."""
        for nid in list(self.parent):
            seen, cur = set(), nid
            while cur is not None and cur not in seen:
                seen.add(cur)
                cur = self.parent[cur]
            if cur is not None:  # loop: hang this node at the top level
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
        kg = _kind_group(e.kind)
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
        main = self._add_piece(top, src, dst, kg)
        if e.label and e.kind != "param":  # a weight's shape is on its own box; tied/shared say so
            c = self.conts[top]
            if not c.piece_label[main]:
                c.piece_label[main] = e.label
                self.label_owner[(top, main)] = e.id
        seq.append((top, main))
        seq.extend(tail_pieces)
        self.edge_pieces[e.id] = seq
        self.edge_ends[e.id] = (start, end)

    # ---- heights, ports, keys -----------------------------------------------------------------------
    def compute_heights(self) -> list[list[_Container]]:
        order: list[_Container] = []

        def visit(cid: str | None) -> int:
            c = self.conts[cid]
            hs = [visit(k) for k in c.children if k in self.conts]
            c.height = 1 + max(hs) if hs else 0
            order.append(c)
            return c.height

        visit(None)
        levels: dict[int, list[_Container]] = {}
        for c in order:
            levels.setdefault(c.height, []).append(c)
        return [levels[h] for h in sorted(levels)]

    def _desc(self, c: _Container, ep: Ep) -> tuple[Any, ...]:
        """A piece end without ids: child position and port index."""
        if ep[0] == "p":
            return ("p", ep[1], c.port_index[ep[1]][ep[2]])
        i = self.child_pos[ep[1]]
        if ep[2] is None:
            return ("c", i)
        side, pk = ep[2]
        return ("c", i, side, self.conts[ep[1]].port_index[side][pk])

    def canonical_ports(self, c: _Container) -> None:
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

    def key(self, c: _Container) -> Hashable:
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


# ---- dot input and output ---------------------------------------------------------------------------
HTML_CELL_MAX = 60000  # below Graphviz's 65535 limit on an HTML table cell's WIDTH/HEIGHT


def _html_frame(w: float, h: float, ins: tuple[int, ...], outs: tuple[int, ...], lr: bool) -> str:
    """An expanded child as a w×h HTML table whose border cells i{k}/o{k} sit at the port offsets."""
    tab = '<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="0">'
    W, H = int(w), int(h)

    def strip(total: int, offsets: tuple[int, ...], prefix: str) -> str:
        cells, pos = [], 0
        for k, off in sorted(enumerate(offsets), key=lambda t: t[1]):
            if off - 1 > pos:
                cells.append((off - 1 - pos, ""))
            cells.append((2, f' PORT="{prefix}{k}"'))
            pos = off + 1
        if total > pos:
            cells.append((total - pos, ""))
        if lr:
            tds = "".join(f'<TR><TD FIXEDSIZE="TRUE" WIDTH="1" HEIGHT="{n}"{p}></TD></TR>' for n, p in cells)
        else:
            tds = "<TR>" + "".join(f'<TD FIXEDSIZE="TRUE" WIDTH="{n}" HEIGHT="1"{p}></TD>' for n, p in cells)
            tds += "</TR>"
        return f"<TD>{tab}{tds}</TABLE></TD>"

    if lr:
        mid = f'<TD FIXEDSIZE="TRUE" WIDTH="{W - 2}" HEIGHT="{H}"></TD>'
        body = f"<TR>{strip(H, ins, 'i')}{mid}{strip(H, outs, 'o')}</TR>"
    else:
        # Graphviz caps a cell's HEIGHT at 65535 pt: a taller frame (48 unfolded layers: 309,000 px) is a stack
        # of cells, else the parent would lay it out 65535 tall and the frame would spill over its neighbours.
        rows, left = [], H - 2
        while left > 0:
            rows.append(min(left, HTML_CELL_MAX))
            left -= rows[-1]
        mid = "".join(f'<TR><TD FIXEDSIZE="TRUE" WIDTH="{W}" HEIGHT="{r}"></TD></TR>' for r in rows or [0])
        body = f"<TR>{strip(W, ins, 'i')}</TR>{mid}<TR>{strip(W, outs, 'o')}</TR>"
    return f"<{tab}{body}</TABLE>>"


BUS_MIN = 3  # a signal feeding this many children of one container is drawn as a bus


def buses(key: Any) -> list[tuple[tuple[Any, str], list[int]]]:
    """Groups of pieces with one tail and kind and >= BUS_MIN heads, heads in data-flow order."""
    _direction, _frame, kids, n_in, n_out, pieces = key
    groups: dict[tuple[Any, str], list[int]] = {}
    for j, (t, _h, kg, _lbl) in enumerate(pieces):
        groups.setdefault((t, kg), []).append(j)
    big = [(k, js) for k, js in groups.items() if len(js) >= BUS_MIN]
    if not big:
        return []
    order = _flow_order(len(kids), n_in, n_out, pieces)
    return [(k, sorted(js, key=lambda j: (order[_item(pieces[j][1])], j))) for k, js in big]


def _item(d: tuple[Any, ...]) -> tuple[Any, ...]:
    return ("c", d[1]) if d[0] == "c" else d


def _flow_order(n_kids: int, n_in: int, n_out: int, pieces: tuple[Any, ...]) -> dict[tuple[Any, ...], int]:
    """Topological position of every child and port (ties, and cycles, broken by input order)."""
    items = [("p", "in", k) for k in range(n_in)] + [("c", i) for i in range(n_kids)]
    rank = {it: i for i, it in enumerate(items)}
    succ: dict[tuple[Any, ...], list[tuple[Any, ...]]] = {}
    indeg = dict.fromkeys(items, 0)
    for t, h, _kg, _lbl in pieces:
        a, b = _item(t), _item(h)
        if a in indeg and b in indeg and a != b:
            succ.setdefault(a, []).append(b)
            indeg[b] += 1
    heap = [(rank[it], it) for it in items if indeg[it] == 0]
    heapq.heapify(heap)
    order: dict[tuple[Any, ...], int] = {}
    while len(order) < len(items):
        if not heap:  # a cycle: release the earliest item still waiting
            it = min((it for it in items if it not in order), key=rank.__getitem__)
            heap.append((rank[it], it))
        _r, it = heapq.heappop(heap)
        if it in order:
            continue
        order[it] = len(order)
        for b in succ.get(it, []):
            indeg[b] -= 1
            if indeg[b] == 0 and b not in order:
                heapq.heappush(heap, (rank[b], b))
    order.update({("p", "out", k): len(order) + k for k in range(n_out)})  # out-ports come last
    return order


def _inch(px: float) -> str:
    return f"{px / 72.0:.4f}"


def dot_source(key: Any) -> str:
    """The DOT graph for one container, built from its structural key alone (so the cache is sound)."""
    direction, _frame, kids, n_in, n_out, pieces = key
    lr = direction == "LR"
    cin, cout = ("w", "e") if lr else ("n", "s")
    lines = [
        "digraph L {",
        f"graph [rankdir={direction} nodesep={NODESEP} ranksep={RANKSEP} splines=spline margin=0 pad=0];",
        'node [shape=box fixedsize=true label=""];',
        "edge [arrowhead=none];",
    ]
    for i, kid in enumerate(kids):
        if len(kid) == 2:
            lines.append(f"n{i} [width={_inch(kid[0])} height={_inch(kid[1])}];")
        else:
            html = _html_frame(kid[0], kid[1], kid[2], kid[3], lr)
            lines.append(f"n{i} [shape=none margin=0 fixedsize=false label={html}];")
    pt = f"shape=point width={PORT_SIZE} height={PORT_SIZE}"
    if n_in:
        lines.append("{rank=source; " + " ".join(f"pi{k} [{pt}];" for k in range(n_in)) + "}")
    if n_out:
        lines.append("{rank=sink; " + " ".join(f"po{k} [{pt}];" for k in range(n_out)) + "}")

    def end(d: tuple[Any, ...], is_tail: bool) -> str:
        if d[0] == "p":
            return f"p{'i' if d[1] == 'in' else 'o'}{d[2]}"
        if len(d) == 2:
            frame = len(kids[d[1]]) == 4  # the frame itself is the end: its border centre
            return f"n{d[1]}:{cout if is_tail else cin}" if frame else f"n{d[1]}"
        return f"n{d[1]}:{'i' if d[2] == 'in' else 'o'}{d[3]}:{cin if d[2] == 'in' else cout}"

    def label(lbl: tuple[float, float] | None) -> str:
        if lbl is None:
            return ""
        return (
            ' label=<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="0" FIXEDSIZE="TRUE"'
            f' WIDTH="{int(lbl[0])}" HEIGHT="{int(lbl[1])}"><TR><TD></TD></TR></TABLE>>'
        )

    on_bus: set[int] = set()
    for g, ((tail, kg), js) in enumerate(buses(key)):
        # one line down the side with a junction above each head, instead of a fan of long parallel edges
        # (which also costs dot O(heads²) virtual nodes); chain links may be flat (minlen=0)
        w = WEIGHT[kg]
        lbl = next((pieces[j][3] for j in js if pieces[j][3] is not None), None)
        lines.append(" ".join(f"j{g}_{k} [{pt}];" for k in range(len(js))))
        lines.append(f"{end(tail, True)} -> j{g}_0 [id=b{g}_0 weight={w}{label(lbl)}];")
        for k, j in enumerate(js):
            if k:
                lines.append(f"j{g}_{k - 1} -> j{g}_{k} [id=b{g}_{k} weight=1 minlen=0];")
            # branches outweigh links, so each junction sits just above its head, not all at the top
            lines.append(f"j{g}_{k} -> {end(pieces[j][1], False)} [id=e{j} weight={w}];")
            on_bus.add(j)
    # Between two expanded children, dot would make the port-to-port edge straight, and since a frame's
    # out-port rarely sits at the same x as its in-port, a chain of frames would drift sideways into a
    # staircase. So the port edges there get weight 1 and an invisible, heavier centre-to-centre edge
    # aligns the frames themselves; the port edge becomes a gentle S in the gap between them.
    framed: set[tuple[int, int]] = set()
    for j, (t, h, kg, lbl) in enumerate(pieces):
        both = t[0] == "c" and h[0] == "c" and len(kids[t[1]]) == 4 and len(kids[h[1]]) == 4
        if both and t[1] != h[1]:
            framed.add((t[1], h[1]))
        if j not in on_bus:
            w = 1 if both else WEIGHT[kg]
            lines.append(f"{end(t, True)} -> {end(h, False)} [id=e{j} weight={w}{label(lbl)}];")
    for a, b in sorted(framed):
        lines.append(f"n{a} -> n{b} [style=invis weight=8];")
    lines.append("}")
    return "\n".join(lines)


def _xy(s: str) -> Point:
    a, b = s.split(",")[:2]
    return float(a), float(b)


def _spline(pos: str) -> list[Point]:
    pts = []
    for part in pos.replace(";", " ").split():
        if part.startswith(("e,", "s,")):
            continue  # arrow tips: we draw no arrows in dot
        pts.append(_xy(part))
    return pts


def _spread(offsets: list[float], total: int) -> tuple[int, ...]:
    """Whole-px border offsets for port cells [x-1, x+1]: inside the border and never overlapping."""
    res = [0] * len(offsets)
    prev = -1
    for k in sorted(range(len(offsets)), key=lambda k: (offsets[k], k)):
        x = max(int(round(offsets[k])), 1, prev + 2)
        res[k] = min(x, total - 1)
        prev = res[k]
    return tuple(res)


def _concat(a: list[Point], b: list[Point]) -> list[Point]:
    """Bézier path a then b, bridged by a straight segment if they do not touch."""
    if not a or len(a) < 4:
        return list(b)
    if not b or len(b) < 4:
        return list(a)
    out = list(a)
    if abs(a[-1][0] - b[0][0]) + abs(a[-1][1] - b[0][1]) > 0.01:
        out.extend(_line(a[-1], b[0]))
    out.extend(b[1:])
    return out


def _line(a: Point, b: Point) -> list[Point]:
    """A straight cubic segment from a to b (without a): c1, c2, b."""
    return [
        (a[0] + (b[0] - a[0]) / 3, a[1] + (b[1] - a[1]) / 3),
        (a[0] + 2 * (b[0] - a[0]) / 3, a[1] + 2 * (b[1] - a[1]) / 3),
        b,
    ]


def local_layout(key: Any, result: dict[str, Any] | None) -> LocalLayout:
    """Turn dot's JSON for one container (or None: nothing to lay out) into frame-local coordinates."""
    direction, frame, kids, n_in, n_out, pieces = key
    lr = direction == "LR"
    if result is not None:
        llx, lly, urx, ury = (float(v) for v in result["bb"].split(","))
    else:  # a single child and no edges: no need to ask dot
        llx = lly = 0.0
        urx, ury = (kids[0][0], kids[0][1]) if kids else (0.0, 0.0)
    iw, ih = urx - llx, ury - lly
    if frame is not None:
        title_w, title_h = frame
        w = math.ceil(max(iw + 2 * measure.FRAME_PAD, title_w, measure.FRAME_MIN_W))
        top = title_h + (measure.FRAME_TOP_GAP if kids else 0.0)
        h = math.ceil(top + ih + (measure.FRAME_PAD if kids else 0.0))
        x0, y0 = (w - iw) / 2, top
    else:
        m = measure.CANVAS_MARGIN
        w, h = math.ceil(iw + 2 * m), math.ceil(ih + 2 * m)
        x0 = y0 = m

    def tr(p: Point) -> Point:
        return (x0 + p[0] - llx, y0 + ury - p[1])

    pos: dict[str, Point] = {}
    piece_pts: list[tuple[Point, ...]] = [()] * len(pieces)
    piece_lp: list[Point | None] = [None] * len(pieces)
    if result is not None:
        for obj in result.get("objects", []):
            if "pos" in obj:
                pos[obj["name"]] = tr(_xy(obj["pos"]))
        chain: dict[str, list[Point]] = {}
        chain_lp: dict[str, Point] = {}
        for e in result.get("edges", []):
            eid = str(e.get("id", ""))
            pts = [tr(p) for p in _spline(e["pos"])] if "pos" in e else []
            if eid.startswith("b"):
                chain[eid] = pts
                if "lp" in e:
                    chain_lp[eid] = tr(_xy(e["lp"]))
                continue
            j = int(eid[1:]) if eid[1:].isdigit() else -1
            if 0 <= j < len(pieces):
                piece_pts[j] = tuple(pts)
                if "lp" in e:
                    piece_lp[j] = tr(_xy(e["lp"]))
        for g, (_tk, js) in enumerate(buses(key)):
            trunk: list[Point] = []
            for k, j in enumerate(js):
                trunk = _concat(trunk, chain.get(f"b{g}_{k}", []))
                piece_pts[j] = tuple(_concat(trunk, list(piece_pts[j])))
            first = next((j for j in js if pieces[j][3] is not None), None)
            if first is not None and f"b{g}_0" in chain_lp:
                piece_lp[first] = chain_lp[f"b{g}_0"]
    else:
        pos = {"n0": (x0 + iw / 2, y0 + ih / 2)} if kids else {}
    child_xy = tuple(pos[f"n{i}"] for i in range(len(kids)))
    in_xy = tuple(pos[f"pi{k}"] for k in range(n_in))
    out_xy = tuple(pos[f"po{k}"] for k in range(n_out))
    axis = 1 if lr else 0
    in_border = _spread([p[axis] for p in in_xy], h if lr else w)
    out_border = _spread([p[axis] for p in out_xy], h if lr else w)
    # a piece dot could not route: a straight line between the two ends, so every edge is drawn
    for j, (t, hd, _kg, _lbl) in enumerate(pieces):
        if len(piece_pts[j]) < 4:
            a, b = _anchor(t, child_xy, in_xy, out_xy), _anchor(hd, child_xy, in_xy, out_xy)
            piece_pts[j] = (a, *_line(a, b))
    return LocalLayout(
        float(w), float(h), child_xy, in_xy, out_xy, in_border, out_border, tuple(piece_pts), tuple(piece_lp)
    )


def _anchor(
    d: tuple[Any, ...], child_xy: tuple[Point, ...], in_xy: tuple[Point, ...], out_xy: tuple[Point, ...]
) -> Point:
    if d[0] == "p":
        return (in_xy if d[1] == "in" else out_xy)[d[2]]
    return child_xy[d[1]]


# ---- the whole thing --------------------------------------------------------------------------------
def layout_view(
    view: ViewData,
    direction: str = "TB",
    cache: LayoutCache | None = None,
    *,
    runner: DotRunner | None = None,
) -> LaidOutView:
    """Positions for every VNode and a route for every VEdge of ``view``.

    ``direction`` is "TB" (data flows down) or "LR". ``cache`` defaults to a process-wide cache, so
    re-laying out after one click only runs dot for the containers that changed.
    """
    if direction not in ("TB", "LR"):

        raise UserError(f"unknown layout direction {direction!r}", "use 'TB' (top to bottom) or 'LR'")
    cache = default_cache() if cache is None else cache
    runner = default_runner() if runner is None else runner
    b = _Builder(view, direction)
    b.split_edges()
    for level in b.compute_heights():
        todo: dict[Hashable, list[_Container]] = {}
        for c in level:
            b.canonical_ports(c)
            k = b.key(c)
            if k in todo:  # same structure as one already queued in this batch
                todo[k].append(c)
                cache.hits += 1
                continue
            hit = cache.get(k)
            if hit is not None:
                c.layout = hit
            else:
                todo[k] = [c]
        need_dot = [k for k in todo if len(k[2]) > 1 or k[5]]
        results = dict(zip(need_dot, runner.layout([dot_source(k) for k in need_dot])))
        for k, conts in todo.items():
            lay = local_layout(k, results.get(k))
            cache.put(k, lay)
            for c in conts:
                c.layout = lay
    return _compose(b)


def _compose(b: _Builder) -> LaidOutView:
    lr = b.lr
    root = b.conts[None]
    assert root.layout is not None
    origin: dict[str | None, Point] = {None: (0.0, 0.0)}
    boxes: dict[str, NodeBox] = {}
    stack: list[str | None] = [None]
    while stack:  # top-down: a frame's origin is known before its children are placed
        cid = stack.pop()
        c = b.conts[cid]
        lay = c.layout
        assert lay is not None
        ox, oy = origin[cid]
        for i, k in enumerate(c.children):
            cx, cy = lay.child_xy[i]
            w, h = b.child_size(k)
            boxes[k] = NodeBox(k, round(ox + cx, 2), round(oy + cy, 2), w, h)
            if k in b.conts:
                origin[k] = (ox + cx - w / 2, oy + cy - h / 2)
                stack.append(k)

    def piece(cid: str | None, j: int) -> list[Point]:
        lay = b.conts[cid].layout
        assert lay is not None
        ox, oy = origin[cid]
        return [(ox + x, oy + y) for x, y in lay.pieces[j]]

    def border(cid: str, side: str, pk: PortKey) -> Point:
        """Where port pk of frame cid meets its border, absolute."""
        c = b.conts[cid]
        lay = c.layout
        assert lay is not None
        k = c.port_index[side][pk]
        off = (lay.in_border if side == "in" else lay.out_border)[k]
        ox, oy = origin[cid]
        if lr:
            return (ox + (0.0 if side == "in" else lay.w), oy + off)
        return (ox + off, oy + (0.0 if side == "in" else lay.h))

    routes: dict[str, list[Point]] = {}
    label_pos: dict[str, Point] = {}
    for e in b.view.edges:
        seq = b.edge_pieces.get(e.id)
        if not seq:
            continue
        kg = _kind_group(e.kind)
        start, end = b.edge_ends[e.id]
        pts: list[Point] = []
        if start is not None:
            pts.append(border(start, "in", (e.source, kg)))
        for cid, j in seq:
            seg = piece(cid, j)
            if not pts:
                pts.extend(seg)
            else:
                a, s0 = pts[-1], seg[0]
                if abs(a[0] - s0[0]) + abs(a[1] - s0[1]) > 0.01:
                    pts.extend(_line(a, s0))  # across a frame border, from inner port to outer piece
                pts.extend(seg[1:])
            owner = b.label_owner.get((cid, j))
            lp = b.conts[cid].layout.piece_lp[j]  # type: ignore[union-attr]
            if owner == e.id and lp is not None:
                ox, oy = origin[cid]
                label_pos[e.id] = (round(ox + lp[0], 2), round(oy + lp[1], 2))
        if end is not None:
            pts.extend(_line(pts[-1], border(end, "out", (e.source, kg))))
        routes[e.id] = [(round(x, 2), round(y, 2)) for x, y in pts]
    return LaidOutView(
        view=b.view,
        width=root.layout.w,
        height=root.layout.h,
        boxes=boxes,
        routes=routes,
        label_pos=label_pos,
        direction=b.direction,
    )
