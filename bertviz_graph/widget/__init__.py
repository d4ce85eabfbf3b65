"""The notebook widget: the explorer inside JupyterLab, Notebook 7, VS Code and marimo, offline.

    import bertviz_graph as bg
    w = bg.show("bert-base-uncased")             # a GraphWidget; the last expression in a cell draws it
    w.open("bert.encoder.layer[0-11]")           # what a click does, from Python
    w.select("bert.encoder.layer.0.attention.self.query")
    w.to_svg("bert.svg")                         # exactly the picture on screen

The kernel does all the work with the same code as the app and ``bertviz-graph export``: the view (what is
open), the layout and our SVG, the details of the selected node and the weight images. The browser side
(``static/widget.js``, built from ``js/src``) draws that SVG with pan and zoom and sends clicks back as
messages. Traitlets carry the state both ways, so the widget can be driven from either side.
"""

from __future__ import annotations

import dataclasses
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import anywidget
import traitlets

from bertviz_graph.details import weights_for
from bertviz_graph.errors import UserError
from bertviz_graph.graph import OpGraph
from bertviz_graph.hierarchy.tree import build_hierarchy
from bertviz_graph.io import write_atomic
from bertviz_graph.presenters.analysis_colors import COLOR_MODES as ANALYSIS_MODES
from bertviz_graph.presenters.common import head_counts
from bertviz_graph.presenters.details import details
from bertviz_graph.presenters.explorer import Step, step
from bertviz_graph.presenters.search import summary
from bertviz_graph.render.weights import value_at
from bertviz_graph.view import View, ViewState, find, nearby
from bertviz_graph.widget.analysis import analysis_box, analysis_colours
from bertviz_graph.widget.bundle import CSS, ESM
from bertviz_graph.widget.matrix import matrix_payload
from bertviz_graph.widget.neurons import NeuronMethods
from bertviz_graph.widget.pruning import prune_graph
from bertviz_graph.widget.run import RunMethods
from bertviz_graph.widget.training import TRAIN_MODES, TrainMethods

__all__ = ["GraphWidget", "ShowError"]

ROOT = ""


