"""The "Parameters & FLOPs" tab: sunburst or treemap of where the parameters and the compute are.

Clicking a sector zooms the chart into it (plotly) and opens that group in the graph view.
A side-panel module as ``app.layout`` expects: TAB_VALUE, TAB_LABEL, layout(C), register(app, C).
"""

from __future__ import annotations

import threading

from dash import Input, Output, dcc, html
from dash.exceptions import PreventUpdate

from bertviz_graph.app.context import AppContext
from bertviz_graph.app.network_panel import register_click_opens_group

TAB_VALUE = "charts"
TAB_LABEL = "Parameters & FLOPs"
METRIC = "bv-chart-metric"
KIND = "bv-chart-kind"
CHART = "bv-chart"
GRAPH_CONFIG = {"displaylogo": False, "toImageButtonOptions": {"format": "png"}}
_LOCK = threading.Lock()


def figure(C: AppContext, metric: str, kind: str):
    """The chart for this model (cached on the context: 2 metrics × 2 kinds at most)."""
    from bertviz_graph.neurons.charts import chart_figure

    with _LOCK:
        cache = C.__dict__.setdefault("_bv_charts", {})
    key = (metric, kind)
    if key not in cache:
        fig = chart_figure(C.h, metric, kind, height=620, maxdepth=4 if kind == "sunburst" else 3)
        fig.update_layout(margin={"l": 4, "r": 4, "t": 96, "b": 4}, title={"font": {"size": 14}})
        cache[key] = fig
    return cache[key]


def layout(C: AppContext) -> html.Div:
    radio = {"inline": True, "inputStyle": {"marginRight": "4px", "marginLeft": "10px"},
             "style": {"fontSize": "13px"}}
    return html.Div([
        html.Div(style={"display": "flex", "gap": "18px", "flexWrap": "wrap", "margin": "2px 0 4px 0"}, children=[
            dcc.RadioItems(id=METRIC, value="params", options=[{"label": "parameters", "value": "params"},
                                                               {"label": "FLOPs", "value": "flops"}], **radio),
            dcc.RadioItems(id=KIND, value="sunburst", options=[{"label": "sunburst", "value": "sunburst"},
                                                                {"label": "treemap", "value": "treemap"}], **radio),
        ]),
        dcc.Graph(id=CHART, figure=figure(C, "params", "sunburst"), config=GRAPH_CONFIG),
        html.Div("Click a sector to zoom into it and open it in the graph; click the centre to zoom out. "
                 "Tied weights (the MLM decoder) are counted once, where they are first used.",
                 className="bv-empty"),
    ])


def register(app, C: AppContext) -> None:
    @app.callback(Output(CHART, "figure"), Input(METRIC, "value"), Input(KIND, "value"), prevent_initial_call=True)
    def _chart(metric: str, kind: str):
        if metric not in ("params", "flops") or kind not in ("sunburst", "treemap"):
            raise PreventUpdate
        return figure(C, metric, kind)

    register_click_opens_group(app, C, CHART)
