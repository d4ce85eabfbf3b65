"""The "Compare" tab: this model (A) beside another one (B), aligned by structure and role
(``bertviz_graph.comparison``), both views opening and closing together.

Pick B as anything ``bertviz-graph serve`` takes (a preset name, a model folder, a saved graph.json, an .onnx
file); the server traces it (``pipeline.graph_of``), diffs it against the app's model and keeps the last
two comparisons. The tab then shows the two views side by side with the aligned boxes marked (added,
removed, changed, reshaped, regrouped, heads removed: ``presenters.diff``), the summary, the tables of what
differs and, for weights of the same shape, B − A heatmaps with statistics.

Both views are drawn by the graph canvas the main panel and the notebook use (``window.bvgGraph.GraphCanvas``
from assets/bvg-graph.js). A click on one view goes to the server (``DIFF_EVENT``), which opens or closes
that group and its partner on the other side, or selects it and reveals and highlights its partner.
While the tab is shown the side column is widened so the two views have room.

A side-panel module as ``app.layout`` expects: TAB_VALUE, TAB_LABEL, layout(C), register(app, C).
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from typing import Any

from dash import Input, Output, State, dcc, html, no_update
from dash.exceptions import PreventUpdate

from bertviz_graph.app import ids
from bertviz_graph.app.context import AppContext
from bertviz_graph.app.guard import error_text
from bertviz_graph.app.model_switch import choices
from bertviz_graph.app.registry import model_for, registry_of
from bertviz_graph.comparison import diff_graphs
from bertviz_graph.errors import UserError
from bertviz_graph.format import count, human, pct, short
from bertviz_graph.layout import layout_of
from bertviz_graph.pipeline import graph_of
from bertviz_graph.presenters.diff import MARK_STYLE, MARK_TEXT, diff_panel, visible_marks
from bertviz_graph.render.diff_export import marks_css, paired_views
from bertviz_graph.render.svg import to_svg
from bertviz_graph.view import View, ViewState

TAB_VALUE = "compare"
TAB_LABEL = "Compare"
INPUT = "bv-diff-input"
HEAD = "bv-diff-head"
GO = "bv-diff-go"
STATUS = "bv-diff-status"
LIST = "bv-diff-list"
VIEW_A = "bv-diff-view-a"
VIEW_B = "bv-diff-view-b"
TITLE_A = "bv-diff-title-a"
TITLE_B = "bv-diff-title-b"
BODY = "bv-diff-body"  # summary, legend, tables, heatmaps
STATE = "bv-diff-state"  # {"spec", "head", "a": ViewState json, "b": ViewState json}
PICTURE = "bv-diff-picture"  # {"a": {svg, marks, focus}, "b": {...}}
EVENT = "bv-diff-event"  # written by the canvases: {side, type, id, toggle, nonce}
DUMMY = "bv-diff-dummy"
DUMMY_WIDE = "bv-diff-dummy-wide"
SELECTED_COLOUR = "#1f77b4"  # the canvas' own red / orange are the marks' "removed" / "changed"
PARTNER_COLOUR = "#17becf"
KEEP = 2  # comparisons kept per app (each holds B's graph)
_LOCK = threading.Lock()
HEADS = ["auto", "base", "mlm", "cls", "qa"]


# ---- the comparison, computed once per (B, head) -------------------------------------------------------
def comparison(C: AppContext, spec: str, head: str = "auto"):
    """(GraphDiff, DiffPanel) of the app's model against ``spec``; traced and cached on first use."""

    key = (spec, head)
    with _LOCK:
        cache: OrderedDict = C.__dict__.setdefault("_bv_diff", OrderedDict())
        if key in cache:
            cache.move_to_end(key)
            return cache[key]
    other = graph_of(spec, head=head, replay_program=False)  # compared, never run here
    d = diff_graphs(C.graph, other)
    out = (d, diff_panel(d))
    with _LOCK:
        cache[key] = out
        while len(cache) > KEEP:
            cache.popitem(last=False)
    return out


def _side(d, side: str):
    return d.a if side == "a" else d.b


def _view(C: AppContext, d, side: str, state: ViewState) -> View:
    return View(_side(d, side).hierarchy, state, direction=C.direction)


