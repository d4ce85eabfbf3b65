"""The shapes of our SVG: a box, an opened frame and its title, an edge, with the escaping and number formatting
they share. ``render/svg.py`` assembles them into a picture (``render/svg_layers.py`` places them container by
container); the graph canvas (js/src/graph.js) and tests find them by their attributes (see ``render/svg.py``).
Positions are in the coordinates of the group a shape is drawn in.
"""

from __future__ import annotations

import re
from functools import lru_cache
from itertools import chain
from xml.sax.saxutils import escape, quoteattr

from bertviz_graph.format import flops_text
from bertviz_graph.hierarchy.style import EDGE_STYLE as EDGE_TABLE
from bertviz_graph.hierarchy.style import role_label
from bertviz_graph.layout import measure
from bertviz_graph.layout.types import NodeBox, Point
from bertviz_graph.view_types import VEdge, VNode

TEXT = "#1a1a1a"
SUBTEXT = "#4d4d4d"
EDGE_LABEL = "#6b6b6b"
EDGE_STYLE: dict[str, tuple[str, float, str]] = {k: (c, w, d) for k, (c, w, d, _) in EDGE_TABLE.items()}
EDGE_LEGEND = {k: label for k, (_, _, _, label) in EDGE_TABLE.items()}

_INVALID_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def esc(s: object) -> str:
    """Text content, escaped (and with characters XML cannot hold at all removed)."""
    return _esc(s) if type(s) is str else escape(_INVALID_XML.sub("", str(s)))


def attr(s: object) -> str:
    """A quoted attribute value, escaped (quotes, <, &, newlines)."""
    return _attr(s) if type(s) is str else _quote(str(s))


# Pure functions of a string, asked again for the same ids, labels and tooltips on every click: memoised,
# bounded (16,384 entries each: a few MB at most, several 48-layer views' worth).
@lru_cache(maxsize=1 << 14)
def _esc(s: str) -> str:
    return escape(_INVALID_XML.sub("", s))


@lru_cache(maxsize=1 << 14)
def _attr(s: str) -> str:
    return _quote(s)


def _quote(s: str) -> str:
    return quoteattr(_INVALID_XML.sub("", s), {"\n": "&#10;", "\r": "&#13;", "\t": "&#9;"})


@lru_cache(maxsize=4096)
def _mix(color: str, other: str, t: float) -> str:
    """``color`` moved a fraction ``t`` towards ``other`` (hex colours)."""
    a = [int(color[i : i + 2], 16) for i in (1, 3, 5)]
    b = [int(other[i : i + 2], 16) for i in (1, 3, 5)]
    return "#" + "".join(f"{round(x + (y - x) * t):02x}" for x, y in zip(a, b))


mix = _mix  # public: the offline HTML file derives the same tints from a colour-by fill (html/colours.py)


def num(v: float) -> str:
    return f"{v:.2f}".rstrip("0").rstrip(".")


def _trim(s: str) -> str:
    """What num drops from each "%.2f" number of ``s`` (numbers separated by "," or " ", nothing after the
    last): a last fraction digit 0, then a bare ".0" ("12.50" -> "12.5", "3.00" -> "3"). Every number ends in
    its second fraction digit, so four C-level replaces do what a regex pass did at twice the cost."""
    s = (s + " ").replace("0,", ",").replace("0 ", " ")
    return s.replace(".0,", ",").replace(".0 ", " ")[:-1]


_FS_FMT = tuple(" ".join(["%.2f"] * k) for k in range(17))  # formats of 0..16 numbers, made once


def nums(*vals: float) -> list[str]:
    """``[num(v) for v in vals]`` in one C-level format and one trim (a picture has ~10^5 numbers)."""
    return _trim(_FS_FMT[len(vals)] % vals).split(" ")


_LABEL_PX, _SUBLABEL_PX, _EDGE_LABEL_PX = num(measure.LABEL_PX), num(measure.SUBLABEL_PX), num(measure.EDGE_LABEL_PX)


def edge_kind(e: VEdge) -> str:
    return e.kind if e.kind in EDGE_STYLE else "data"


