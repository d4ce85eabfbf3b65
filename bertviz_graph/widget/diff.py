"""Two models side by side in a notebook: two explorer widgets whose views open, close and select together
(through the structural alignment of ``bertviz_graph.comparison``), above the comparison's summary; the
differences are outlined in both pictures as in the app's Compare tab (``presenters.diff``).

    d = bg.show_diff("bert-base-uncased", "distilbert-base-uncased")
    d                                   # both explorers; open BertLayer 6 in one, DistilBERT's layer 3 opens
    d.a.open("bert.encoder.layer[0-11]")
    d.diff.summary_lines()
"""

from __future__ import annotations

import uuid
from typing import Any

from bertviz_graph.comparison import GraphDiff, diff_graphs
from bertviz_graph.pipeline import graph_of
from bertviz_graph.presenters.diff import MARK_STYLE, MARK_TEXT, diff_panel, visible_marks
from bertviz_graph.render.diff_export import marks_css
from bertviz_graph.view import View, ViewState
from bertviz_graph.widget import GraphWidget


class DiffWidgets:
    """``a`` and ``b`` are GraphWidgets kept in step; ``diff`` is the GraphDiff; display shows both."""

    def __init__(self, d: GraphDiff, height: int = 760):
        import ipywidgets as W


        self.diff = d
        self.a = GraphWidget(d.a, height=height)
        self.b = GraphWidget(d.b, height=height)
        self._busy = False

        self.panel = diff_panel(d, with_heatmaps=False)  # the marks and notes the app's Compare tab draws
        self._uid = uuid.uuid4().hex[:10]
        self.a.observe(lambda ch: self._mark("a"), names="svg")
        self.b.observe(lambda ch: self._mark("b"), names="svg")
        self._mark("a")
        self._mark("b")
        self.a.observe(lambda ch: self._sync(ch, "a"), names="state")
        self.b.observe(lambda ch: self._sync(ch, "b"), names="state")
        self.a.observe(lambda ch: self._select(ch, "a"), names="selected")
        self.b.observe(lambda ch: self._select(ch, "b"), names="selected")
        self._show_removed_heads()
        lines = "".join(f"<li>{_esc(s)}</li>" for s in d.summary_lines())
        self.summary = W.HTML(f"{_CSS}<b>{_esc(d.a.name)} ↔ {_esc(d.b.name)}</b><ul>{lines}</ul>"
                              + _legend(self.panel))
        for w in (self.a, self.b):  # in an HBox an explorer shrinks to its content (nothing): half each
            w.layout = W.Layout(flex="1 1 0%", min_width="0", width="50%")
        self.box = W.VBox([self.summary, W.HBox([self.a, self.b],
                                                layout=W.Layout(width="100%", align_items="flex-start",
                                                                grid_gap="8px"))])
        self.box.add_class("bvg-diff")

    def _mark(self, side: str) -> None:
        """Outline the differences in this side's picture (added, removed, changed ... as in the app): a
        <style> scoped to this picture by an attribute on its <svg>, since both pictures share a page and
        may use the same ids."""

        w = self.a if side == "a" else self.b
        svg = w.svg
        tag = f'data-bvg-diff="{self._uid}-{side}"'
        if not svg or tag in svg:
            return
        view = View(w.hierarchy, ViewState.from_json_dict(w.state))
        marks = self.panel.marks_a if side == "a" else self.panel.marks_b
        css = marks_css(visible_marks(marks, view), view, scope=f"svg[{tag}]")
        start = svg.index("<svg")
        end = svg.index(">", start)
        w.svg = svg[:end] + f" {tag}>" + (f"<style>{css}</style>" if css else "") + svg[end + 1:]

    def _show_removed_heads(self) -> None:
        """An original and its head-pruned copy differ inside closed layer boxes: open both down to the first
        layer whose heads were removed (the sync opens the partner), so the first picture shows the change."""
        for w, marks in ((self.b, self.panel.marks_b), (self.a, self.panel.marks_a)):
            gid = next((g for g, k in marks.items() if k == "heads removed" and g in w.hierarchy.groups), None)
            if gid is not None:  # down to its first changed matrix (query, key ... outlined) if it has one
                inner = next((g for g, k in marks.items() if k == "changed" and g.startswith(gid + ".")
                              and g in w.hierarchy.groups), gid)
                w.reveal(inner)
                return

    def _partner(self, gid: str, side: str) -> str | None:
        return self.diff.partner(gid, side=side)

    def _sync(self, change: dict, side: str) -> None:
        """Open what was opened, close what was closed, unfold what was unfolded, on the other side."""
        if self._busy:
            return
        old, new = change.get("old") or {}, change.get("new") or {}
        other = self.b if side == "a" else self.a
        h = other.hierarchy
        self._busy = True
        try:
            for key in ("opened", "unfolded"):
                before, after = set(old.get(key, ())), set(new.get(key, ()))
                for gid in sorted(after - before):
                    p = self._partner(gid, side)
                    if p in h.groups:
                        if key == "opened":
                            other.reveal(p).open(p)
                        else:
                            other.unfold(p)
                for gid in sorted(before - after):
                    p = self._partner(gid, side)
                    if p in h.groups and key == "opened":
                        other.close(p)
            src_h = (self.a if side == "a" else self.b).hierarchy
            for series, k in (new.get("instance") or {}).items():  # the layer shown in a ×N stack
                if (old.get("instance") or {}).get(series) == k or series not in src_h.groups:
                    continue
                members = src_h.groups[series].members
                p = self._partner(members[int(k)], side) if int(k) < len(members) else None
                ps = h.parent(p) if p is not None else None
                if ps in h.groups and h.groups[ps].kind == "series":
                    other.open_instance(ps, h.groups[ps].members.index(p))
        finally:
            self._busy = False

    def _select(self, change: dict, side: str) -> None:
        if self._busy or not change.get("new"):
            return
        other = self.b if side == "a" else self.a
        p = self._partner(change["new"], side)
        if p is not None and p in other.hierarchy.groups:
            self._busy = True
            try:
                other.reveal(p)
                other.select(p)
            finally:
                self._busy = False

    def _repr_mimebundle_(self, **kwargs: Any):
        return self.box._repr_mimebundle_(**kwargs)

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.box)


