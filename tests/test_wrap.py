"""Unfolded layer stacks wrap into columns (layout/wrap.py): the whole model stays within 3:1, in the layout and in
the exported SVG; folded pictures are untouched; routes still run border to border around foreign boxes."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from test_layout import ancestors, bezier_points, check_invariants, inside  # noqa: E402

from bertviz_graph.layout import LayoutCache, compose, layout_view  # noqa: E402
from bertviz_graph.render.svg import to_svg  # noqa: E402
from bertviz_graph.view import View  # noqa: E402

LAYERS = [f"bert.encoder.layer.{i}" for i in range(12)]


@pytest.fixture(scope="module")
def bert(base_graph):
    return base_graph


def _aspect(w: float, h: float) -> float:
    return max(w / h, h / w)


def _svg_size(svg: str) -> tuple[float, float]:
    w, h = re.search(r'<svg [^>]*width="([\d.]+)" height="([\d.]+)"', svg).groups()
    return float(w), float(h)


def _unwrapped(view, direction: str = "TB"):
    """The same view laid out with wrapping switched off (what dot alone gives)."""
    mp = pytest.MonkeyPatch()
    mp.setattr(compose, "wrap_stack", lambda key, lay: lay)
    try:
        return layout_view(view, direction, LayoutCache())
    finally:
        mp.undo()


def test_unfolded_bert_base_at_depth_9_is_within_3_to_1(bert):
    view = bert.view(depth=9, unfold=True)
    lv = layout_view(view.data(), "TB", LayoutCache())
    before = _unwrapped(view.data())
    assert _aspect(before.width, before.height) > 20  # the strip this fixes (29:1 with the title and legend)
    assert _aspect(lv.width, lv.height) <= 3.0
    assert _aspect(*_svg_size(to_svg(lv))) <= 3.0
    assert _aspect(*_svg_size(bert.view(depth=9, unfold=True).to_svg())) <= 3.0  # what `export` writes
    boxes = [lv.boxes[k] for k in LAYERS]
    assert len({(b.w, b.h) for b in boxes}) == 1
    # column-major: each next layer is below the last (same column) or starts a column to its right
    for a, b in zip(boxes, boxes[1:], strict=False):
        assert b.top >= a.bottom or (b.left >= a.right and b.top <= a.top)
    assert len({round(b.left) for b in boxes}) > 1  # it did wrap
    # every route keeps out of the layers it does not enter (the full check_invariants is too slow here)
    for e in lv.view.edges:
        if e.id not in lv.routes:
            continue
        allowed = {e.source, e.target} | ancestors(lv.view, e.source) | ancestors(lv.view, e.target)
        pts = bezier_points(lv.routes[e.id], per_segment=6)
        for k, b in zip(LAYERS, boxes, strict=True):
            assert k in allowed or not any(inside(p, b, shrink=3.0) for p in pts), (e.id, k)


@pytest.mark.parametrize("depth", [1, 2, 3, 4])
def test_unfolded_bert_base_within_3_to_1_at_every_depth(bert, depth):
    lv = layout_view(bert.view(depth=depth, unfold=True).data(), "TB", LayoutCache())
    assert _aspect(lv.width, lv.height) <= 3.0
    check_invariants(lv)


def test_folded_pictures_do_not_change(bert):
    """No folded container holds a run of identical chained boxes: wrapping leaves every one as dot drew it."""
    for view in (View.default(bert.hierarchy), bert.view(depth=9)):
        data = view.data()
        assert layout_view(data, "TB", LayoutCache()).to_json_dict() == _unwrapped(data).to_json_dict()


def test_lr_is_left_as_dot_drew_it(bert):
    data = bert.view(depth=4, unfold=True, direction="LR").data()
    assert layout_view(data, "LR", LayoutCache()).to_json_dict() == _unwrapped(data, "LR").to_json_dict()


def test_only_chains_of_opened_frames_are_runs():
    """A chain of equal op boxes (T5's position buckets in a folded picture) is no stack; opened frames are."""
    from types import SimpleNamespace

    from bertviz_graph.layout.wrap import find_run

    chain = tuple((("c", i, None), ("c", i + 1, None), "data", None) for i in range(4))
    lay = SimpleNamespace(child_xy=tuple((50.0, 40.0 * i) for i in range(5)))
    assert find_run(("TB", None, ((82.0, 36.0),) * 5, 0, 0, chain), lay) == []
    frames = ((82.0, 36.0, (41,), (41,)),) * 5
    assert find_run(("TB", None, frames, 0, 0, chain), lay) == [0, 1, 2, 3, 4]
    unlinked = chain[:2] + chain[3:]  # no piece from child 2 into child 3: two chains of 3 and 2
    assert find_run(("TB", None, frames, 0, 0, unlinked), lay) == [0, 1, 2]