def _state(h, raw: dict | None) -> ViewState:
    """A ViewState from browser data, keeping only ids this hierarchy has."""
    st = ViewState.from_json_dict(raw if isinstance(raw, dict) else {})
    inst = tuple((k, v) for k, v in st.instance if k in h.groups and h.groups[k].kind == "series")
    return ViewState(opened=frozenset(x for x in st.opened if x in h.groups),
                     unfolded=frozenset(x for x in st.unfolded if x in h.groups and h.groups[x].kind == "series"),
                     instance=inst)


def picture(C: AppContext, d, panel, side: str, view: View, selected: str | None = None,
            partner_of: str | None = None, focus: dict | None = None) -> dict[str, Any]:
    """What one canvas draws: our SVG with the differences outlined (CSS scoped to that canvas), the
    selected box, and the partner of the box selected on the other side highlighted."""

    svg = to_svg(layout_of(view), legend=False, title=False)
    scope = "#" + (VIEW_A if side == "a" else VIEW_B)
    css = marks_css(visible_marks(panel.marks_a if side == "a" else panel.marks_b, view), view, scope=scope)
    # the selected box and its partner stay visible on a marked box (an id and two classes beat the marks)
    css += "".join(f"\n{scope} g.node.{cls}[data-id] > rect, {scope} g.node.{cls}[data-id] > path "
                   f"{{stroke: var({var}); stroke-width: 4px; stroke-dasharray: none;}}"
                   for cls, var in (("bvg-selected", "--bvg-sel"), ("bvg-match", "--bvg-match")))
    # half the width of the main graph's: the overview map would hide a third of a view this narrow
    css += f"\n{scope} .bvg-minimap {{transform: scale(0.55); transform-origin: right bottom;}}"
    svg = with_notes(svg, panel.notes_a if side == "a" else panel.notes_b)
    if css:
        start = svg.index("<svg")
        end = svg.index(">", start) + 1
        svg = svg[:end] + f"<style>{css}</style>" + svg[end:]
    marks = {"selected": _rep(view, selected) or "" if selected else "",
             "matches": [r for r in [_rep(view, partner_of)] if r] if partner_of else []}
    return {"svg": svg, "marks": marks, "focus": focus or {}}


_TITLE = re.compile(r'(<g class="node" data-id="([^"]*)"[^>]*><title>)(.*?)(</title>)', re.S)


def with_notes(svg: str, notes: dict[str, str]) -> str:
    """Each box's tooltip (its <title>) ends with what it meets on the other side and what differs."""
    import html as H

    def add(m: re.Match) -> str:
        note = notes.get(H.unescape(m.group(2)))
        return m.group(0) if not note else f"{m.group(1)}{m.group(3)}\n{H.escape(note, quote=False)}{m.group(4)}"

    return _TITLE.sub(add, svg)


def _rep(view: View, x: str | None) -> str | None:
    if not x:
        return None
    try:
        return view.rep(x)
    except KeyError:
        return None


def initial_states(d) -> tuple[ViewState, ViewState]:
    """Both overviews opened down to the layers, every ×N stack unfolded (missing layers show)."""

    va, vb = paired_views(d)
    return va.state, vb.state


# ---- one click ----------------------------------------------------------------------------------------
def handle_click(C: AppContext, d, event: dict, sa: ViewState, sb: ViewState
                 ) -> tuple[ViewState, ViewState, str | None, str | None, str]:
    """A click on one view -> (state A, state B, selected on A, selected on B, what happened).

    A toggle on a closed group opens it and its partner; on an open frame it closes both; a plain click
    selects the box, and the other view reveals and highlights its partner."""
    side = "a" if event.get("side") == "a" else "b"
    other = "b" if side == "a" else "a"
    x = str(event.get("id", ""))
    toggle = bool(event.get("toggle")) or event.get("type") == "dblclick"
    views = {"a": _view(C, d, "a", sa), "b": _view(C, d, "b", sb)}
    v, w = views[side], views[other]
    h, ho = _side(d, side).hierarchy, _side(d, other).hierarchy
    visible = {n.id: n for n in v.data().nodes}
    if x not in visible:
        return sa, sb, None, None, f"'{x}' is not in this view any more: drawn again"
    n = visible[x]
    p = d.partner(x, side=side)
    p = p if p in ho.groups or (p is not None and p in ho.parent_of) else None
    note = ""
    if toggle and n.expanded:
        v = v.close(x)
        if p is not None and p in w.state.opened:
            w = w.close(p)
    elif toggle and n.expandable:
        if n.kind == "series":
            k = v.instance_of(x)
            v = v.open_instance(x, k)
            members = h.groups[x].members
            pm = d.partner(members[k], side=side) if k < len(members) else None
            ps = ho.parent(pm) if pm is not None else None
            if ps in ho.groups and ho.groups[ps].kind == "series":
                w = w.reveal(ps).open_instance(ps, ho.groups[ps].members.index(pm))
        else:
            v = v.open(x)
            if p is not None and p in ho.groups:
                w = w.reveal(p).open(p)
    elif p is not None:
        w = w.reveal(p)
    if p is None and x in h.groups:
        note = f"{h.groups[x].label}: no partner in {_side(d, other).name}"
    views[side], views[other] = v, w
    sel = {side: x, other: p}
    return views["a"].state, views["b"].state, sel["a"], sel["b"], note


