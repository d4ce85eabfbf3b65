"""Would reuse by translation change the picture? Counts the rounded coordinates that would differ.

    python benchmarks/translation_check.py [--model bert-xl-48] [--depth 5]

Composition places every box at ``round(origin + centre, 2)`` where a frame's origin is a float chain from
the root (parent origin + centre − half size). A composition that memoised each layer's subtree in the layer's
own coordinates and translated it would add the same numbers in another order. This lays out the unfolded
model at ``--depth`` with one block of layer 7 opened, composes it both ways for everything inside the layer
frames, and prints how many box centres and route points (pieces, before they are joined) would round
differently: the price, in changed bytes, of reuse by translation with today's arithmetic.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import bertviz_graph.api as bg  # noqa: E402
from bertviz_graph.layout import compose  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="bert-xl-48")
    ap.add_argument("--depth", type=int, default=5)
    a = ap.parse_args()
    g = bg.trace(a.model)
    s = next(iter(g.hierarchy.series()))
    v = g.view(depth=a.depth, unfold=True)
    shut = [n.id for n in v.data().nodes if n.expandable and not n.expanded and n.id.startswith(s.members[7] + ".")]
    v = v.open(shut[0]) if shut else v
    got = {}
    real = compose._compose

    def grab(b):
        got["b"] = b
        return real(b)

    compose._compose = grab
    compose.layout_view(v.data())
    compose._compose = real
    b, layers = got["b"], set(s.members)
    origin: dict = {None: (0.0, 0.0)}
    anchor: dict = {}  # container -> (its layer frame, its origin relative to that frame)
    boxes = box_diff = 0
    stack = [None]
    while stack:  # the same walk as compose._compose, both ways
        cid = stack.pop()
        c = b.conts[cid]
        ox, oy = origin[cid]
        for i, k in enumerate(c.children):
            cx, cy = c.layout.child_xy[i]
            w, h = b.child_size(k)
            if cid in anchor:
                lay, (rx, ry) = anchor[cid]
                ax, ay = origin[lay]
                boxes += 1
                box_diff += (round(ax + (rx + cx), 2), round(ay + (ry + cy), 2)) != (round(ox + cx, 2),
                                                                                      round(oy + cy, 2))
            if k in b.conts:
                origin[k] = (ox + cx - w / 2, oy + cy - h / 2)
                if k in layers:
                    anchor[k] = (k, (0.0, 0.0))
                elif cid in anchor:
                    lay, (rx, ry) = anchor[cid]
                    anchor[k] = (lay, (rx + cx - w / 2, ry + cy - h / 2))
                stack.append(k)
    pts = pt_diff = 0
    for cid, (lay, (rx, ry)) in anchor.items():
        ax, ay = origin[lay]
        ox, oy = origin[cid]
        for piece in b.conts[cid].layout.pieces:
            for x, y in piece:
                pts += 1
                pt_diff += (round(ax + (rx + x), 2), round(ay + (ry + y), 2)) != (round(ox + x, 2), round(oy + y, 2))
    print(f"{a.model}, depth {a.depth} unfolded, one block of layer 7 open: inside the layer frames "
          f"{box_diff} of {boxes} box centres and {pt_diff} of {pts} route points round differently "
          f"when translated")


if __name__ == "__main__":
    main()
