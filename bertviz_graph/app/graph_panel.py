"""The graph panel: toolbar (search, colour-by, fit / zoom / reset / open all, SVG download), breadcrumb,
the layer picker of an opened ×N series, the graph canvas and its legend; and the callbacks they need.

The graph is the picture ``export`` writes (``render.svg.to_svg``), drawn by the same front end as the
notebook widget (js/src/graph.js, bundled into ``assets/bvg-graph.js``). One server callback
(``_controller``) turns every user action into a new ViewState and, in the same answer, the new picture: a
click on a box costs one round trip. Viewport moves, zoom buttons and breadcrumb clicks run in the browser.
"""

from __future__ import annotations

import secrets
from typing import Any

from dash import ALL, ClientsideFunction, Input, Output, State, ctx, dcc, html, no_update, set_props

from bertviz_graph import format as numfmt
from bertviz_graph.app import ids
from bertviz_graph.app.context import COLOR_MODES, NO_VALUE, RUN_MODES, SEQUENTIAL, TRAIN_MODES, AppContext
from bertviz_graph.app.guard import error_text
from bertviz_graph.app.registry import model_for
from bertviz_graph.app.training_legend import legend as train_legend
from bertviz_graph.errors import UserError
from bertviz_graph.hierarchy.style import role_color
from bertviz_graph.hierarchy.tree import ROOT
from bertviz_graph.layout import layout_of
from bertviz_graph.presenters.explorer import step
from bertviz_graph.presenters.search import summary as search_summary
from bertviz_graph.render.svg import EDGE_STYLE, legend_items, to_svg
from bertviz_graph.render.tree_text import human
from bertviz_graph.view import View, ViewState

# Above this many boxes + edges the app asks before drawing. The canvas draws bert-base unfolded (1,420) in
# ~0.4 s and the 48-layer primitive view (12,106) in ~2.5-3.5 s (benchmarks/graph_render_bench.py): about 1 s
# of waiting, the most that still feels like a click, is ~4,000 elements.
LARGE_VIEW = 4000

OUTPUTS = {
    "state": Output(ids.VIEW_STATE, "data"),
    "picture": Output(ids.GRAPH_PICTURE, "data"),
    "legend": Output(ids.LEGEND, "children"),
    "crumbs": Output(ids.BREADCRUMB, "children"),
    "series_style": Output(ids.SERIES_BOX, "style"),
    "series_label": Output(ids.SERIES_LABEL, "children"),
    "series_max": Output(ids.SERIES_SLIDER, "max"),
    "series_marks": Output(ids.SERIES_SLIDER, "marks"),
    "series_value": Output(ids.SERIES_SLIDER, "value"),
    "series_target": Output(ids.SERIES_TARGET, "data"),
    "search": Output(ids.SEARCH, "data"),
    "search_info": Output(ids.SEARCH_INFO, "children"),
    "selected": Output(ids.SELECTED, "data"),
    "focus": Output(ids.FOCUS, "data"),
    "notice": Output(ids.NOTICE, "children"),
    "confirm": Output(ids.CONFIRM, "displayed"),
    "confirm_msg": Output(ids.CONFIRM, "message"),
    "pending": Output(ids.PENDING, "data"),
    "info": Output(ids.VIEW_INFO, "children"),
    "unfold_label": Output(ids.UNFOLD, "children"),
}


RUN_STORE = "bv-run"  # run_panel.RUN: the tab's run input {"text", "pair", "ids", "nonce"}
TRAIN_STORE = "bv-train-done"  # training_panel.T_DONE: the inputs of the tab's step, once it is taken


# ---- layout --------------------------------------------------------------------------------------------
def _button(label: str, id_: str, title: str, cls: str = "bv-btn") -> html.Button:
    return html.Button(label, id=id_, n_clicks=0, title=title, className=cls)


