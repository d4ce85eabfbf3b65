"""Write a laid-out view to a file: .svg, .pdf, .png (from our SVG via cairosvg), .dot, .json.

Every writer renders to memory first and then writes atomically, so a failure never leaves a
half-written file.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from bertviz_graph.errors import UserError
from bertviz_graph.hierarchy.style import role_color
from bertviz_graph.io import check_writable, write_atomic
from bertviz_graph.layout import measure
from bertviz_graph.layout.types import LaidOutView
from bertviz_graph.render.svg import EDGE_STYLE, to_svg
from bertviz_graph.view_types import ViewData

log = logging.getLogger(__name__)

FORMATS = (".svg", ".pdf", ".png", ".dot", ".json", ".graphml")
PNG_SCALE = 2.0
_CAIRO_MAX_PX = 32_000  # cairo cannot make an image surface larger than 32767 px on a side


def _format(path: Path, fmt: str | None) -> str:
    f = (fmt if fmt is not None else path.suffix).lower().strip()
    if f and not f.startswith("."):
        f = "." + f
    if f not in FORMATS:
        raise UserError(f"unknown format '{f or path.name}'", "use one of " + " ".join(FORMATS))
    return f


def write_view(
    lv: LaidOutView, path: str | Path, fmt: str | None = None, *, legend: bool = True, title: bool = True
) -> Path:
    """Write ``lv`` to ``path``; the format comes from ``fmt`` (".pdf" or "pdf") or the file suffix."""
    path = Path(path)
    f = _format(path, fmt)
    if f == ".graphml":
        raise UserError(
            "GraphML is written from the op graph, not from a laid-out view",
            "use the GraphML exporter of bertviz_graph (the CLI's --format graphml)",
        )
    check_writable(path)  # fail before rendering, not after
    write_atomic(path, render_bytes(lv, f, legend=legend, title=title))
    return path


def render_bytes(lv: LaidOutView, fmt: str, *, legend: bool = True, title: bool = True) -> bytes:
    """The file's content for ``fmt`` (one of .svg .pdf .png .dot .json)."""
    if fmt == ".json":
        return (json.dumps(lv.to_json_dict(), ensure_ascii=False, separators=(",", ":")) + "\n").encode()
    if fmt == ".dot":
        return to_dot(lv.view, lv).encode()
    svg = to_svg(lv, legend=legend, title=title)
    if fmt == ".svg":
        return svg.encode()
    try:
        import cairosvg
    except ImportError as e:  # listed in our dependencies, but a broken install should say what to do
        raise UserError("PDF/PNG export needs cairosvg", "pip install cairosvg") from e
    if fmt == ".pdf":
        return cairosvg.svg2pdf(bytestring=svg.encode())
    if fmt == ".png":
        w, h = _svg_size(svg)
        scale = min(PNG_SCALE, _CAIRO_MAX_PX / max(w, h, 1.0))
        if scale < PNG_SCALE:
            log.warning("diagram is %.0f×%.0f px: PNG written at %.2f× instead of 2×", w, h, scale)
        return cairosvg.svg2png(bytestring=svg.encode(), scale=scale)
    raise UserError(f"unknown format '{fmt}'", "use one of " + " ".join(FORMATS))


def _svg_size(svg: str) -> tuple[float, float]:
    head = svg[: svg.index(">", svg.index("<svg")) + 1]

    def num(name: str) -> float:
        i = head.index(f' {name}="') + len(name) + 3
        return float(head[i : head.index('"', i)])

    return num("width"), num("height")


# ---- DOT --------------------------------------------------------------------------------------------
def _q(s: object) -> str:
    """A DOT double-quoted string (labels: a newline becomes graphviz's centred line break)."""
    t = str(s).replace("\\", "\\\\").replace('"', '\\"').replace("\r", "").replace("\n", "\\n")
    return f'"{t}"'


def _label(label: str, sub: str) -> str:
    return _q(f"{label}\n{sub}" if sub else label)