# ---- layout -------------------------------------------------------------------------------------------
def _legend() -> html.Div:
    keys = []
    for k, (colour, dash) in MARK_STYLE.items():
        keys.append(html.Span(MARK_TEXT[k], className="bv-diff-key",
                              style={"border": f"2.5px {'dashed' if dash else 'solid'} {colour}",
                                     "padding": "0 6px", "marginRight": "6px", "fontSize": "12px",
                                     "whiteSpace": "nowrap", "display": "inline-block", "marginBottom": "3px"}))
    for text, colour in (("selected", SELECTED_COLOUR), ("its partner", PARTNER_COLOUR)):
        keys.append(html.Span(text, style={"border": f"3px solid {colour}", "padding": "0 6px", "fontSize": "12px",
                                           "display": "inline-block", "marginRight": "6px"}))
    return html.Div(keys, style={"margin": "4px 0"})


def _view_box(id_: str, title_id: str, title: str) -> html.Div:
    return html.Div(style={"flex": "1 1 50%", "minWidth": "0", "display": "flex", "flexDirection": "column"},
                    children=[html.Div(title, id=title_id, style={"fontWeight": "bold", "fontSize": "13px",
                                                                  "margin": "2px 0", "overflow": "hidden",
                                                                  "textOverflow": "ellipsis",
                                                                  "whiteSpace": "nowrap"}),
                              html.Div(id=id_, className="bv-diff-view",
                                       style={"height": "520px", "position": "relative", "display": "flex",
                                              "--bvg-sel": SELECTED_COLOUR, "--bvg-match": PARTNER_COLOUR,
                                              "border": "1px solid #ddd", "overflow": "hidden"})])


def layout(C: AppContext) -> html.Div:

    return html.Div([
        dcc.Store(id=STATE, data=None), dcc.Store(id=PICTURE, data=None), dcc.Store(id=EVENT, data=None),
        dcc.Store(id=DUMMY), dcc.Store(id=DUMMY_WIDE),
        html.Datalist(id=LIST, children=[html.Option(value=n) for n in choices()]),
        html.Div([
            html.Span("Compare with "),
            dcc.Input(id=INPUT, type="text", list=LIST, debounce=True, style={"flex": "1", "minWidth": "160px"},
                      placeholder="preset, model folder, graph.json or .onnx"),
            dcc.Dropdown(id=HEAD, options=[{"label": f"head: {x}", "value": x} for x in HEADS], value="auto",
                         clearable=False, searchable=False, style={"width": "120px"}),
            html.Button("Compare", id=GO, n_clicks=0, className="bv-btn"),
        ], style={"display": "flex", "alignItems": "center", "gap": "6px", "marginBottom": "4px"}),
        dcc.Loading(html.Div(id=STATUS, className="bv-empty", role="status",
                             children=f"A is {C.graph.name}. Pick B: the two are aligned by structure and role "
                                      "(not by name); opening a group on one side opens its partner."),
                    type="dot"),
        _legend(),
        html.Div(style={"display": "flex", "gap": "8px", "alignItems": "stretch"}, children=[
            _view_box(VIEW_A, TITLE_A, f"A: {C.graph.name}"), _view_box(VIEW_B, TITLE_B, "B: (none yet)")]),
        html.Div(id=BODY),
    ])


