"""Wrap a long stack of identical children (the unfolded layers of a ×N series) into columns (rows in LR).

dot draws a chain of twelve opened BertLayers as one column, so a fully unfolded bert-base is a 1,400 × 41,000 px
strip (29:1). Here a container's finished local layout is post-processed: the longest chain of equally sized
children (opened frames, or collapsed members of one series), each feeding the next, is cut into columns placed
left to right (column-major: layer 0 at the top of the first column, the last layer at the bottom of the last),
chosen so the container best fills a 16:10 screen. Inside a column the layers keep dot's relative placement, so
their routes are dot's, translated; a route that now joins two different columns (last of a column -> first of the
next) or enters a moved layer from outside is redrawn orthogonally through the gutter between columns.

LR layouts get the same rule on swapped axes (``_transpose_key``/``_transpose_lay``): rows left to right, stacked
downwards. When the whole picture is still longer than 3:1 along the flow (LR's encoder beside its decoder, or
input -> model -> head), the top level's chain is wrapped the same way whatever its members' sizes. Last, a route
dot bent through a frame on its way into that frame's port (a wrapped frame's port sits by its first layer, far
from its middle) is redrawn through the gap between its ends.

Input and output are the container's structural key and its ``LocalLayout`` (duck-typed here: this module
sits under ``compose`` and must not import it); the result depends on the key alone, so it is cached with it.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import Any

from bertviz_graph.layout import measure
from bertviz_graph.view_types import VNode

Point = tuple[float, float]

MIN_RUN = 3  # fewer identical layers in a chain are never wrapped
GAP = 48.0  # px between columns: the gutter the wrapped routes run through
LANE = 6.0  # px between parallel routes in a gutter or band
ROOM = 3 * LANE  # px added under the columns: the lanes from a column's foot to the next gutter
SIMILAR = 0.1  # layers whose sizes differ by at most this fraction (their ports) still form one stack
BOX_SLACK = 8.0  # px: collapsed members of one series are this close in width (a digit more in "layer 10")
FIRST_SIMILAR = 0.4  # the stack's first layer may differ this much (it may hold what the others reuse)
SCREEN = (16.0, 10.0)  # the shape to fill: a laptop screen, landscape
MAX_ASPECT = 3.0  # a whole picture longer than this along the flow wraps its top-level chain too


def wrap_stack(key: tuple[Any, ...], lay: Any) -> Any:
    """``lay`` with its longest chain of identical children wrapped into columns (rows for LR), or ``lay``
    itself when there is no such chain or one column already fits the screen best."""
    if key[0] == "LR":
        # the same rule on swapped axes (rows left to right, stacked downwards), and the same target in flow
        # terms: in LR everything else in the model lies beside the stack along the flow, so a stack of 10:16
        # (wide across the flow) leaves the whole picture near 16:10, as TB's 16:10 stack does with the rest
        # above and below it
        t_lay, t_key = _transpose_lay(lay), _transpose_key(key)
        out = _clear(t_key, _wrap_whole(t_key, _wrap_tb(t_key, t_lay, SCREEN), (SCREEN[1], SCREEN[0])))
        return lay if out is t_lay else _transpose_lay(out)
    return _clear(key, _wrap_whole(key, _wrap_tb(key, lay, SCREEN), SCREEN))


def _clear(key: tuple[Any, ...], lay: Any) -> Any:
    """dot's route of a piece that passes through a box it does not end at, redrawn orthogonally through the
    middle of the gap between its ends (when that is clear). It happens next to a wrapped frame: its port sits
    by its first layer, far from its middle, and dot bends the edge into it in an S wider than the rank gap."""
    kids, pieces = key[2], key[5]
    boxes = [(x - k[0] / 2 + 3, y - k[1] / 2 + 3, x + k[0] / 2 - 3, y + k[1] / 2 - 3)
             for k, (x, y) in zip(kids, lay.child_xy, strict=True)]

    def hits(j: int, pts: list[Point], curve: bool) -> bool:
        # a piece ending at a port of a frame stops on its border: the frame's inside is off limits too
        ends = {d[1] for d in pieces[j][:2] if d[0] == "c" and len(d) == 2}
        x0, x1 = min(p[0] for p in pts), max(p[0] for p in pts)
        y0, y1 = min(p[1] for p in pts), max(p[1] for p in pts)
        near = [b for i, b in enumerate(boxes) if i not in ends and b[0] < x1 and b[2] > x0 and b[1] < y1 and b[3] > y0]
        if not near:
            return False
        if not curve:
            return _any_through(_segments(pts), near, ())
        return _curve_hits(pts, near)

    new = list(lay.pieces)
    new_lp = list(lay.piece_lp)
    for j, pts in enumerate(lay.pieces):
        # only pieces into or out of a child frame's port: the S-bends this is for
        if all(len(d) != 4 for d in pieces[j][:2]) or len(pts) < 4 or not hits(j, list(pts), True):
            continue
        a, b = pts[0], pts[-1]
        if b[1] - a[1] < 2:
            continue  # not a downward piece: leave it to dot
        ym = (a[1] + b[1]) / 2
        route = _dedupe([a, (a[0], ym), (b[0], ym), b])
        if not hits(j, route, False):
            new[j] = tuple(_poly(route))
            new_lp[j] = None
    if new == list(lay.pieces):
        return lay
    return dataclasses.replace(lay, pieces=tuple(new), piece_lp=tuple(new_lp))


def _curve_hits(pts: list[Point], boxes: list[tuple[float, float, float, float]], per: int = 8) -> bool:
    """Whether a point of ``_sample(pts, per)`` lies strictly inside one of ``boxes``: the same answer, but a
    Bézier segment lies within its control points' bounds, so a segment is sampled only against the boxes
    those bounds meet (0.01 px wider: rounding), and the first hit ends the search (a 48-layer stack's
    routes made this ~half of a cold click's wrapping)."""
    x, y = pts[0]
    if any(b[0] < x < b[2] and b[1] < y < b[3] for b in boxes):
        return True
    for i in range(0, len(pts) - 3, 3):
        p0, c1, c2, p3 = pts[i : i + 4]
        x0, x1 = min(p0[0], c1[0], c2[0], p3[0]) - 0.01, max(p0[0], c1[0], c2[0], p3[0]) + 0.01
        y0, y1 = min(p0[1], c1[1], c2[1], p3[1]) - 0.01, max(p0[1], c1[1], c2[1], p3[1]) + 0.01
        near = [b for b in boxes if b[0] < x1 and b[2] > x0 and b[1] < y1 and b[3] > y0]
        if not near:
            continue
        for x, y in _sample((p0, c1, c2, p3), per)[1:]:
            if any(b[0] < x < b[2] and b[1] < y < b[3] for b in near):
                return True
    return False


def _sample(pts: list[Point] | tuple[Point, ...], per: int = 8) -> list[Point]:
    """Points along a cubic Bézier path (p0, then c1, c2, p per segment)."""
    out = [pts[0]]
    for i in range(0, len(pts) - 3, 3):
        p0, c1, c2, p3 = pts[i : i + 4]
        for k in range(1, per + 1):
            t = k / per
            a, b, c, d = (1 - t) ** 3, 3 * (1 - t) ** 2 * t, 3 * (1 - t) * t * t, t**3
            out.append((a * p0[0] + b * c1[0] + c * c2[0] + d * p3[0], a * p0[1] + b * c1[1] + c * c2[1] + d * p3[1]))
    return out


def _wrap_whole(key: tuple[Any, ...], lay: Any, screen: tuple[float, float]) -> Any:
    """The whole picture (the root container) still more than MAX_ASPECT long along the flow, e.g. LR's input ->
    model -> head -> output, or an encoder frame above a decoder frame: its longest chain of children, whatever
    their sizes, wrapped the same way, filling the real screen. Pictures within MAX_ASPECT are left as they are."""
    if key[1] is not None or lay.h <= MAX_ASPECT * lay.w:
        return lay
    return _wrap_tb(key, lay, screen, loose=True)


# ---- LR as TB on swapped axes -------------------------------------------------------------------------
def _transpose_key(key: tuple[Any, ...]) -> tuple[Any, ...]:
    """The key of the mirrored container: sizes (w, h) swapped; a frame's port offsets are along the border the
    ports sit on either way (x in TB, y in LR), so they stay; the direction marks the module-box axis."""
    direction, frame, kids, n_in, n_out, pieces = key
    kids_t = tuple((k[1], k[0], *k[2:]) for k in kids)
    return ("LR>TB", frame, kids_t, n_in, n_out, pieces)


def _transpose_lay(lay: Any) -> Any:
    def sw(pts: tuple[Point, ...]) -> tuple[Point, ...]:
        return tuple((p[1], p[0]) for p in pts)

    return dataclasses.replace(
        lay, w=lay.h, h=lay.w, child_xy=sw(lay.child_xy), in_xy=sw(lay.in_xy), out_xy=sw(lay.out_xy),
        pieces=tuple(sw(p) for p in lay.pieces), piece_lp=tuple(None if p is None else (p[1], p[0])
                                                                for p in lay.piece_lp),
    )


# ---- the run ------------------------------------------------------------------------------------------
def find_run(key: tuple[Any, ...], lay: Any, loose: bool = False) -> list[int]:
    """Indices of the longest chain of equally sized children (any sizes if ``loose``), consecutive in child
    order, each with a piece into the next and placed below it; [] when shorter than MIN_RUN. Members that
    differ from the rest because the user opened something inside them (layer 24 of 48 grown by an opened
    block, a frame among collapsed layers) stay in the chain when the members after them resemble those before."""
    kids, pieces = key[2], key[5]
    if len(kids) < MIN_RUN:
        return []
    links = {(t[1], h[1]) for t, h, _kg, _lbl in pieces if t[0] == "c" and h[0] == "c"}
    xy = lay.child_xy
    swapped = key[0] == "LR>TB"

    def chained(a: int, b: int) -> bool:
        return (a, b) in links and xy[b][1] > xy[a][1]

    segs: list[list[int]] = []  # the strict chains, in child order
    for i in range(len(kids)):
        if segs and chained(segs[-1][-1], i) and (loose or _similar(kids[i], kids[segs[-1][-1]], swapped)):
            segs[-1].append(i)
        else:
            segs.append([i])
    runs = [segs[0]]
    k = 1
    while k < len(segs):
        run = runs[-1]
        j, odd = k, 0  # segments between that differ (opened members), then one that resumes the stack
        while (not loose and j < len(segs) - 1 and chained(segs[j - 1][-1], segs[j][0])
               and all(_grown(kids[i], kids[run[-1]]) for i in segs[j])):
            odd += len(segs[j])
            j += 1
        regular = len(run) + len(segs[j]) if j < len(segs) else 0
        if (j > k and regular >= MIN_RUN and 2 * odd <= regular and chained(segs[j - 1][-1], segs[j][0])
                and _similar(kids[segs[j][0]], kids[run[-1]], swapped)):
            runs[-1] = run + [i for s in segs[k : j + 1] for i in s]
            k = j + 1
        else:
            runs.append(segs[k])
            k += 1
    best = max(runs, key=len)
    if len(best) < MIN_RUN:
        return []
    # the stack's last member grown (nothing after it resumes the stack): it ends the last column
    j = best[-1] + 1
    if not loose and j < len(kids) and chained(best[-1], j) and _grown(kids[j], kids[best[-1]]):
        best = best + [j]
    if loose:  # a head that also feeds members further on (T5's shared embedding) stays above the chain
        while len(best) > MIN_RUN and any((best[0], m) in links for m in best[2:]):
            best.pop(0)
        return best
    # the layer before may be a bigger one of the same module (T5's block 0 holds the relative-position bias):
    # it heads the stack's first column rather than sitting alone above a row of the others
    i = best[0] - 1
    if (i >= 0 and len(kids[i]) == 4 and (i, best[0]) in links and lay.child_xy[i][1] < lay.child_xy[best[0]][1]
            and not any((i, m) in links for m in best[1:])  # not a signal every layer reads (rotary positions)
            and _similar(kids[i], kids[best[0]], key[0] == "LR>TB", FIRST_SIMILAR)):
        best.insert(0, i)
    return best


# ---- TB wrapping --------------------------------------------------------------------------------------
def _wrap_tb(key: tuple[Any, ...], lay: Any, screen: tuple[float, float], loose: bool = False) -> Any:
    run = find_run(key, lay, loose)
    if not run:
        return lay
    kids, pieces = key[2], key[5]
    xy = lay.child_xy

    def lo(i: int) -> float:
        return xy[i][0] - kids[i][0] / 2

    def hi(i: int) -> float:
        return xy[i][0] + kids[i][0] / 2

    top = xy[run[0]][1] - kids[run[0]][1] / 2
    bottom = xy[run[-1]][1] + kids[run[-1]][1] / 2
    in_run = {i: k for k, i in enumerate(run)}
    others = [i for i in range(len(kids)) if i not in in_run]

    def overlap(i: int, m: int) -> float:
        return min(xy[i][1] + kids[i][1] / 2, xy[m][1] + kids[m][1] / 2) - max(xy[i][1] - kids[i][1] / 2,
                                                                             xy[m][1] - kids[m][1] / 2)

    beside = [i for i in others if xy[i][1] + kids[i][1] / 2 > top and xy[i][1] - kids[i][1] / 2 < bottom]
    # another child beside a stack would be overrun by the columns: leave such a container alone; in the
    # whole picture's chain (an input beside the encoder, the encoder's output beside the decoder) it goes
    # with the member it sits beside
    if beside and not loose:
        return lay
    anchor = {i: max(run, key=lambda m: overlap(i, m)) for i in beside}
    others = [i for i in others if i not in anchor]
    pad_r = max(0.0, lay.w - max(hi(i) for i in run))
    n = len(run)

    # per piece: (run position of its tail, -1 for an in-port; of its head; its x extent with control points)
    spans = [
        (in_run.get(t[1], -2) if t[0] == "c" else (-1 if t[1] == "in" else -2),
         in_run.get(h[1], -2) if h[0] == "c" else -2,
         min(p[0] for p in pts), max(p[0] for p in pts))
        for (t, h, _kg, _lbl), pts in zip(pieces, lay.pieces, strict=True) if pts
    ]

    def place(rows: int) -> tuple[list[Point], float, float, list[float]]:
        """(x, y) shift per column (each column's layers keep dot's placement among themselves, columns GAP
        apart, each column's first layer where layer 0 was), the right edge and the height of the columns, and
        the middle of the gap left of each column but the first (the gutter its routes run down)."""
        shifts: list[Point] = []
        gutters: list[float] = []
        right, height = 0.0, 0.0
        # dot's routes that stay with a column (between its layers; from the in-ports into the first) may bulge
        # past its boxes: the next column keeps clear of them too. Bucketed per column in one pass (a 48-layer
        # stack tries 48 row counts)
        col_xs: dict[int, list[float]] = {}
        for a, b, x0, x1 in spans:
            if b >= 0 and (a == -1 and b < rows or a >= 0 and a // rows == b // rows):
                col_xs.setdefault(b // rows, []).extend((x0, x1))
        for c in range(-(-n // rows)):
            members = run[c * rows : (c + 1) * rows]
            boxed = members + [i for i, m in anchor.items() if m in members]
            xs = col_xs.get(c, [])
            left_c = min([lo(i) for i in boxed] + xs)
            dx = 0.0 if c == 0 else float(round(right + GAP - left_c))
            if c:
                gutters.append(right + GAP / 2)
            dy = top - (xy[members[0]][1] - kids[members[0]][1] / 2)  # its first member's top where the stack's was
            # the gutters right of column 0 also clear whatever sits above the stack: routes run down them
            right = max([hi(i) for i in boxed] + xs + ([hi(i) for i in others] if c == 0 else [])) + dx
            height = max([height] + [xy[i][1] + kids[i][1] / 2 + dy - top for i in boxed])
            shifts.append((dx, dy))
        return shifts, right, height, gutters

    placed: dict[int, tuple[list[Point], float, float, list[float]]] = {}

    def size(rows: int, room: float = ROOM) -> tuple[float, float]:
        if rows not in placed:
            placed[rows] = place(rows)
        _s, right, height, _g = placed[rows]
        return max(lay.w, right + pad_r), lay.h - (bottom - top) + height + (room if rows < n else 0.0)

    def score(rows: int) -> float:
        w, h = size(rows)
        return min(screen[0] / w, screen[1] / h)

    # Ties (within 1 %, e.g. a stack under a tall first block that sets the height whatever the columns): the
    # shape nearest the screen's, so the parent, which stacks its children along the flow, gets the wider one.
    best = max(score(r) for r in range(1, n + 1))
    rows = min((r for r in range(n, 0, -1) if score(r) >= 0.99 * best),
               key=lambda r: abs(math.log(size(r)[0] / size(r)[1] * screen[1] / screen[0])))
    if rows == n:
        return lay
    shift_col, _right, height, gutter = place(rows)
    cols = len(shift_col)
    col_of = {i: k // rows for k, i in enumerate(run)}
    col_of.update({i: col_of[m] for i, m in anchor.items()})
    new_bottom = top + height
    row_gap = (xy[run[1]][1] - kids[run[1]][1] / 2) - (xy[run[0]][1] + kids[run[0]][1] / 2)
    half = max(row_gap, 2 * LANE) / 2

    def x_shift(d: tuple[Any, ...]) -> float:
        return shift_col[col_of[d[1]]][0] if d[0] == "c" and d[1] in col_of else 0.0

    # one lane per route through a gutter: a bus (one tail, several heads) shares its lane
    lanes: dict[int, dict[Any, int]] = {}
    routed: list[tuple[int, int, Any]] = []
    for j, (t, h, _kg, _lbl) in enumerate(pieces):
        if x_shift(t) != x_shift(h):
            g = max(0, (col_of[h[1]] if h[0] == "c" and h[1] in col_of else cols) - 1)
            lk = ("piece", j) if t[0] == "c" and t[1] in col_of else repr(t)
            lanes.setdefault(g, {}).setdefault(lk, len(lanes[g]))
            routed.append((j, g, lk))

    # What lies below the stack (out-ports, the next block) moves up under the columns, leaving room for the lanes
    # back to the next column's top (half + lanes under new_bottom) and, below those, for the routes leaving the
    # stack (they turn half above their head): dot's gap below the stack may be smaller than that (LR's ranks).
    gap_below = min([xy[i][1] - kids[i][1] / 2 for i in others if xy[i][1] > bottom]
                    + [p[1] for p in lay.out_xy], default=bottom + ROOM) - bottom
    n_lanes = max((len(v) for v in lanes.values()), default=0)
    room = max(ROOM, 2 * half + n_lanes * LANE / 2 + 2 * LANE - gap_below)
    d_s = bottom - new_bottom - room  # everything below the stack moves up by this much
    w_new, h_new = (float(math.ceil(v)) for v in size(rows, room))

    def shift(d: tuple[Any, ...]) -> Point:
        if d[0] == "p":
            return (0.0, 0.0) if d[1] == "in" else (0.0, -d_s)  # out-ports stay where the parent expects them
        if d[1] in col_of:
            return shift_col[col_of[d[1]]]
        return (0.0, -d_s) if xy[d[1]][1] > bottom else (0.0, 0.0)

    def off(g: int, lk: Any) -> float:
        return (lanes[g][lk] - (len(lanes[g]) - 1) / 2) * LANE

    new_pieces = list(lay.pieces)
    new_lp = list(lay.piece_lp)
    for j, (t, h, _kg, _lbl) in enumerate(pieces):
        st, sh = shift(t), shift(h)
        pts = lay.pieces[j]
        if st == sh:
            new_pieces[j] = tuple(_add(p, st) for p in pts)
            lp = lay.piece_lp[j]
            new_lp[j] = None if lp is None else _add(lp, st)
        elif st[0] == sh[0]:  # same column: dot's route, then straight on to where the head went
            moved = [_add(p, st) for p in pts]
            end = _add(pts[-1], sh)
            new_pieces[j] = tuple(moved + (_poly([moved[-1], end])[1:] if _far(moved[-1], end) else []))
            lp = lay.piece_lp[j]
            new_lp[j] = None if lp is None else _add(lp, st)
    band = top - half  # the free strip above the first row
    child_xy = tuple(_add(p, shift(("c", i))) for i, p in enumerate(xy))

    inner = [(cx - k[0] / 2 + 3, cy - k[1] / 2 + 3, cx + k[0] / 2 - 3, cy + k[1] / 2 - 3)
             for k, (cx, cy) in zip(kids, child_xy, strict=True)]

    seen: dict[tuple[int, tuple[Point, ...]], bool] = {}  # a route tried is not tested again at the end

    def blocked(route: list[Point], j: int) -> bool:
        """Whether a redrawn route passes through a box it does not end at."""
        got = seen.get((j, tuple(route)))
        if got is None:
            ends = {d[1] for d in pieces[j][:2] if d[0] == "c"}
            got = seen[(j, tuple(route))] = _any_through(_segments(route), inner, ends)
        return got

    redrawn: list[tuple[int, list[Point]]] = []
    for j, gi, lk in routed:
        t, h = pieces[j][0], pieces[j][1]
        a, b = _add(lay.pieces[j][0], shift(t)), _add(lay.pieces[j][-1], shift(h))
        o = off(gi, lk)
        if t[0] == "c" and t[1] in col_of and h[0] == "c" and h[1] in col_of and col_of[h[1]] > col_of[t[1]]:
            # last of a column -> first of the next: down, along the bottom, up the gutter, over, down
            g = gutter[col_of[h[1]] - 1] + o
            yb = new_bottom + half + o
            route = [a, (a[0], yb), (g, yb), (g, band + o), (b[0], band + o), b]
        elif h[0] == "c" and h[1] in col_of and col_of[h[1]] > 0:
            # into a moved layer from outside the stack (a mask or bias every layer reads): just under its
            # source (the rank gap there is free), or else along the band above the first row, or (from an in-port)
            # along the frame's edge, over to the gutter left of its column, down, across above the layer
            g = gutter[col_of[h[1]] - 1] + o
            # just above the head: in the gap over it in its column, which may be narrower than the stack's
            above = [child_xy[i][1] + kids[i][1] / 2 for i, c in col_of.items()
                     if c == col_of[h[1]] and child_xy[i][1] < child_xy[h[1]][1]]
            yh = b[1] - min([half] + [(b[1] - y) / 2 for y in above if y < b[1]]) + o / 3
            ys = [a[1] + half + o / 3, band + o] + ([a[1] + LANE / 2] if t[0] == "p" else [])  # a port: above all
            tries = [[a, (a[0], y), (g, y), (g, yh), (b[0], yh), b] for y in ys]
            route = next((r for r in tries if not blocked(_dedupe(r), j)), tries[0])
        else:
            ym = b[1] - half  # e.g. the last layer to an out-port: under all columns, below their lanes
            route = [a, (a[0], ym), (b[0], ym), b]
        new_pieces[j] = tuple(_poly(_dedupe(route)))
        new_lp[j] = None  # the shape label stays on the routes dot drew
        redrawn.append((j, _dedupe(route)))
    # a redrawn route through a box it does not end at (an odd container: something beside the stack's
    # source): keep dot's picture rather than draw a wrong one
    if any(blocked(route, j) for j, route in redrawn):
        return lay
    out_xy = tuple(_add(p, (0.0, -d_s)) for p in lay.out_xy)
    return dataclasses.replace(
        lay, w=w_new, h=h_new, child_xy=child_xy, out_xy=out_xy,
        pieces=tuple(new_pieces), piece_lp=tuple(new_lp),
    )


# ---- geometry helpers ---------------------------------------------------------------------------------
def _similar(a: tuple[Any, ...], b: tuple[Any, ...], swapped: bool = False, tol: float = SIMILAR) -> bool:
    """Two stack members: opened frames of about one size, or two collapsed module boxes of one height and nearly
    one width ("BertLayer / layer 9" and ".../ layer 10"; T5's self-attention, cross-attention and FF are not).
    A chain of equal op boxes is a folded picture's (T5's position buckets), never wrapped: op boxes are shorter
    than module boxes (measure.node_size)."""
    if len(a) == len(b) == 4:
        return all(abs(x - y) <= tol * max(x, y) for x, y in zip(a[:2], b[:2], strict=True))
    if len(a) == len(b) == 2:
        (wa, ha), (wb, hb) = (a[::-1], b[::-1]) if swapped else (a, b)
        # members of one series share their label ("BertLayer") and differ in the sublabel's digits at most
        return ha == hb and ha in module_heights() and abs(wa - wb) <= BOX_SLACK
    return False


def _grown(a: tuple[Any, ...], ref: tuple[Any, ...]) -> bool:
    """A stack member the user opened something in, next to an unopened one: a frame among collapsed boxes,
    or a frame at least as big as the others' frames both ways."""
    return len(a) == 4 and (len(ref) == 2 or a[0] >= ref[0] and a[1] >= ref[1])


@functools.cache
def module_heights() -> frozenset[float]:
    """Heights of a collapsed module box (bold group, one member), with and without a sublabel."""
    return frozenset(measure.node_size(VNode("m", "group", "M", sub))[1] for sub in ("", "s"))


Segment = tuple[float, float, float, float]  # an axis-parallel segment's extent: x0, x1, y0, y1


def _segments(route: list[Point]) -> list[Segment]:
    return [(min(ax, bx), max(ax, bx), min(ay, by), max(ay, by))
            for (ax, ay), (bx, by) in zip(route, route[1:], strict=False)]


def _any_through(segs: list[Segment], boxes: list[tuple[float, float, float, float]], skip: Any) -> bool:
    """Whether a polyline's segments pass through any open rectangle (x0, y0, x1, y1) whose index is not in
    ``skip`` (the route's segments are measured once, not once per box: a wrapped 80-layer stack tests ~3,000
    route-box pairs)."""
    if not segs:
        return False
    rx0, rx1 = min(s[0] for s in segs), max(s[1] for s in segs)
    ry0, ry1 = min(s[2] for s in segs), max(s[3] for s in segs)
    for i, (x0, y0, x1, y1) in enumerate(boxes):
        if x0 < rx1 and x1 > rx0 and y0 < ry1 and y1 > ry0 and i not in skip:
            for lo_x, hi_x, lo_y, hi_y in segs:
                if lo_x < x1 and hi_x > x0 and lo_y < y1 and hi_y > y0:
                    return True
    return False


def _add(p: Point, d: Point) -> Point:
    return (round(p[0] + d[0], 2), round(p[1] + d[1], 2))


def _far(a: Point, b: Point) -> bool:
    return abs(a[0] - b[0]) + abs(a[1] - b[1]) > 0.01


def _dedupe(pts: list[Point]) -> list[Point]:
    out = [pts[0]]
    for p in pts[1:]:
        if _far(out[-1], p):
            out.append(p)
    return out


def _poly(pts: list[Point]) -> list[Point]:
    """A polyline as a cubic Bézier path (p0, then c1, c2, p per segment), rounded to 0.01 px."""
    out = [pts[0]]
    for a, b in zip(pts, pts[1:], strict=False):
        out += [(a[0] + (b[0] - a[0]) / 3, a[1] + (b[1] - a[1]) / 3),
                (a[0] + 2 * (b[0] - a[0]) / 3, a[1] + 2 * (b[1] - a[1]) / 3), b]
    return [(round(x, 2), round(y, 2)) for x, y in out]

