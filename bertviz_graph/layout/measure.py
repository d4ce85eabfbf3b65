"""Text and box sizes, shared by layout and every renderer so a box never clips its text.

Widths are DejaVu Sans advance widths read by Pillow (FreeType) from the font file, the font we ask for
first in SVG; Helvetica/Arial, the fallbacks, are narrower, so boxes sized here are never too small for them.
"""

from __future__ import annotations

from functools import lru_cache

from PIL import ImageFont

from bertviz_graph.view_types import VNode

FONT_FAMILY = "DejaVu Sans, Helvetica, Arial, sans-serif"
LABEL_PX = 12.0  # node label (first line)
SUBLABEL_PX = 10.0  # node sublabel (second line), edge labels
EDGE_LABEL_PX = 10.0
TITLE_PX = 16.0  # diagram title
SUBTITLE_PX = 12.0
LINE = 1.25  # line height as a multiple of the font size

# Box geometry (px). Ops are compact; modules get more air; frames a title bar.
OP_PAD_X, OP_PAD_Y, OP_MIN_W = 8.0, 4.0, 36.0
GROUP_PAD_X, GROUP_PAD_Y, GROUP_MIN_W = 10.0, 6.0, 56.0
PILL_PAD_X = 14.0  # inputs/outputs are drawn as pills: round ends need extra room
PARAM_FOLD = 7.0  # folded corner of a parameter box
STACK_OFFSET = 4.0  # a series is 3 boxes, each shifted by this much
FRAME_PAD = 10.0  # space between a frame's border and its children
FRAME_TOP_GAP = 4.0  # space between the title bar and the children
TITLE_BAR_PAD_X = 8.0
TITLE_GAP = 6.0  # between a frame's title and its sublabel (same line)
FRAME_MIN_W = 60.0
CANVAS_MARGIN = 12.0  # around the whole diagram

_FONT_FILES = {False: "DejaVuSans.ttf", True: "DejaVuSans-Bold.ttf"}  # the font the SVG asks for first
_EM = 1000  # fonts are opened at 1000 px: widths per 1000 units of font size
_UNKNOWN = 1000  # CJK, emoji ... (DejaVu has no glyph; the browser falls back to a wider font): a full em
_FIRST_UNCOVERED = 0x2E80  # DejaVu Sans covers Latin, Greek, Cyrillic, arrows and math below this
_FALLBACK_WIDEN = 1.15  # no DejaVu on this machine: Pillow's own sans is narrower, never clip


@lru_cache(maxsize=2)
def _font(bold: bool) -> tuple[ImageFont.FreeTypeFont, float]:
    """(the DejaVu Sans face, found by name in the system's font folders, or Pillow's bundled sans; widen)."""
    try:  # basic layout: advance widths without kerning, never narrower than what a browser draws
        return ImageFont.truetype(_FONT_FILES[bold], _EM, layout_engine=ImageFont.Layout.BASIC), 1.0
    except OSError:
        return ImageFont.load_default(_EM), _FALLBACK_WIDEN  # type: ignore[return-value]


@lru_cache(maxsize=65536)
def _width_em(text: str, bold: bool) -> float:
    """Advance width of ``text`` in units per 1000 of the font size (labels repeat: cached)."""
    font, widen = _font(bold)
    covered = "".join(c for c in text if ord(c) < _FIRST_UNCOVERED)
    return font.getlength(covered) * widen + _UNKNOWN * (len(text) - len(covered))


def text_width(text: str, size: float, bold: bool = False) -> float:
    """Width in px of ``text`` set in DejaVu Sans at ``size`` px (Pillow's FreeType advance widths)."""
    return _width_em(text, bold) * size / _EM


def display_label(node: VNode) -> str:
    """The first line as drawn: a series shows its member count ("BertLayer ×12")."""
    if node.count > 1 and f"×{node.count}" not in node.label:
        return f"{node.label} ×{node.count}"
    return node.label


def is_bold(node: VNode) -> bool:
    """Modules (groups and series) are set in bold, ops and tensors in regular weight."""
    return node.kind in ("group", "series")


def node_size(node: VNode) -> tuple[float, float]:
    """Size (w, h) of a collapsed node's box, including the stack of a series and a param's fold."""
    label, sub = display_label(node), node.sublabel
    bold = is_bold(node)
    if bold:
        pad_x, pad_y, min_w = GROUP_PAD_X, GROUP_PAD_Y, GROUP_MIN_W
    else:
        pad_x, pad_y, min_w = OP_PAD_X, OP_PAD_Y, OP_MIN_W
    if node.kind in ("input", "output"):
        pad_x = PILL_PAD_X
    text_w = max(text_width(label, LABEL_PX, bold), text_width(sub, SUBLABEL_PX) if sub else 0.0)
    w = max(min_w, text_w + 2 * pad_x)
    h = 2 * pad_y + LABEL_PX * LINE + (SUBLABEL_PX * LINE if sub else 0.0)
    if node.kind in ("param", "buffer"):
        w += PARAM_FOLD  # the folded corner must not cover text
    if node.count > 1:
        w += 2 * STACK_OFFSET
        h += 2 * STACK_OFFSET
    return float(round(w + 0.4999)), float(round(h + 0.4999))  # whole px: stable cache keys


def frame_title_size(node: VNode) -> tuple[float, float]:
    """Minimum width and height of an expanded frame's title bar (label bold, sublabel beside it)."""
    w = text_width(display_label(node), LABEL_PX, bold=True)
    if node.sublabel:
        w += TITLE_GAP + text_width(node.sublabel, SUBLABEL_PX)
    return float(round(w + 2 * TITLE_BAR_PAD_X + 0.4999)), title_bar_height()


def title_bar_height() -> float:
    return round(LABEL_PX * LINE + 8.0)


def edge_label_size(text: str) -> tuple[float, float]:
    """Room for an edge label (with a 2 px halo on each side)."""
    return float(round(text_width(text, EDGE_LABEL_PX) + 4.4999)), float(round(EDGE_LABEL_PX * LINE + 2))
