"""A laid-out view as dash-cytoscape elements, drawn like the SVG export (``render/svg.py``).

Cytoscape sizes a compound node from its children and draws one label per node, so the picture is built
from a few plain pieces, all placed at the server's positions (``layout={'name': 'preset'}``):

- a collapsed node is one box (``id`` = the VNode id) carrying its first line; a second, click-through
  text node ``id::sub`` carries the smaller grey second line; a folded series gets two boxes behind it
  (``id::stack1``, ``id::stack2``), like the stack in the SVG;
- an opened group (a frame) is a compound node (``id``) whose children are drawn inside it; its title
  bar is a child box ``id::bar`` (click it to close the frame) with left-aligned text nodes ``id::title``
  and ``id::subtitle``, and a 1-px anchor ``id::end`` at the bottom so the compound box matches the
  layout's box exactly;
- an edge follows the layout's route: its Bézier curve is sampled, simplified and given to cytoscape as
  ``segments`` (distances and weights along the line between the route's two end points, which are set
  explicitly with ``source-endpoint`` / ``target-endpoint``); its label is a text node ``edge::label``
  at the layout's label position.

Every helper element has ``data.target`` = the VNode it belongs to, so a click anywhere on a box means
that box.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

from bertviz_graph.hierarchy.style import EDGE_STYLE, WEIGHT_KINDS, role_color, role_label
from bertviz_graph.layout import measure
from bertviz_graph.layout.types import LaidOutView, NodeBox, Point
from bertviz_graph.view_types import VEdge, VNode

SUFFIXES = ("::sub", "::stack1", "::stack2", "::bar", "::title", "::subtitle", "::end", "::label", "::psrc",
            "::ptgt")

TEXT = "#1a1a1a"
SUBTEXT = "#4d4d4d"
EDGE_COLORS = {k: c for k, (c, _w, _d, _l) in EDGE_STYLE.items()}
EDGE_LEGEND = {k: label for k, (_c, _w, _d, label) in EDGE_STYLE.items()}
HIGHLIGHT = "#e6007e"
SELECTED = "#1f6feb"


def target_of(element_id: str) -> str:
    """The VNode id a cytoscape element id stands for (strips the helper suffixes)."""
    for s in SUFFIXES:
        if element_id.endswith(s):
            return element_id[: -len(s)]
    return element_id


def mix(color: str, other: str, t: float) -> str:
    """``color`` moved a fraction ``t`` towards ``other`` (hex colours)."""
    a = [int(color[i : i + 2], 16) for i in (1, 3, 5)]
    b = [int(other[i : i + 2], 16) for i in (1, 3, 5)]
    return "#" + "".join(f"{round(x + (y - x) * t):02x}" for x, y in zip(a, b))


# ---- tooltips -----------------------------------------------------------------------------------------
def _shape(s: Any) -> str:
    if isinstance(s, (list, tuple)) and all(isinstance(d, int) for d in s):
        return "[" + ", ".join(str(d) for d in s) + "]"
    return str(s)


def _num(v: Any) -> str:
    from bertviz_graph.render.tree_text import human

    try:
        return f"{int(v):,} ({human(int(v))})" if int(v) >= 10_000 else f"{int(v):,}"
    except (TypeError, ValueError):
        return str(v)


def node_tip(n: VNode, inputs: list[list[int]] | None = None) -> str:
    """Hover text: what it is, shapes in and out, sizes. ``inputs``: shapes of the tensors flowing in."""
    a = n.attrs
    lines = [measure.display_label(n)]
    if n.sublabel:
        lines.append(n.sublabel)
    kind = {"group": "module", "series": f"folded series of {n.count}"}.get(n.kind, n.kind)
    lines.append(f"{kind} · {role_label(n.role)}")
    if a.get("class") and n.kind in ("group", "series"):
        lines.append(f"class {a['class']}" + (f" · {a['path']}" if a.get("path") else ""))
    if a.get("target"):
        lines.append(f"op {a['target']}")
    if a.get("inputs"):
        lines.append("in  " + ", ".join(_shape(s) for s in a["inputs"]))
    if a.get("outputs"):
        lines.append("out " + ", ".join(_shape(s) for s in a["outputs"]))
    if inputs and not a.get("inputs") and n.kind == "op":
        lines.append("in  " + ", ".join(_shape(s) for s in inputs[:4]) + (" …" if len(inputs) > 4 else ""))
    if a.get("shape") and n.kind not in ("group", "series"):
        lines.append(("shape " if n.kind in ("param", "buffer") else "out ") + _shape(a["shape"])
                     + (f" {a['dtype']}" if a.get("dtype") else ""))
    if a.get("params"):
        p = a["params"]
        lines.append("parameters " + (_num(p) if isinstance(p, int) else ", ".join(map(str, p))))
    if a.get("numel"):
        lines.append(f"{_num(a['numel'])} weights")
    if a.get("flops_unknown"):
        lines.append("FLOPs " + (f"{_num(a['flops'])} + unknown ({a['flops_unknown']} ops not countable)"
                                 if a.get("flops") else "unknown"))
    elif a.get("flops"):
        lines.append(f"FLOPs {_num(a['flops'])}")
    if a.get("ops") and n.kind in ("group", "series"):
        lines.append(f"{a['ops']} ops")
    if a.get("source"):
        lines.append(f"source {a['source']}")
    if n.expandable:
        if n.kind == "series" and not n.expanded:
            lines.append("click to open (shows one member; pick which with the slider)")
        else:
            lines.append("click the title bar to close" if n.expanded else "click to open")
    return "\n".join(lines)


def edge_tip(e: VEdge, names: Mapping[str, str]) -> str:
    lines = [f"{names.get(e.source, e.source)} → {names.get(e.target, e.target)}"]
    if e.shapes:
        lines.append("tensor " + ", ".join(_shape(s) for s in e.shapes[:4]) + (" …" if len(e.shapes) > 4 else ""))
    if e.count > 1:
        lines.append(f"{e.count} tensors")
    if e.kind != "data":
        lines.append(EDGE_LEGEND.get(e.kind, e.kind))
    return "\n".join(lines)


# ---- routes -------------------------------------------------------------------------------------------
def _bezier_points(route: list[Point], per_curve: int = 10) -> list[Point]:
    """Sample a dot route (p0, then (c1, c2, p) triples) into a polyline."""
    pts = [route[0]]
    for i in range(1, len(route) - 2, 3):
        p0, c1, c2, p1 = pts[-1], route[i], route[i + 1], route[i + 2]
        for k in range(1, per_curve + 1):
            t = k / per_curve
            u = 1 - t
            pts.append((u * u * u * p0[0] + 3 * u * u * t * c1[0] + 3 * u * t * t * c2[0] + t * t * t * p1[0],
                        u * u * u * p0[1] + 3 * u * u * t * c1[1] + 3 * u * t * t * c2[1] + t * t * t * p1[1]))
    return pts


def _simplify(pts: list[Point], eps: float) -> list[Point]:
    """Ramer–Douglas–Peucker: drop points closer than ``eps`` px to the line they sit on."""
    if len(pts) < 3:
        return pts
    keep = [False] * len(pts)
    keep[0] = keep[-1] = True
    stack = [(0, len(pts) - 1)]
    while stack:
        a, b = stack.pop()
        (ax, ay), (bx, by) = pts[a], pts[b]
        dx, dy = bx - ax, by - ay
        norm = math.hypot(dx, dy) or 1e-9
        best, idx = -1.0, -1
        for i in range(a + 1, b):
            px, py = pts[i]
            d = abs(dy * (px - ax) - dx * (py - ay)) / norm
            if d > best:
                best, idx = d, i
        if best > eps and idx > 0:
            keep[idx] = True
            stack += [(a, idx), (idx, b)]
    return [p for p, k in zip(pts, keep) if k]


def route_style(route: list[Point], eps: float = 0.75) -> dict[str, Any] | None:
    """Segment distances/weights (relative to the line p0 -> pn) for cytoscape, or None for no route."""
    if not route or len(route) < 2:
        return None
    pts = _bezier_points(route) if len(route) >= 4 else list(route)
    pts = _simplify(pts, eps)
    (x0, y0), (x1, y1) = pts[0], pts[-1]
    dx, dy = x1 - x0, y1 - y0
    L2 = dx * dx + dy * dy
    if L2 < 1e-6:
        return None
    L = math.sqrt(L2)
    ws, ds = [], []
    for px, py in pts[1:-1]:
        w = ((px - x0) * dx + (py - y0) * dy) / L2
        d = (dx * (py - y0) - dy * (px - x0)) / L
        ws.append(round(w, 4))
        ds.append(round(d, 2))
    return {"p0": pts[0], "p1": pts[-1], "weights": ws, "distances": ds}


# ---- elements ------------------------------------------------------------------------------------------
def _fmt(v: float) -> str:
    return f"{v:.2f}".rstrip("0").rstrip(".")


def _text_node(eid: str, parent: str | None, x: float, y: float, label: str, cls: str, target: str) -> dict:
    d: dict[str, Any] = {"id": eid, "label": label, "target": target}
    if parent is not None:
        d["parent"] = parent
    return {"data": d, "position": {"x": round(x, 2), "y": round(y, 2)}, "classes": cls,
            "selectable": False, "grabbable": False}


def to_elements(
    lv: LaidOutView,
    fills: Mapping[str, str] | None = None,
    highlight: Iterable[str] = (),
) -> list[dict[str, Any]]:
    """Cytoscape elements for ``lv``. ``fills``: node id -> fill colour (default: role colour)."""
    view = lv.view
    fills = fills or {}
    hl = set(highlight)
    by_id = {n.id: n for n in view.nodes if n.id in lv.boxes}
    parents = {n.parent for n in by_id.values() if n.parent is not None}
    frames = {nid for nid, n in by_id.items() if n.expanded or nid in parents}
    names = {n.id: measure.display_label(n) for n in view.nodes}
    inputs: dict[str, list[list[int]]] = {}
    for e in view.edges:
        inputs.setdefault(e.target, []).extend(s for s in e.shapes if e.kind not in WEIGHT_KINDS)
    out: list[dict[str, Any]] = []
    lh1 = measure.LABEL_PX * measure.LINE
    lh2 = measure.SUBLABEL_PX * measure.LINE
    # Compound parents must come before their children: view nodes are parent-before-child already.
    for n in view.nodes:
        b = lv.boxes.get(n.id)
        if b is None:
            continue
        parent = n.parent if n.parent in by_id else None
        fill = fills.get(n.id) or role_color(n.role)
        base = [f"k-{n.kind}", f"r-{n.role}"]
        if n.expandable:
            base.append("expandable")
        if n.id in hl:
            base.append("hl")
        tip = node_tip(n, inputs.get(n.id))
        if n.id in frames:
            out += _frame_elements(n, b, parent, fill, base, tip, 0.6 if n.id not in fills else 0.8)
            continue
        out += _leaf_elements(n, b, parent, fill, base, tip, lh1, lh2)
    # edges and their labels
    for e in view.edges:
        route = lv.routes.get(e.id)
        if e.source not in by_id or e.target not in by_id or route is None:
            continue
        rs = route_style(route)
        if rs is None:
            continue
        kind = e.kind if e.kind in EDGE_COLORS else "data"
        (x0, y0), (x1, y1) = rs["p0"], rs["p1"]
        source, target = e.source, e.target
        # cytoscape draws an edge that touches a compound node inside it as a loop: an end on a frame
        # border is attached to a 1-px port node there instead.
        if e.source in frames:
            source = f"{e.id}::psrc"
            out.append(_text_node(source, e.source, x0, y0, "", "anchor", e.source))
        if e.target in frames:
            target = f"{e.id}::ptgt"
            out.append(_text_node(target, e.target, x1, y1, "", "anchor", e.target))
        src_c = (x0, y0) if e.source in frames else _centre(by_id[e.source], lv.boxes[e.source], False)
        dst_c = (x1, y1) if e.target in frames else _centre(by_id[e.target], lv.boxes[e.target], False)
        data = {
            "id": f"e:{e.id}",
            "source": source,
            "target": target,
            "target_id": e.id,
            "kind": kind,
            "se": f"{_fmt(x0 - src_c[0])}px {_fmt(y0 - src_c[1])}px",
            "te": f"{_fmt(x1 - dst_c[0])}px {_fmt(y1 - dst_c[1])}px",
            "tip": edge_tip(e, names),
        }
        cls = [f"ek-{kind}"]
        if rs["weights"]:
            data["sw"] = rs["weights"]
            data["sd"] = rs["distances"]
            cls.append("routed")
        else:
            cls.append("straight")
        out.append({"data": data, "classes": " ".join(cls), "selectable": False})
        lp = lv.label_pos.get(e.id)
        if lp is not None and e.label and kind != "param":  # tied/shared weights keep their label
            w, h = measure.edge_label_size(e.label)
            node = _text_node(f"{e.id}::label", e.container if e.container in by_id else None, lp[0], lp[1],
                              e.label, "elabel", e.id)
            node["data"].update({"w": w, "h": h})
            out.append(node)
    return out


def _centre(n: VNode, b: NodeBox, is_frame: bool) -> Point:
    """Where cytoscape puts the element named n.id (a series' front box is shifted down-left)."""
    if n.count > 1 and not is_frame:
        s = measure.STACK_OFFSET
        return (b.x - s, b.y + s)
    return (b.x, b.y)


def _frame_elements(n: VNode, b: NodeBox, parent: str | None, fill: str, base: list[str], tip: str,
                    body_mix: float = 0.6) -> list[dict]:
    _tw, th = measure.frame_title_size(n)
    data: dict[str, Any] = {"id": n.id, "label": "", "fill": mix(fill, "#ffffff", body_mix),
                            "border": mix(fill, "#000000", 0.45), "tip": tip, "target": n.id}
    if parent is not None:
        data["parent"] = parent
    out = [{"data": data, "classes": " ".join(["frame", *base]), "grabbable": False}]
    bar = {"id": f"{n.id}::bar", "parent": n.id, "target": n.id, "w": b.w, "h": th, "fill": fill,
           "border": mix(fill, "#000000", 0.45), "tip": tip, "label": ""}
    out.append({"data": bar, "position": {"x": b.x, "y": round(b.top + th / 2, 2)},
                "classes": " ".join(["bar", *base]), "grabbable": False})
    tx = b.left + measure.TITLE_BAR_PAD_X
    ty = b.top + th / 2
    title = measure.display_label(n)
    out.append(_text_node(f"{n.id}::title", n.id, tx, ty, title, "ftitle", n.id))
    if n.sublabel:
        sx = tx + measure.text_width(title, measure.LABEL_PX, True) + measure.TITLE_GAP
        if sx < b.right - 20:
            out.append(_text_node(f"{n.id}::subtitle", n.id, sx, ty, n.sublabel, "fsubtitle", n.id))
    end = _text_node(f"{n.id}::end", n.id, b.x, b.bottom - 0.5, "", "anchor", n.id)
    out.append(end)
    return out


def _leaf_elements(n: VNode, b: NodeBox, parent: str | None, fill: str, base: list[str], tip: str,
                   lh1: float, lh2: float) -> list[dict]:
    out: list[dict] = []
    x, y, w, h = b.x, b.y, b.w, b.h
    classes = ["box", *base]
    if n.count > 1:  # a series: two boxes behind the front one, as in the SVG
        s = measure.STACK_OFFSET
        w, h = w - 2 * s, h - 2 * s
        for i in (2, 1):
            sd = {"id": f"{n.id}::stack{i}", "target": n.id, "w": w, "h": h,
                  "fill": mix(fill, "#ffffff", 0.25 * i), "tip": tip, "label": ""}
            if parent is not None:
                sd["parent"] = parent
            out.append({"data": sd, "position": {"x": round(b.x - s + i * s, 2), "y": round(b.y + s - i * s, 2)},
                        "classes": "stack", "grabbable": False, "selectable": False})
        x, y = b.x - s, b.y + s
        classes.append("series")
    cx = x
    if n.kind in ("param", "buffer"):
        cx = x - measure.PARAM_FOLD / 2
    data: dict[str, Any] = {"id": n.id, "label": measure.display_label(n), "w": w, "h": h, "fill": fill,
                            "tip": tip, "target": n.id}
    if parent is not None:
        data["parent"] = parent
    if n.sublabel:
        classes.append("has-sub")
        data["tmx"] = round(cx - x, 2)
    elif n.kind in ("param", "buffer"):
        data["tmx"] = round(cx - x, 2)
    out.append({"data": data, "position": {"x": round(x, 2), "y": round(y, 2)}, "classes": " ".join(classes),
                "grabbable": False})
    if n.sublabel:
        top = y - (lh1 + lh2) / 2
        out.append(_text_node(f"{n.id}::sub", parent, cx, top + lh1 + lh2 / 2, n.sublabel, "sub", n.id))
    return out


# ---- style ---------------------------------------------------------------------------------------------
FONT = measure.FONT_FAMILY


def stylesheet() -> list[dict[str, Any]]:
    lh2 = measure.SUBLABEL_PX * measure.LINE
    return [
        {"selector": "node", "style": {
            "font-family": FONT, "color": TEXT, "font-size": measure.LABEL_PX, "min-zoomed-font-size": 4,
            "text-valign": "center", "text-halign": "center", "label": "data(label)",
            "overlay-opacity": 0, "border-width": 0, "shape": "round-rectangle"}},
        {"selector": "node.box", "style": {
            "width": "data(w)", "height": "data(h)", "background-color": "data(fill)",
            "border-width": 0.8, "border-color": "#8c8c8c", "text-margin-x": "data(tmx)"}},
        {"selector": "node.box.has-sub", "style": {"text-margin-y": -lh2 / 2}},
        {"selector": "node.box.k-group, node.box.k-series", "style": {
            "font-weight": "bold", "border-width": 1.2, "border-color": "#4d4d4d"}},
        {"selector": "node.box.k-input, node.box.k-output", "style": {"shape": "round-rectangle",
                                                                       "background-color": "data(fill)"}},
        {"selector": "node.box.k-param, node.box.k-buffer", "style": {
            "shape": "polygon", "shape-polygon-points": "-1 -1 0.78 -1 1 -0.62 1 1 -1 1",
            "border-color": "#9a8c3a", "border-width": 0.9}},
        {"selector": "node.box.k-buffer", "style": {"border-style": "dashed"}},
        {"selector": "node.stack", "style": {
            "width": "data(w)", "height": "data(h)", "background-color": "data(fill)", "label": "",
            "border-width": 1.2, "border-color": "#4d4d4d", "events": "no"}},
        {"selector": "node.sub", "style": {
            "width": 1, "height": 1, "background-opacity": 0, "font-size": measure.SUBLABEL_PX,
            "color": SUBTEXT, "events": "no", "z-index": 20}},
        {"selector": "node.frame", "style": {
            "background-color": "data(fill)", "border-width": 1, "border-color": "data(border)",
            "padding": 0, "compound-sizing-wrt-labels": "exclude", "shape": "round-rectangle", "label": ""}},
        {"selector": "node.bar", "style": {
            "width": "data(w)", "height": "data(h)", "background-color": "data(fill)", "shape": "rectangle",
            "border-width": 1, "border-color": "data(border)", "label": ""}},
        {"selector": "node.ftitle", "style": {
            "width": 1, "height": 1, "background-opacity": 0, "text-halign": "right", "font-weight": "bold",
            "events": "no", "z-index": 20}},
        {"selector": "node.fsubtitle", "style": {
            "width": 1, "height": 1, "background-opacity": 0, "text-halign": "right",
            "font-size": measure.SUBLABEL_PX, "color": SUBTEXT, "events": "no", "z-index": 20}},
        {"selector": "node.anchor", "style": {"width": 1, "height": 1, "background-opacity": 0, "label": "",
                                               "events": "no"}},
        {"selector": "node.elabel", "style": {
            "width": "data(w)", "height": "data(h)", "background-color": "#ffffff", "background-opacity": 0.85,
            "shape": "round-rectangle", "font-size": measure.EDGE_LABEL_PX, "color": "#6b6b6b",
            "events": "no", "z-index": 15}},
        {"selector": "edge", "style": {
            "width": 1.2, "line-color": EDGE_COLORS["data"], "target-arrow-color": EDGE_COLORS["data"],
            "target-arrow-shape": "triangle", "arrow-scale": 0.8, "curve-style": "straight",
            "source-endpoint": "data(se)", "target-endpoint": "data(te)", "overlay-opacity": 0,
            "label": ""}},
        {"selector": "edge.routed", "style": {
            "curve-style": "segments", "edge-distances": "endpoints", "segment-weights": "data(sw)",
            "segment-distances": "data(sd)"}},
        *({"selector": f"edge.ek-{k}", "style": {
            "width": w, "line-color": c, "target-arrow-color": c,
            "line-style": "dashed", "line-dash-pattern": [float(x) for x in d.split(",")]}}
          for k, (c, w, d, _l) in EDGE_STYLE.items() if d),
        # search matches and the selection
        {"selector": "node.hl.box, node.hl.bar", "style": {
            "border-width": 3, "border-color": HIGHLIGHT, "underlay-color": HIGHLIGHT, "underlay-padding": 4,
            "underlay-opacity": 0.25}},
        {"selector": "node.box:selected, node.bar:selected", "style": {
            "border-width": 3, "border-color": SELECTED}},
        {"selector": "node.frame:selected", "style": {"border-width": 2.5, "border-color": SELECTED}},
    ]


def legend_roles(lv: LaidOutView) -> list[tuple[str, str]]:
    """(colour, text) for the roles present in the view, in the style table's order."""
    from bertviz_graph.hierarchy.style import ROLE_STYLE

    roles = {n.role if n.role in ROLE_STYLE else "other" for n in lv.view.nodes}
    return [(role_color(r), role_label(r)) for r in ROLE_STYLE if r in roles]


def legend_edges(lv: LaidOutView) -> list[tuple[str, str, str]]:
    kinds = {e.kind if e.kind in EDGE_COLORS else "data" for e in lv.view.edges if e.id in lv.routes}
    return [(k, EDGE_COLORS[k], EDGE_LEGEND[k]) for k in EDGE_COLORS if k in kinds]
