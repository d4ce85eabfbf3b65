"""Our own SVG of a laid-out view: the same picture the app and the notebook widget show.

Every node is ``<g class="node" data-id data-parent data-box data-kind data-role data-expandable data-expanded>``
and every edge ``<g class="edge" data-id data-source data-target data-kind>``, each with a ``<title>`` tooltip;
the graph canvas (js/src/graph.js, used by the app and the widget) and tests find them by these attributes.
``data-box`` = "left,top,width,height" in the coordinates of the group the node is drawn in: the shapes inside
an opened frame sit in ``<g class="at" transform="translate(x,y)">`` groups, one per frame level
(``svg_layers.py``), so a node's diagram coordinates are its data-box plus the translations of its ``g.at``
ancestors. Box labels carry ``class="lbl"``, second lines ``class="sub"`` (the canvas hides them when zoomed
far out). Sizes come from ``layout.measure``, like the layout's; the shapes are ``svg_shapes.py``'s.
"""

from __future__ import annotations

from collections.abc import Mapping

from bertviz_graph.gc_pause import gc_paused
from bertviz_graph.hierarchy.style import ROLE_STYLE, role_color, role_label
from bertviz_graph.layout import measure
from bertviz_graph.layout.types import LaidOutView
from bertviz_graph.render.svg_layers import diagram_layers
from bertviz_graph.render.svg_shapes import (  # noqa: F401  (public names the html export and tests use)
    EDGE_LEGEND,
    EDGE_STYLE,
    SUBTEXT,
    TEXT,
    attr,
    edge_kind,
    esc,
    leaf,
    leaf_into,
    mix,
    num,
    tooltip,
)

PAGE_PAD = 16.0
LEGEND_PX = 11.0


def _markers() -> str:
    out = ["<defs>"]
    for kind, (color, _w, _d) in EDGE_STYLE.items():
        out.append(
            f'<marker id="arrow-{kind}" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" '
            f'markerUnits="userSpaceOnUse" orient="auto"><path d="M0,1 L10,5 L0,9 z" fill="{color}"/></marker>'
        )
    out.append("</defs>")
    return "".join(out)


markers = _markers  # public: the offline HTML file's composer writes the same <defs> (html/compose_data.py)


def legend_items(lv: LaidOutView) -> list[tuple[str, str, str]]:
    """(kind, key, text) for roles and edge kinds present, in the style table's order."""
    roles = {n.role if n.role in ROLE_STYLE else "other" for n in lv.view.nodes}
    items = [("role", r, role_label(r)) for r in ROLE_STYLE if r in roles]
    kinds = {edge_kind(e) for e in lv.view.edges if e.id in lv.routes}
    items += [("edge", k, EDGE_LEGEND[k]) for k in EDGE_STYLE if k in kinds]
    return items


