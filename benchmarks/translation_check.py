"""Does reuse by translation change the picture? Composes clicks with the parts memo and from scratch, and counts.

    python benchmarks/translation_check.py [--model bert-xl-48] [--depth 5]

Composition (layout/subtree.py) places each container's part — its children's boxes and the routes it owns, in
integer hundredths of a pixel relative to its own corner — at its parent's origin plus an integer offset, and
memoises parts by subtree. This lays out the unfolded model at ``--depth``, then the same view with one block
of layer 7 opened, the second time reusing the first's parts, and compares every box centre, route point and
label position with a composition of the second view from an empty memo (must be 0 differences: byte-identical).
It also compares with the float arithmetic composition used before (parent origin + child centre, rounded
at the end) and prints the largest difference (the one-time change of pictures: at most 0.01 px).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import bertviz_graph.api as bg  # noqa: E402
from bertviz_graph.layout import compose  # noqa: E402
from bertviz_graph.layout.subtree import PartMemo  # noqa: E402


def float_boxes(b) -> dict[str, tuple[float, float]]:
    """Box centres the way composition worked before (a float chain from the root, rounded at the end)."""
    origin: dict = {None: (0.0, 0.0)}
    out = {}
    stack = [None]
    while stack:
        cid = stack.pop()
        c = b.conts[cid]
        ox, oy = origin[cid]
        for i, k in enumerate(c.children):
            cx, cy = c.layout.child_xy[i]
            w, h = b.child_size(k)
            out[k] = (round(ox + cx, 2), round(oy + cy, 2))
            if k in b.conts:
                origin[k] = (ox + cx - w / 2, oy + cy - h / 2)
                stack.append(k)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="bert-xl-48")
    ap.add_argument("--depth", type=int, default=5)
    a = ap.parse_args()
    g = bg.trace(a.model)
    s = next(iter(g.hierarchy.series()))
    base = g.view(depth=a.depth, unfold=True)
    shut = [n.id for n in base.data().nodes if n.expandable and not n.expanded and n.id.startswith(s.members[7] + ".")]
    v = base.open(shut[0]) if shut else base
    got = {}
    real = compose._compose

    def grab(b, parts=None):
        got["b"] = b
        return real(b, parts)

    compose._compose = grab
    memo = PartMemo()
    compose.layout_view(base.data(), parts=memo)
    hits = memo.hits
    inc = compose.layout_view(v.data(), parts=memo)
    reused = memo.hits - hits
    fresh = compose.layout_view(v.data(), parts=PartMemo())
    compose._compose = real
    boxes = sum((inc.boxes[k].x, inc.boxes[k].y) != (b.x, b.y) for k, b in fresh.boxes.items())
    pts = sum(len(r) for r in fresh.routes.values())
    pt_diff = sum(p != q for k, r in fresh.routes.items() for p, q in zip(r, inc.routes[k], strict=True))
    lab_diff = sum(inc.label_pos[k] != p for k, p in fresh.label_pos.items())
    ref = float_boxes(got["b"])
    worst = max(max(abs(fresh.boxes[k].x - x), abs(fresh.boxes[k].y - y)) for k, (x, y) in ref.items())
    moved = sum((fresh.boxes[k].x, fresh.boxes[k].y) != xy for k, xy in ref.items())
    print(f"{a.model}, depth {a.depth} unfolded, one block of layer 7 open ({len(fresh.boxes)} boxes): "
          f"{reused} of {len(got['b'].conts)} container parts reused by translation; against a composition from "
          f"scratch {boxes} of {len(fresh.boxes)} box centres, {pt_diff} of {pts} route points and {lab_diff} of "
          f"{len(fresh.label_pos)} label positions differ")
    print(f"against the float composition used before: {moved} of {len(ref)} box centres moved, "
          f"by at most {worst:.4f} px")


if __name__ == "__main__":
    main()
