"""The picture drawn container by container (render/svg_layers.py): a click formats only the containers from the
opened box to the root, what a memoised share shows is what drawing it anew shows (colours, strokes, a view
read back from JSON), the memo stays in its byte budget, and every box lands where the layout put it."""

from __future__ import annotations

import dataclasses
import json
from itertools import chain

import pytest

from bertviz_graph.layout import LaidOutView, layout_of
from bertviz_graph.render.svg import to_svg
from bertviz_graph.render.svg_layers import ShapeMemo, diagram_layers
from bertviz_graph.view import View
from tests.svg_coords import edge_paths, node_boxes


def _drawn(lv, memo, fills=None, strokes=None) -> str:
    return "\n".join(chain(*diagram_layers(lv, fills or {}, strokes or {}, memo)))


@pytest.fixture(scope="module")
def deep(base_graph):
    """bert-base, every layer unfolded, five levels open (592 boxes, 122 containers); a closed box of layer 6."""
    h = base_graph.hierarchy
    v = View(h).unfold(all_series=True).open_depth(5)
    layer6 = next(iter(h.series())).members[6]
    block = next(n.id for n in v.data().nodes if n.expandable and not n.expanded and n.id.startswith(layer6 + "."))
    return v, block


def test_a_click_formats_only_the_path_to_the_root(deep):
    v, block = deep
    memo = ShapeMemo()
    _drawn(layout_of(v), memo)
    lv = layout_of(v.open(block))
    assert len(lv.parts) > 100  # every frame of the twelve layers is a container
    path, x = [], block
    while x is not None:  # the opened block and its frames up to the top level
        path.append(x)
        x = next(n.parent for n in lv.view.nodes if n.id == x)
    before = memo.misses
    again = _drawn(lv, memo)
    # each container on the path: its own shapes and its share, once (the opened block's new frames: none,
    # its children are closed boxes); the other ~100 containers are read back
    assert memo.misses - before <= 2 * (len(path) + 1), (memo.misses - before, path)
    assert again == _drawn(lv, ShapeMemo())


def test_colours_and_strokes_are_part_of_what_is_memoised(deep):
    """The same geometry drawn with other fills (colour-by) or edge strokes (the training step) is drawn anew:
    never another colouring's strings."""
    v, _ = deep
    lv = layout_of(v)
    memo = ShapeMemo()
    ids = [n.id for n in lv.view.nodes]
    a = {k: "#123456" for k in ids[::2]}
    b = {k: "#abcdef" for k in ids[::3]}
    some_edge = next(iter(lv.routes))
    plain, first, second = _drawn(lv, memo), _drawn(lv, memo, a), _drawn(lv, memo, b)
    stroked = _drawn(lv, memo, b, {some_edge: ("#ff0000", 3.0)})
    assert len({plain, first, second, stroked}) == 4
    assert "#abcdef" in second and "#123456" not in second
    assert second == _drawn(lv, ShapeMemo(), b)
    assert _drawn(lv, memo) == plain == _drawn(lv, ShapeMemo())


@pytest.mark.parametrize("direction", ["TB", "LR"])
def test_a_view_without_parts_is_drawn_the_same(base_graph, direction):
    """Read back from JSON (absolute boxes only), a view's parts are derived from its boxes: the same picture."""
    h = base_graph.hierarchy
    sid = next(iter(h.series())).id
    v = View.default(h).open_instance(sid, 2).open_depth(2)
    lv = layout_of(dataclasses.replace(v, direction=direction))
    back = LaidOutView.from_json_dict(json.loads(json.dumps(lv.to_json_dict())))
    assert back.parts is None
    assert to_svg(back) == to_svg(lv) == to_svg(dataclasses.replace(lv, parts=None))


def test_every_box_and_route_lands_where_the_layout_put_it(deep):
    """data-box and path numbers plus the translations of the frames around them (tests/svg_coords.py) are the
    layout's absolute boxes and routes, in a wrapped, deeply opened picture."""
    v, block = deep
    lv = layout_of(v.open(block))
    svg = to_svg(lv, legend=False, title=False)
    boxes, paths = node_boxes(svg), edge_paths(svg)
    assert boxes.keys() == lv.boxes.keys()
    for k, b in lv.boxes.items():
        assert boxes[k] == pytest.approx((b.left, b.top, b.w, b.h), abs=0.011), k
    drawn = [e for e in lv.view.edges if len(lv.routes.get(e.id, ())) >= 4]
    assert len(drawn) > 400
    for e in drawn:
        assert [c for p in paths[e.id] for c in p] == pytest.approx([c for p in lv.routes[e.id] for c in p],
                                                                   abs=0.011), e.id
    assert svg.count('<g class="at" ') > 50  # drawn nested, not flat


def test_the_memo_keeps_to_its_budget(deep):
    v, block = deep
    memo = ShapeMemo(max_bytes=300_000)
    for view in (v, v.open(block), v.close(next(iter(v.state.opened)))):
        lv = layout_of(view)
        assert _drawn(lv, memo) == _drawn(lv, ShapeMemo())
        assert 0 < memo.nbytes <= 300_000
