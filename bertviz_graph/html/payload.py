"""The plain data of an offline explorer: every picture, detail and weight preview the HTML page shows.

The page runs no Python, so what the widget's kernel computes on a click is computed here ahead of time,
by the same code (``layout_of`` + ``to_svg`` for pictures, ``presenters.details`` for the details pane,
``widget.matrix.matrix_payload`` for weight heatmaps). The views stored are the overview and, for every
group, the view with that group and the groups above it opened, and views with one more box open beside
it while a budget lasts (``html/states.py``). Any other combination the page composes itself from the
table of container layouts these views (and each group with 2-3 of its boxes open) were laid out from
(``html/compose_data.py``, ``js/src/offline_compose.js``).
"""

from __future__ import annotations

import base64
import re
import zlib
from typing import Any

from bertviz_graph.details import weights_for
from bertviz_graph.errors import UserError
from bertviz_graph.hierarchy.tree import build_hierarchy
from bertviz_graph.html.colours import colour_payload
from bertviz_graph.html.compose_data import Recorder, compose_payload, layout_recorded
from bertviz_graph.html.neurons import neuron_payload
from bertviz_graph.html.states import (
    BESIDE_BUDGET,
    BESIDE_BUDGET_SENTENCE,
    beside_views,
    frame_views,
    openable,
    single_views,
)
from bertviz_graph.presenters.activations import edge_tips, output_boxes, prediction_rows
from bertviz_graph.presenters.attention import summary_rows
from bertviz_graph.presenters.common import MAX_PX
from bertviz_graph.presenters.details import details
from bertviz_graph.presenters.run_session import RunSession
from bertviz_graph.render.svg import to_svg
from bertviz_graph.run.attention import SUMMARY_KEYS, attention_maps
from bertviz_graph.run.predict import predict
from bertviz_graph.view import ROOT, View

WEIGHT_MODES = ("preview", "full", "none")
PREVIEW_PX = (64, 64)  # cells of a weight preview (each one block of weights, reduced as the app reduces)


def state_views(h: Any, base: Any) -> dict[str, Any]:
    """{state key: View}: "" is the overview, a group id the view with that group (and its ancestors) open."""
    return single_views(h, base)


def _state_record(view: Any, svg_index: int) -> dict[str, Any]:
    st = view.state
    return {"svg": svg_index, "opened": sorted(st.opened), "instance": dict(st.instance)}


def _home(h: Any, x: str) -> str:
    """The stored view a node is shown in: its group's (the overview for what is visible there)."""
    p = h.parent(x)
    while p and not openable(h.groups[p]):
        p = h.parent(p)
    return p or ""


def _search_fields(h: Any, x: str) -> list[str]:
    """The texts ``view.find`` matches for ``x`` (label, class, path, name, op), in its order."""
    if x in h.groups:
        g = h.groups[x]
        fields = (g.label, g.cls, g.id, g.sublabel)
    else:
        d = h.graph.g.nodes[x]
        fields = (x, d.get("name", ""), d.get("op", ""), h.label_of(x), d.get("module", ""))
    return [str(f) for f in fields if f]


def _where(h: Any, x: str) -> list[str]:
    """[label, where] of a search result, as the widget lists it."""
    if x in h.groups:
        g = h.groups[x]
        return [g.label + (f" · {g.sublabel}" if g.sublabel else ""), x]
    d = h.graph.g.nodes[x]
    label = h.label_of(x) + (f" · {h.sublabel_of(x)}" if h.sublabel_of(x) else "")
    return [label, f"{d.get('module') or '(model)'} · {d.get('name') or x}"]


