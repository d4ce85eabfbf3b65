"""The Parameters & FLOPs panel: a sunburst or treemap of where the parameters and the compute are."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bertviz_graph.hierarchy.tree import Hierarchy
from bertviz_graph.neurons.charts import chart_figure

if TYPE_CHECKING:
    import plotly.graph_objects as go

METRICS = {"params": "parameters", "flops": "FLOPs"}
KINDS = ("sunburst", "treemap")


def footer(kind: str) -> str:
    """How to move in the chart: a sunburst zooms out from its centre, a treemap from its top bar."""
    back = ("click the centre to zoom out" if kind == "sunburst"
            else "click the path bar at the top to zoom out")
    return (f"Click a sector to zoom into it and open it in the graph; {back}. Tied weights (the MLM decoder) "
            "are counted once, where they are first used.")


def chart(h: Hierarchy, metric: str = "params", kind: str = "sunburst", height: int = 620,
          series: str = "fold") -> go.Figure:
    """The chart sized for a side panel (about 500 px wide); ``series="unfold"`` gives each layer its sector."""

    fig = chart_figure(h, metric, kind, series=series, height=height, maxdepth=4 if kind == "sunburst" else 3)
    fig.update_layout(margin={"l": 4, "r": 4, "t": 110, "b": 4}, title={"font": {"size": 14}})
    return fig
