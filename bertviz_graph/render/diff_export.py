"""Write a comparison: both views side by side with the differences marked (.svg), or a page with the views,
the tables and the difference heatmaps (.html; hovering a box highlights its partner in the other view)."""

from __future__ import annotations

import base64
import html
import io
import json
import re
from pathlib import Path

import numpy as np

from bertviz_graph import format as fmt
from bertviz_graph.comparison import GraphDiff
from bertviz_graph.errors import UserError
from bertviz_graph.io import write_atomic
from bertviz_graph.presenters.diff import MARK_STYLE, MARK_TEXT, DiffPanel, diff_panel, visible_marks
from bertviz_graph.view import View

GAP = 40.0


def paired_views(d: GraphDiff, depth: int | None = None, open_a: tuple[str, ...] = ()):
    """The two views, opened together: ``depth`` levels (default: the overview opened down to the layers,
    unfolded, so missing layers show) and each group of ``open_a`` with its partner."""
    va, vb = _unfolded(d.a, depth), _unfolded(d.b, depth)
    if depth is None:
        for v_side, layers in (("a", d.alignment.layers_a), ("b", d.alignment.layers_b)):
            if layers:
                if v_side == "a":
                    va = va.reveal(layers[0])
                else:
                    vb = vb.reveal(layers[0])
    for gid in open_a:
        va = va.reveal(gid).open(gid)
        other = d.partner(gid)
        if other is not None and other in d.b.hierarchy.groups:
            vb = vb.reveal(other).open(other)
    return va, vb


def _unfolded(graph, depth: int | None, direction: str = "TB"):
    """The overview of any OpGraph (traced, loaded or imported), every ×N stack unfolded, ``depth`` levels
    opened when given."""

    h = graph.hierarchy
    v = View.default(h, direction=direction) if depth is None else View(h, direction=direction)
    v = v.unfold(all_series=True)
    return v.open_depth(depth) if depth is not None else v


def marks_css(marks: dict[str, str], view, scope: str = "") -> str:
    """CSS outlining each visible marked box in its status colour; ``scope`` (a CSS selector such as
    "#bv-diff-view-a") keeps the rules to one picture when several share a page."""
    rules = []
    pre = f"{scope} " if scope else ""
    for gid, status in marks.items():
        if view.rep(gid) != gid:
            continue  # inside a closed box: the box itself is not marked (it also holds what is the same)
        colour, dash = MARK_STYLE[status]
        sel = gid.replace("\\", "\\\\").replace('"', '\\"')
        rules.append(f'{pre}g.node[data-id="{sel}"] > rect, {pre}g.node[data-id="{sel}"] > path '
                     f'{{stroke: {colour}; stroke-width: 3px;{f" stroke-dasharray: {dash};" if dash else ""}}}')
    return "\n".join(rules)


def _css(marks: dict[str, str], view) -> str:
    return marks_css(marks, view)


def _strip(svg: str) -> tuple[str, float, float]:
    svg = re.sub(r"^<\?xml[^>]*>\s*", "", svg)
    m = re.match(r'<svg[^>]*width="([\d.]+)"[^>]*height="([\d.]+)"', svg)
    return svg, float(m.group(1)), float(m.group(2))


def _marked_svg(view, marks: dict[str, str]) -> str:
    from bertviz_graph.layout import layout_of  # lazy: start-up (PIL, cachetools)
    from bertviz_graph.render.svg import to_svg  # lazy: start-up (PIL, cachetools)

    svg, _w, _h = _strip(to_svg(layout_of(view)))  # any View (the facade's or the core one)
    css = _css(visible_marks(marks, view), view)
    return svg.replace(">", f"><style>{css}</style>", 1) if css else svg


