"""Layout: boxes nest and do not overlap, routes run border to border around foreign boxes, cache works."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from synthetic_views import bert_like  # noqa: E402

from bertviz_graph.errors import UserError  # noqa: E402
from bertviz_graph.layout import (  # noqa: E402
    DotRunner,
    LaidOutView,
    LayoutCache,
    NodeBox,
    layout_view,
    measure,  # noqa: E402
)
from bertviz_graph.layout.dot_runner import MAX_GRAPHS_PER_PROCESS  # noqa: E402
from bertviz_graph.view_types import VEdge, ViewData, VNode  # noqa: E402


@pytest.fixture(scope="module")
def runner():
    r = DotRunner()
    yield r
    r.close()


def lay(
    view: ViewData, runner: DotRunner, direction: str = "TB", cache: LayoutCache | None = None
) -> LaidOutView:
    return layout_view(view, direction, cache if cache is not None else LayoutCache(), runner=runner)


# ---- geometry helpers -------------------------------------------------------------------------------
def bezier_points(route: list[tuple[float, float]], per_segment: int = 12) -> list[tuple[float, float]]:
    out = [route[0]]
    for i in range(0, len(route) - 3, 3):
        p0, c1, c2, p3 = route[i : i + 4]
        for k in range(1, per_segment + 1):
            t = k / per_segment
            a, b, c, d = (1 - t) ** 3, 3 * (1 - t) ** 2 * t, 3 * (1 - t) * t**2, t**3
            out.append(
                (a * p0[0] + b * c1[0] + c * c2[0] + d * p3[0], a * p0[1] + b * c1[1] + c * c2[1] + d * p3[1])
            )
    return out


def inside(p: tuple[float, float], b: NodeBox, shrink: float = 0.0) -> bool:
    return b.left + shrink < p[0] < b.right - shrink and b.top + shrink < p[1] < b.bottom - shrink


def border_distance(p: tuple[float, float], b: NodeBox) -> float:
    """Distance from p to the rectangle's outline."""
    dx = max(b.left - p[0], 0.0, p[0] - b.right)
    dy = max(b.top - p[1], 0.0, p[1] - b.bottom)
    if dx or dy:
        return math.hypot(dx, dy)
    return min(p[0] - b.left, b.right - p[0], p[1] - b.top, b.bottom - p[1])


def ancestors(view: ViewData, nid: str) -> set[str]:
    by = {n.id: n for n in view.nodes}
    out, cur = set(), by[nid].parent
    while cur is not None:
        out.add(cur)
        cur = by[cur].parent
    return out


def check_invariants(lv: LaidOutView) -> None:
    view = lv.view
    by = {n.id: n for n in view.nodes}
    assert set(lv.boxes) == set(by)
    for n in view.nodes:
        b = lv.boxes[n.id]
        assert b.w > 0 and b.h > 0
        if not n.expanded:  # a collapsed box is at least its text's size
            assert (b.w, b.h) == measure.node_size(n)
        if n.parent is not None:  # inside the parent's frame, below its title bar, with a margin
            p = lv.boxes[n.parent]
            title_h = measure.title_bar_height()
            assert b.left >= p.left + 2 and b.right <= p.right - 2, (n.id, n.parent)
            assert b.top >= p.top + title_h and b.bottom <= p.bottom - 2, (n.id, n.parent)
    siblings: dict[str | None, list[NodeBox]] = {}
    for n in view.nodes:
        siblings.setdefault(n.parent, []).append(lv.boxes[n.id])
    for group in siblings.values():
        for i, a in enumerate(group):
            for b in group[i + 1 :]:
                overlap_x = min(a.right, b.right) - max(a.left, b.left)
                overlap_y = min(a.bottom, b.bottom) - max(a.top, b.top)
                assert overlap_x <= 0 or overlap_y <= 0, (a.id, b.id)
    for e in view.edges:
        if e.source == e.target:
            continue
        r = lv.routes[e.id]
        assert len(r) >= 4 and len(r) % 3 == 1, e.id
        assert border_distance(r[0], lv.boxes[e.source]) < 3.0, (e.id, r[0], lv.boxes[e.source])
        assert border_distance(r[-1], lv.boxes[e.target]) < 3.0, (e.id, r[-1], lv.boxes[e.target])
        # the boxes an edge may cross: its ends and the frames holding them
        allowed = {e.source, e.target} | ancestors(view, e.source) | ancestors(view, e.target)
        pts = bezier_points(r)
        for nid, b in lv.boxes.items():
            if nid in allowed:
                continue
            hits = [p for p in pts if inside(p, b, shrink=3.0)]
            assert not hits, f"edge {e.id} crosses {nid} at {hits[:3]}"


