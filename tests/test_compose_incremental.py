"""Composition by translation (layout/subtree.py): a click recomputes only the containers from the opened box to
the root, and the picture is byte-identical to one composed from scratch.

Each view of a click sequence on bert-xl-48 (48 unfolded layers) is laid out twice through the same dot
results: once with the memo of composed parts the earlier clicks filled, once with an empty memo. Their
layouts (JSON) and SVGs must be identical, and the memoised parts must actually be reused. Independently, every
box is checked against a plain float composition of the same local layouts (parent origin + child centre,
the arithmetic before the exact units): the exact units move a box by at most 0.01 px.
"""

from __future__ import annotations

import json

import pytest

import bertviz_graph.api as bg
from bertviz_graph.layout import DotRunner, LayoutCache, layout_view
from bertviz_graph.layout import compose as compose_mod
from bertviz_graph.layout.cache import key_bytes
from bertviz_graph.layout.subtree import PartMemo, part_key_bytes
from bertviz_graph.memsize import approx_bytes
from bertviz_graph.render.svg import to_svg
from bertviz_graph.view import View


@pytest.fixture(scope="module")
def xl48():
    g = bg.trace("bert-xl-48")
    runner = DotRunner()
    yield g.hierarchy, runner
    runner.close()


def _closed_in(view: View, member: str) -> list[str]:
    return [n.id for n in view.data().nodes if n.expandable and not n.expanded and n.id.startswith(member + ".")]


def _float_boxes(b) -> dict[str, tuple[float, float]]:
    """Box centres composed the old way, in floats from the root (an independent reference)."""
    origin = {None: (0.0, 0.0)}
    out = {}
    stack = [None]
    while stack:
        cid = stack.pop()
        c = b.conts[cid]
        ox, oy = origin[cid]
        for i, k in enumerate(c.children):
            cx, cy = c.layout.child_xy[i]
            w, h = b.child_size(k)
            out[k] = (ox + cx, oy + cy)
            if k in b.conts:
                origin[k] = (ox + cx - w / 2, oy + cy - h / 2)
                stack.append(k)
    return out


def test_incremental_composition_is_byte_identical_to_from_scratch(xl48, monkeypatch):
    h, runner = xl48
    members = next(iter(h.series())).members
    deep = View(h).unfold(all_series=True).open_depth(4)
    a1, a24, a47 = (_closed_in(deep, members[k])[0] for k in (1, 24, 47))
    sid = next(iter(h.series())).id
    folded = View.default(h).open_instance(sid, 0)
    clicks = [deep, deep.open(a1), deep.open(a1).open(a24), deep.open(a24), deep.open(a24).open(a47), deep,
              folded, folded.open_instance(sid, 30)]
    cache, parts = LayoutCache(), PartMemo()
    builders = []
    real = compose_mod._compose
    monkeypatch.setattr(compose_mod, "_compose", lambda b, p=None: (builders.append(b), real(b, p))[1])
    reused = []
    for v in clicks:
        before = parts.hits
        inc = layout_view(v.data(), cache=cache, runner=runner, parts=parts)
        reused.append(parts.hits - before)
        fresh = layout_view(v.data(), cache=cache, runner=runner, parts=PartMemo())
        assert json.dumps(inc.to_json_dict()) == json.dumps(fresh.to_json_dict())
        assert to_svg(inc) == to_svg(fresh)
        ref = _float_boxes(builders[-1])
        assert ref.keys() == inc.boxes.keys()
        worst = max(max(abs(inc.boxes[k].x - x), abs(inc.boxes[k].y - y)) for k, (x, y) in ref.items())
        assert worst <= 0.01 + 1e-9, worst
    # opening one block in layer 24 after layer 1's: the other layers' parts are reused, not recomputed
    assert reused[2] >= 40 and reused[3] >= 40 and reused[4] >= 40, reused
    # both memos size an entry's key from its counts (walking a 48-layer stack's key cost ~20 ms per cold
    # click): never below what the walk finds, so the byte bounds still hold
    for memo, estimate in ((cache, key_bytes), (parts, part_key_bytes)):
        keys = list(memo._data)
        assert len(keys) > 20 and all(approx_bytes(k) <= estimate(k) for k in keys), memo
    assert parts.misses < sum(len(b.conts) for b in builders[::2]), (parts.misses, parts.hits)


def test_incremental_composition_left_to_right(base_graph, xl48):
    """The LR borders too (bert-base: the session's shared trace): a click, memo vs from scratch."""
    h, runner = base_graph.hierarchy, xl48[1]
    sid = next(iter(h.series())).id
    v = View.default(h).open_instance(sid, 3)
    other = next(n.id for n in v.data().nodes if n.expandable and not n.expanded and n.parent is None)
    v = v.open(other)  # a second open box beside the stack: its part is reused when layer 3 changes
    cache, parts = LayoutCache(), PartMemo()
    for view in (v, v.open(_closed_in(v, next(iter(h.series())).members[3])[0])):
        inc = layout_view(view.data(), "LR", cache=cache, runner=runner, parts=parts)
        fresh = layout_view(view.data(), "LR", cache=cache, runner=runner, parts=PartMemo())
        assert json.dumps(inc.to_json_dict()) == json.dumps(fresh.to_json_dict())
        assert inc.routes and all(len(r) % 3 == 1 for r in inc.routes.values())
    assert parts.hits > 0


def test_huge_containers_get_a_positioning_budget():
    """dot's x-positioning of a container with more than 64 children (llama-70b-shape's 80 opened layers ran
    > 400 s) is bounded by nslimit; smaller containers (every BERT) keep dot's full positioning, so their
    pictures do not change."""
    from bertviz_graph.layout.dot_io import HUGE_CONTAINER, dot_source

    def key(n: int):
        kids = tuple((40.0, 20.0) for _ in range(n))
        chain = tuple((("c", i), ("c", i + 1), "data", None) for i in range(n - 1))
        return ("TB", None, kids, 0, 0, chain)

    assert "nslimit" in dot_source(key(HUGE_CONTAINER + 1))
    assert "nslimit" not in dot_source(key(HUGE_CONTAINER)) and "nslimit" not in dot_source(key(48))
