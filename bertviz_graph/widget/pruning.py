"""The pruning panel in a notebook: what was pruned in a graph's model, what cutting it out saves, and the
layers × heads grid (``presenters.pruning``, the same data the app's Pruning tab shows).

    bg.show_pruning("minilm-h30/")     # a folder written by `bertviz-graph prune`, or a traced graph
"""

from __future__ import annotations

import html
from typing import Any


def pruning_widget(graph: Any):
    """An ipywidgets VBox: summary, per-layer savings, the heads grid (plotly FigureWidget)."""
    import ipywidgets as W
    import plotly.graph_objects as go

    from bertviz_graph.details import weights_for
    from bertviz_graph.presenters.pruning import head_grid_figure, pruning_panel

    p = pruning_panel(graph, weights_for(graph))
    items = "".join(f"<li>{html.escape(s)}</li>" for s in p.summary)
    rows = "".join(
        f"<tr><td>{html.escape(g.group)}</td><td>{', '.join(map(str, g.heads)) or '–'}</td>"
        f"<td>{g.neurons or '–'}</td><td>{(g.zeros / g.numel if g.numel else 0):.1%}</td>"
        f"<td>{g.params_removable:,}</td><td>{g.flops_removable:,}</td></tr>"
        for g in p.groups if g.heads or g.neurons or g.zeros)
    table = ("<table><tr><th>layer</th><th>heads pruned</th><th>neurons pruned</th><th>zero weights</th>"
             f"<th>params removable</th><th>FLOPs removable</th></tr>{rows}</table>") if rows else ""
    parts = [W.HTML(f"<b>Pruning: {html.escape(graph.name)}</b><ul>{items}</ul>"
                    f"<p><i>{html.escape(p.notes[0])}</i></p>{table}")]
    if p.head_grid is not None:
        parts.append(go.FigureWidget(head_grid_figure(p.head_grid)))
    box = W.VBox(parts)
    box.panel = p  # the plain data, for code
    return box