def _fmt(v: Any, delta: bool = False) -> str:
    """Numbers through format.py: counts as 23.4M / +590k, ratios with 4 digits."""

    if v is None or v == "":
        return ""
    if isinstance(v, float):
        return short(v)
    if isinstance(v, int):
        return ("+" if delta and v > 0 else "") + human(v)
    return str(v)


ROW_COLOURS = {"removed": "#fde0e0", "added": "#e0f5e0", "changed": "#fff0dd", "reshaped": "#eee4f5",
               "regrouped": "#f0f0f0"}


def _cell(r: dict, k: str) -> Any:
    """The whole model's id is "": show it as such."""
    if k in ("a", "b") and r.get(k) == "" and r.get("role") == "model" and (r.get("a") == r.get("b")):
        return "(the model)"
    return r.get(k)


def _table(rows: list[dict], cols: list[tuple[str, str]], limit: int = 60) -> html.Div:
    head = html.Tr([html.Th(t, style={"textAlign": "left", "padding": "1px 6px"}) for _, t in cols])
    body = [html.Tr([html.Td(_fmt(_cell(r, k), k.endswith("delta")), title=str(r.get(k) or ""),
                             style={"padding": "1px 6px", "borderBottom": "1px solid #eee"}) for k, _ in cols],
                    style={"background": ROW_COLOURS.get(str(r.get("status")), "")}) for r in rows[:limit]]
    more = [html.P(f"… and {len(rows) - limit} more", className="bv-empty")] if len(rows) > limit else []
    return html.Div([html.Table([html.Thead(head), html.Tbody(body)], className="bv-diff-table",
                                style={"fontSize": "12px", "borderCollapse": "collapse"})] + more,
                    style={"overflowX": "auto"})


def heatmap_figure(h: dict):
    import numpy as np
    import plotly.graph_objects as go

    z = np.asarray(h["z"], dtype=float)
    lim = float(np.nanmax(np.abs(z))) if z.size else 1.0
    fig = go.Figure(go.Heatmap(z=z, zmid=0, zmin=-lim or -1, zmax=lim or 1, colorscale="RdBu_r",
                               colorbar={"title": {"text": "B − A"}, "thickness": 10},
                               hovertemplate="block %{y}, %{x}: %{z:.3g}<extra></extra>"))
    title = h["title"].replace(" → ", " →<br>")  # A's name and B's, one a line: both fit half a panel
    fig.update_layout(title={"text": f"{title} ({'×'.join(map(str, h['shape']))})", "font": {"size": 11}},
                      yaxis={"autorange": "reversed"}, height=270, template="plotly_white",
                      margin={"l": 30, "r": 10, "t": 46, "b": 24})
    return fig


def body(d, panel) -> list[Any]:
    """The summary, the tables of what differs and the heatmaps (below the two views)."""
    out: list[Any] = [html.H4(panel.title, style={"margin": "8px 0 2px"}),
                      html.Ul([html.Li(s) for s in panel.summary], className="bv-diff-summary")]
    top = set(outermost(d.a.hierarchy, d.removed)) | set(outermost(d.b.hierarchy, d.added))
    # a removed layer is one row, not one per part it holds
    groups = [g for g in panel.groups if (g["status"] == "matched" and (g["params_delta"] or g["flops_delta"]))
              or g["status"] == "regrouped" or (g["a"] or g["b"]) in top]
    out.append(html.H4(f"Groups that differ ({len(groups)}; a group only on one side counts once, with its parts)"))
    out.append(_table(groups, [("role", "role"), ("a", "A"), ("b", "B"), ("status", "status"),
                               ("params_a", "params A"), ("params_b", "params B"), ("params_delta", "Δ params"),
                               ("flops_delta", "Δ FLOPs")]) if groups else html.P("none", className="bv-empty"))
    units = [u for u in panel.units if u["status"] != "same"]
    out.append(html.H4(f"Parameter modules that differ ({len(units)} of {len(panel.units)})"))
    out.append(_table(units, [("tag", "role"), ("a", "A"), ("b", "B"), ("status", "status"),
                              ("shapes_a", "shape A"), ("shapes_b", "shape B"), ("params_delta", "Δ params"),
                              ("rel_norm", "‖Δ‖/‖A‖"), ("changed", "changed")]) if units
               else html.P("none", className="bv-empty"))
    out.append(html.H4("Difference heatmaps (same-shape weights, B − A)"))
    if not panel.heatmaps:
        out.append(html.P("No same-shape weights differ" + ("" if d.weights_compared else
                                                            " (weights not compared: structure only)") + ".",
                          className="bv-empty"))
    cells = []
    for h in panel.heatmaps:
        cells.append(html.Div([dcc.Graph(figure=heatmap_figure(h), config={"displaylogo": False}),
                               html.Div(stats_text(h["stats"]), className="bv-diff-stats",
                                        style={"fontSize": "12px", "padding": "0 8px 8px"})],
                              className="bv-diff-heatmap", style={"minWidth": "0"}))
    if cells:
        out.append(html.Div(cells, style={"display": "grid", "gridTemplateColumns": "1fr 1fr", "gap": "4px"}))
    return out


