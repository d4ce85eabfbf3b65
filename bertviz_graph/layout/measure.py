"""Text and box sizes, shared by layout and every renderer so a box never clips its text.

Widths come from DejaVu Sans advance widths (per 1000 units of font size), the font we ask for first in
SVG; Helvetica/Arial, the fallbacks, are narrower, so boxes sized here are never too small for them.
"""

from __future__ import annotations

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

_CHARS = (
    " !\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~"
    "×→←↑↓…·–—≤≥αβγδεθλμσπΣ°±²³√∞≈≠"
)
# fmt: off
_REGULAR = [
    318, 401, 460, 838, 636, 950, 780, 275, 390, 390, 500, 838, 318, 361, 318, 337, 636, 636, 636, 636, 636,
    636, 636, 636, 636, 636, 337, 337, 838, 838, 838, 531, 1000, 684, 686, 698, 770, 632, 575, 775, 752, 295,
    295, 656, 557, 863, 748, 787, 603, 787, 695, 635, 611, 732, 684, 989, 685, 611, 685, 390, 337, 390, 838,
    500, 500, 613, 635, 550, 635, 615, 352, 635, 634, 278, 278, 579, 278, 974, 634, 612, 635, 635, 411, 521,
    392, 634, 592, 818, 592, 592, 525, 636, 337, 636, 838, 838, 838, 838, 838, 838, 1000, 318, 500, 1000,
    838, 838, 659, 638, 592, 612, 541, 612, 592, 636, 634, 602, 632, 500, 838, 401, 401, 637, 833, 838, 838,
]
_BOLD = [
    348, 456, 521, 838, 696, 1002, 872, 306, 457, 457, 523, 838, 380, 415, 380, 365, 696, 696, 696, 696, 696,
    696, 696, 696, 696, 696, 400, 400, 838, 838, 838, 580, 1000, 774, 762, 734, 830, 683, 683, 821, 837, 372,
    372, 775, 637, 995, 837, 850, 733, 850, 770, 720, 682, 812, 774, 1103, 771, 724, 725, 457, 365, 457, 838,
    500, 500, 675, 716, 593, 716, 678, 435, 716, 712, 343, 343, 665, 343, 1042, 712, 687, 716, 716, 493, 595,
    478, 712, 652, 924, 645, 652, 582, 712, 365, 712, 838, 838, 838, 838, 838, 838, 1000, 380, 500, 1000,
    838, 838, 687, 716, 681, 687, 557, 687, 633, 736, 779, 791, 683, 500, 838, 438, 438, 667, 833, 838, 838,
]
# fmt: on
_WIDTHS = {False: dict(zip(_CHARS, _REGULAR)), True: dict(zip(_CHARS, _BOLD))}
_UNKNOWN = 1000  # a character we have no width for (CJK, emoji ...): assume a full em, never clip


def text_width(text: str, size: float, bold: bool = False) -> float:
    """Width in px of ``text`` set in DejaVu Sans at ``size`` px."""
    table = _WIDTHS[bold]
    return sum(table.get(c, _UNKNOWN) for c in text) * size / 1000.0


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