# JupyterLab gives widget HTML a 28 px line height (one control row per line), which spreads the summary
# apart; each explorer is half the page, where the overview map would hide the very boxes compared (it
# stays faint until the pointer is on it) and the details below would take 42 % of the height (30 % here).
_CSS = """<style>
.bvg-diff .widget-html-content { line-height: 1.45; font-size: 13px; }
.bvg-diff ul { margin: 4px 0 6px; padding-left: 20px; }
.bvg-diff li { margin: 1px 0; }
.bvg-diff-legend { display: flex; flex-wrap: wrap; gap: 4px 14px; font-size: 12px; color: #444; margin: 2px 0 6px; }
.bvg-diff-legend span { border: 0 solid; border-width: 0 0 0 14px; padding-left: 5px; }
@container (max-width: 640px) { .bvg-diff .bvg-side { flex-basis: 30%; } }
.bvg-diff .bvg-minimap { opacity: 0.3; transition: opacity 0.15s; }
.bvg-diff .bvg-minimap:hover { opacity: 1; }
</style>"""


def _legend(panel: Any) -> str:
    """What the outlines in the two pictures mean: only the kinds that occur (the app's words and colours)."""

    used = set(panel.marks_a.values()) | set(panel.marks_b.values())
    keys = "".join(f"<span style='border-color:{MARK_STYLE[k][0]}'>{_esc(k)}: {_esc(MARK_TEXT[k])}</span>"
                   for k in MARK_STYLE if k in used)
    return f"<div class='bvg-diff-legend'>outlined in both pictures: {keys}</div>" if keys else ""


def _esc(s: str) -> str:
    import html

    return html.escape(str(s))


def show_diff(a: Any, b: Any, height: int = 760, **trace_kwargs: Any) -> DiffWidgets:
    """Two models (anything ``bertviz_graph.trace`` takes) side by side, aligned by structure and role."""

    ga = a if hasattr(a, "hierarchy") and hasattr(a, "g") else graph_of(a, **trace_kwargs)
    gb = b if hasattr(b, "hierarchy") and hasattr(b, "g") else graph_of(b, **trace_kwargs)
    return DiffWidgets(diff_graphs(ga, gb), height=height)
