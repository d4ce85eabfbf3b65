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
import time
from pathlib import Path
from typing import Any

from bertviz_graph import format as fmt
from bertviz_graph.details import weights_for
from bertviz_graph.errors import UserError
from bertviz_graph.format import count, pct
from bertviz_graph.presenters.common import is_trained
from bertviz_graph.presenters.pruning import head_grid_figure, prune_controls_state, pruning_panel
from bertviz_graph.pruning.job import Job, run_prune
from bertviz_graph.pruning.methods import METHODS
from bertviz_graph.threads import start_background
from bertviz_graph.widget.prune_controls import PruneControls


def source_of(graph: Any) -> str:
    files = graph.meta.get("weight_files") or []
    if files and graph.meta.get("origin") == "local":
        return str(Path(files[0]).parent)
    return graph.name


# Scoped to the panel: JupyterLab gives widget HTML a 28 px line height (one control row per line), which
# spreads a list of sentences apart; tables get no padding or rules of their own.
# (in the panel's HTML, which is always shown: the box keeps its three children, controls, status, panel)
_CSS = """<style>
.bvg-prune { font-size: 13px; gap: 2px; }
.bvg-prune .widget-html-content { line-height: 1.45; }
.bvg-prune-controls { align-items: center; flex-wrap: wrap; gap: 4px 14px; margin-bottom: 2px; }
.bvg-prune-status { color: #555; font-size: 12px; }
.bvg-prune-status .bvg-prune-why { display: inline-block; background: #fff6dd; border: 1px solid #e8cf82;
  border-radius: 4px; padding: 3px 8px; color: #5a4500; }
.bvg-prune-status .bvg-prune-err { color: #b00020; font-weight: 600; }
.bvg-prune-status code { font-size: 11px; background: #f3f3f3; padding: 0 3px; border-radius: 3px; }
.bvg-prune-summary ul { margin: 4px 0 6px; padding-left: 20px; }
.bvg-prune-summary li { margin: 1px 0; }
.bvg-prune-note { color: #555; font-size: 12px; font-style: italic; margin: 2px 0 8px; max-width: 72em; }
.bvg-prune-table { border-collapse: collapse; font-size: 12px; font-variant-numeric: tabular-nums;
  margin: 2px 0 8px; }
.bvg-prune-table th { font-weight: 600; border-bottom: 1px solid #bbb; background: #f6f6f6; }
.bvg-prune-table th, .bvg-prune-table td { padding: 3px 10px; text-align: right; }
.bvg-prune-table td { border-bottom: 1px solid #e6e6e6; }
.bvg-prune-table th:first-child, .bvg-prune-table td:first-child { text-align: left; }
.bvg-prune-table td:nth-child(2) { text-align: center; }
.bvg-prune .bvg-minimap { opacity: 0.3; transition: opacity 0.15s; }
.bvg-prune .bvg-minimap:hover { opacity: 1; }
</style>"""


def prune_graph(graph: Any, method: str = "magnitude", amount: float = 0.3, sentences: Any = None,
                job: Any = None):
    """Prune a copy of ``graph``'s model; returns the job (``.graph`` the traced copy, ``.folder`` its
    temporary folder, ``.effect`` the agreement with the original). A UserError for bad input. Pass a
    ``prune.job.Job`` to watch its ``step`` from another thread."""

    job = run_prune(graph, method, amount, source_of(graph), job=job, sentences=sentences)
    if job.state != "done":
        raise UserError(job.error)
    return job


def _panel_html(graph: Any, p) -> str:

    items = "".join(f"<li>{html.escape(s)}</li>" for s in p.summary)
    rows = "".join(
        f"<tr><td>{html.escape(g.group)}</td><td>{', '.join(map(str, g.heads)) or '–'}</td>"
        f"<td>{count(g.neurons) if g.neurons else '–'}</td><td>{pct(g.zeros / g.numel if g.numel else 0)}</td>"
        f"<td>{count(g.params_removable)}</td><td>{count(g.flops_removable)}</td></tr>"
        for g in p.groups if g.heads or g.neurons or g.zeros)
    table = ("<table class='bvg-prune-table'><tr><th>layer</th><th>heads pruned</th><th>neurons pruned</th><th>zero weights</th>"
             f"<th>params removable</th><th>FLOPs removable</th></tr>{rows}</table>") if rows else ""
    return (f"{_CSS}<div class='bvg-prune-summary'><b>Pruning: {html.escape(graph.name)}</b><ul>{items}</ul>"
            f"<p class='bvg-prune-note'>{html.escape(p.notes[0])}</p></div>{table}")


