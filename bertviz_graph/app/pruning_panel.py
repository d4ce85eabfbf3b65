"""The "Pruning" tab: what was pruned in this model, what it saves, the heads grid, and the zeros of the
matrix shown in the weights panel. Everything comes from ``presenters.pruning``; this only lays it out.

A side-panel module as ``app.layout`` expects: TAB_VALUE, TAB_LABEL, layout(C), register(app, C).
Clicking a head in the grid shows its attention map (Attention tab) and its query projection in the graph.
"""

from __future__ import annotations

import threading
import time

from dash import Input, Output, dcc, html
from dash.exceptions import PreventUpdate

from bertviz_graph.app import ids
from bertviz_graph.app.context import AppContext
from bertviz_graph.render.tree_text import human

TAB_VALUE = "pruning"
TAB_LABEL = "Pruning"
GRID = "bv-prune-grid"
ZEROS = "bv-prune-zeros"
HOW = ("Prune from the command line and open the result here: bertviz-graph prune MODEL --method "
       "heads-importance --amount 0.3 -o pruned/ && bertviz-graph serve pruned/  — or compare the two with "
       "bertviz-graph diff MODEL pruned/ -o diff.html")
_LOCK = threading.Lock()


def panel(C: AppContext):
    """The presenter's data for this model, computed once per app (it reads every matrix once)."""
    from bertviz_graph.presenters.pruning import pruning_panel

    with _LOCK:
        cache = C.__dict__.setdefault("_bv_pruning", {})
        if "panel" not in cache:
            cache["panel"] = pruning_panel(C.graph, C.weights if C.trained else None)
        return cache["panel"]


def layout(C: AppContext) -> html.Div:
    from bertviz_graph.presenters.pruning import head_grid_figure

    p = panel(C)
    children: list = [html.Ul([html.Li(s) for s in p.summary]),
                      html.P(p.notes[0], className="bv-empty")]
    if p.head_grid is not None:
        children.append(dcc.Graph(id=GRID, figure=head_grid_figure(p.head_grid), config={"displaylogo": False}))
    else:
        children.append(html.Div(id=GRID))
    rows = [g for g in p.groups if g.heads or g.neurons or g.zeros]
    if rows:
        head = html.Tr([html.Th(x) for x in ("layer", "heads pruned", "neurons pruned", "zero weights",
                                             "params removable", "FLOPs removable")])
        body = [html.Tr([html.Td(g.group), html.Td(", ".join(map(str, g.heads)) or "–"),
                         html.Td(f"{g.neurons:,}" if g.neurons else "–"),
                         html.Td(f"{g.zeros / g.numel:.1%}" if g.numel else "–"),
                         html.Td(human(g.params_removable)), html.Td(human(g.flops_removable))]) for g in rows]
        children.append(html.Table([html.Thead(head), html.Tbody(body)], className="bv-prune-table"))
    if not p.pruned:
        children.append(html.P(HOW, className="bv-empty"))
    children.append(html.H4("Zeros of the selected matrix"))
    children.append(html.Div(id=ZEROS, children=html.Div("select a weight matrix (its Weights tab) to see "
                                                         "which of its weights are exactly zero",
                                                         className="bv-empty")))
    return html.Div(children)


def zeros_figure(C: AppContext, name: str):
    import plotly.graph_objects as go

    from bertviz_graph.presenters.pruning import zero_mask

    z = zero_mask(C.weights, name)
    fig = go.Figure(go.Heatmap(z=z, zmin=0, zmax=1, colorscale=[[0, "#f7f7f7"], [1, "#000000"]],
                               colorbar={"title": {"text": "pruned"}},
                               hovertemplate="block %{y}, %{x}: %{z:.0%} zero<extra></extra>"))
    frac = C.__dict__["_bv_pruning"]["panel"].sparsity.get(name)
    fig.update_layout(title=f"{name}: {frac:.1%} exactly zero (black = pruned)" if frac is not None else name,
                      yaxis={"autorange": "reversed"}, height=360, template="plotly_white",
                      margin={"l": 40, "r": 10, "t": 40, "b": 30})
    return fig


def register(app, C: AppContext) -> None:
    @app.callback(Output(ZEROS, "children"), Input(ids.WEIGHT_NAME, "data"), prevent_initial_call=True)
    def _zeros(name):
        p = panel(C)
        if not name or name not in p.sparsity:
            raise PreventUpdate
        return dcc.Graph(figure=zeros_figure(C, name), config={"displaylogo": False})

    if panel(C).head_grid is None:
        return

    from bertviz_graph.app import attention_panel as A

    @app.callback(Output(ids.VIEW_REQUEST, "data", allow_duplicate=True),
                  Output(A.LAYER, "value", allow_duplicate=True), Output(A.HEAD, "value", allow_duplicate=True),
                  Output(ids.TABS, "value", allow_duplicate=True),
                  Input(GRID, "clickData"), prevent_initial_call=True)
    def _head(click):
        """A head in the grid: its attention map (Attention tab) and its query projection in the graph."""
        try:
            layer, head_index = click["points"][0]["customdata"]
        except (TypeError, KeyError, IndexError, ValueError):
            raise PreventUpdate from None
        layers = panel(C).head_grid["layers"]
        if not 0 <= int(layer) < len(layers):
            raise PreventUpdate
        from bertviz_graph.diff.align import units

        target = next((u.module for u in units(C.h) if u.layer == int(layer) and u.tag == "Q"), layers[int(layer)])
        return ({"action": "reveal", "id": target, "nonce": time.time()}, int(layer), int(head_index),
                A.TAB_VALUE)