def side_by_side_svg(d: GraphDiff, panel: DiffPanel, depth: int | None = None) -> str:
    va, vb = paired_views(d, depth)
    sa, wa, ha = _strip(_marked_svg(va, panel.marks_a))
    sb, wb, hb = _strip(_marked_svg(vb, panel.marks_b))
    lines = [panel.title, *panel.summary]
    top = 24 + 16 * (len(lines) + 1)
    width = wa + GAP + wb
    height = top + max(ha, hb)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
           f'viewBox="0 0 {width:.0f} {height:.0f}" font-family="DejaVu Sans, Arial, sans-serif">',
           f'<rect x="0" y="0" width="{width:.0f}" height="{height:.0f}" fill="#ffffff"/>']
    for i, line in enumerate(lines):
        weight = ' font-weight="bold"' if i == 0 else ""
        out.append(f'<text x="12" y="{22 + 16 * i}" font-size="{15 if i == 0 else 12}"{weight}>'
                   f"{html.escape(line[:300])}</text>")
    x = 12.0
    y = 22 + 16 * len(lines)
    for k in MARK_STYLE:
        colour, dash = MARK_STYLE[k]
        out.append(f'<rect x="{x:.0f}" y="{y - 10}" width="18" height="11" fill="none" stroke="{colour}" '
                   f'stroke-width="2.5"{f" stroke-dasharray={chr(34)}{dash}{chr(34)}" if dash else ""}/>')
        out.append(f'<text x="{x + 24:.0f}" y="{y}" font-size="11">{html.escape(MARK_TEXT[k])}</text>')
        x += 34 + 6.2 * len(MARK_TEXT[k])
    out.append(f'<svg x="0" y="{top:.0f}" width="{wa:.0f}" height="{ha:.0f}">{_inner(sa)}</svg>')
    out.append(f'<svg x="{wa + GAP:.0f}" y="{top:.0f}" width="{wb:.0f}" height="{hb:.0f}">{_inner(sb)}</svg>')
    out.append("</svg>")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + "\n".join(out) + "\n"


def _inner(svg: str) -> str:
    """The children of an <svg> document (its own viewBox is the same as its size)."""
    start = svg.index(">") + 1
    return svg[start: svg.rindex("</svg>")]