def _text_lines(n: VNode, cx: float, cy: float) -> list[str]:
    """Label (and sublabel) centred on (cx, cy); baselines from the same line heights as measure."""
    bold = measure.is_bold(n)
    lh1 = measure.LABEL_PX * measure.LINE
    lh2 = measure.SUBLABEL_PX * measure.LINE if n.sublabel else 0.0
    top = cy - (lh1 + lh2) / 2
    weight = ' font-weight="bold"' if bold else ""
    fcx, fy1, fy2 = nums(cx, top + lh1 / 2 + measure.LABEL_PX * 0.36, top + lh1 + lh2 / 2 + measure.SUBLABEL_PX * 0.36)
    out = [
        f'<text class="lbl" x="{fcx}" y="{fy1}" text-anchor="middle" '
        f'font-size="{_LABEL_PX}" fill="{TEXT}"{weight}>{esc(measure.display_label(n))}</text>'
    ]
    if n.sublabel:
        out.append(
            f'<text class="sub" x="{fcx}" y="{fy2}" '
            f'text-anchor="middle" font-size="{_SUBLABEL_PX}" fill="{SUBTEXT}">{esc(n.sublabel)}</text>'
        )
    return out


def _tooltip(n: VNode) -> str:
    lines = [measure.display_label(n)]
    if n.sublabel:
        lines.append(n.sublabel)
    lines.append(f"{n.kind} · {role_label(n.role)}")
    for k, v in n.attrs.items():
        if k in ("flops", "flops_unknown"):
            continue  # said once below, with "unknown" for what cannot be counted
        if isinstance(v, (str, int, float)) and not isinstance(v, bool):
            lines.append(f"{k}: {v}")
    if "flops" in n.attrs or n.attrs.get("flops_unknown"):
        lines.append(f"FLOPs {flops_text(n.attrs.get('flops'), n.attrs.get('flops_unknown') or 0, short=True)}")
    if n.expandable:
        lines.append("click to close" if n.expanded else "click to open")
    return "\n".join(lines)


tooltip = _tooltip  # public: the offline HTML file ships each box's (html/compose_data.py)


def _node_open(n: VNode, b: NodeBox, parent: str | None) -> str:
    head, tail = _node_tag(_Same(n.attrs), n.id, n.label, n.sublabel, n.kind, n.role, n.expandable, n.expanded,
                           n.count, parent)
    return f'{head}{",".join(nums(b.left, b.top, b.w, b.h))}{tail}'


class _Same:
    """Hashed and compared by identity: a VNode's attrs dict in a memo key. The views of one hierarchy share
    each node's attrs dict (view.py), so a box's tooltip is made once; the key holds the dict, so its id
    cannot be reused while the entry lives."""

    __slots__ = ("o",)

    def __init__(self, o: object):
        self.o = o

    def __hash__(self) -> int:
        return id(self.o)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Same) and other.o is self.o


# Everything of a box's <g> tag but its position, per box and per the fields it is made of: the ~10 escaped
# attributes and the tooltip are the same on every click (bounded: a few 48-layer views' worth).
@lru_cache(maxsize=1 << 14)
def _node_tag(attrs: _Same, nid: str, label: str, sublabel: str, kind: str, role: str, expandable: bool,
              expanded: bool, count: int, parent: str | None) -> tuple[str, str]:
    n = VNode(id=nid, kind=kind, label=label, sublabel=sublabel, role=role, parent=parent, expanded=expanded,
              expandable=expandable, count=count, attrs=attrs.o)  # type: ignore[arg-type]
    par = f" data-parent={attr(parent)}" if parent else ""
    return (
        f'<g class="node" data-id={attr(n.id)}{par} data-box="',
        f'" data-kind={attr(n.kind)} data-role={attr(n.role)} '
        f'data-expandable="{int(n.expandable)}" data-expanded="{int(n.expanded)}">'
        f"<title>{esc(_tooltip(n))}</title>",
    )


