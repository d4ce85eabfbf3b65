"""The Network panel: the whole model as a textbook stack of neuron layers (``neurons.textbook``), with the
selection highlighted: selecting a Linear outlines its band; selecting a block outlines every band inside.
A click on a band goes through ``common.click_action`` (a Linear is selected, a block opened)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bertviz_graph.hierarchy.tree import ROOT, Hierarchy
from bertviz_graph.neurons.textbook import textbook_figure
from bertviz_graph.presenters.common import same_place

if TYPE_CHECKING:
    import plotly.graph_objects as go

HIGHLIGHT = "#1a56db"


def drawn_as(h: Hierarchy, node_id: str, drawn: set[str]) -> str | None:
    """The group the textbook picture draws for ``node_id``: itself, or its counterpart in the member of a
    folded series that the picture shows (layer 5's query is drawn as layer 0's)."""
    if node_id in drawn:
        return node_id
    for sid in h.ancestors(node_id):
        grp = h.groups.get(sid)
        if grp is None or grp.kind != "series":
            continue
        src = next((m for m in grp.members if m == node_id or m in h.ancestors(node_id)), None)
        if src is None:
            continue
        for dst in grp.members:
            y = same_place(h, node_id, src, dst)
            if y in drawn:
                return y
    return None


def network(h: Hierarchy, selected: str | None = None, compact: bool = True,
            base: go.Figure | None = None) -> go.Figure:
    """The textbook figure, with the band(s) of ``selected`` outlined. ``base``: the figure without the
    highlight, when the caller keeps one (it does not change while the model does not)."""
    import plotly.graph_objects as go


    fig = go.Figure(base) if base is not None else textbook_figure(h, compact=compact)
    if not selected or selected == ROOT:
        return fig
    bars = next((t for t in fig.data if t.type == "bar" and t.name == "bands"), None)
    if bars is None:
        return fig
    gids = list(bars.customdata)
    target = drawn_as(h, selected, set(gids)) or selected
    under = {target, *h.leaves(target)} if target in h.groups else {target}
    picked = [i for i, g in enumerate(gids) if g == target or (g in h.groups and target in h.ancestors(g))
              or g in under]
    if not picked:
        return fig
    fig.add_trace(go.Bar(
        x=[bars.x[i] for i in picked], base=[bars.base[i] for i in picked], y=[bars.y[i] for i in picked],
        width=[bars.width[i] for i in picked], orientation="h", customdata=[gids[i] for i in picked],
        hoverinfo="skip", showlegend=False, name="selected",
        marker={"color": "rgba(0,0,0,0)", "line": {"color": HIGHLIGHT, "width": 3}}))
    return fig