def to_dot(view: ViewData, lv: LaidOutView | None = None, direction: str = "TB") -> str:
    """DOT with one nested ``subgraph cluster_*`` per expanded frame, so graphviz can re-run on it.

    With ``lv`` it carries our layout: ``pos`` (points, y up as graphviz wants), ``width``/``height`` on
    nodes, ``bb`` on clusters, edge splines; ``neato -n2`` reproduces our picture, ``dot`` lays out anew.
    An edge ending on a frame ends on an invisible anchor node inside the cluster (``lhead``/``ltail``).
    """
    nodes = {n.id: n for n in view.nodes}
    kids: dict[str | None, list[str]] = {}
    for n in view.nodes:
        p = n.parent if n.parent in nodes else None
        kids.setdefault(p, []).append(n.id)
    frames = {n.id for n in view.nodes if n.expanded or n.id in kids}
    H = lv.height if lv is not None else 0.0
    direction = lv.direction if lv is not None else direction

    def pos(x: float, y: float) -> str:
        return f"{x:.2f},{H - y:.2f}"

    lines = [
        f"digraph {_q(view.title or 'view')} {{",
        f'  graph [rankdir={direction} compound=true fontname="DejaVu Sans" fontsize=12 '
        f"label={_label(view.title, view.subtitle)} labelloc=t newrank=true"
        + (f' bb="0,0,{lv.width:.2f},{lv.height:.2f}"' if lv is not None else "")
        + "];",
        '  node [fontname="DejaVu Sans" fontsize=12 shape=box style="rounded,filled" color="#8c8c8c"];',
        '  edge [fontname="DejaVu Sans" fontsize=10 color="#4d4d4d" fontcolor="#6b6b6b"];',
    ]
    seen: set[str] = set()

    def emit(nid: str, indent: str) -> None:
        if nid in seen:  # parent loops: draw each node once
            return
        seen.add(nid)
        n = nodes[nid]
        label = measure.display_label(n)
        b = lv.boxes.get(nid) if lv is not None else None
        if nid in frames:
            lines.append(f"{indent}subgraph {_q('cluster_' + nid)} {{")
            attrs = (
                f'label={_label(label, n.sublabel)} labeljust=l style="rounded,filled" '
                f'fillcolor={_q(role_color(n.role))} color="#7f7f7f"'
            )
            if b is not None:
                attrs += f' bb="{b.left:.2f},{H - b.bottom:.2f},{b.right:.2f},{H - b.top:.2f}"'
            lines.append(f"{indent}  graph [{attrs}];")
            # the anchor stands for the frame itself when an edge ends on it
            anchor = f'{indent}  {_q(nid)} [shape=point style=invis width=0.01 label=""'
            if b is not None:
                anchor += f' pos="{pos(b.x, b.top + measure.title_bar_height())}"'
            lines.append(anchor + "];")
            for k in kids.get(nid, []):
                emit(k, indent + "  ")
            lines.append(f"{indent}}}")
            return
        shape = {"param": "note", "buffer": "note", "input": "oval", "output": "oval"}.get(n.kind, "box")
        attrs = f"label={_label(label, n.sublabel)} shape={shape} fillcolor={_q(role_color(n.role))}"
        if n.kind in ("group", "series"):
            attrs += ' fontname="DejaVu Sans Bold"'
        if n.count > 1:
            attrs += " peripheries=2"
        if b is not None:
            attrs += f' pos="{pos(b.x, b.y)}" width={b.w / 72:.4f} height={b.h / 72:.4f}'
        lines.append(f"{indent}{_q(nid)} [{attrs}];")

    for k in kids.get(None, []):
        emit(k, "  ")
    for e in view.edges:
        if e.source not in nodes or e.target not in nodes:
            continue
        kind = e.kind if e.kind in EDGE_STYLE else "data"
        color, width, dash = EDGE_STYLE[kind]
        attrs = f"color={_q(color)} penwidth={width}"
        if dash:
            attrs += ' style="dashed"' if kind == "residual" else ' style="dotted"'
        if e.label:
            attrs += f" label={_q(e.label)}"
        if e.source in frames and not _inside(e.target, e.source, nodes):
            attrs += f" ltail={_q('cluster_' + e.source)}"
        if e.target in frames and not _inside(e.source, e.target, nodes):
            attrs += f" lhead={_q('cluster_' + e.target)}"
        if lv is not None and e.id in lv.routes:
            pts = lv.routes[e.id]
            attrs += ' pos="' + " ".join(pos(x, y) for x, y in pts) + '"'
            if e.id in lv.label_pos:
                attrs += f' lp="{pos(*lv.label_pos[e.id])}"'
        lines.append(f"  {_q(e.source)} -> {_q(e.target)} [{attrs}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _inside(nid: str, frame: str, nodes: dict) -> bool:
    seen: set[str] = set()
    cur = nodes[nid].parent
    while cur is not None and cur in nodes and cur not in seen:
        if cur == frame:
            return True
        seen.add(cur)
        cur = nodes[cur].parent
    return False