# ---- tests ------------------------------------------------------------------------------------------
def test_model_like_view_invariants(runner):
    lv = lay(bert_like(2), runner)
    check_invariants(lv)
    assert lv.width > 0 and lv.height > 0
    for b in lv.boxes.values():
        assert 0 <= b.left and b.right <= lv.width and 0 <= b.top and b.bottom <= lv.height


def test_lr_direction_invariants(runner):
    lv = lay(bert_like(1), runner, direction="LR")
    check_invariants(lv)
    assert lv.width > lv.height  # data flows left to right


def test_data_flows_down_and_weights_sit_above_their_op(runner):
    lv = lay(bert_like(1), runner)
    b = lv.boxes
    assert b["input_ids"].y < b["emb"].y < b["enc"].y < b["pooler"].y < b["pooler_output"].y
    a = "enc.layer.0.attention"
    for x in ("query", "key", "value"):
        assert b[f"{a}.{x}.weight"].bottom <= b[f"{a}.{x}"].top
    assert b[f"{a}.scores"].y < b[f"{a}.softmax"].y < b[f"{a}.context"].y


def test_frame_ends_enter_the_frame_border(runner):
    """An edge from a hidden series member to the shown layer's frame ends on that frame's top border;
    an edge whose source is its own container starts on the container's top border."""
    lv = lay(bert_like(1), runner)
    layer = lv.boxes["enc.layer.0"]
    end = lv.routes["e_series_frame"][-1]
    assert abs(end[1] - layer.top) < 1.5 and layer.left < end[0] < layer.right
    att = lv.boxes["enc.layer.0.attention"]
    start = lv.routes["enc.layer.0.attention->enc.layer.0.attention.softmax"][0]
    assert abs(start[1] - att.top) < 1.5 and att.left < start[0] < att.right


def test_deep_edges_cross_frame_borders_once(runner):
    """A hidden series member feeding q inside layer ▸ attention crosses the layer's top border, then
    the attention frame's top border, each once (ports), and never leaves through a side."""
    lv = lay(bert_like(1), runner)
    pts = bezier_points(lv.routes["enc.series->enc.layer.0.attention.query"], 24)
    for frame in ("enc.layer.0", "enc.layer.0.attention"):
        b = lv.boxes[frame]
        flags = [inside(p, b) for p in pts]
        entries = sum(1 for a, c in zip(flags, flags[1:]) if not a and c)
        assert entries == 1 and flags[-1], frame
        first_in = pts[flags.index(True)]
        assert abs(first_in[1] - b.top) < 6


def test_residual_and_labels(runner):
    lv = lay(bert_like(1), runner)
    assert "enc.series->enc.layer.0.add" in lv.routes  # residual drawn like any edge
    assert "e_in" in lv.label_pos and "e_pool" in lv.label_pos
    # weights carry their shape on their own box: no label on param edges
    assert not any(k.endswith(".query.weight->enc.layer.0.attention.query") for k in lv.label_pos)
    # a label sits next to its own route
    x, y = lv.label_pos["e_in"]
    pts = bezier_points(lv.routes["e_in"])
    assert min(math.hypot(px - x, py - y) for px, py in pts) < 60


def test_deterministic(runner):
    v = bert_like(2)
    a = lay(v, runner).to_json_dict()
    b = lay(v, runner).to_json_dict()
    cache = LayoutCache()
    lay(v, runner, cache=cache)
    c = lay(v, runner, cache=cache).to_json_dict()  # all from cache
    assert a == b == c


def test_identical_layers_share_one_dot_run(runner):
    """Layers 1..n-1 of a chain are identical inside: opening more of them costs no more dot runs."""
    counts = []
    for n in (2, 5):
        cache = LayoutCache()
        g0 = runner.graphs
        lv = lay(bert_like(n), runner, cache=cache)
        counts.append(runner.graphs - g0)
        check_invariants(lv) if n == 2 else None
        expanded = sum(1 for v in lv.view.nodes if v.expanded) + 1
        assert cache.stats()["misses"] < expanded
    assert counts[0] == counts[1]
    # shared layouts still give each layer its own place: same shape, shifted
    lv = lay(bert_like(3), runner)
    b1, b2 = lv.boxes["enc.layer.1"], lv.boxes["enc.layer.2"]
    # (3 layers of this shape wrap into columns, layout/wrap.py: the next layer is below or to the right)
    assert (b1.w, b1.h) == (b2.w, b2.h) and (b2.top >= b1.bottom or b2.left >= b1.right)
    q1, q2 = lv.boxes["enc.layer.1.attention.query"], lv.boxes["enc.layer.2.attention.query"]
    assert q1.x - b1.left == pytest.approx(q2.x - b2.left, abs=0.02)