class GraphWidget(NeuronMethods, RunMethods, TrainMethods, anywidget.AnyWidget):
    """An interactive picture of a traced model: click to open groups and select nodes, search, and look
    at weight matrices. Build it with ``bertviz_graph.show(...)`` or ``GraphWidget(graph)``."""

    _esm = ESM
    _css = CSS

    svg = traitlets.Unicode("").tag(sync=True)  # the current picture (our SVG of the laid-out view)
    state = traitlets.Dict().tag(sync=True)  # ViewState JSON: {"opened": [...], "unfolded": [...], "instance": {}}
    selected = traitlets.Unicode("").tag(sync=True)  # id of the selected group or node ("" = none)
    details = traitlets.Dict().tag(sync=True)  # what the details panel shows about `selected`
    search = traitlets.Unicode("").tag(sync=True)  # the search query
    matches = traitlets.List(traitlets.Unicode()).tag(sync=True)  # ids matching `search`, in model order
    matrix_png = traitlets.Bytes(b"").tag(sync=True)  # the weight pane's heatmap (PNG)
    matrix_meta = traitlets.Dict().tag(sync=True)  # its shape, window, colour scale, stats, heads
    error = traitlets.Unicode("").tag(sync=True)  # the last problem with a click or message, shown in the widget
    height = traitlets.Int(640).tag(sync=True)  # px
    panel = traitlets.Unicode("details").tag(sync=True)  # side panel in front: "details" | "matrix" | ...

    _marks = traitlets.Dict().tag(sync=True)  # {"selected": visible id, "matches": [visible ids]}
    _focus = traitlets.Dict().tag(sync=True)  # {"id": visible id, "n": counter}: centre the picture on it
    _match_info = traitlets.List().tag(sync=True)  # [label, where] per match, for the results list
    _search_info = traitlets.Unicode("").tag(sync=True)  # "1 of 12: softmax in layer 3" (presenters.search)
    _name = traitlets.Unicode("model").tag(sync=True)  # download file name
    _tips = traitlets.Dict().tag(sync=True)  # {"edges": {id: line}, "nodes": {id: line}}: canvas tooltips (w.run)
    edge = traitlets.Unicode("").tag(sync=True)  # the selected edge ("" = none): details show its tensor
    color_by = traitlets.Unicode("role").tag(sync=True)  # "role" | "activation" | "change" (after w.run) | "rank" ...
    train_tab = traitlets.Dict().tag(sync=True)  # the Training tab (presenters.training.tab_data, w.train_step)

    # message type -> method name; extend with ``on_message`` (instances) or by subclassing (classes)
    message_handlers: ClassVar[dict[str, str]] = {
        "click": "_msg_click",
        "dblclick": "_msg_dblclick",
        "toggle": "_msg_toggle",
        "select": "_msg_select",
        "instance": "_msg_instance",
        "search": "_msg_search",
        "matrix": "_msg_matrix",
        "value": "_msg_value",
        "reset": "_msg_reset",
        "edge": "_msg_edge",
        "save_html": "_msg_save_html",
    }

    def __init__(self, graph: Any, *, view: Any = None, height: int = 640, show_params: bool = True,
                 direction: str = "TB", **kwargs: Any) -> None:

        if not isinstance(graph, OpGraph):
            raise UserError(f"GraphWidget needs a traced graph, not a {type(graph).__name__}",
                            "use bertviz_graph.show(model) or GraphWidget(bertviz_graph.trace(model))")
        if graph.hierarchy is None:
            graph.hierarchy = build_hierarchy(graph)
        self._graph = graph
        self._h = graph.hierarchy
        self._view = view if view is not None else View.default(self._h, show_params=show_params,
                                                                direction=direction)
        self._store: Any = None
        from bertviz_graph.memo import Memo  # lazy: start-up (cachetools)

        self._stats = Memo(16)  # statistics of the tensors shown lately (a whole pass over each)
        self._matrix_args: dict[str, Any] = {}
        self._extra_handlers: dict[str, Callable[[GraphWidget, dict], Any]] = {}
        self._focus_n = 0
        self._ready = False
        super().__init__(height=height, _name=_file_name(graph.name), **kwargs)
        self.state = self._view.state.to_json_dict()
        self._ready = True
        self._render()
        self.on_msg(self._on_msg)

    # --- what the widget shows ------------------------------------------------------------------------
    @property
    def graph(self):
        """The traced OpGraph."""
        return self._graph

    @property
    def hierarchy(self):
        return self._h

    @property
    def view(self):
        """The current ``View`` (what is open): ``w.view.data()`` lists the visible nodes and edges."""
        return self._view

    @property
    def weights(self):
        """Where weight values come from (checkpoint, in-memory module, or random initial values)."""
        if self._store is None:

            self._store = weights_for(self._graph)
        return self._store

    # --- Python API (each returns the widget, so calls chain) ---------------------------------------
    def open(self, *gids: str) -> GraphWidget:
        """Open groups (and everything above them): ``w.open("bert.encoder.layer.0.attention")``.

        (Without arguments this is ipywidgets' ``Widget.open``, which opens the comm to the browser.)"""
        if not gids:
            return super().open()
        view = self._view
        for gid in gids:
            view = view.reveal(gid).open(gid)
        return self._set_view(view)

    def close(self, *gids: str) -> GraphWidget:
        """Close groups. (Without arguments this is ipywidgets' ``Widget.close``: the widget goes away.)"""
        if not gids:
            return super().close()
        for gid in gids:
            self._check_group(gid)
        return self._set_view(self._view.close(*gids))

    def toggle(self, gid: str) -> GraphWidget:
        self._check_group(gid)
        if gid not in self._view.state.opened and gid not in self._view.state.unfolded:
            return self.open(gid)
        return self._set_view(self._view.toggle(gid))

    def open_instance(self, series: str, k: int) -> GraphWidget:
        """Open a folded series (``BertLayer ×12``) showing member ``k`` (0-based): layer 5 is k=5.
        What was open inside the member shown before is opened in member ``k`` too, and the selection
        moves to the same place (the query of layer 0 becomes the query of layer 5): the explorer's rule
        (presenters/explorer.py), shared with the app's ×N slider."""
        self._check_group(series)
        self._view.open_instance(series, int(k))  # raises the UserError naming a bad series or index
        res = step(self._view, self.selected or None, {"type": "instance", "series": series, "index": int(k)})
        return self._apply(res, keep_matrix=True)

    def _apply(self, res: Step, keep_matrix: bool = False) -> GraphWidget:
        """Render what the explorer decided: the new view state, then the selection."""
        if res.state != self._view.state:
            self._set_view(dataclasses.replace(self._view, state=res.state))
        if res.selection is not None and res.selection != self.selected:
            if keep_matrix:
                self._select_keeping_matrix(res.selection)
            else:
                self.selected = res.selection
        return self

    def _select_keeping_matrix(self, node_id: str) -> None:
        """Select ``node_id`` and show its counterpart of the matrix shown now (same index, head, window)."""
        old_names = list(self.details.get("weights") or [])
        shown = self.matrix_meta.get("name")
        idx = old_names.index(shown) if shown in old_names else None
        args = {k: v for k, v in self._matrix_args.items() if k != "name"}
        self.selected = node_id
        new_names = list(self.details.get("weights") or [])
        if idx is not None and idx < len(new_names):
            try:
                self._load_matrix(new_names[idx], **args)
            except UserError:
                self._load_matrix(new_names[idx])

    def unfold(self, *series: str, all_series: bool = False) -> GraphWidget:
        """Draw every member of a series instead of one stack (12 layers side by side: a big picture)."""
        return self._set_view(self._view.unfold(*series, all_series=all_series))

    def open_depth(self, depth: int) -> GraphWidget:
        """Open every group down to ``depth`` levels."""
        return self._set_view(self._view.open_depth(depth))

    def reset(self) -> GraphWidget:
        """Back to the overview (everything closed except the model and encoder wrappers)."""

        return self._set_view(View.default(self._h, show_params=self._view.show_params,
                                           direction=self._view.direction))

    def reveal(self, node_id: str) -> GraphWidget:
        """Open everything above a node so that it is drawn, and centre the picture on it."""
        self._set_view(self._view.reveal(node_id))
        self._focus_on(node_id)
        return self

    def select(self, node_id: str | None) -> GraphWidget:
        """Select a node or group: the details panel (and, for weights, the matrix pane) shows it.
        ``None`` or "" clears the selection. It does not open anything: see ``reveal``."""
        node_id = node_id or ""
        if node_id and not self._exists(node_id):

            raise UserError(f"no node or group '{node_id}' in this model", nearby(self._h, node_id))
        self.selected = node_id
        return self

    def find(self, query: str) -> list[str]:
        """Search labels, classes, module paths, parameter and op names (regex or plain text); the matches
        are highlighted in the picture (or the closed box holding them). Returns the matching ids."""
        self.search = query or ""
        return list(self.matches)

    def show_matrix(self, name: str, head: int | None = None, rows: tuple[int, int] | None = None,
                    cols: tuple[int, int] | None = None, highlight: int | None = None) -> GraphWidget:
        """Show a weight tensor in the matrix pane (and bring the pane to the front): the whole of it, one
        attention head's slice (``head=3`` for a query/key/value weight), or a window (``rows=(0, 64)``);
        ``highlight=3`` outlines head 3's rows (Q/K/V) or columns (output projection) and dims the rest."""
        self._load_matrix(name, head=head, rows=rows, cols=cols, highlight=highlight)
        self.panel = "matrix"
        return self

    def _load_matrix(self, name: str, head: int | None = None, rows: tuple[int, int] | None = None,
                     cols: tuple[int, int] | None = None, highlight: int | None = None) -> None:

        png, meta = matrix_payload(self.weights, name, head=head, rows=rows, cols=cols,
                                   num_heads=head_counts(self._h.ctx), stats_cache=self._stats,
                                   highlight=highlight)
        self._matrix_args = {"name": name, "head": head, "rows": rows, "cols": cols, "highlight": highlight}
        with self.hold_sync():
            self.matrix_png = png
            self.matrix_meta = meta

    def value(self, row: int, col: int, name: str | None = None) -> float:
        """The exact stored weight at (row, col) of the shown matrix (for a bias: row 0, col = index)."""

        name = name or self.matrix_meta.get("name")
        if not name:
            raise UserError("no weight matrix is shown", "select a weight first: w.show_matrix(name)")
        v = value_at(self.weights, name, int(row), int(col))
        if name == self.matrix_meta.get("name"):
            self.matrix_meta = {**self.matrix_meta, "picked": {"row": int(row), "col": int(col), "value": v}}
        return v

    def prune(self, method: str = "magnitude", amount: float = 0.3, sentences: Any = None) -> GraphWidget:
        """A new widget showing a pruned copy of this model (its heads and neurons greyed in the graph, the
        Sparsity colour-by); this widget stays the original. The copy's temporary folder is
        ``.prune_job.folder``, its agreement with the original ``.prune_job.effect``; export with
        ``bertviz_graph.pruning.job.export_folder(w2.prune_job.folder, "out/")``."""

        job = prune_graph(self._graph, method, amount, sentences)
        w = GraphWidget(job.graph, height=self.height)
        w.prune_job, w.original = job, self
        return w

    def analysis(self, kind: str = "heads", sentences: Any = None):
        """Is all of BERT needed? An Analysis box for this model: "heads", "ffn" or "rank" (on ``sentences``,
        default the 48 built-in ones); a click on a head opens it in this widget."""

        return analysis_box(self._graph, kind, widget=self, sentences=sentences)

    def to_svg(self, path: str | Path | None = None) -> str | Path:
        """The picture on screen as SVG text, or written to ``path`` (returns the path)."""
        if path is None:
            return self.svg

        path = Path(path)
        write_atomic(path, self.svg)
        return path

    def save_html(self, path: str | Path | None = None, *, text: str | None = None, pair: str | None = None,
                  weights: str = "preview") -> str | Path:
        """This explorer as one offline HTML file (``bertviz_graph.html``), starting from the view on screen:
        the page text, or written to ``path`` (returns the path)."""
        from bertviz_graph.html import (  # lazy: start-up (PIL, cachetools, plotly)
            build_payload,
            page,
            write_page,
        )

        payload = build_payload(self._graph, text=text, pair=pair, weights=weights, view=self._view)
        return page(payload) if path is None else write_page(payload, path)

    def _msg_save_html(self, _m: dict) -> None:
        try:
            self.send({"type": "html", "text": self.save_html()})
        except Exception:
            self.send({"type": "html", "text": ""})  # the button comes back; the error shows in the widget
            raise

    def on_message(self, kind: str, handler: Callable[[GraphWidget, dict], Any]) -> None:
        """Handle a custom message type sent by a front-end panel: ``handler(widget, content)``."""
        self._extra_handlers[kind] = handler

    # --- state -> picture ---------------------------------------------------------------------------
    def _set_view(self, view) -> GraphWidget:
        self._view = view
        new = view.state.to_json_dict()
        if new != self.state:
            self.state = new  # -> _on_state -> _render
        else:
            self._render()
        return self

    @traitlets.observe("color_by")
    def _on_color_by(self, change: dict) -> None:
        if change["new"] in TRAIN_MODES:  # issue 21: colour by the widget's training step (widget/training.py)
            self._check_train_mode(change["new"])
            if self._ready:
                self._render()
            return
        if change["new"] not in ("role", "activation", "change", *ANALYSIS_MODES):
            self.color_by = "role"
            self.error = (f"unknown colour-by {change['new']!r}: use 'role', 'activation', 'change', "
                          + ", ".join(repr(k) for k in (*ANALYSIS_MODES, *TRAIN_MODES)))
            return
        if change["new"] in ("activation", "change") and "_bv_acts" not in self.__dict__:
            self.error = f"colour-by {change['new']} shows a run: call w.run(\"The cat sat on the mat.\") first"
        if self._ready:
            self._render()

    @traitlets.observe("state")
    def _on_state(self, change: dict) -> None:

        st = ViewState.from_json_dict(change["new"])
        if st != self._view.state:  # set from outside (JS or ``w.state = {...}``)
            self._view = View(self._h, st, self._view.show_params, self._view.direction)
        if self._ready:
            self._render()

    def _render(self) -> None:
        from bertviz_graph.layout import layout_of  # lazy: start-up (PIL, cachetools)
        from bertviz_graph.render.svg import to_svg  # lazy: start-up (PIL, cachetools)

        lv = layout_of(self._view)
        fills, tips = self._run_colours(lv)
        strokes, overlay = None, ""
        if self.color_by in self._train_modes():  # the training step's colours (widget/training.py)
            fills, strokes, tips = self._train_colours(lv, tips)
            overlay = self.__dict__.get("_bv_overlay", "")
        elif self.color_by in ANALYSIS_MODES:  # an analysis colour-by (widget/analysis.py)
            fills, tips = analysis_colours(self, lv, tips)
        # coloured by the run: the role legend would mislead (each box's tooltip says its value instead)
        svg = to_svg(lv, legend=False, fills=fills, strokes=strokes, overlay=overlay) if fills else to_svg(lv)
        with self.hold_sync():
            self.svg = svg
            self._tips = tips
            self._update_marks()
            self._update_details()

    def _update_marks(self) -> None:
        sel = (self._view.rep(self.selected) or "") if self.selected else ""
        matches = sorted(x for x in self._view.highlight(self.matches) if x)
        self._marks = {"selected": sel or "", "matches": matches}

    def _focus_on(self, node_id: str) -> None:
        self._focus_n += 1
        self._focus = {"id": self._view.rep(node_id) or node_id, "n": self._focus_n}

    # --- selection -> details and weights ---------------------------------------------------------
    @traitlets.validate("selected")
    def _valid_selected(self, proposal: dict) -> str:
        value = proposal["value"] or ""
        if value and not self._exists(value):
            raise traitlets.TraitError(f"no node or group '{value}' in this model")
        return value

    @traitlets.observe("selected")
    def _on_selected(self, change: dict) -> None:
        with self.hold_sync():
            if change["new"]:
                self.edge = ""  # a box selected: the edge is not any more
            self._update_marks()
            self._update_details()
            self._show_training()  # the Training tab follows the selected Linear (widget/training.py)
            names = self.details.get("weights") or []
            if names and self.matrix_meta.get("name") not in names:
                try:
                    self._load_matrix(names[0])
                except UserError as e:
                    self.error = str(e)
            elif not names and self.panel == "matrix":
                self.panel = "details"  # the pane would show a matrix that is not the selected node's

    def _update_details(self) -> None:
        nid = self.selected
        if self.edge and not nid:
            self.details = self._edge_details(self.edge)
            return
        if not nid:
            self.details = {}
            return
        self.details = self._details_for(nid)

    def _details_for(self, nid: str) -> dict[str, Any]:

        d = details(self._h, nid, self._view)
        if d["mapping"]:  # the widget has one pane: the mapping follows the rows
            d["rows"] += [["in neural-network terms", "↓"], *d["mapping"]]
        d["rows"] += self._prediction_rows(nid)  # the output node / head group: the run's predictions
        return d

    # --- search -----------------------------------------------------------------------------------------
    @traitlets.observe("search")
    def _on_search(self, change: dict) -> None:

        q = change["new"] or ""
        found = find(self._h, q) if q.strip() else []

        with self.hold_sync():
            self.matches = found
            self._match_info = [self._where(x) for x in found]
            self._search_info = summary(self._h, q, found, 0) if q.strip() else ""
            self._update_marks()

    def _where(self, x: str) -> list[str]:
        h = self._h
        if x in h.groups:
            g = h.groups[x]
            return [f"{g.label}" + (f" · {g.sublabel}" if g.sublabel else ""), x]
        d = h.graph.g.nodes[x]
        label = h.label_of(x) + (f" · {h.sublabel_of(x)}" if h.sublabel_of(x) else "")
        return [label, f"{d.get('module') or '(model)'} · {d.get('name') or x}"]

    # --- messages from the browser ----------------------------------------------------------------------
    def _on_msg(self, _widget: Any, content: Any, _buffers: Any = None) -> None:
        if not isinstance(content, dict):
            return
        kind = content.get("type")
        try:
            if kind in self._extra_handlers:
                self._extra_handlers[kind](self, content)
            elif kind in self.message_handlers:
                getattr(self, self.message_handlers[kind])(content)
            else:
                return
            if self.error:
                self.error = ""
        except UserError as e:
            self.error = str(e)
        except Exception as e:  # a bug: say so in the widget instead of failing silently in the log
            self.error = f"internal error ({type(e).__name__}: {e}); please report it"
            print(f"bertviz_graph widget: {type(e).__name__}: {e}", file=sys.stderr)

    def handle_message(self, content: dict) -> None:
        """Process one front-end message as if the browser had sent it (tests, scripting)."""
        self._on_msg(self, content, None)

    def _msg_click(self, m: dict) -> None:
        nid = str(m.get("id", ""))
        if not self._exists(nid):
            raise UserError(f"no node '{nid}' in this model")
        res = step(self._view, self.selected or None, {**m, "type": "click"})
        if res.notes:
            raise UserError(res.notes[0])
        self._apply(res)

    def _msg_dblclick(self, m: dict) -> None:
        nid = str(m.get("id", ""))
        if nid in self._h.groups and nid != ROOT:
            self._msg_click({**m, "toggle": True})

    def _msg_toggle(self, m: dict) -> None:
        self.toggle(str(m.get("id", "")))

    def _msg_select(self, m: dict) -> None:
        nid = str(m.get("id", ""))
        if m.get("reveal") and nid:
            self.reveal(nid)
        self.select(nid)

    def _msg_instance(self, m: dict) -> None:
        self.open_instance(str(m.get("series", "")), int(m.get("index", 0)))

    def _msg_search(self, m: dict) -> None:
        self.find(str(m.get("q", "")))

    def _msg_matrix(self, m: dict) -> None:
        rows, cols = m.get("rows"), m.get("cols")
        hl = m.get("highlight")
        self.show_matrix(str(m.get("name", "")), head=m.get("head"), rows=tuple(rows) if rows else None,
                         cols=tuple(cols) if cols else None, highlight=None if hl is None else int(hl))

    def _msg_value(self, m: dict) -> None:
        self.value(int(m.get("row", 0)), int(m.get("col", 0)), name=m.get("name"))

    def _msg_reset(self, _m: dict) -> None:
        self.reset()  # the explorer's "reset" state: View.default, as here

    def _msg_edge(self, m: dict) -> None:
        self.select_edge(str(m.get("id", "")))

    # --- helpers --------------------------------------------------------------------------------------------
    def _exists(self, nid: str) -> bool:
        return nid in self._h.groups or nid in self._h.parent_of

    def _check_group(self, gid: str) -> None:
        if gid not in self._h.groups or gid == ROOT:

            raise UserError(f"no group '{gid}' in this model", nearby(self._h, gid))

    def __repr__(self) -> str:
        opened = len(self._view.state.opened)
        return (f"<GraphWidget {self._graph.name}: {opened} group{'s' if opened != 1 else ''} open, "
                f"selected={self.selected or None!r}>")


def _file_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name or "model").strip("_") or "model"


# --- errors of show() (bertviz_graph.api.show) ---------------------------------------------------------------


class ShowError(UserError):
    """A UserError raised by ``show()``. In IPython/Jupyter it prints as its short message (problem and
    fix), not as a traceback: the user gave bad input, the stack would only hide that."""

    def _render_traceback_(self) -> list[str]:
        red, bold, reset = "\x1b[31m", "\x1b[1m", "\x1b[0m"
        lines = [f"{red}{bold}bertviz_graph: {self.problem}{reset}"]
        if self.fix:
            lines.append(f"  fix: {self.fix}")
        return lines