def stores(C: AppContext) -> list[Any]:
    return [
        dcc.Store(id=ids.VIEW_STATE, data=C.default_state.to_json_dict()),
        dcc.Store(id=ids.SELECTED, data={"id": None}),
        dcc.Store(id=ids.SEARCH, data={"query": "", "matches": [], "index": 0}),
        dcc.Store(id=ids.PENDING, data=None),
        dcc.Store(id=ids.FOCUS, data=None),
        dcc.Store(id=ids.VIEW_REQUEST, data=None),
        dcc.Store(id=ids.SERIES_TARGET, data=None),
        dcc.Store(id=ids.GRAPH_PICTURE, data=first_picture(C)),
        dcc.Store(id=ids.GRAPH_EVENT, data=None),
        dcc.Store(id=ids.DUMMY_FIT), dcc.Store(id=ids.DUMMY_ZOOM), dcc.Store(id=ids.DUMMY_FOCUS),
    ]


def first_picture(C: AppContext) -> dict[str, Any]:
    """The picture a page starts with (its store; the index page carries it too: app/first_paint.py)."""
    return _picture(C.render(C.default_state, "role"), set())


def layout(C: AppContext) -> html.Div:
    r = C.render(C.default_state, "role")
    toolbar = html.Div(className="bv-toolbar", children=[
        html.Div(className="bv-search", children=[
            dcc.Input(id=ids.SEARCH_INPUT, type="search", placeholder="search (regex): softmax, query …",
                      debounce=False, n_submit=0, className="bv-input", autoComplete="off"),
            _button("Find", ids.SEARCH_GO, "reveal and highlight the matches (regular expression)"),
            _button("Next", ids.SEARCH_NEXT, "reveal the next match"),
            html.Span(id=ids.SEARCH_INFO, className="bv-search-info"),
        ]),
        html.Div(className="bv-colorby", children=[
            html.Label("Colour by", htmlFor=ids.COLOR_BY),
            dcc.Dropdown(id=ids.COLOR_BY, options=[{"label": v, "value": k} for k, v in COLOR_MODES.items()],
                         value="role", clearable=False, searchable=False, className="bv-dropdown"),
        ]),
        html.Div(className="bv-buttons", children=[
            _button("Fit", ids.FIT, "fit the whole graph in the window"),
            _button("+", ids.ZOOM_IN, "zoom in"),
            _button("−", ids.ZOOM_OUT, "zoom out"),
            _button("Reset", ids.RESET, "back to the overview"),
            _button("Collapse all", ids.COLLAPSE_ALL, "close every group"),
            _button("Open all", ids.OPEN_ALL, "open every group (asks first when the view gets large)"),
            _button(_unfold_label(C.default_state), ids.UNFOLD,
                    "draw every layer of the ×N stacks side by side, or fold them again"),
            _button("SVG ↓", ids.DOWNLOAD_SVG, "download this view as SVG (the same picture as `bertviz-graph export`)"),
            dcc.Download(id=ids.DOWNLOAD_SVG_FILE),
        ]),
    ])
    second = html.Div(className="bv-subbar", children=[
        html.Nav(id=ids.BREADCRUMB, className="bv-breadcrumb", children=_crumbs(C, C.view(C.default_state), None)),
        html.Div(id=ids.SERIES_BOX, className="bv-series", style={"display": "none"}, children=[
            html.Span(id=ids.SERIES_LABEL, className="bv-series-label"),
            html.Div(dcc.Slider(id=ids.SERIES_SLIDER, min=0, max=1, step=1, value=0, marks=None,
                                allow_direct_input=False),
                     className="bv-series-slider"),
        ]),
    ])
    graph = html.Div(id=ids.GRAPH, className="bv-graph")  # js/src/graph.js draws into it
    return html.Div(className="bv-graph-panel", children=[
        toolbar,
        second,
        html.Div(id=ids.NOTICE, className="bv-notice", role="status"),
        html.Div(className="bv-graph-wrap", children=[
            graph,
            html.Div(id=ids.VIEW_INFO, className="bv-view-info", children=_info(r.view)),
        ]),
        html.Div(id=ids.LEGEND, className="bv-legend", children=_legend(r.lv, "role", None)),
        dcc.ConfirmDialog(id=ids.CONFIRM, message=""),
    ])


