"""The Dash app without a browser: the picture, the graph controller, state checks, weights answers, routes."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET

import numpy as np
import pytest

import bertviz_graph as bg
from bertviz_graph.app import graph_panel, ids, make_app
from bertviz_graph.app.context import AppContext, color_for
from bertviz_graph.app.graph_panel import controller
from bertviz_graph.app.weights_panel import NPY_ROUTE, weight_options, window_from_relayout
from bertviz_graph.presenters.weights import readout
from bertviz_graph.render import weights as rw
from bertviz_graph.view import View
from tests.svg_coords import node_boxes

SERIES = "bert.encoder.layer[0-1]"
ATTN = "bert.encoder.layer.0.attention"
SELF = "bert.encoder.layer.0.attention.self"
QW = "bert.encoder.layer.0.attention.self.query.weight"
SVG = "{http://www.w3.org/2000/svg}"


def _click(nid: str, toggle: bool = True, part: str = "box") -> dict:
    return {"type": "click", "id": nid, "toggle": toggle, "part": part, "nonce": 1}


@pytest.fixture(scope="module")
def graph():
    return bg.trace("bert-tiny")


@pytest.fixture(scope="module")
def C(graph):
    return AppContext(graph)


def _state(C, *opened):
    v = C.view(C.default_state)
    for g in opened:
        v = v.open_instance(g, 0) if C.h.groups[g].kind == "series" else v.open(g)
    return v.state.to_json_dict()


# ---- the picture ---------------------------------------------------------------------------------------
def _nodes(svg: str) -> dict[str, ET.Element]:
    """g.node elements of an SVG picture by data-id."""
    root = ET.fromstring(svg.split("?>", 1)[-1])
    return {g.get("data-id"): g for g in root.iter(f"{SVG}g") if g.get("class") == "node"}


def _fill(g: ET.Element) -> str:
    return next(c for c in g if c.tag in (f"{SVG}rect", f"{SVG}path")).get("fill")


def test_picture_matches_the_layout(C):
    """The app's picture is render.svg of the laid-out view: every visible node, at the layout's box."""
    state, _ = C.state(_state(C, SERIES, ATTN, SELF))
    r = C.render(state)
    nodes = _nodes(r.svg)
    assert set(nodes) == {n.id for n in r.lv.view.nodes}
    at = node_boxes(r.svg)  # data-box plus the frames' translations
    for n in r.lv.view.nodes:
        b = r.lv.boxes[n.id]
        assert at[n.id] == pytest.approx((b.left, b.top, b.w, b.h), abs=0.011)
        assert nodes[n.id].get("data-expanded") == str(int(n.expanded))
    assert nodes[SELF].get("data-parent") == ATTN
    edges = ET.fromstring(r.svg.split("?>", 1)[-1]).iter(f"{SVG}g")
    assert sum(1 for g in edges if g.get("class") == "edge") == len(r.lv.view.edges)


def test_colour_modes(C):
    for mode in ("flops", "params", "norm"):
        r = C.render(C.default_state, mode)
        assert r.vrange is not None and r.vrange[0] > 0
        fills = {k: _fill(g) for k, g in _nodes(r.svg).items()}
        assert fills["bert.embeddings"] != fills["output:0"]
    assert color_for(None, 1, 10) == color_for(0, 1, 10)
    assert color_for(1, 1, 10) != color_for(10, 1, 10)


# ---- controller -------------------------------------------------------------------------------------------
def test_tap_opens_a_series_and_the_bar_closes_it(C):
    out = controller(C, ids.GRAPH_EVENT, event=_click(SERIES), state=_state(C))
    assert SERIES in out["state"]["opened"] and out["focus"]["mode"] == "fit"
    assert _nodes(out["picture"]["svg"])[SERIES].get("data-expanded") == "1"
    assert out["picture"]["marks"]["selected"] == SERIES
    assert out["series_style"] == {"display": "flex"} and out["series_max"] == 1
    assert out["crumbs"] and out["notice"] == ""
    out2 = controller(C, ids.GRAPH_EVENT, event=_click(SERIES, part="title"), state=out["state"])
    assert SERIES not in out2["state"]["opened"]
    assert out2["series_style"] == {"display": "none"}


def test_tap_on_an_op_only_selects(C):
    state = _state(C, SERIES, ATTN, SELF)
    out = controller(C, ids.GRAPH_EVENT, event=_click("softmax", toggle=False), state=state)
    assert "picture" not in out and "state" not in out
    # a click on an opened frame's body selects it, does not close it
    out = controller(C, ids.GRAPH_EVENT, event=_click(SELF, toggle=False, part="body"), state=state)
    assert "state" not in out
    assert out["crumbs"]


def test_stale_and_unknown_ids_get_a_sentence(C):
    out = controller(C, ids.GRAPH_EVENT, event=_click("no.such.node"), state=_state(C))
    assert "not in this model" in out["notice"] and "picture" in out
    # a real node that is not visible in this view (a stale click from an older picture)
    out = controller(C, ids.GRAPH_EVENT, event=_click("softmax"), state=_state(C))
    assert "not in the current view" in out["notice"]
    # a view state with ids this model does not have, and garbage types
    bad = {"opened": ["bert", "ghost.group", 7], "instance": {SERIES: "x", "ghost": 3}, "unfolded": "nope"}
    out = controller(C, ids.COLOR_BY, state=bad, color_by="role")
    assert "ignored" in out["notice"] and out["state"]["opened"] == ["bert"]
    for junk in (None, [], "text", {"opened": None}):
        state, _ = C.state(junk)
        assert isinstance(C.view(state).data().nodes, list)
    out = controller(C, ids.VIEW_REQUEST, request={"action": "reveal", "id": "nope"}, state=_state(C))
    assert "not in this model" in out["notice"]
    out = controller(C, ids.VIEW_REQUEST, request={"action": "dance", "id": "bert"}, state=_state(C))
    assert "unknown request" in out["notice"]


def test_search_reveals_and_highlights(C):
    out = controller(C, ids.SEARCH_GO, query="query", state=_state(C), search=None)
    assert out["search"]["matches"] and "1 of" in out["search_info"]
    assert SELF in out["state"]["opened"]
    hl = set(out["picture"]["marks"]["matches"])
    assert "bert.encoder.layer.0.attention.self.query" in hl
    assert out["picture"]["marks"]["selected"] == out["search"]["matches"][0]
    out2 = controller(C, ids.SEARCH_NEXT, query="query", state=out["state"], search=out["search"])
    assert out2["search"]["index"] == 1
    out3 = controller(C, ids.SEARCH_GO, query="zzz-nothing", state=_state(C), search=None)
    assert "no match" in out3["search_info"]
    out4 = controller(C, ids.SEARCH_GO, query="[unclosed", state=_state(C), search=None)  # bad regex: plain text
    assert "not a regular expression" in out4["search_info"] and "no match" in out4["search_info"]
    # the result names the layer it is in: softmax of the first layer of the folded ×2 stack
    out5 = controller(C, ids.SEARCH_GO, query="softmax", state=_state(C), search=None)
    assert out5["search_info"].startswith("1 of 2: ") and out5["search_info"].endswith(" in layer 0")
    out6 = controller(C, ids.SEARCH_NEXT, query="softmax", state=out5["state"], search=out5["search"])
    assert out6["search_info"].startswith("2 of 2: ") and out6["search_info"].endswith(" in layer 1")


def test_large_view_asks_first(C, monkeypatch):
    monkeypatch.setattr(graph_panel, "LARGE_VIEW", 40)
    out = controller(C, ids.OPEN_ALL, state=_state(C))
    assert out["confirm"] is True and "Open it anyway" in out["confirm_msg"]
    assert "picture" not in out and out["pending"]["state"]["opened"]
    done = controller(C, ids.CONFIRM, state=_state(C), pending=out["pending"])
    assert done["pending"] is None and len(done["state"]["opened"]) > 5 and done["picture"]["svg"]
    assert not any(g.endswith("<mask>") for g in done["state"]["opened"])  # the mask plumbing stays closed


def test_slider_picks_the_member(C):
    state = _state(C, SERIES)
    out = controller(C, ids.SERIES_SLIDER, slider=1, state=state, series_target=SERIES)
    assert out["state"]["instance"] == {SERIES: 1}
    assert "showing 2 of 2" in out["picture"]["svg"]


def test_unfold_and_fold(C):
    out = controller(C, ids.UNFOLD, state=_state(C))
    assert out["state"]["unfolded"] == [SERIES] and out["unfold_label"] == "Fold ×N"
    out = controller(C, ids.UNFOLD, state=out["state"])
    assert out["state"]["unfolded"] == []


def test_reset_and_collapse(C):
    out = controller(C, ids.RESET, state=_state(C, SERIES, ATTN))
    assert out["state"] == C.default_state.to_json_dict() and out["focus"]["mode"] == "all"
    out = controller(C, ids.COLLAPSE_ALL, state=_state(C, SERIES))
    assert out["state"]["opened"] == []


def test_an_exception_becomes_a_notice(graph, monkeypatch):
    app = make_app(graph)
    C = app.bv_context

    def boom(*a, **k):
        raise RuntimeError("kaboom")

    monkeypatch.setattr(C, "render", boom)
    with pytest.raises(RuntimeError):
        controller(C, ids.COLOR_BY, state=_state(C))
    # the registered callback wraps it: find it and call it as Dash would
    cb = next(v for k, v in app.callback_map.items() if ids.VIEW_STATE in k)
    fn = cb["callback"].__wrapped__
    from dash._callback_context import context_value
    from dash._utils import AttributeDict

    context_value.set(AttributeDict(triggered_inputs=[{"prop_id": f"{ids.COLOR_BY}.value", "value": "role"}]))
    res = fn(tap=None, go=0, submit=0, nxt=0, reset=0, collapse=0, unfold=0, open_all=0, confirmed=0, slider=0,
             color_by="role", request=None, state=_state(C), query="", search=None, pending=None,
             series_target=None, selected=None)
    assert "kaboom" in str(res["notice"])


# ---- weights ---------------------------------------------------------------------------------------------
def test_weight_options(C):
    opts, value, msg, _, body = weight_options(C, "bert.encoder.layer.0.attention.self.query")
    assert value == QW and body == {"display": "block"} and len(opts) == 2
    opts, value, msg, _, body = weight_options(C, "softmax")
    assert value is None and "no weight matrix" in msg and body == {"display": "none"}
    assert "not in this model" in weight_options(C, "ghost")[2]


def test_relayout_windows():
    assert window_from_relayout({"autosize": True}, (100, 50), None) is None
    rows, cols = window_from_relayout({"xaxis.range[0]": 9.6, "xaxis.range[1]": 20.2,
                                       "yaxis.range[0]": 40.4, "yaxis.range[1]": 30.1}, (100, 50), None)
    assert rows == (30, 41) and cols == (10, 21)
    assert window_from_relayout({"xaxis.autorange": True, "yaxis.autorange": True}, (100, 50),
                                {"rows": [3, 9], "cols": [1, 2]}) == ((0, 100), (0, 50))
    assert window_from_relayout({"xaxis.range": [-5, 500]}, (1, 50), None) == ((0, 1), (0, 50))


def test_readout_is_exact(C):
    mv = rw.matrix_view(C.weights, QW, None, None, (64, 64), "maxabs")
    win = {"name": QW, "shape": list(mv.shape), "rows": list(mv.rows), "cols": list(mv.cols),
           "block": list(mv.block), "how": "maxabs"}
    text = readout(C.weights, {"x": 5.0, "y": 7.0}, win)
    assert f"w = {rw.value_at(C.weights, QW, 7, 5):.6g} (exact)" in text and "this cell" in text


def test_npy_route_streams_the_tensor(graph):
    app = make_app(graph)
    client = app.server.test_client()
    name = "bert.embeddings.word_embeddings.weight"
    r = client.get(NPY_ROUTE, query_string={"name": name})
    assert r.status_code == 200 and "attachment" in r.headers["Content-Disposition"]
    arr = np.load(io.BytesIO(r.data), allow_pickle=False)
    store = app.bv_context.weights
    assert arr.shape == tuple(store.shape(name)) and arr.dtype == np.float32
    np.testing.assert_array_equal(arr[:3], store.get_slice(name, slice(0, 3)))
    bias = client.get(NPY_ROUTE, query_string={"name": "bert.embeddings.LayerNorm.bias"})
    assert np.load(io.BytesIO(bias.data)).shape == (128,)
    assert client.get(NPY_ROUTE, query_string={"name": "../etc/passwd"}).status_code == 404


def test_views_are_cached_but_bounded(C):
    """More distinct (view, colour) keys than the cache holds: it stays at its size, evicts the oldest,
    and a cached one is not laid out again."""
    from bertviz_graph.app.context import LRU, AppContext

    small = AppContext(C.graph, view_cache=3)
    states = [View(C.h).state, View(C.h).open(SERIES).state]
    keys = [(s, mode) for s in states for mode in ("role", "flops", "params")]  # 6 distinct keys
    first = small.render(*keys[0])
    for k in keys[1:]:
        small.render(*k)
    assert len(small._rendered) == 3 < len(keys)
    assert small.render(*keys[-1]) is small.render(*keys[-1])  # a hit returns the same object
    assert small.render(*keys[0]) is not first  # evicted, so laid out anew

    calls: list[int] = []
    lru = LRU(2)
    for k in (1, 2, 1, 3, 2):
        lru.get_or_make(k, lambda k=k: calls.append(k) or k)
    assert calls == [1, 2, 3, 2]  # 1 was fresh when 3 arrived, so 2 was the one evicted


def test_lru_computes_a_value_once_for_concurrent_askers(C):
    import threading
    import time

    from bertviz_graph.memo import Memo as LRU

    calls = []

    def slow():
        calls.append(1)
        time.sleep(0.2)
        return 42

    lru = LRU(2)
    assert C.prefetch(lru, "k", slow)
    results = []
    threads = [threading.Thread(target=lambda: results.append(lru.get_or_make("k", slow))) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [42, 42, 42] and len(calls) == 1
    for k in range(5):
        lru.get_or_make(k, lambda k=k: k)
    assert len(lru) == 2
