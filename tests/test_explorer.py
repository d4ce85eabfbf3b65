"""One explorer (presenters/explorer.py): its step function, and the app's controller and the widget
agreeing on one recorded sequence of events (incl. the ×N slider carrying what is open)."""

from __future__ import annotations

import pytest

import bertviz_graph as bg
from bertviz_graph.app import ids
from bertviz_graph.app.context import AppContext
from bertviz_graph.app.graph_panel import controller
from bertviz_graph.presenters.common import same_place
from bertviz_graph.presenters.explorer import step
from bertviz_graph.view import View, ViewState
from bertviz_graph.widget import GraphWidget

SERIES = "bert.encoder.layer[0-1]"
L0, L1 = "bert.encoder.layer.0", "bert.encoder.layer.1"

# a session as the browser sends it: open the ×2, open layer 0's attention, select its self-attention,
# move the slider to layer 1, close layer 1's attention, open it again, tap an op, a stale id, reset
EVENTS = [
    {"type": "click", "id": SERIES, "toggle": True},
    {"type": "click", "id": f"{L0}.attention", "toggle": True},
    {"type": "click", "id": f"{L0}.attention.self", "toggle": False},
    {"type": "instance", "series": SERIES, "index": 1},
    {"type": "click", "id": f"{L1}.attention", "toggle": True},
    {"type": "click", "id": f"{L1}.attention", "toggle": True},
    {"type": "click", "id": f"{L1}.intermediate", "toggle": False},
    {"type": "instance", "series": SERIES, "index": 0},
    {"type": "reset"},
]


@pytest.fixture(scope="module")
def graph():
    return bg.trace("bert-tiny")


def test_slider_carries_what_is_open_and_the_selection(graph):
    h = graph.hierarchy
    v = View.default(h).open_instance(SERIES, 0).open(f"{L0}.attention")
    res = step(v, f"{L0}.attention.self.query", {"type": "instance", "series": SERIES, "index": 1})
    assert dict(res.state.instance) == {SERIES: 1}
    assert f"{L1}.attention" in res.state.opened  # the open block is open in the new member
    # the independent rule: the same child positions under the other member
    assert res.selection == same_place(h, f"{L0}.attention.self.query", L0, L1) == f"{L1}.attention.self.query"
    drawn = {n.id for n in View(h, res.state).data().nodes}
    assert f"{L1}.attention.self" in drawn and f"{L0}.attention.self" not in drawn
    back = step(View(h, res.state), res.selection, {"type": "instance", "series": SERIES, "index": 0})
    assert f"{L0}.attention" in back.state.opened and back.selection == f"{L0}.attention.self.query"
    # outside the member the selection stays where it is
    assert step(v, "bert.embeddings", {"type": "instance", "series": SERIES, "index": 1}).selection is None


def test_step_refuses_what_is_not_there(graph):
    v = View.default(graph.hierarchy)
    for ev in ({"type": "click", "id": "no.such", "toggle": True}, {"type": "open", "id": "nope"},
               {"type": "dance", "id": L0}, {"type": "instance", "series": L0, "index": 1}):
        res = step(v, None, ev)
        assert res.state == v.state and res.notes and res.selection is None
    res = step(v, None, {"type": "click", "id": f"{L0}.attention.self.query", "toggle": True})
    assert "not in the current view" in res.notes[0]  # inside the closed ×2: a stale page


def _app_run(C: AppContext) -> list[tuple[dict, str | None]]:
    state, selected, target, seen = C.default_state.to_json_dict(), None, None, []
    for ev in EVENTS:
        sel = {"id": selected} if selected else None
        if ev["type"] == "click":
            out = controller(C, ids.GRAPH_EVENT, event={**ev, "part": "box", "nonce": 1}, state=state,
                             selected=sel, series_target=target)
            selected = ev["id"]  # app.js selects the tapped box in the browser; the controller follows
        elif ev["type"] == "instance":
            out = controller(C, ids.SERIES_SLIDER, slider=ev["index"], state=state, series_target=target,
                             selected=sel)
        else:
            out = controller(C, ids.RESET, state=state, selected=sel)
        assert not out.get("notice"), out.get("notice")
        state = out.get("state", state)
        selected = (out.get("selected") or {}).get("id", selected)
        target = out.get("series_target", target)
        seen.append((ViewState.from_json_dict(state).to_json_dict(), selected))
    return seen


def _widget_run(graph) -> list[tuple[dict, str | None]]:
    w = GraphWidget(graph)
    seen = []
    for ev in EVENTS:
        w.handle_message(ev)
        assert not w.error, w.error
        seen.append((ViewState.from_json_dict(w.state).to_json_dict(), w.selected or None))
    return seen


def test_app_and_widget_agree_on_a_recorded_session(graph):
    app, widget = _app_run(AppContext(graph)), _widget_run(graph)
    for i, (a, b) in enumerate(zip(app, widget, strict=True)):
        assert a == b, f"after event {i} {EVENTS[i]}: app {a} != widget {b}"
    # and the session did what it says: layer 1's attention open after the slider, the selection moved
    state4, sel4 = app[3]
    assert f"{L1}.attention" in state4["opened"] and sel4 == f"{L1}.attention.self"
    assert app[-1][0] == View.default(graph.hierarchy).state.to_json_dict()