# ---- pieces of the answer ------------------------------------------------------------------------------
def _unfold_label(state: ViewState) -> str:
    return "Fold ×N" if state.unfolded else "Unfold ×N"


def _info(view: View) -> str:
    d = view.data()
    return f"{len(d.nodes)} boxes · {len(d.edges)} edges"


def _picture(r, hl: set[str], selected: str | None = None) -> dict[str, Any]:
    """What the canvas draws: the SVG and the marks on it (search matches, the selected box)."""
    return {"svg": r.svg, "marks": {"selected": selected or "", "matches": sorted(hl)}}


def _legend(lv, color_by: str, vrange: tuple[float, float] | None, why: dict[str, str] | None = None) -> list[Any]:

    items: list[Any] = []
    legend = legend_items(lv)
    if color_by in TRAIN_MODES:  # the training step's colours (app/training_legend.py)
        return train_legend(color_by, vrange, why)
    if color_by == "role":
        for color, text in ((role_color(key), text) for kind, key, text in legend if kind == "role"):
            items.append(html.Div(className="bv-leg-item", children=[
                html.Span(className="bv-swatch", style={"background": color}), html.Span(text)]))
    else:
        title = COLOR_MODES.get(color_by, color_by)
        if vrange is None:
            hint = " (run a sentence in the Run tab)" if color_by in RUN_MODES else ""
            items.append(html.Div(f"{title}: no values in this view{hint}", className="bv-leg-item"))
        else:
            lo, hi = vrange
            fmt = {"sparsity": lambda v: f"{numfmt.percent(v, 1)}"}.get(  # a fraction of zeros: as a percentage, not "0"
                color_by, (lambda v: f"{v:.3g}") if color_by in ("norm", "activation", "change", "ffn_cka", "ffn_task", "rank")
                else human)
            grad = "linear-gradient(to right, " + ", ".join(SEQUENTIAL) + ")"
            items.append(html.Div(className="bv-leg-item", children=[
                html.Span(title + " (linear scale from 0)", className="bv-leg-title")]))
            if color_by == "change":
                from bertviz_graph.presenters.activations import CHANGE_TEXT  # lazy: start-up (plotly)

                items.append(html.Div("how much a box changes its input (over all tokens); only boxes that keep "
                                      "their input's shape", className="bv-leg-item bv-leg-note", title=CHANGE_TEXT))
            items.append(html.Div(className="bv-leg-item", children=[
                html.Span("0", className="bv-leg-num"),  # color_for: linear from 0 to the largest value
                html.Span(className="bv-gradient", style={"background": grad}),
                html.Span(fmt(hi), className="bv-leg-num"),
                html.Span(f"(values {fmt(lo)}–{fmt(hi)})" if lo != hi else f"(one value: {fmt(hi)})",
                          className="bv-leg-num")]))
            items.append(html.Div(className="bv-leg-item", children=[
                html.Span(className="bv-swatch", style={"background": NO_VALUE}), html.Span(_no_value_text(why))]))
    for kind, color, text in ((key, EDGE_STYLE[key][0], text) for k, key, text in legend if k == "edge"):
        items.append(html.Div(className="bv-leg-item", children=[
            html.Span(className=f"bv-edge-swatch bv-edge-{kind}", style={"borderTopColor": color}),
            html.Span(text)]))
    return items


def _no_value_text(why: dict[str, str] | None) -> str:
    """'no value', or for colour-by change how many boxes have none (each box's tooltip says why)."""
    if not why:
        return "no value"
    return f"no value: {len(why)} box{'es' if len(why) != 1 else ''} (hover one for why)"


def _crumb_label(C: AppContext, gid: str) -> str:
    h = C.h
    if gid == ROOT:
        return h.groups[ROOT].label or C.graph.name
    grp = h.groups[gid]
    parent = h.groups.get(grp.parent or "")
    if parent is not None and parent.kind == "series":
        return f"{grp.cls} {parent.members.index(gid)}"
    return grp.label