def frame(n: VNode, b: NodeBox, fill: str, parent: str | None) -> list[str]:
    """An opened group: light body in its (role) colour, a title bar with label and sublabel."""
    x, y, w, h = b.left, b.top, b.w, b.h
    _tw, th = measure.frame_title_size(n)
    r = 6.0
    fx, fy, fw, fh, fyth, fyr, fxr, fxwr, fxw = nums(x, y, w, h, y + th, y + r, x + r, x + w - r, x + w)
    out = [
        _node_open(n, b, parent),
        f'<rect x="{fx}" y="{fy}" width="{fw}" height="{fh}" rx="{r}" '
        f'fill="{_mix(fill, "#ffffff", 0.6)}" stroke="{_mix(fill, "#000000", 0.45)}" stroke-width="1"/>',
        # title bar: rounded at the top only
        f'<path d="M{fx},{fyth} V{fyr} Q{fx},{fy} {fxr},{fy} H{fxwr} '
        f'Q{fxw},{fy} {fxw},{fyr} V{fyth} Z" fill="{fill}" '
        f'stroke="{_mix(fill, "#000000", 0.45)}" stroke-width="1"/>',
    ]
    out += frame_title(n, b)
    if n.attrs.get("prune_mask"):
        tw, _th = measure.frame_title_size(n)
        sw = min(len(n.attrs["prune_mask"]), STRIP_CELLS) * 6.0
        if w - tw >= sw + 12:
            out += _prune_strip(n, x + w - sw - 8, y + th / 2 - 1.75, sw)
    out.append("</g>")
    return out


def frame_title(n: VNode, b: NodeBox, halo: str | None = None) -> list[str]:
    """A frame's title texts; with ``halo`` (the bar colour), outlined in it (drawn again over the edges)."""
    th, lw, spans = _title_static(measure.display_label(n), n.sublabel, halo)
    tx = b.left + measure.TITLE_BAR_PAD_X
    if len(spans) == 1:
        fbase, fx = nums(b.top + th / 2 + measure.LABEL_PX * 0.36, tx)
        xs = (fx,)
    else:
        fbase, *xs = nums(b.top + th / 2 + measure.LABEL_PX * 0.36, tx, tx + lw + measure.TITLE_GAP)
    out = []
    for x, (mid, outline, plain) in zip(xs, spans, strict=True):
        head = f'<text x="{x}" y="{fbase}{mid}'
        if outline:
            out.append(head + outline)
        out.append(head + plain)
    return out


@lru_cache(maxsize=4096)
def _title_static(label: str, sublabel: str, halo: str | None) -> tuple[float, float, tuple[tuple[str, str, str], ...]]:
    """What a frame title's texts are made of but their position: the bar height, the label's width and, per
    text, what follows its y, its outlined copy (with ``halo``) and its plain one."""
    th = measure.title_bar_height()
    spans = [(measure.LABEL_PX, ' font-weight="bold"', TEXT, label)]
    if sublabel:
        spans.append((measure.SUBLABEL_PX, "", SUBTEXT, sublabel))
    out = []
    for size, weight, color, text in spans:
        mid = f'" font-size="{num(size)}"{weight}'
        outline = (f' fill="none" stroke="{halo}" stroke-width="4" stroke-linejoin="round">{esc(text)}</text>'
                   if halo else "")
        out.append((mid, outline, f' fill="{color}">{esc(text)}</text>'))
    return th, measure.text_width(label, measure.LABEL_PX, True), tuple(out)


def leaf(n: VNode, b: NodeBox, fill: str, parent: str | None) -> list[str]:
    x, y, w, h = b.left, b.top, b.w, b.h
    out = [_node_open(n, b, parent)]
    if n.kind in ("group", "series"):
        stroke, sw, rx = "#4d4d4d", 1.2, 6.0
    else:
        stroke, sw, rx = "#8c8c8c", 0.8, 4.0
    if n.count > 1:  # a series: three stacked boxes, the front one bottom-left
        s = measure.STACK_OFFSET
        for i in (2, 1):
            out.append(
                f'<rect x="{num(x + i * s)}" y="{num(y + (2 - i) * s)}" width="{num(w - 2 * s)}" '
                f'height="{num(h - 2 * s)}" rx="{rx}" fill="{_mix(fill, "#ffffff", 0.25 * i)}" '
                f'stroke="{stroke}" stroke-width="{sw}"/>'
            )
        y, w, h = y + 2 * s, w - 2 * s, h - 2 * s
    if n.kind in ("param", "buffer"):  # a sheet with a folded corner
        f = measure.PARAM_FOLD
        dash = ' stroke-dasharray="3,2"' if n.kind == "buffer" else ""
        fx, fy, fxwf, fxw, fyf, fyh = nums(x, y, x + w - f, x + w, y + f, y + h)
        out.append(
            f'<path d="M{fx},{fy} H{fxwf} L{fxw},{fyf} V{fyh} H{fx} Z" '
            f'fill="{fill}" stroke="#9a8c3a" stroke-width="0.9"{dash}/>'
        )
        out.append(
            f'<path d="M{fxwf},{fy} V{fyf} H{fxw}" fill="{_mix(fill, "#000000", 0.12)}" '
            f'stroke="#9a8c3a" stroke-width="0.9"/>'
        )
        cx = x + (w - f) / 2
    else:
        if n.kind in ("input", "output"):
            rx = h / 2
        fx, fy, fw, fh, frx = nums(x, y, w, h, rx)
        out.append(
            f'<rect x="{fx}" y="{fy}" width="{fw}" height="{fh}" rx="{frx}" fill="{fill}" '
            f'stroke="{stroke}" stroke-width="{sw}"/>'
        )
        cx = x + w / 2
    out += _text_lines(n, cx, y + h / 2)
    if n.attrs.get("prune_mask"):
        right = x + w - (measure.PARAM_FOLD if n.kind in ("param", "buffer") else 0.0)
        out += _prune_strip(n, x + 6, y + h - 4.6, right - x - 12)
    out.append("</g>")
    return out


