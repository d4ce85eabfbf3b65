"""Where a warm click's server time goes: view, layout (composition apart) and SVG, CPU ms, medians.

    python benchmarks/click_phases.py [--model bert-xl-48] [--depths 4 5] [--rounds 3] [--code DIR] [--cold]

``--code DIR``: import bertviz_graph from DIR (another commit, e.g. exported with ``git archive``) instead.

The model fully unfolded and opened ``--depth`` levels; then a block opened in layer 1, N/2 and N-1, each on a
new ``View`` (as a click makes one), with dot's layouts and the composed parts already cached (each click was
laid out once before): what a click costs once dot has nothing to do. CPU time of this process (dot runs in
its own processes and is idle here), the cyclic collector paused as in the app (``gc_pause``).

``--cold``: each click starts from the base view's layouts only (the layout cache, parts and drawn shapes
emptied, the base laid out and drawn again), so the opened block, its layer, the stack and the root are laid out anew, as on a first click:
adds dot's wall time and the CPU of wrapping (``wrap_stack``) to the phases. ``--ahead`` also lays out every
view one click away from the base (what a background precomputation of the next clicks would have to do) and
prints its CPU, dot's wall time and the number of distinct graphs dot was given.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
from pathlib import Path

_CODE = sys.argv[sys.argv.index("--code") + 1] if "--code" in sys.argv else str(Path(__file__).resolve().parents[1])
sys.path.insert(0, _CODE)

import bertviz_graph.api as bg  # noqa: E402
from bertviz_graph.gc_pause import gc_paused  # noqa: E402
from bertviz_graph.layout import compose, layout_of  # noqa: E402
from bertviz_graph.render.svg import to_svg  # noqa: E402
from bertviz_graph.view import View  # noqa: E402


def click_parts(h, d: int, p: str) -> tuple[float, float, float, int]:
    """CPU seconds of one click's parts: the new View (every stack unfolded, ``d`` levels open, ``p`` opened)
    and its data, its layout, its SVG; and the number of boxes drawn."""
    c0 = time.process_time()
    v = View(h).unfold(all_series=True).open_depth(d).open(p)
    v.data()
    c1 = time.process_time()
    lv = layout_of(v)
    c2 = time.process_time()
    to_svg(lv, legend=False, title=False)
    return c1 - c0, c2 - c1, time.process_time() - c2, len(lv.boxes)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="bert-xl-48")
    ap.add_argument("--depths", type=int, nargs="+", default=[4, 5])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--code", default=_CODE, help="folder to import bertviz_graph from")
    ap.add_argument("--cold", action="store_true", help="clicks whose new containers are not laid out yet")
    ap.add_argument("--ahead", action="store_true", help="with --cold: also lay out every view one click away")
    a = ap.parse_args()
    g = bg.trace(a.model)
    h = g.hierarchy
    s = next(iter(h.series()))
    n = len(s.members)
    real = compose._compose
    if a.cold:
        cold(h, s, a)
        return
    for d in a.depths:
        base = View(h).unfold(all_series=True).open_depth(d)
        picks = [next(x.id for x in base.data().nodes if x.expandable and not x.expanded
                      and x.id.startswith(s.members[k] + ".")) for k in (1, n // 2, n - 1)]
        for v in [base] + [base.open(p) for p in picks]:  # dot's layouts and the parts: cached
            to_svg(layout_of(v), legend=False, title=False)
        t: dict[str, list[float]] = {"view": [], "layout": [], "composition": [], "svg": [], "collector": [],
                                     "total": []}

        def timed(b, parts=None, t=t):
            c = time.process_time()
            try:
                return real(b) if parts is None else real(b, parts)
            finally:
                t["composition"].append((time.process_time() - c) * 1000)

        compose._compose = timed
        gc.freeze()  # as the app does when it starts serving: the collector does not walk the model on a click
        for _ in range(a.rounds):
            for p in picks:
                c0 = time.process_time()
                with gc_paused():
                    view_s, layout_s, svg_s, boxes = click_parts(h, d, p)
                # the collector, back on, collects what the click allocated (the app's render pays it too)
                c4 = time.process_time()
                t["view"].append(view_s * 1000)
                t["layout"].append(layout_s * 1000)
                t["svg"].append(svg_s * 1000)
                t["collector"].append((c4 - c0 - view_s - layout_s - svg_s) * 1000)
                t["total"].append((c4 - c0) * 1000)
        compose._compose = real
        med = {k: statistics.median(x) for k, x in t.items()}
        print(f"[{a.code}] {a.model} depth {d} unfolded, open a block ({boxes} boxes), CPU ms median of "
              f"{len(t['total'])}: view {med['view']:.1f}, layout {med['layout']:.1f} (of which composition "
              f"{med['composition']:.1f}), SVG {med['svg']:.1f}, collector after the pause {med['collector']:.1f}; "
              f"total {med['total']:.1f}")


def cold(h, s, a) -> None:
    """The phases of a cold click, and the size of what a precomputation of the next clicks would face."""
    from bertviz_graph.layout import default_cache, default_runner
    from bertviz_graph.layout.subtree import default_parts
    try:  # the containers' drawn shapes (render/svg_layers.py; absent before issue 22's fifth session)
        from bertviz_graph.render.svg_layers import default_shapes
    except ImportError:
        default_shapes = None

    runner, n = default_runner(), len(s.members)
    acc = {"dot wall": 0.0, "wrap": 0.0}
    run_dot, wrap = runner.layout, compose.wrap_stack

    def timed_dot(sources):
        t = time.perf_counter()
        try:
            return run_dot(sources)
        finally:
            acc["dot wall"] += (time.perf_counter() - t) * 1000

    def timed_wrap(key, lay):
        t = time.process_time()
        try:
            return wrap(key, lay)
        finally:
            acc["wrap"] += (time.process_time() - t) * 1000

    runner.layout, compose.wrap_stack = timed_dot, timed_wrap
    for d in a.depths:
        base = View(h).unfold(all_series=True).open_depth(d)
        closed = [x.id for x in base.data().nodes if x.expandable and not x.expanded]
        picks = [next(x for x in closed if x.startswith(s.members[k] + ".")) for k in (1, n // 2, n - 1)]
        t: dict[str, list[float]] = {k: [] for k in ("view", "layout", "dot wall", "wrap", "svg", "total")}
        for _ in range(a.rounds):
            for p in picks:
                default_cache().clear()
                default_parts().clear()
                if default_shapes is not None:
                    default_shapes().clear()
                to_svg(layout_of(base), legend=False, title=False)  # the view before the click, drawn
                acc["dot wall"] = acc["wrap"] = 0.0
                with gc_paused():
                    view_s, layout_s, svg_s, boxes = click_parts(h, d, p)
                for k, x in (("view", view_s), ("layout", layout_s), ("svg", svg_s),
                             ("total", view_s + layout_s + svg_s)):
                    t[k].append(x * 1000)
                t["dot wall"].append(acc["dot wall"])
                t["wrap"].append(acc["wrap"])
        med = {k: statistics.median(x) for k, x in t.items()}
        ahead = ""
        if a.ahead:
            # the next clicks: every closed box of the base opened and laid out (the base's layouts cached), as a
            # background precomputation would: its CPU, dot's wall time and the distinct graphs dot was given
            default_cache().clear()
            default_parts().clear()
            layout_of(base)
            sources: set[str] = set()
            acc["dot wall"] = 0.0

            def spy(srcs, timed=timed_dot, sources=sources):
                sources.update(srcs)
                return timed(srcs)

            runner.layout = spy
            c0 = time.process_time()
            with gc_paused():
                for x in closed:
                    layout_of(base.open(x))
            ahead_cpu = (time.process_time() - c0) * 1000
            runner.layout = timed_dot
            ahead = (f" One click away: {len(closed)} views; laying them all out costs {ahead_cpu:,.0f} ms CPU and "
                     f"{acc['dot wall']:,.0f} ms of dot (wall) for {len(sources)} distinct graphs")
        print(f"[{a.code}] {a.model} depth {d} unfolded, cold open of a block ({boxes} boxes), CPU ms "
              f"median of {len(t['total'])}: view {med['view']:.1f}, layout {med['layout']:.1f} (of which "
              f"wrapping {med['wrap']:.1f}), SVG {med['svg']:.1f}; total CPU {med['total']:.1f}; dot wall "
              f"{med['dot wall']:.1f}.{ahead}")


if __name__ == "__main__":
    main()