def _crumbs(C: AppContext, view: View, selected: str | None) -> list[Any]:
    """Root › … › the selected node: each crumb zooms to (the box showing) that group."""
    h = C.h
    chain: list[str] = [ROOT]
    if selected and (selected in h.groups or selected in h.parent_of):
        chain = [*reversed(h.ancestors(selected)), selected] if selected != ROOT else [ROOT]
    out: list[Any] = []
    for i, x in enumerate(chain):
        label = _crumb_label(C, x) if x in h.groups else h.label_of(x)
        rep = (_rep(view, x) or "") if x != ROOT else ""
        if i:
            out.append(html.Span("›", className="bv-crumb-sep"))
        out.append(html.Button(label, id={"type": ids.CRUMB, "id": x, "rep": rep or ""}, n_clicks=0,
                               className="bv-crumb" + (" bv-crumb-last" if i == len(chain) - 1 else ""),
                               title=(x or "the whole model") + " (click: zoom to it)"))
    return out


def _rep(view: View, x: str) -> str | None:
    """The visible box showing x (None when x is filtered out of this view)."""
    try:
        return view.rep(x)
    except KeyError:
        return None


def _visible_series_frames(view: View) -> list[str]:
    return [n.id for n in view.data().nodes if n.kind == "series" and n.expanded]