# The common leaf (one box, no weight sheet, no prune strip): everything but its numbers per content and fill,
# made once (bounded like _node_tag); per click only its eight numbers are formatted, in one call, with the
# same arithmetic as leaf/_text_lines (the bytes are the same).
@lru_cache(maxsize=1 << 14)
def _plain_leaf(attrs: _Same, nid: str, label: str, sublabel: str, kind: str, role: str, expandable: bool,
                expanded: bool, count: int, parent: str | None, fill: str) -> tuple[str, ...]:
    head, tail = _node_tag(attrs, nid, label, sublabel, kind, role, expandable, expanded, count, parent)
    n = VNode(id=nid, kind=kind, label=label, sublabel=sublabel, role=role, parent=parent, count=count)
    stroke, sw = ("#4d4d4d", 1.2) if kind in ("group", "series") else ("#8c8c8c", 0.8)
    weight = ' font-weight="bold"' if measure.is_bold(n) else ""
    return (
        head, tail,
        f'" fill="{fill}" stroke="{stroke}" stroke-width="{sw}"/>',
        f'" text-anchor="middle" font-size="{_LABEL_PX}" fill="{TEXT}"{weight}>{esc(measure.display_label(n))}</text>',
        f'" text-anchor="middle" font-size="{_SUBLABEL_PX}" fill="{SUBTEXT}">{esc(sublabel)}</text>' if sublabel else "",
    )


_LH1 = measure.LABEL_PX * measure.LINE
_LH2 = measure.SUBLABEL_PX * measure.LINE
_BASE1, _BASE2 = measure.LABEL_PX * 0.36, measure.SUBLABEL_PX * 0.36


def leaf_into(n: VNode, b: NodeBox, fill: str, parent: str | None, out: list[str]) -> None:
    """leaf for the common leaf, appended to ``out``; other leaves go to leaf."""
    if n.count > 1 or n.kind in ("param", "buffer") or n.attrs.get("prune_mask"):
        out += leaf(n, b, fill, parent)
        return
    head, tail, rect_t, lbl_t, sub_t = _plain_leaf(_Same(n.attrs), n.id, n.label, n.sublabel, n.kind, n.role,
                                                   n.expandable, n.expanded, n.count, parent, fill)
    x, y, w, h = b.left, b.top, b.w, b.h
    rx = h / 2 if n.kind in ("input", "output") else 6.0 if n.kind in ("group", "series") else 4.0
    lh2 = _LH2 if n.sublabel else 0.0
    top = (y + h / 2) - (_LH1 + lh2) / 2
    fx, fy, fw, fh, frx, fcx, fy1, fy2 = nums(x, y, w, h, rx, x + w / 2, top + _LH1 / 2 + _BASE1,
                                             top + _LH1 + lh2 / 2 + _BASE2)
    out.append(f"{head}{fx},{fy},{fw},{fh}{tail}")
    out.append(f'<rect x="{fx}" y="{fy}" width="{fw}" height="{fh}" rx="{frx}{rect_t}')
    out.append(f'<text class="lbl" x="{fcx}" y="{fy1}{lbl_t}')
    if sub_t:
        out.append(f'<text class="sub" x="{fcx}" y="{fy2}{sub_t}')
    out.append("</g>")


STRIP_KEPT = "#4d4d4d"
STRIP_PRUNED = "#e6e6e6"
STRIP_CELLS = 32  # at most this many cells: neurons are binned, a cell's grey = its share pruned