def _png_data_uri(z: np.ndarray) -> str:
    from PIL import Image
    from plotly.colors import sample_colorscale

    lim = float(np.nanmax(np.abs(z))) or 1.0
    lut = np.array([[int(float(v)) for v in re.findall(r"[\d.]+", c)[:3]]
                    for c in sample_colorscale("RdBu_r", [i / 255 for i in range(256)])], dtype=np.uint8)
    idx = np.clip(((np.nan_to_num(z) / lim + 1) / 2 * 255).round(), 0, 255).astype(int)
    img = Image.fromarray(lut[idx], "RGB")
    scale = max(1, int(256 / max(img.size)))
    img = img.resize((img.size[0] * scale, img.size[1] * scale), Image.NEAREST)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def _table(rows: list[dict], cols: list[str]) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in cols)
    body = []
    for r in rows:
        cells = []
        for c in cols:
            v = r.get(c)
            if isinstance(v, float):
                v = f"{v:.4g}"
            elif isinstance(v, int):
                v = f"{fmt.signed(v)}" if c.endswith("delta") else f"{fmt.count(v)}"
            cells.append(f"<td>{html.escape('' if v is None else str(v))}</td>")
        body.append(f'<tr class="{html.escape(str(r.get("status", "")))}">' + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def diff_html(d: GraphDiff, panel: DiffPanel, depth: int | None = None) -> str:
    va, vb = paired_views(d, depth)
    sa = _marked_svg(va, panel.marks_a)
    sb = _marked_svg(vb, panel.marks_b)
    partners = {a: b for a, b in panel.partners.items() if a and b}
    heat = "".join(
        f'<figure><img src="{_png_data_uri(h["z"])}" alt="difference heatmap"/><figcaption><b>'
        f'{html.escape(h["title"])}</b> {"×".join(map(str, h["shape"]))}, B − A (red +, blue −)<br>'
        + ", ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {fmt.count(v)}" for k, v in h["stats"].items())
        + "</figcaption></figure>" for h in panel.heatmaps)
    changed_groups = [g for g in panel.groups if g["status"] != "matched" or g["params_delta"] or g["flops_delta"]]
    units = [u for u in panel.units if u["status"] != "same"]
    legend = "".join(f'<span class="key" style="border-color:{MARK_STYLE[k][0]};'
                     f'border-style:{"dashed" if MARK_STYLE[k][1] else "solid"}">{html.escape(MARK_TEXT[k])}</span>'
                     for k in MARK_STYLE)
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>{html.escape(panel.title)}</title>
<style>
body {{ font-family: DejaVu Sans, Arial, sans-serif; margin: 16px; color: #222; }}
.views {{ display: flex; gap: 16px; align-items: flex-start; }}
.view {{ flex: 1; overflow: auto; max-height: 80vh; border: 1px solid #ddd; }}
.view h3 {{ margin: 4px 8px; }}
.view svg {{ width: 100%; height: auto; }}
g.node.partner > rect, g.node.partner > path {{ stroke: #1f77b4 !important; stroke-width: 4px !important; }}
table {{ border-collapse: collapse; font-size: 12px; margin: 8px 0; }}
td, th {{ border: 1px solid #ddd; padding: 2px 6px; text-align: left; }}
tr.removed td {{ background: #fde0e0; }} tr.added td {{ background: #e0f5e0; }}
tr.changed td {{ background: #fff0dd; }} tr.reshaped td {{ background: #eee4f5; }}
.key {{ border: 2.5px solid; padding: 0 6px; margin-right: 8px; font-size: 12px; }}
figure {{ display: inline-block; margin: 8px; vertical-align: top; max-width: 300px; font-size: 11px; }}
</style></head><body>
<h2>{html.escape(panel.title)}</h2>
<ul>{''.join(f'<li>{html.escape(s)}</li>' for s in panel.summary)}</ul>
<p>{legend}</p>
<p>Hover a box in one view: its partner in the other view is outlined in blue.</p>
<div class="views"><div class="view" id="view-a"><h3>A: {html.escape(d.a.name)}</h3>{sa}</div>
<div class="view" id="view-b"><h3>B: {html.escape(d.b.name)}</h3>{sb}</div></div>
<h3>Groups that differ</h3>{_table(changed_groups, ["role", "a", "b", "status", "params_a", "params_b",
                                                     "params_delta", "flops_a", "flops_b", "flops_delta"])}
<h3>Parameter modules that differ</h3>{_table(units, ["tag", "a", "b", "status", "shapes_a", "shapes_b",
                                                     "params_delta", "max_abs", "rel_norm", "changed"])}
<h3>Difference heatmaps</h3>{heat or "<p>No same-shape weights differ" + (
        "" if d.weights_compared else " (weights not compared: structure only)") + ".</p>"}
<script>
const partnersAB = {json.dumps(partners)};
const partnersBA = {{}}; for (const [a, b] of Object.entries(partnersAB)) if (!(b in partnersBA)) partnersBA[b] = a;
function link(fromId, toId, map) {{
  const from = document.getElementById(fromId), to = document.getElementById(toId);
  from.addEventListener('mouseover', ev => {{
    const g = ev.target.closest('g.node'); if (!g) return;
    to.querySelectorAll('g.node.partner').forEach(n => n.classList.remove('partner'));
    const other = map[g.dataset.id]; if (!other) return;
    const n = to.querySelector(`g.node[data-id="${{CSS.escape(other)}}"]`); if (n) n.classList.add('partner');
  }});
}}
link('view-a', 'view-b', partnersAB); link('view-b', 'view-a', partnersBA);
</script></body></html>"""


def write_diff(d: GraphDiff, out: Path, depth: int | None = None) -> None:
    suffix = out.suffix.lower()
    if suffix not in (".html", ".svg"):
        raise UserError(f"unknown diff format '{suffix}'", "use -o diff.html or diff.svg")
    panel = diff_panel(d, with_heatmaps=suffix == ".html")
    write_atomic(out, diff_html(d, panel, depth) if suffix == ".html" else side_by_side_svg(d, panel, depth))