def test_warm_relayout_after_opening_one_group(runner):
    """Opening one group re-runs dot only for that group and the frames around it."""
    closed = bert_like(2)
    opened = bert_like(2)
    # open layer 1's BertIntermediate: it gets two ops inside
    p = "enc.layer.1.intermediate"
    for n in opened.nodes:
        if n.id == p:
            n.expanded = True
    opened.nodes += [
        VNode(f"{p}.dense", "op", "dense", "Linear 768→3072", "linear", p),
        VNode(f"{p}.gelu", "op", "gelu", "", "activation", p),
    ]
    opened.edges = [e for e in opened.edges if p not in (e.source, e.target)]
    opened.edges += [
        VEdge("i1", "enc.layer.1.ln", f"{p}.dense", "enc.layer.1", "data", 1, [], "[1, 16, 768]"),
        VEdge("i2", f"{p}.dense", f"{p}.gelu", p),
        VEdge("i3", f"{p}.gelu", "enc.layer.1.output", "enc.layer.1", "data", 1, [], "[1, 16, 3072]"),
    ]
    cache = LayoutCache()
    lay(closed, runner, cache=cache)
    g0 = runner.graphs
    lv = lay(opened, runner, cache=cache)
    # the opened group, layer 1, the encoder and the top level: nothing else
    assert runner.graphs - g0 == 4
    check_invariants(lv)


def test_json_round_trip(runner):
    lv = lay(bert_like(1), runner)
    d = json.loads(json.dumps(lv.to_json_dict()))
    back = LaidOutView.from_json_dict(d)
    assert back == lv
    assert d["version"] == 1 and set(d) >= {"view", "width", "height", "boxes", "routes", "label_pos"}
    assert set(d["boxes"]["emb"]) == {"x", "y", "w", "h"}


def test_odd_views(runner, caplog):
    nodes = [
        VNode("a", "op", "a"),
        VNode("empty", "group", "Empty frame", "opened, nothing inside", "module", expanded=True),
        VNode("solo", "group", "Solo", "", "module", expanded=True),
        VNode("solo.x", "op", "x ×", "", "other", "solo"),
        VNode("orphan", "op", "orphan", "", "other", "no-such-parent"),
        VNode("weird", "op", "<&\"'>\u2603 \x01", "日本語のラベル", "nope"),
    ]
    edges = [
        VEdge("self", "a", "a", None),
        VEdge("ghost", "a", "missing", None),
        VEdge("ok", "a", "solo.x", None, "data", 1, [], "lbl"),
        VEdge("in_empty", "a", "empty", None),
        VEdge("w", "weird", "a", None, "strange-kind"),
    ]
    lv = lay(ViewData("odd", "", nodes, edges), runner)
    assert set(lv.boxes) == {n.id for n in nodes}
    assert "self" not in lv.routes and "ghost" not in lv.routes
    assert {"ok", "in_empty", "w"} <= set(lv.routes)
    assert lv.boxes["weird"].w >= measure.text_width("日本語のラベル", measure.SUBLABEL_PX)
    assert lv.boxes["empty"].h >= measure.title_bar_height()
    empty = lay(ViewData("nothing", "", [], []), runner)
    assert empty.boxes == {} and empty.routes == {} and empty.width > 0


def test_bad_direction(runner):
    with pytest.raises(UserError):
        layout_view(bert_like(1), "BT", LayoutCache(), runner=runner)


def test_dot_processes_are_recycled():
    """dot 2.43 crashes after ~255 internal passes in one process: a runner must replace its processes."""
    r = DotRunner(workers=1)
    try:
        srcs = [
            f"digraph g{i} {{ {{rank=source; p}} a{i} -> b; p -> a{i}; b -> c [label=x]; {{rank=sink; q}} c -> q; }}"
            for i in range(2 * MAX_GRAPHS_PER_PROCESS + 5)
        ]
        out = r.layout(srcs)
        assert len(out) == len(srcs) and all("bb" in o for o in out)
        assert r.processes_started >= 3
    finally:
        r.close()