def _legend(lv: LaidOutView, x0: float, y0: float, max_w: float) -> tuple[list[str], float, float]:
    """Legend entries in as many columns as fit ``max_w``; returns (svg, width, height)."""
    items = legend_items(lv)
    if not items:
        return [], 0.0, 0.0
    sw, gap, row_h, col_gap = 22.0, 6.0, LEGEND_PX * 1.7, 18.0
    item_w = [sw + gap + measure.text_width(t, LEGEND_PX) for _k, _r, t in items]
    # as many columns (filled top to bottom) as fit; each column as wide as its widest entry
    for cols in range(len(items), 0, -1):
        rows = -(-len(items) // cols)
        widths = [max(item_w[c * rows : (c + 1) * rows], default=0.0) for c in range(cols)]
        if sum(widths) + col_gap * (cols - 1) <= max_w or cols == 1:
            break
    col_x = [sum(widths[:c]) + col_gap * c for c in range(cols)]
    out = [f'<g class="legend" transform="translate({num(x0)},{num(y0)})">']
    out.append(
        f'<text x="0" y="{num(LEGEND_PX)}" font-size="{num(LEGEND_PX)}" font-weight="bold" fill="{TEXT}">Legend</text>'
    )
    top = LEGEND_PX * 1.8
    for i, (kind, key, text) in enumerate(items):
        cx, cy = col_x[i // rows], top + (i % rows) * row_h
        if kind == "role":
            shape = "param" if key in ("param", "buffer") else "box"
            fill = role_color(key)
            if shape == "param":
                out.append(
                    f'<path d="M{num(cx)},{num(cy)} H{num(cx + sw - 5)} L{num(cx + sw)},{num(cy + 5)} V{num(cy + 12)} '
                    f'H{num(cx)} Z" fill="{fill}" stroke="#9a8c3a" stroke-width="0.9"/>'
                )
            else:
                out.append(
                    f'<rect x="{num(cx)}" y="{num(cy)}" width="{num(sw)}" height="12" rx="3" fill="{fill}" '
                    f'stroke="#8c8c8c" stroke-width="0.8"/>'
                )
        else:
            color, width, dash = EDGE_STYLE[key]
            dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
            out.append(
                f'<path d="M{num(cx)},{num(cy + 6)} H{num(cx + sw - 1)}" stroke="{color}" stroke-width="{width}"'
                f'{dash_attr} marker-end="url(#arrow-{key})"/>'
            )
        out.append(
            f'<text x="{num(cx + sw + gap)}" y="{num(cy + 10)}" font-size="{num(LEGEND_PX)}" fill="{TEXT}">{esc(text)}</text>'
        )
    out.append("</g>")
    return out, sum(widths) + col_gap * (cols - 1), top + rows * row_h


def to_svg(lv: LaidOutView, legend: bool = True, title: bool = True, fills: Mapping[str, str] | None = None,
           strokes: Mapping[str, tuple[str, float]] | None = None, overlay: str = "") -> str:
    """A standalone SVG document of ``lv`` (title on top, legend below), valid XML.

    ``fills``: node id -> fill colour (colour-by in the app; default: the role colour); ``strokes``: edge id ->
    (colour, width) (default: the edge kind's style); ``overlay``: SVG drawn over the boxes, in diagram
    coordinates (the training step's LoRA adapters)."""
    with gc_paused():  # tens of thousands of short strings, no cycles: no heap walks while we make them
        return _to_svg(lv, legend, title, fills, strokes, overlay)


def _to_svg(lv: LaidOutView, legend: bool, title: bool, fills: Mapping[str, str] | None,
            strokes: Mapping[str, tuple[str, float]] | None, overlay: str) -> str:
    fills = fills or {}
    strokes = strokes or {}
    view = lv.view
    parts: list[str] = []
    y = 0.0
    width = lv.width
    if title and (view.title or view.subtitle):
        y = PAGE_PAD
        if view.title:
            y += measure.TITLE_PX
            parts.append(
                f'<text class="title" x="{num(PAGE_PAD)}" y="{num(y)}" font-size="{num(measure.TITLE_PX)}" '
                f'font-weight="bold" fill="{TEXT}">{esc(view.title)}</text>'
            )
            width = max(width, measure.text_width(view.title, measure.TITLE_PX, True) + 2 * PAGE_PAD)
        if view.subtitle:
            y += measure.SUBTITLE_PX * measure.LINE + 2
            parts.append(
                f'<text class="subtitle" x="{num(PAGE_PAD)}" y="{num(y)}" font-size="{num(measure.SUBTITLE_PX)}" '
                f'fill="{SUBTEXT}">{esc(view.subtitle)}</text>'
            )
            width = max(width, measure.text_width(view.subtitle, measure.SUBTITLE_PX) + 2 * PAGE_PAD)
        y += 6
    diagram_y = y
    # frames outside-in, then edges, then closed boxes: boxes are never hidden under a frame's fill;
    # container by container, each placed by translation (svg_layers.py)
    frames, edges, leaves, titles = diagram_layers(lv, fills, strokes)
    body = [f'<g class="diagram" transform="translate(0,{num(diagram_y)})">', *frames, *edges, *leaves]
    if overlay:
        body.append(overlay)
    if titles:  # titles again, over any edge that enters a frame through its title bar
        body += ['<g class="frame-titles" pointer-events="none">', *titles, "</g>"]
    body.append("</g>")
    y = diagram_y + lv.height
    if legend:
        leg, lw, lh = _legend(lv, PAGE_PAD, y + 4, max(lv.width, 520.0) - 2 * PAGE_PAD)
        if leg:
            body += leg
            width = max(width, lw + 2 * PAGE_PAD)
            y += 4 + lh + PAGE_PAD
    height = y
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{num(width)}" height="{num(height)}" '
        f'viewBox="0 0 {num(width)} {num(height)}" font-family={attr(measure.FONT_FAMILY)}>'
    )
    bg = f'<rect class="background" x="0" y="0" width="{num(width)}" height="{num(height)}" fill="#ffffff"/>'
    return (
        "\n".join(['<?xml version="1.0" encoding="UTF-8"?>', head, _markers(), bg, *parts, *body, "</svg>", ""])
    )  # one copy of a picture that can be megabytes