def _prune_strip(n: VNode, x: float, y: float, w: float) -> list[str]:
    """The pruned heads (or neurons, binned) of a box as a row of cells at (x, y) across width ``w``:
    dark = kept, pale = pruned (hierarchy.pruned puts ``prune_mask`` on the groups)."""
    mask = n.attrs.get("prune_mask")
    if not mask or w < 8:
        return []
    cells = min(len(mask), STRIP_CELLS, max(int(w // 3), 1))
    cw, h = w / cells, 3.5
    out = ['<g class="prune-strip" pointer-events="none">']
    for c in range(cells):
        part = mask[c * len(mask) // cells:(c + 1) * len(mask) // cells]
        gone = sum(part) / max(len(part), 1)
        out.append(f'<rect x="{num(x + c * cw + 0.4)}" y="{num(y)}" width="{num(max(cw - 0.8, 0.6))}" height="{num(h)}" '
                   f'fill="{_mix(STRIP_KEPT, STRIP_PRUNED, gone)}" data-pruned="{num(gone)}"/>')
    out.append("</g>")
    return out


_PATH_FMT: dict[int, str] = {}  # segment count -> its format string (a few dozen distinct counts)


def _path_d(pts: list[Point]) -> str:
    """"M p0 C c1 c2 p ..." as num writes each number, formatted in one go (routes are most of a picture)."""
    n = (len(pts) - 1) // 3  # whole (c1, c2, p) triples; a ragged tail is not drawn
    fmt = _PATH_FMT.get(n)
    if fmt is None:
        fmt = _PATH_FMT[n] = "M%.2f,%.2f" + " C%.2f,%.2f %.2f,%.2f %.2f,%.2f" * n
    return _trim(fmt % tuple(chain.from_iterable(pts if len(pts) == 3 * n + 1 else pts[: 1 + 3 * n])))


@lru_cache(maxsize=1 << 14)
def _edge_tag(eid: str, source: str, target: str, ekind: str, label: str, count: int, src_name: str, dst_name: str,
              stroke: tuple[str, float] | None) -> tuple[str, str]:
    """An edge's <g> tag with its tooltip, and what follows its path's numbers (the same on every click)."""
    kind = ekind if ekind in EDGE_STYLE else "data"
    color, width, dash = EDGE_STYLE[kind]
    if stroke is not None:  # an edge coloured by a value (the training step's backward mode)
        color, width = stroke[0], round(stroke[1], 2)
    tip = f"{src_name} → {dst_name}"
    if label:
        tip += f"\n{label}"
    if count > 1:
        tip += f"\n{count} tensors"
    if kind != "data":
        tip += f"\n{EDGE_LEGEND[kind]}"
    dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
    return (
        f'<g class="edge" data-id={attr(eid)} data-source={attr(source)} data-target={attr(target)} '
        f"data-kind={attr(ekind)}><title>{esc(tip)}</title>",
        f'" fill="none" stroke="{color}" stroke-width="{width}"{dash_attr} marker-end="url(#arrow-{kind})"/>',
    )


def edge_into(e: VEdge, pts: list[Point] | None, lp: Point | None, names: dict[str, str],
               stroke: tuple[str, float] | None, out: list[str]) -> None:
    """An edge's lines appended to ``out`` (~2,000 edges per deep click: no list of its own)."""
    head, path_tail = _edge_tag(e.id, e.source, e.target, e.kind, e.label, e.count,
                                names.get(e.source, e.source), names.get(e.target, e.target),
                                tuple(stroke) if stroke is not None else None)
    out.append(head)
    if pts and len(pts) >= 4:
        out.append(f'<path d="{_path_d(pts)}{path_tail}')
    if lp is not None and e.label:
        w, h = measure.edge_label_size(e.label)
        rx, ry, rw, rh, tx, ty = nums(lp[0] - w / 2, lp[1] - h / 2, w, h, lp[0], lp[1] + measure.EDGE_LABEL_PX * 0.36)
        out.append(f'<rect x="{rx}" y="{ry}" width="{rw}" height="{rh}" rx="2" fill="#ffffff" fill-opacity="0.85"/>')
        out.append(f'<text x="{tx}" y="{ty}" text-anchor="middle" '
                   f'font-size="{_EDGE_LABEL_PX}" fill="{EDGE_LABEL}">{esc(e.label)}</text>')
    out.append("</g>")
