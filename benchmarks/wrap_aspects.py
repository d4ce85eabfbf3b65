"""Aspect ratio of every unfolded depth, wrapped (layout/wrap.py) vs dot's unwrapped strip, TB and LR.

Run: ``python benchmarks/wrap_aspects.py [--models bert-base-uncased,...] [--depths 1,2,3,4,9]``. For each model
preset (traced on the meta device), depth and direction, the view ``graph.view(depth=d, unfold=True,
direction=...)`` is laid out twice in one run: as shipped, and with the wrapping switched off (what dot alone
draws); printed are both pictures' sizes, their aspects (long side / short side) and the layout time of each.
The goal (issue 22, item 3): every aspect <= 3:1.
"""

from __future__ import annotations

import argparse
import time

MODELS = ("bert-base-uncased", "bert-large-uncased", "bert-xl-48", "t5-small", "llama-70b-shape")
DEPTHS = (1, 2, 3, 4, 9)


def aspect(w: float, h: float) -> float:
    return max(w / h, h / w)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--depths", default=",".join(map(str, DEPTHS)))
    ap.add_argument("--directions", default="TB,LR")
    ap.add_argument("--folded", action="store_true", help="the folded views (one layer shown per stack) too")
    args = ap.parse_args()
    import pytest

    import bertviz_graph as bg
    from bertviz_graph.layout import LayoutCache, compose, layout_view

    print(f"{'model':<20} {'depth':>5} {'unfold':>6} {'dir':>3} {'wrapped px':>16} {'aspect':>7} {'strip px':>16} {'aspect':>7}"
          f" {'wrap s':>7} {'strip s':>7}")
    worst = 0.0
    for name in args.models.split(","):
        graph = bg.trace(name)
        depths = [int(d) for d in args.depths.split(",")]
        if name == "llama-70b-shape":
            depths = [1]  # deeper unfolded views of its 80 layers take minutes in dot
        for depth, unfold in [(d, u) for d in depths for u in ((True, False) if args.folded else (True,))]:
            for direction in args.directions.split(","):
                data = graph.view(depth=depth, unfold=unfold, direction=direction).data()
                t0 = time.perf_counter()
                lv = layout_view(data, direction, LayoutCache())
                t1 = time.perf_counter()
                mp = pytest.MonkeyPatch()
                mp.setattr(compose, "wrap_stack", lambda key, lay: lay)
                try:
                    strip = layout_view(data, direction, LayoutCache())
                finally:
                    mp.undo()
                t2 = time.perf_counter()
                a, b = aspect(lv.width, lv.height), aspect(strip.width, strip.height)
                worst = max(worst, a)
                print(f"{name:<20} {depth:>5} {str(unfold):>6} {direction:>3} {lv.width:>7.0f} x {lv.height:<6.0f} {a:>6.2f}:1"
                      f" {strip.width:>7.0f} x {strip.height:<6.0f} {b:>6.2f}:1 {t1 - t0:>7.2f} {t2 - t1:>7.2f}",
                      flush=True)
    print(f"worst wrapped aspect: {worst:.2f}:1 (goal <= 3:1)")


if __name__ == "__main__":
    main()
