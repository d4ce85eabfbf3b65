"""The "Parameters & FLOPs" tab: sunburst or treemap of where the parameters and the compute are.

Clicking a sector zooms the chart into it (plotly) and opens that group in the graph view.
A side-panel module as ``app.layout`` expects: TAB_VALUE, TAB_LABEL, layout(C), register(app, C).
"""

from __future__ import annotations

from dash import Input, Output, State, dcc, html
from dash.exceptions import PreventUpdate

from bertviz_graph.app import ids
from bertviz_graph.app.context import AppContext
from bertviz_graph.app.network_panel import register_click_opens_group
from bertviz_graph.app.registry import model_for
from bertviz_graph.presenters import charts as pc
from bertviz_graph.presenters.common import PLOT_CONFIG

TAB_VALUE = "charts"
TAB_LABEL = "Params & FLOPs"
METRIC = "bv-chart-metric"
KIND = "bv-chart-kind"
CHART = "bv-chart"
GRAPH_CONFIG = PLOT_CONFIG
FOOTER = "bv-chart-footer"


def figure(C: AppContext, metric: str, kind: str):
    """The chart for this model (cached on the context: 2 metrics × 2 kinds at most)."""
    return C.figures.get_or_make(("chart", metric, kind), lambda: pc.chart(C.h, metric, kind))


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
        dcc.Graph(id=CHART, config=GRAPH_CONFIG),  # drawn when the tab is opened (``_chart``), not per page
        html.Div(pc.footer("sunburst"), id=FOOTER, className="bv-empty"),
    ])


def register(app, C: AppContext) -> None:
    @app.callback(Output(CHART, "figure"), Output(FOOTER, "children"), Input(METRIC, "value"), Input(KIND, "value"),
                  Input(ids.TABS, "value"), State(ids.MODEL, "data"), prevent_initial_call=True)
    def _chart(metric: str, kind: str, tab: str | None = None, spec=None):
        C = model_for(app, spec)  # the tab's model (app/registry.py)
        if tab != TAB_VALUE or metric not in pc.METRICS or kind not in pc.KINDS:
            raise PreventUpdate
        return figure(C, metric, kind), pc.footer(kind)

    register_click_opens_group(app, C, CHART)
