"""The explorer, once: one user event -> the next view state, where to look, what is selected, notes.

Pure: ``step(view, selected, event)`` reads the current view (its hierarchy and state) and the selected id
and returns a ``Step``; it draws nothing and keeps nothing. The Dash app's graph controller and the notebook
widget translate their inputs (a click message, a slider move, a method call) into these events and render
what comes back, so both front ends behave the same (tests/test_explorer.py drives one recorded sequence
through both).

Events (plain dicts, as the front ends send them):
    {"type": "click", "id", "toggle"?}  select; with toggle (or "dblclick") also open/close the box
    {"type": "open" | "close" | "reveal" | "select", "id"}
    {"type": "instance", "series", "index"}  show member ``index`` of a folded ×N series
    {"type": "reset"} | {"type": "collapse_all"} | {"type": "unfold"} | {"type": "open_all"}

The ×N slider carries what is open: the blocks open inside the member shown before are opened at the same
place in the new member, and the selection moves there too (the query of layer 0 becomes the query of
layer 5), so moving along the layers compares like with like.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bertviz_graph.hierarchy.tree import ROOT
from bertviz_graph.presenters.common import same_place
from bertviz_graph.view import View, ViewState


@dataclass(frozen=True)
class Step:
    """What one event changes: the view ``state``, the ``focus`` to bring into sight (None: stay),
    the id to ``selection`` (None: unchanged) and sentences for the user (``notes``)."""

    state: ViewState
    focus: dict[str, Any] | None = None
    selection: str | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)


def open_all(view: View) -> View:
    """Every group open except the attention-mask plumbing (22 ops building one mask): open it by hand."""
    h = view.hierarchy
    mask = [g for g in h.groups if g.split(".")[-1] == "<mask>" and g not in view.state.opened]
    return view.open_all().close(*mask)


def carry_instance(view: View, series: str, index: int, selected: str | None) -> tuple[View, str | None]:
    """``view`` showing member ``index`` of ``series``, with what was open inside the member shown before
    opened at the same place, and ``selected`` moved there (or None when it was not inside it)."""
    h = view.hierarchy
    old = view.instance_of(series)  # 0 when never moved: member 0 is the one drawn
    new = view.open_instance(series, int(index))
    if old == int(index):
        return new, None
    src, dst = h.groups[series].members[old], h.groups[series].members[int(index)]
    same = [same_place(h, g, src, dst) for g in view.state.opened if g == src or src in h.ancestors(g)]
    same = [g for g in same if g and g in h.groups]
    if same:
        new = new.open(*same)
    moved = same_place(h, selected, src, dst) if selected else None
    return new, moved


def _known(view: View, x: str) -> bool:
    h = view.hierarchy
    return x in h.groups or x in h.parent_of


def step(view: View, selected: str | None, event: Mapping[str, Any], default: ViewState | None = None) -> Step:
    """One event -> Step. ``default`` is the state "reset" returns to (the model's overview)."""
    h = view.hierarchy
    cur = view.state
    kind = str(event.get("type", ""))
    x = str(event.get("id", ""))
    if kind in ("click", "dblclick"):
        toggle = bool(event.get("toggle")) or kind == "dblclick"
        if not x:  # the event store's first value on a fresh page, not a click: nothing to do or to say
            return Step(cur)
        visible = {n.id: n for n in view.data().nodes}
        if not _known(view, x):
            return Step(cur, notes=(f"'{x}' is not in this model (a stale page?): the view was drawn again",))
        if x not in visible:
            return Step(cur, notes=(f"'{h.label_of(x)}' is not in the current view any more: the view was drawn "
                                    "again",))
        n = visible[x]
        if n.expanded and toggle:
            return Step(view.close(x).state, {"id": x, "mode": "keep"}, x)
        if n.expandable and not n.expanded and toggle:
            opened = view.open_instance(x, view.instance_of(x)) if n.kind == "series" else view.open(x)
            return Step(opened.state, {"id": x, "mode": "fit"}, x)
        return Step(cur, None, x)
    if kind == "instance":
        series = str(event.get("series", ""))
        if series not in h.groups or h.groups[series].kind != "series":
            return Step(cur, notes=(f"'{series}' is not a folded series",))
        new, moved = carry_instance(view, series, int(event.get("index", 0)), selected)
        return Step(new.state, {"id": series, "mode": "keep-top"}, moved)
    if kind == "reset":
        return Step(default if default is not None else View.default(h).state, {"mode": "all"})
    if kind == "collapse_all":
        return Step(ViewState(), {"mode": "all"})
    if kind == "unfold":
        if cur.unfolded:
            return Step(ViewState(opened=cur.opened, unfolded=frozenset(), instance=cur.instance), {"mode": "top"})
        return Step(view.unfold(all_series=True).state, {"mode": "top"})
    if kind == "open_all":
        return Step(open_all(view).state, {"mode": "top"})
    if kind in ("open", "close", "reveal", "select"):
        if not _known(view, x) or x == ROOT:
            return Step(cur, notes=(f"'{x}' is not in this model",))
        if kind == "reveal":
            return Step(view.reveal(x).state, {"id": x, "mode": "center"}, x)
        if kind == "open" and x in h.groups:
            return Step(view.reveal(x).open(x).state, {"id": x, "mode": "fit"}, x)
        if kind == "close" and x in h.groups:
            return Step(view.close(x).state, None, x)
        if kind == "select":
            shown = {n.id for n in view.data().nodes}
            return Step(cur if x in shown else view.reveal(x).state, {"id": x, "mode": "center"}, x)
    return Step(cur, notes=(f"unknown request '{kind}'",))