def test_missing_dot_is_a_user_error():
    r = DotRunner(dot=None)
    r._dot = None
    import shutil

    orig = shutil.which
    try:
        shutil.which = lambda *_a, **_k: None  # type: ignore[assignment]
        with pytest.raises(UserError, match="dot"):
            r.layout(["digraph { a }"])
    finally:
        shutil.which = orig  # type: ignore[assignment]
        r.close()


def test_measure_never_clips():
    """Our widths against the real font's advance widths (FreeType via Pillow, not our table)."""
    from PIL import ImageFont

    fonts = {bold: ImageFont.truetype(f"/usr/share/fonts/truetype/dejavu/DejaVuSans{'-Bold' if bold else ''}.ttf",
                                      size=1000) for bold in (False, True)}
    texts = ["BertLayer ×11", "layers 0-10", "Linear 768→3072", "query (linear)", "[1, 16, 768]", "WWW", "iii",
             "softmax · ÷√64", "LayerNorm ε=1e-12"]
    for text in texts:
        for bold in (False, True):
            real = fonts[bold].getlength(text) * 12 / 1000
            ours = measure.text_width(text, 12, bold=bold)
            assert ours >= real - 0.5, (text, bold, ours, real)  # never narrower than the font: no clipping
            assert ours <= real * 1.03 + 1, (text, bold, ours, real)  # and not wildly wide
    n = VNode("x", "series", "BertLayer", "layers 0-10", "layer", count=11)
    w, h = measure.node_size(n)
    assert measure.display_label(n) == "BertLayer ×11"
    real_label = fonts[True].getlength("BertLayer ×11") * measure.LABEL_PX / 1000
    assert w >= real_label + 2 * measure.GROUP_PAD_X + 2 * measure.STACK_OFFSET
    asc, desc = fonts[False].getmetrics()
    assert h >= (asc + desc) / 1000 * (measure.LABEL_PX + measure.SUBLABEL_PX) + 2 * measure.STACK_OFFSET


@pytest.mark.parametrize("direction", ["TB", "LR"])
def test_primitive_op_level_model_invariants(runner, direction):
    """The benchmark's op-level BERT (modules → ops + weights, mask into every layer), fully open and cut."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from layout_scaling import bert_model, cut

    m = bert_model(3)
    for collapsed in (set(), {"bert.embeddings", "bert.encoder.layer.1.attention"}):
        lv = lay(cut(m, collapsed), runner, direction=direction)
        check_invariants(lv)
    # identical layers stay aligned: no sideways drift down the chain
    xs = {round(lv.boxes[f"bert.encoder.layer.{i}"].x, 1) for i in (0, 2)}
    assert len(xs) == 1 or direction == "LR"


def test_cache_size_estimates_err_large():
    """The layout cache and the app's picture cache size entries by estimate (walking them cost a click
    tens of ms); the estimate must not undercount what the walk finds, or the byte budgets would leak."""
    import dataclasses

    from bertviz_graph.memsize import approx_bytes

    cache = LayoutCache()
    lv = layout_view(bert_like(2), cache=cache)
    entries = list(cache._data.values())  # (value, bytes it was counted as)
    assert len(entries) >= 3
    for lay, nbytes in entries:
        assert nbytes >= lay.nbytes >= approx_bytes(dataclasses.astuple(lay))

    from bertviz_graph.app.context import Rendered
    from bertviz_graph.render.svg import to_svg

    svg = to_svg(lv, legend=False, title=False)
    r = Rendered(view=None, lv=lv, svg=svg, values={}, vrange=None)
    assert r.nbytes >= approx_bytes((lv, svg))


def test_a_click_leaves_no_cyclic_garbage(base_graph):
    """The app's warm click (view, layout, SVG) makes no reference cycles: everything it drops is freed by reference
    counting as it goes, none left for the cyclic collector when gc_pause ends (a recursive closure holding the
    pieces builder left ~30,000 objects a click at 48 layers: ~100 ms of collection)."""
    import gc

    from bertviz_graph.app.context import AppContext
    from bertviz_graph.view import View

    h = base_graph.hierarchy
    state = View(h).unfold(all_series=True).open_depth(4).open("bert.encoder.layer.6.attention.self.query").state
    AppContext(base_graph).render(state, "role")  # dot's layouts cached: a warm click (dot's own runs aside)
    ctx = AppContext(base_graph)
    gc.collect()
    gc.disable()
    try:
        got = ctx.render(state, "role")
        assert gc.collect() == 0
    finally:
        gc.enable()
    assert len(got.lv.boxes) > 150 and got.svg.count('class="node"') == len(got.lv.boxes)
