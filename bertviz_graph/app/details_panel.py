"""The details panel: what the selected node is (``presenters.details``), as a table and a paragraph.

Its "Show weights" buttons pick a matrix for the weights panel and switch to that tab.
"""

from __future__ import annotations

from typing import Any

from dash import ALL, Input, Output, State, ctx, html, no_update

from bertviz_graph.app import ids
from bertviz_graph.app.context import AppContext
from bertviz_graph.app.guard import guarded
from bertviz_graph.app.registry import model_for
from bertviz_graph.details import explain
from bertviz_graph.presenters.details import details

TAB_VALUE = ids.TAB_DETAILS
TAB_LABEL = "Details"
SHOW_WEIGHT = "bv-show-weight"  # pattern id type: {"type": SHOW_WEIGHT, "name": parameter name}


def layout(C: AppContext) -> html.Div:
    return html.Div(id=ids.DETAILS, children=_empty(C))


def _empty(C: AppContext) -> list[Any]:

    overview = ""
    try:
        from bertviz_graph.neurons.explain import explain_overview  # lazy: guarded (inside a try)

        overview = explain_overview(C.h.ctx)
    except Exception:  # noqa: BLE001 - the overview text is a nicety
        overview = explain("model", C.h.ctx)
    return [
        html.Div("Click a box in the graph to see what it is.", className="bv-empty"),
        html.Div(overview, className="bv-explain") if overview else None,
        html.Div(className="bv-empty", children=[
            "Click a box to open it (a ×N stack opens one layer; pick which with the slider above the graph). "
            "Click a frame's title bar to close it. Ops (add, matmul, softmax …) are the nodes your framework "
            "prints; Linear boxes hold the weight matrices: each weight is one edge of a textbook neural net."]),
    ]


def render(C: AppContext, node_id: str | None) -> list[Any]:
    if not node_id:
        return _empty(C)
    d = details(C.h, node_id)
    rows = [html.Tr([html.Td(k), html.Td(v)]) for k, v in d["rows"]]
    out: list[Any] = [
        html.Div(d["title"], className="bv-d-title"),
        html.Div(d["subtitle"], className="bv-d-sub") if d["subtitle"] else None,
        html.Span(d["role_label"], className="bv-role", style={"background": d["color"]}),
        html.Table(html.Tbody(rows), className="bv-rows"),
    ]
    if d["explanation"]:
        out.append(html.Div(d["explanation"], className="bv-explain"))
    if d["weights"]:
        out.append(html.Div(className="bv-weights-list", children=[
            html.Button(f"Show weights: {lab}", id={"type": SHOW_WEIGHT, "name": w}, n_clicks=0,
                        className="bv-btn bv-btn-primary", title=w)
            for w, lab in zip(d["weights"], d["weight_labels"], strict=True)
        ]))
    return out


def register(app, C: AppContext) -> None:
    @app.callback(Output(ids.DETAILS, "children"), Input(ids.SELECTED, "data"), State(ids.MODEL, "data"), prevent_initial_call=True)
    @guarded(lambda msg: [html.Div(msg, className="bv-empty")])
    def _details(selected: dict | None, spec=None):
        C = model_for(app, spec)  # the tab's model (app/registry.py)
        node_id = selected.get("id") if isinstance(selected, dict) else None
        return render(C, node_id if isinstance(node_id, str) else None)

    @app.callback(
        Output(ids.WEIGHT_PICK, "value", allow_duplicate=True),
        Output(ids.TABS, "value", allow_duplicate=True),
        Input({"type": SHOW_WEIGHT, "name": ALL}, "n_clicks"),
        prevent_initial_call=True,
    )
    def _show_weight(clicks: list[int | None]):
        trig = ctx.triggered_id
        if not isinstance(trig, dict) or not any(clicks or []):
            return no_update, no_update
        return trig["name"], ids.TAB_WEIGHTS