def build_payload(graph: Any, *, text: str | None = None, pair: str | None = None, weights: str = "preview",
                  view: Any = None) -> dict[str, Any]:
    """Everything the offline page shows for ``graph`` (JSON-able). ``text``/``pair``: a sentence run
    through the model (every edge's tensor on hover, the predictions in the output's details).
    ``weights``: "preview" (heatmaps of at most 64×64 cells), "full" (the app's resolution) or "none"."""

    if weights not in WEIGHT_MODES:
        raise UserError(f"unknown --weights {weights!r}", "use one of: " + ", ".join(WEIGHT_MODES))
    if graph.hierarchy is None:
        graph.hierarchy = build_hierarchy(graph)
    h = graph.hierarchy
    base = view if view is not None else View.default(h)
    views = state_views(h, base)
    session = acts = None
    if text is not None or pair is not None:

        session = RunSession(graph)
        acts = session.run(text, pair, None)
    tips: list[dict[str, Any]] = []

    svgs: list[str] = []
    index: dict[str, int] = {}
    states: dict[str, Any] = {}
    drawn: list[Any] = []  # the layout of each stored picture (colour-by recolours it)
    budget = BESIDE_BUDGET if acts is None else BESIDE_BUDGET_SENTENCE
    beside = beside_views(h, views)
    rec = Recorder()  # every container layout used: the table the page composes other combinations from
    laid: list[Any] = []
    for key, v in [*views.items(), *beside.items()]:
        lv = layout_recorded(v, rec)
        laid.append(v)
        if budget < 0:
            continue  # laid out for the page's table only: it composes this view itself
        svg = to_svg(lv)
        if svg not in index:
            if key in beside:  # a view with a box open beside: while the budget lasts
                budget -= len(zlib.compress(svg.encode("utf-8"), 6))
                if budget < 0:
                    continue
            index[svg] = len(svgs)
            svgs.append(svg)
            drawn.append(lv)
            tips.append(_edge_tips(graph, v, acts))
        states[key] = _state_record(v, index[svg])

    for v in frame_views(h, views).values():  # 2-3 boxes open in one frame: the table's, no SVG stored
        layout_recorded(v, rec)
        laid.append(v)
    ids = [x for _, x in h.walk() if x != ROOT]
    info: dict[str, Any] = {}
    names: list[str] = []
    for x in ids:
        d = details(h, x, views.get(_home(h, x), base) if x not in views else views[x])
        if d["mapping"]:  # one pane, as in the widget: the mapping follows the rows
            d["rows"] += [["in neural-network terms", "↓"], *d["mapping"]]
        info[x] = d
        names += [w for w in d.get("weights") or [] if w not in names]
    attention = neurons = None
    if acts is not None:
        _add_predictions(graph, h, info, session, acts)
        attention = _attention(graph, acts)
        neurons = neuron_payload(graph, session, acts)

    return {
        "colours": colour_payload(graph, drawn, svgs, text, pair, session, laid),
        "version": 1,
        "name": graph.name or "model",
        "start": "",
        "svgs": svgs,
        "states": states,
        "parent": {x: h.parent(x) or "" for x in ids},
        "series": {gid: list(g.members) for gid, g in h.groups.items() if g.kind == "series"},
        "details": info,
        "search": [[x, _search_fields(h, x), _where(h, x)] for x in ids],
        "matrices": _matrices(graph, h, names, weights),
        "weights": weights,
        "tips": tips,
        "sentence": {"text": text, "pair": pair} if acts is not None else None,
        "attention": attention,
        "neurons": neurons,
        "compose": compose_payload(h, laid, rec, base),
    }


def _attention(graph: Any, acts: Any) -> dict[str, Any] | None:
    """The sentence's attention maps [layer][head][query][key] (4 decimals), tokens and per-head summaries."""

    try:
        am = attention_maps(graph, acts)
    except UserError:
        return None  # a model without attention maps: the tab says no sentence maps are stored
    return {"maps": am.maps.round(4).tolist(), "tokens": list(am.tokens), "summary": summary_rows(am),
            "keys": list(SUMMARY_KEYS), "trained": bool(am.trained)}


def _edge_tips(graph: Any, view: Any, acts: Any) -> dict[str, Any]:
    """The canvas tooltips of one picture: what every edge carries for the sentence (the widget's)."""
    if acts is None:
        return {}

    return {"edges": edge_tips(graph, view, acts), "nodes": {}}


def _add_predictions(graph: Any, h: Any, info: dict[str, Any], session: Any, acts: Any) -> None:
    """The run's predictions under the output boxes' details, as the widget adds them."""

    try:
        rows = [["predictions", "↓"], *prediction_rows(predict(session.runnable, acts))]
    except UserError as e:
        rows = [["predictions", str(e)]]
    for x in output_boxes(graph, h):
        if x in info:
            info[x]["rows"] = info[x]["rows"] + rows


def _matrices(graph: Any, h: Any, names: list[str], mode: str) -> dict[str, Any]:
    """{weight name: {"png": base64, "meta": ...}} as the widget's weight pane receives them."""
    if mode == "none" or not names:
        return {}
    from bertviz_graph.widget.matrix import matrix_payload  # lazy: start-up (anywidget, traitlets)

    store = weights_for(graph)
    px = PREVIEW_PX if mode == "preview" else MAX_PX
    out: dict[str, Any] = {}
    for name in names:
        try:
            png, meta = matrix_payload(store, name, num_heads=h.ctx.get("heads"), max_px=px)
        except UserError:
            continue  # a weight without values (structure only): the pane says it is not stored
        # a shared file names no folder of the machine that wrote it: the weight file's name only
        meta["source"] = re.sub(r"(?:[A-Za-z]:)?[\\/]\S*[\\/]([^\\/\s]+)", r"\1", str(meta.get("source") or ""))
        if not meta.get("exact"):  # the pane says what a pixel is: say too that this is all the file has
            meta["cell_label"] = (f"{meta.get('cell_label')}; a preview stored in this file (zoom, head slices "
                                  "and exact values: the app or the widget)")
        out[name] = {"png": base64.b64encode(png).decode("ascii"), "meta": meta}
    return out