def stats_text(stats: dict[str, Any]) -> str:
    """max |Δ| 0.00764 · mean |Δ| 0.00115 · ‖Δ‖/‖A‖ 0.124 · changed 31% · zeros A 0 · zeros B 634."""

    return " · ".join(f"{k} {pct(v) if k == 'changed' else short(v) if isinstance(v, float) else count(v)}"
                      for k, v in stats.items())


def outermost(h, gids: list[str]) -> list[str]:
    """The groups not inside another of ``gids`` (a removed layer, not also its 14 parts)."""
    s = set(gids)
    return [g for g in gids if not any(a in s for a in h.ancestors(g))]


def status_line(d) -> str:
    ra, ab = outermost(d.a.hierarchy, d.removed), outermost(d.b.hierarchy, d.added)

    def some(xs: list[str]) -> str:
        return ": " + ", ".join(xs[:4]) + (f" and {len(xs) - 4} more" if len(xs) > 4 else "") if xs else ""

    return (f"B is {d.b.name}. Only in A: {len(ra)} group{'s' * (len(ra) != 1)}{some(ra)}. Only in B: {len(ab)}"
            f"{some(ab)}. Click a box: its partner is shown; open or close it: the partner follows.")


# ---- callbacks ----------------------------------------------------------------------------------------
DRAW_JS = """function (pic) {
    const S = window.bvgDiff = window.bvgDiff || {canvases: {}, nonce: 0, draws: 0};
    const nu = window.dash_clientside.no_update;
    if (!pic) return nu;
    const draw = (tries) => {
        const GC = window.bvgGraph && window.bvgGraph.GraphCanvas;
        const hosts = {a: document.getElementById('__A__'), b: document.getElementById('__B__')};
        if (!GC || !hosts.a || !hosts.b) { if (tries < 40) setTimeout(() => draw(tries + 1), 50); return; }
        for (const side of ['a', 'b']) {
            const el = hosts[side];
            let c = S.canvases[side];
            if (!c || c.bvHost !== el) {
                if (c) c.destroy();
                el.textContent = '';
                const send = (msg) => {
                    if (msg.type !== 'click' && msg.type !== 'dblclick') return;
                    S.nonce += 1;
                    window.dash_clientside.set_props('__EVENT__', {data: {...msg, side: side, nonce: S.nonce}});
                };
                c = new GC({send: send}, el);
                c.bvHost = el;
                S.canvases[side] = c;
            }
            const p = pic[side] || {};
            const fresh = p.svg !== c.svgText;
            if (fresh) c.setSvg(p.svg || '');
            c.setMarks(p.marks || {});
            const f = p.focus || {};
            if (f.mode && (fresh || f.nonce !== c.bvNonce)) c.goTo(f.mode, f.id);
            c.bvNonce = f.nonce;
        }
        S.draws += 1;
    };
    draw(0);
    return Date.now();
}""".replace("__A__", VIEW_A).replace("__B__", VIEW_B).replace("__EVENT__", EVENT)

# the side column takes most of the width while the two views are shown, and gives it back after
WIDE_JS = """function (tab) {
    const side = document.querySelector('.bv-side');
    if (!side) return window.dash_clientside.no_update;
    const wide = tab === '__TAB__';
    side.style.flex = wide ? '0 0 66%' : '';
    side.style.maxWidth = wide ? 'none' : '';
    return wide;
}""".replace("__TAB__", TAB_VALUE)