def _panel_parts(graph: Any, with_graph: bool = False) -> tuple[list, Any]:
    import ipywidgets as W
    import plotly.graph_objects as go


    p = pruning_panel(graph, weights_for(graph))
    parts: list = [W.HTML(_panel_html(graph, p))]
    if p.head_grid is not None:
        fig = head_grid_figure(p.head_grid)
        # a few layers give the app's compact size a colour bar too short for its tick labels
        fig.update_layout(height=max(fig.layout.height or 0, 230), width=max(fig.layout.width or 0, 300))
        parts.append(go.FigureWidget(fig))
    if with_graph and p.pruned:
        parts.append(_pruned_graph(graph))
    return parts, p


def _pruned_graph(graph: Any):
    """The pruned copy in the explorer, opened down to the first group whose heads or neurons were pruned,
    so its strip (pruned units greyed) is on screen without a click."""
    from bertviz_graph.widget import GraphWidget  # lazy: cycle (bertviz_graph.widget loads this module)

    w = GraphWidget(graph, height=560)
    marked = [gid for gid, g in graph.hierarchy.groups.items() if g.attrs.get("prune_mask")]
    if marked:
        w.reveal(marked[0])
    return w


def pruning_widget(graph: Any):
    """An ipywidgets VBox: prune controls, summary, per-layer savings, the heads grid."""
    import ipywidgets as W


    ok, why = prune_controls_state(graph, is_trained(graph, weights_for(graph)))
    controls = PruneControls(list(METHODS), method="magnitude", amount=0.3, disabled=not ok)
    status = W.HTML(f"<span class='bvg-prune-why'>{html.escape(why)}</span>" if why else
                    f"Prunes a copy of <code>{html.escape(source_of(graph))}</code>; the original is not changed.")
    body = W.VBox()
    box = W.VBox([controls, status, body])
    box.add_class("bvg-prune")
    status.add_class("bvg-prune-status")
    parts, box.panel = _panel_parts(graph)
    body.children = parts
    box.graph, box.job, box.controls = graph, None, controls
    lock = threading.Lock()  # the ticker never writes over the worker's last word

    def work(job: Job | None = None) -> None:
        try:
            job = prune_graph(graph, job.method if job else controls.method,
                              job.amount if job else float(controls.amount), job=job)
        except Exception as e:  # noqa: BLE001 - a sentence in the panel, never a traceback
            with lock:
                status.value = f"<span class='bvg-prune-err'>{html.escape(getattr(e, 'problem', str(e)))}</span>"
        else:
            box.job = job
            with lock:
                status.value = "drawing the pruned copy…"
            parts, box.panel = _panel_parts(job.graph, with_graph=True)
            body.children = parts
            status.value = (f"Showing the pruned copy ({fmt.seconds(job.elapsed, 1)}), in the temporary folder "
                            f"(<code>{html.escape(str(job.folder))}</code>): "
                            "this panel's <code>.job.folder</code>, written out with <code>bertviz_graph.pruning.job.export_folder"
                            "</code>. The original is unchanged.")
        finally:
            controls.disabled = False

    def tick(job: Job, worker: threading.Thread) -> None:
        """Progress while the worker runs: the job's current step and the seconds so far."""
        while worker.is_alive():
            with lock:
                if job.state not in ("queued", "running"):
                    return
                status.value = html.escape(f"pruning with {job.method} at {fmt.percent(job.amount, 0)}: {job.step}… "
                                           f"{fmt.seconds(time.monotonic() - job.started, 0)}")
            worker.join(0.5)

    def on_prune(method: str, amount: float) -> None:
        """Prune with the method and amount the page showed at the click (they come with the message)."""
        controls.disabled = True
        job = Job(id="widget", method=method, amount=amount, source=source_of(graph))
        status.value = html.escape(f"pruning with {job.method} at {fmt.percent(job.amount, 0)}…")
        worker = start_background(work, job, name="bv-prune-widget")
        threading.Thread(target=tick, args=(job, worker), name="bv-prune-tick", daemon=True).start()

    controls.on_prune(on_prune)
    box.prune_now = lambda: (work(), box)[1]  # for code and tests: the same work, synchronously
    return box
