"""The pruning panel in a notebook: what was pruned in a graph's model, what cutting it out saves, the
layers × heads grid (``presenters.pruning``, the same data the app's Pruning tab shows), and the controls
to prune a copy (method, amount, Prune) with progress, like the app's.

    bg.show_pruning("minilm-h30/")     # a folder written by `bertviz-graph prune`, or a traced graph
    w = bg.show("all-MiniLM-L6-v2"); p = w.prune(method="heads-importance", amount=0.3)   # a new widget

Pruning runs in a background thread (the kernel stays free); the pruned copy lives in a temporary
``save_pretrained`` folder (``prune.job``), never over the user's files; ``export(folder)`` writes it out.
"""

from __future__ import annotations

import html
import threading
from pathlib import Path
from typing import Any


def source_of(graph: Any) -> str:
    files = graph.meta.get("weight_files") or []
    if files and graph.meta.get("origin") == "local":
        return str(Path(files[0]).parent)
    return graph.name


def prune_graph(graph: Any, method: str = "magnitude", amount: float = 0.3, sentences: Any = None):
    """Prune a copy of ``graph``'s model; returns the job (``.graph`` the traced copy, ``.folder`` its
    temporary folder, ``.effect`` the agreement with the original). A UserError for bad input."""
    from bertviz_graph.errors import UserError
    from bertviz_graph.prune.job import run_prune

    job = run_prune(graph, method, amount, source_of(graph), sentences=sentences)
    if job.state != "done":
        raise UserError(job.error)
    return job


def _panel_html(graph: Any, p) -> str:
    items = "".join(f"<li>{html.escape(s)}</li>" for s in p.summary)
    rows = "".join(
        f"<tr><td>{html.escape(g.group)}</td><td>{', '.join(map(str, g.heads)) or '–'}</td>"
        f"<td>{g.neurons or '–'}</td><td>{(g.zeros / g.numel if g.numel else 0):.1%}</td>"
        f"<td>{g.params_removable:,}</td><td>{g.flops_removable:,}</td></tr>"
        for g in p.groups if g.heads or g.neurons or g.zeros)
    table = ("<table class='bvg-prune-table'><tr><th>layer</th><th>heads pruned</th><th>neurons pruned</th><th>zero weights</th>"
             f"<th>params removable</th><th>FLOPs removable</th></tr>{rows}</table>") if rows else ""
    return (f"<div class='bvg-prune-summary'><b>Pruning: {html.escape(graph.name)}</b><ul>{items}</ul>"
            f"<p><i>{html.escape(p.notes[0])}</i></p></div>{table}")


def _panel_parts(graph: Any, with_graph: bool = False) -> tuple[list, Any]:
    import ipywidgets as W
    import plotly.graph_objects as go

    from bertviz_graph.details import weights_for
    from bertviz_graph.presenters.pruning import head_grid_figure, pruning_panel

    p = pruning_panel(graph, weights_for(graph))
    parts: list = [W.HTML(_panel_html(graph, p))]
    if p.head_grid is not None:
        parts.append(go.FigureWidget(head_grid_figure(p.head_grid)))
    if with_graph and p.pruned:  # the pruned copy itself: its heads and neurons greyed in the graph
        from bertviz_graph.widget import GraphWidget

        parts.append(GraphWidget(graph, height=480))
    return parts, p


def pruning_widget(graph: Any):
    """An ipywidgets VBox: prune controls, summary, per-layer savings, the heads grid."""
    import ipywidgets as W

    from bertviz_graph.details import weights_for
    from bertviz_graph.presenters.common import is_trained
    from bertviz_graph.presenters.pruning import prune_controls_state
    from bertviz_graph.prune.methods import METHODS

    ok, why = prune_controls_state(graph, is_trained(graph, weights_for(graph)))
    method = W.Dropdown(options=list(METHODS), value="magnitude", description="Method", disabled=not ok)
    amount = W.FloatSlider(value=0.3, min=0.0, max=0.9, step=0.05, description="Amount", readout_format=".0%",
                           disabled=not ok)
    go_btn = W.Button(description="Prune", button_style="primary", disabled=not ok)
    status = W.HTML(html.escape(why or f"prunes a copy of {source_of(graph)} (the original is not changed)"))
    body = W.VBox()
    box = W.VBox([W.HBox([method, amount, go_btn]), status, body])
    box.add_class("bvg-prune")
    status.add_class("bvg-prune-status")
    parts, box.panel = _panel_parts(graph)
    body.children = parts
    box.graph, box.job = graph, None

    def work() -> None:
        try:
            job = prune_graph(graph, method.value, float(amount.value))
        except Exception as e:  # noqa: BLE001 - a sentence in the panel, never a traceback
            status.value = f"<span style='color:#b00'>{html.escape(getattr(e, 'problem', str(e)))}</span>"
        else:
            box.job = job
            parts, box.panel = _panel_parts(job.graph, with_graph=True)
            body.children = parts
            status.value = html.escape(f"showing the pruned copy ({job.folder}); the original is unchanged")
        finally:
            go_btn.disabled = False

    def on_click(_b) -> None:
        go_btn.disabled = True
        status.value = html.escape(f"pruning with {method.value} at {amount.value:.0%}…")
        threading.Thread(target=work, name="bv-prune-widget", daemon=True).start()

    go_btn.on_click(on_click)
    box.prune_now = lambda: (work(), box)[1]  # for code and tests: the same work, synchronously
    return box