def compare(C: AppContext, spec: Any, head: Any = "auto") -> tuple:
    """The answer to "Compare": (state, pictures, body, status line, B's title); bad input gives only the
    status line, a sentence naming the problem."""
    spec = str(spec or "").strip()
    if not spec:
        return no_update, no_update, no_update, "type B: a preset name, a model folder, a graph.json or an " \
                                                ".onnx file", no_update
    head = head if head in HEADS else "auto"
    try:
        d, panel = comparison(C, spec, head)
        sa, sb = initial_states(d)
        pics = {"a": picture(C, d, panel, "a", _view(C, d, "a", sa), focus={"mode": "top", "nonce": 0}),
                "b": picture(C, d, panel, "b", _view(C, d, "b", sb), focus={"mode": "top", "nonce": 0})}
    except Exception as e:  # noqa: BLE001 - a sentence, never a traceback
        return no_update, no_update, no_update, f"cannot compare with '{spec}': {error_text(e)}", no_update
    state = {"spec": spec, "head": head, "a": sa.to_json_dict(), "b": sb.to_json_dict()}
    status = panel.summary[0] if d.alignment.shares_nothing else status_line(d)
    return state, pics, body(d, panel), status, f"B: {d.b.name}"


def register(app, C: AppContext) -> None:
    app.clientside_callback(DRAW_JS, Output(DUMMY, "data"), Input(PICTURE, "data"))
    app.clientside_callback(WIDE_JS, Output(DUMMY_WIDE, "data"), Input(ids.TABS, "value"))

    @app.callback(Output(STATE, "data"), Output(PICTURE, "data"), Output(BODY, "children"),
                  Output(STATUS, "children"), Output(TITLE_B, "children"),
                  Input(GO, "n_clicks"), Input(INPUT, "n_submit"), State(INPUT, "value"), State(HEAD, "value"), State(ids.MODEL, "data"),
                  prevent_initial_call=True)
    def _compare(_n, _s, spec, head, tab=None):
        C = model_for(app, tab)  # the tab's model (app/registry.py)
        try:
            registry_of(app).normalise(spec)  # B obeys the server's path policy as the Model box does
        except UserError as e:
            return no_update, no_update, no_update, error_text(e), no_update
        return compare(C, spec, head)

    @app.callback(Output(STATE, "data", allow_duplicate=True), Output(PICTURE, "data", allow_duplicate=True),
                  Output(STATUS, "children", allow_duplicate=True),
                  Input(EVENT, "data"), State(STATE, "data"), State(ids.MODEL, "data"), prevent_initial_call=True)
    def _click(event, state, spec=None):
        C = model_for(app, spec)  # the tab's model (app/registry.py)
        if not isinstance(event, dict) or not isinstance(state, dict) or not state.get("spec"):
            raise PreventUpdate
        try:
            d, panel = comparison(C, state["spec"], state.get("head") or "auto")
            sa, sb = _state(d.a.hierarchy, state.get("a")), _state(d.b.hierarchy, state.get("b"))
            na, nb, sel_a, sel_b, note = handle_click(C, d, event, sa, sb)
            side = "a" if event.get("side") == "a" else "b"
            nonce = int(event.get("nonce") or 0)
            sel = {"a": sel_a, "b": sel_b}
            pics = {}
            for s, st in (("a", na), ("b", nb)):
                mine = s == side
                target = sel[s]
                # the partner centred at the zoom that side has (fitting it with its context would zoom a
                # half-width view far out)
                focus = {"mode": "center", "id": target, "nonce": nonce} if target and not mine else {}
                pics[s] = picture(C, d, panel, s, _view(C, d, s, st), selected=target if mine else None,
                                  partner_of=target if not mine else None, focus=focus)
        except Exception as e:  # noqa: BLE001
            return no_update, no_update, error_text(e)
        what = (panel.notes_a if side == "a" else panel.notes_b).get(str(event.get("id", "")))
        line = f"{side.upper()} {event.get('id')}: {what}" if what else note
        return {**state, "a": na.to_json_dict(), "b": nb.to_json_dict()}, pics, line or no_update