def _series_controls(C: AppContext, view: View, target: str | None) -> dict[str, Any]:
    frames = _visible_series_frames(view)
    if not frames:
        return {"series_style": {"display": "none"}, "series_target": None}
    sid = target if target in frames else frames[0]
    grp = C.h.groups[sid]
    n = len(grp.members)
    step = 1 if n <= 16 else max(1, n // 12)
    marks = {i: str(i) for i in range(0, n, step)}
    marks[n - 1] = str(n - 1)
    return {
        "series_style": {"display": "flex"},
        "series_label": f"{grp.label}: show member",
        "series_max": n - 1,
        "series_marks": marks,
        "series_value": view.instance_of(sid),
        "series_target": sid,
    }


def _highlight_set(view: View, matches: list[str]) -> set[str]:
    """Boxes to highlight: each match, or the closed box hiding it. An opened frame is highlighted (its
    title bar) only when it matches itself, not because a match hides in a member it does not show."""
    if not matches:
        return set()
    frames = {n.id for n in view.data().nodes if n.expanded}
    out = set()
    for m in matches:
        r = _rep(view, m)
        if r is not None and (r not in frames or r == m):
            out.add(r)
    return out


# ---- callbacks -----------------------------------------------------------------------------------------
def register(app, C: AppContext) -> None:
    # Two callbacks write the picture. Dash holds a callback back while any of its inputs or states may
    # still be written by a callback in flight or by one that callback triggers, so with VIEW_REQUEST among
    # its inputs a click on the graph waited for the panels' whole chain (SELECTED -> attention layer/head ->
    # VIEW_REQUEST), which waits for the tab's forward pass: seconds on the first click. Panel requests and a
    # new run therefore have their own callback, which declares no outputs and answers with ``set_props``
    # (not a dependency to Dash), so nothing the click callback reads waits on the panels.
    def answer(kw: dict[str, Any]) -> dict[str, Any]:
        try:
            out = controller(model_for(app, kw.pop("spec", None)), ctx.triggered_id, **kw)
        except Exception as exc:  # noqa: BLE001 - never a traceback in the page
            if not isinstance(exc, UserError):
                import logging

                logging.getLogger("bertviz_graph.app").exception("graph callback failed")
            out = {"notice": error_text(exc)}
        return out

    state = {
        "state": State(ids.VIEW_STATE, "data"),
        "query": State(ids.SEARCH_INPUT, "value"),
        "search": State(ids.SEARCH, "data"),
        "pending": State(ids.PENDING, "data"),
        "series_target": State(ids.SERIES_TARGET, "data"),
        "selected": State(ids.SELECTED, "data"),
        "spec": State(ids.MODEL, "data"),  # the tab's model (app/registry.py)
    }

    @app.callback(
        output=OUTPUTS,
        inputs={
            "event": Input(ids.GRAPH_EVENT, "data"),
            "go": Input(ids.SEARCH_GO, "n_clicks"),
            "submit": Input(ids.SEARCH_INPUT, "n_submit"),
            "nxt": Input(ids.SEARCH_NEXT, "n_clicks"),
            "reset": Input(ids.RESET, "n_clicks"),
            "collapse": Input(ids.COLLAPSE_ALL, "n_clicks"),
            "unfold": Input(ids.UNFOLD, "n_clicks"),
            "open_all": Input(ids.OPEN_ALL, "n_clicks"),
            "confirmed": Input(ids.CONFIRM, "submit_n_clicks"),
            "slider": Input(ids.SERIES_SLIDER, "value"),
            "color_by": Input(ids.COLOR_BY, "value"),
        },
        state={**state, "run": State(RUN_STORE, "data"), "train": State(TRAIN_STORE, "data")},
        prevent_initial_call=True,
    )
    def _controller(**kw: Any) -> dict[str, Any]:
        out = answer(kw)
        return {k: out.get(k, no_update) for k in OUTPUTS}

    @app.callback(
        inputs={
            "request": Input(ids.VIEW_REQUEST, "data"),
            "run": Input(RUN_STORE, "data"),  # the tab's own run: colour-by activation / change follow it
            "train": Input(TRAIN_STORE, "data"),  # the tab's own training step: its colour-by modes follow it
        },
        state={**state, "color_by": State(ids.COLOR_BY, "value"), "slider": State(ids.SERIES_SLIDER, "value")},
        prevent_initial_call=True,
    )
    def _request(**kw: Any) -> None:
        props: dict[str, dict[str, Any]] = {}
        for k, v in answer(kw).items():
            o = OUTPUTS[k]
            props.setdefault(o.component_id, {})[o.component_property] = v
        for cid, p in props.items():
            set_props(cid, p)

    @app.callback(Output(ids.DOWNLOAD_SVG_FILE, "data"), Output(ids.NOTICE, "children", allow_duplicate=True),
                  Input(ids.DOWNLOAD_SVG, "n_clicks"), State(ids.VIEW_STATE, "data"), State(ids.MODEL, "data"), prevent_initial_call=True)
    def _download_svg(n: int, state_d: dict | None, spec=None):
        C = model_for(app, spec)  # the tab's model (app/registry.py)
        if not n:
            return no_update, no_update

        try:
            state, _ = C.state(state_d)
            svg = to_svg(layout_of(C.view(state)))  # what export writes (role colours, title, legend)
        except Exception as exc:  # noqa: BLE001
            return no_update, error_text(exc)
        name = (C.graph.name or "model").replace("/", "_")
        return dcc.send_string(svg, f"{name}-view.svg", type="image/svg+xml"), ""

    # the picture, the viewport and the breadcrumb: in the browser (js/src/app.js -> assets/bvg-graph.js);
    # a click selects at once there too (set_props); the panels reading SELECTED run once the picture is
    # answered (the controller may write SELECTED, so Dash waits for it): the graph comes first, and a
    # click's picture is drawn and painted the moment its answer arrives, before Dash applies the answer's
    # other outputs (js/src/app.js ``graphFetch``)
    app.clientside_callback(ClientsideFunction("bvg", "draw"), Output(ids.DUMMY_FOCUS, "data"),
                            Input(ids.GRAPH_PICTURE, "data"), Input(ids.FOCUS, "data"))
    app.clientside_callback(ClientsideFunction("bvg", "fit"), Output(ids.DUMMY_FIT, "data"),
                            Input(ids.FIT, "n_clicks"), prevent_initial_call=True)
    app.clientside_callback(ClientsideFunction("bvg", "zoomIn"), Output(ids.DUMMY_ZOOM, "data"),
                            Input(ids.ZOOM_IN, "n_clicks"), prevent_initial_call=True)
    app.clientside_callback(ClientsideFunction("bvg", "zoomOut"), Output(ids.DUMMY_ZOOM, "data", allow_duplicate=True),
                            Input(ids.ZOOM_OUT, "n_clicks"), prevent_initial_call=True)
    app.clientside_callback(ClientsideFunction("bvg", "crumb"),
                            Output(ids.FOCUS, "data", allow_duplicate=True),
                            Output(ids.SELECTED, "data", allow_duplicate=True),
                            Input({"type": ids.CRUMB, "id": ALL, "rep": ALL}, "n_clicks"),
                            prevent_initial_call=True)


def controller(C: AppContext, trig: Any, *, event: dict | None = None, slider: int | None = None,
               color_by: str | None = "role", request: dict | None = None, state: dict | None = None,
               query: str | None = None, search: dict | None = None, pending: dict | None = None,
               series_target: str | None = None, selected: dict | None = None, run: dict | None = None,
               train: dict | None = None, **_clicks: Any) -> dict[str, Any]:
    """One user action -> the outputs that change (see OUTPUTS); ``trig`` is the id of what was used.

    Depends only on its arguments and the shared context C, so tests call it without a browser."""
    h = C.h
    cur, dropped = C.state(state)
    view = C.view(cur)
    out: dict[str, Any] = {}
    notes: list[str] = []
    if dropped:
        notes.append(f"ignored {len(dropped)} id(s) this model does not have ({', '.join(dropped[:3])})")
    new: ViewState | None = None  # a new state to draw
    redraw = bool(dropped)  # draw again even if the state did not change
    check_size = True
    focus: dict[str, Any] | None = None
    sel: str | None = None
    sel_crumbs: str | None = None
    sel_mark: str | None = None
    search = search if isinstance(search, dict) else {"query": "", "matches": [], "index": 0}
    target = series_target

    was = selected.get("id") if isinstance(selected, dict) else None
    if trig == ids.GRAPH_EVENT:
        event = event if isinstance(event, dict) else {}
        res = step(view, was, {**event, "type": "click"})  # the explorer decides (presenters/explorer.py)
        notes += res.notes
        redraw = redraw or bool(res.notes)
        if res.selection is not None:
            x = res.selection
            sel_crumbs = sel_mark = x  # selected in the browser already (app.js); only the breadcrumb follows
            node = next((n for n in view.data().nodes if n.id == x), None)
            if node is not None and node.kind == "series" and (res.state != cur) != node.expanded:
                target = x  # the slider follows the series just opened, or tapped while open
        if res.state != cur:
            new, focus = res.state, res.focus
    elif trig in (ids.SEARCH_GO, ids.SEARCH_INPUT, ids.SEARCH_NEXT):
        q = (query or "").strip()
        if trig == ids.SEARCH_NEXT and search.get("matches") and q == search.get("query"):
            matches = [m for m in search["matches"] if m in h.groups or m in h.parent_of]
            index = (int(search.get("index", 0)) + 1) % max(1, len(matches))
        else:
            matches = view.find(q) if q else []
            index = 0
        if not q:
            search = {"query": "", "matches": [], "index": 0}
            out["search_info"] = ""
            redraw = True
        elif not matches:
            search = {"query": q, "matches": [], "index": 0}
            out["search_info"] = search_summary(h, q, [], 0)
            redraw = True
        else:
            m = matches[index]
            search = {"query": q, "matches": matches, "index": index}
            out["search_info"] = search_summary(h, q, matches, index)
            new = view.reveal(m).state
            sel = m
            focus = {"id": m, "mode": "center"}
            redraw = True
        out["search"] = search
    elif trig == ids.RESET:
        res = step(view, was, {"type": "reset"}, C.default_state)
        new, focus = res.state, res.focus
        search = {"query": "", "matches": [], "index": 0}
        out["search"], out["search_info"] = search, ""
        redraw = True
    elif trig in (ids.COLLAPSE_ALL, ids.UNFOLD, ids.OPEN_ALL):
        kind = {ids.COLLAPSE_ALL: "collapse_all", ids.UNFOLD: "unfold", ids.OPEN_ALL: "open_all"}[trig]
        res = step(view, was, {"type": kind})
        new, focus = res.state, res.focus
    elif trig == ids.CONFIRM:
        if isinstance(pending, dict) and pending.get("state") is not None:
            new, _ = C.state(pending["state"])
            focus = pending.get("focus") or {"mode": "top"}
            check_size = False
        out["pending"] = None
    elif trig == ids.SERIES_SLIDER:
        frames = _visible_series_frames(view)
        sid = target if target in frames else (frames[0] if frames else None)
        if sid is not None and slider is not None and int(slider) != view.instance_of(sid):
            # what is open inside the member shown (and the selection) moves to the same place in member k
            res = step(view, was, {"type": "instance", "series": sid, "index": int(slider)})
            new, focus, target, sel = res.state, res.focus, sid, res.selection
    elif trig == ids.COLOR_BY:
        redraw = True
    elif trig == RUN_STORE:
        redraw = (color_by or "role") in RUN_MODES  # a new sentence recolours only the run's colour modes
    elif trig == TRAIN_STORE:
        redraw = (color_by or "role") in TRAIN_MODES  # a new step recolours only the training colour modes
    elif trig == ids.VIEW_REQUEST and isinstance(request, dict):
        res = step(view, was, {**request, "type": str(request.get("action", ""))})
        notes += res.notes
        if not res.notes:
            new, focus, sel = res.state, res.focus, res.selection

    if new is not None and new != cur:
        redraw = True
    final = new if new is not None else cur
    if redraw:
        nview = C.view(final)
        if check_size and new is not None and new != cur and nview.size() > LARGE_VIEW \
                and nview.size() > view.size():
            out["confirm"] = True
            out["confirm_msg"] = (f"This view has {numfmt.count(nview.size())} boxes and edges (the graph is comfortable up to "
                                  f"{numfmt.count(LARGE_VIEW)}); drawing it takes a few seconds. Open it anyway?")
            out["pending"] = {"state": final.to_json_dict(), "focus": focus}
            out["notice"] = "; ".join(notes)
            return out
        r = C.render(final, color_by or "role", run, train)
        hl = _highlight_set(r.view, search.get("matches") or [])
        mark = sel if sel is not None else sel_mark if sel_mark is not None else (
            selected.get("id") if isinstance(selected, dict) else None)
        out.update({
            "state": final.to_json_dict(),
            "picture": _picture(r, hl, _rep(r.view, mark) if mark else None),
            "legend": _legend(r.lv, color_by or "role", r.vrange, r.why),
            "info": _info(r.view),
            "unfold_label": _unfold_label(final),
        })
        out.update(_series_controls(C, r.view, target))
        if focus is not None:
            if focus.get("id") is not None:
                focus = {**focus, "id": _rep(r.view, focus["id"]) or focus["id"]}
            out["focus"] = {**focus, "nonce": _nonce()}
        view = r.view
    elif target != series_target:
        out.update(_series_controls(C, view, target))
    if sel is not None:
        out["selected"] = {"id": sel}
        out["crumbs"] = _crumbs(C, view, sel)
    elif sel_crumbs is not None:
        out["crumbs"] = _crumbs(C, view, sel_crumbs)
    elif redraw:
        prev = selected.get("id") if isinstance(selected, dict) else None
        out["crumbs"] = _crumbs(C, view, prev)
    out["notice"] = "; ".join(notes)
    return out


def _nonce() -> int:
    """A fresh value that makes the focus store change: random, so no counter is shared between the tabs a
    process serves and two workers never hand out the same one (52 bits: exact as a JavaScript number)."""
    return secrets.randbits(52)
