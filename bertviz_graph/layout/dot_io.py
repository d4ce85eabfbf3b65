"""dot's side of layout: one container's DOT source, built from its structural key alone, and dot's JSON
turned back into a ``LocalLayout`` in frame-local coordinates (pieces, ports, child centres).

Nothing here knows ids: the key (``pieces.Builder.key``) is positions and sizes only, so a cached result is
sound for any container with the same structure.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass
from typing import Any

from bertviz_graph.layout import measure
from bertviz_graph.layout.types import Point

NODESEP = 0.25  # inches between nodes of a rank
RANKSEP = 0.30  # inches between ranks
PORT_SIZE = 0.02  # inches: invisible port nodes are points
WEIGHT = {"data": 2, "residual": 1, "param": 1}  # keep the main data chain straight (tied/shared: "param")


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
        cols, left = [], W - 2  # the same cap on WIDTH: a wide LR frame is a row of cells
        while left > 0:
            cols.append(min(left, HTML_CELL_MAX))
            left -= cols[-1]
        mid = "".join(f'<TD FIXEDSIZE="TRUE" WIDTH="{c}" HEIGHT="{H}"></TD>' for c in cols or [0])
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


HUGE_CONTAINER = 64  # children in one container beyond which dot's positioning gets a budget (nslimit)


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
    if len(kids) > HUGE_CONTAINER:
        # dot's x-positioning (network simplex) on llama-70b-shape's 80 opened layers ran > 400 s; a few
        # iterations (nslimit) finish it in ~1 s, and wrap.py re-places the layers anyway
        lines.append("graph [nslimit=0.02];")
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
        out.extend(line(a[-1], b[0]))
    out.extend(b[1:])
    return out


def line(a: Point, b: Point) -> list[Point]:
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
            piece_pts[j] = (a, *line(a, b))
    return LocalLayout(
        float(w), float(h), child_xy, in_xy, out_xy, in_border, out_border, tuple(piece_pts), tuple(piece_lp)
    )


def _anchor(
    d: tuple[Any, ...], child_xy: tuple[Point, ...], in_xy: tuple[Point, ...], out_xy: tuple[Point, ...]
) -> Point:
    if d[0] == "p":
        return (in_xy if d[1] == "in" else out_xy)[d[2]]
    return child_xy[d[1]]

