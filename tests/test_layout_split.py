"""Layout split by concern and the SVG's batched number formatting: same bytes as one number at a time.

- every module of the package stays under 600 lines (compose.py was 714 before the split);
- ``svg_shapes.nums`` / ``svg_shapes._path_d`` (one C-level format + one regex pass) write each number exactly as the
  per-number rule ``f"{v:.2f}".rstrip("0").rstrip(".")`` does, on random values, ties, signs and zeros;
- a whole laid-out picture drawn by ``to_svg`` equals one drawn with every number formatted one at a time.
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from synthetic_views import bert_like  # noqa: E402

from bertviz_graph.layout import DotRunner, LayoutCache, layout_view  # noqa: E402
from bertviz_graph.render import svg, svg_layers, svg_shapes  # noqa: E402

PKG = Path(__file__).resolve().parents[1] / "bertviz_graph"


def one(v: float) -> str:
    """The rule, written independently: two decimals, then trailing zeros and a bare dot dropped."""
    s = "%.2f" % v  # noqa: UP031
    if "." in s:
        s = s.rstrip("0").rstrip(".")
    return s


def test_no_package_file_over_600_lines():
    sizes = {str(p.relative_to(PKG)): len(p.read_text(encoding="utf-8").splitlines()) for p in PKG.rglob("*.py")}
    assert sizes["layout/compose.py"] < 600 and "layout/pieces.py" in sizes and "layout/dot_io.py" in sizes
    assert {k: n for k, n in sizes.items() if n > 600} == {}


def test_batched_numbers_match_one_at_a_time():
    rng = random.Random(7)
    vals = [0.0, -0.0, 1.0, -1.0, 10.0, 100.0, 1000.5, 0.5, 0.05, 0.005, 0.015, 2.675, 92.705, -0.004, -12.30,
            1e6, 123456.789, 0.1 + 0.2]
    vals += [rng.uniform(-5000, 5000) for _ in range(3000)]
    vals += [round(rng.uniform(-500, 500), rng.choice([0, 1, 2, 3])) for _ in range(3000)]
    vals += [k / 1000 for k in range(-3000, 3000, 7)]  # exact ties at the third decimal
    for i in range(0, len(vals), 9):
        chunk = vals[i:i + 9]
        assert svg_shapes.nums(*chunk) == [one(v) for v in chunk]
    pts = [(vals[i], vals[i + 1]) for i in range(0, 3 * 2 * 50 + 2, 2)]  # p0 + 50 Bézier segments
    for n in (1, 2, 4, 7, 101, len(pts)):  # a trailing incomplete segment is dropped, as before
        p = pts[:n]
        ref = [f"M{one(p[0][0])},{one(p[0][1])}"]
        for k in range(1, n - 2, 3):
            c1, c2, q = p[k], p[k + 1], p[k + 2]
            ref.append(f"C{one(c1[0])},{one(c1[1])} {one(c2[0])},{one(c2[1])} {one(q[0])},{one(q[1])}")
        assert svg_shapes._path_d(p) == " ".join(ref)


def test_picture_equals_per_number_formatting(monkeypatch):
    r = DotRunner()
    try:
        lv = layout_view(bert_like(2), cache=LayoutCache(), runner=r)
    finally:
        r.close()
    fast = svg.to_svg(lv)
    assert fast.count('class="node"') == len(lv.view.nodes) and lv.routes
    # the same picture with every number formatted on its own (the batching switched off)
    for module in (svg_shapes, svg_layers):
        monkeypatch.setattr(module, "nums", lambda *vals: [one(v) for v in vals])

    def path_d(pts):
        d = [f"M{one(pts[0][0])},{one(pts[0][1])}"]
        for i in range(1, len(pts) - 2, 3):
            c1, c2, p = pts[i], pts[i + 1], pts[i + 2]
            d.append(f"C{one(c1[0])},{one(c1[1])} {one(c2[0])},{one(c2[1])} {one(p[0])},{one(p[1])}")
        return " ".join(d)

    monkeypatch.setattr(svg_shapes, "_path_d", path_d)
    svg_layers.default_shapes().clear()  # drawn again, not read back from the memo
    slow = svg.to_svg(lv)
    assert fast == slow


def test_layout_and_svg_run_with_the_collector_paused_and_restore_it(monkeypatch):
    import contextlib
    import gc

    from bertviz_graph.gc_pause import gc_paused
    from bertviz_graph.layout import compose

    seen = [0]

    def on_gc(phase: str, _info: dict) -> None:
        seen[0] += phase == "start"

    view = bert_like(2)
    old = gc.get_threshold()
    r = DotRunner()

    def collections_while_drawing() -> int:
        cache = LayoutCache()
        gc.set_threshold(5)  # a collection every few allocations while the collector is on
        seen[0] = 0
        try:
            svg.to_svg(layout_view(view, cache=cache, runner=r))
        finally:
            gc.set_threshold(*old)
        return seen[0]

    gc.callbacks.append(on_gc)
    try:
        assert gc.isenabled()
        paused = collections_while_drawing()  # only where each pause begins and ends
        assert gc.isenabled()
        monkeypatch.setattr(compose, "gc_paused", contextlib.nullcontext)
        monkeypatch.setattr(svg, "gc_paused", contextlib.nullcontext)
        unpaused = collections_while_drawing()
        assert paused <= 4 < 20 < unpaused, (paused, unpaused)
        gc.disable()  # a collector someone else turned off stays off
        with gc_paused(), gc_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
        gc.callbacks.remove(on_gc)
        gc.set_threshold(*old)
        r.close()
