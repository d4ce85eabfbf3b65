"""Where the parameters and the compute are: sunburst and treemap of parameters or FLOPs by group.

Why: "which part of BERT is big?" has a surprising answer (seed 001 asks why the feed-forward layer exists):
each layer's feed-forward part holds about two thirds of the layer's parameters, and the word embedding
table alone holds 23.4M of bert-base's 109.5M. These charts make that visible, model -> layer -> block ->
Linear, built from the hierarchy (any BERT-family model), with ``customdata`` = the hierarchy group id of
each sector so a click can open that group in the graph view.

Counting rules:
- parameters: every tensor once. A tied tensor (the MLM decoder reuses the word embedding) counts where it
  is first used (the embedding); a shared layer (ALBERT's one layer run 12 times) counts in the call that
  first uses it. A sector's value is what it holds; a parent's value can exceed its children's sum (e.g.
  a bias owned by the parent module).
- FLOPs: the estimate of each op (2 per multiply-add), summed; repeated calls all count.
- Folded series: by default "BertLayer ×12" is one sector whose blocks sum the 12 layers ("fold"); with
  ``series="layers"`` it has the 12 layers as children.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bertviz_graph import format as numfmt
from bertviz_graph.errors import UserError
from bertviz_graph.format import human
from bertviz_graph.hierarchy.aggregates import param_leaf_values
from bertviz_graph.hierarchy.style import role_color, role_label
from bertviz_graph.hierarchy.tree import ROOT
from bertviz_graph.io import check_writable, write_atomic
from bertviz_graph.neurons.linear_ops import linear_features

if TYPE_CHECKING:
    import plotly.graph_objects as go

    from bertviz_graph.hierarchy.tree import Hierarchy

METRICS = ("params", "flops")
KINDS = ("sunburst", "treemap")
FORMATS = (".html", ".svg", ".png")
ROOT_ID = "<model>"  # plotly id of the root sector (the hierarchy's root id is "")

_FFN_ROLES = ("ffn", "ffn_output")
_ATT_ROLES = ("attention", "attention_output")
_FFN_NAMES = ("ffn", "intermediate", "mlp", "lin1", "lin2", "fc1", "fc2")
_ATT_NAMES = ("attention", "attn", "query", "key", "value", "q_lin", "k_lin", "v_lin", "out_lin")




# ----------------------------------------------------------------------------------------------------------
# The tree of sectors


@dataclass
class Sector:
    """One sector of the chart: a hierarchy group (or, folded, the same group in every series member)."""

    id: str  # unique plotly id
    parent: str  # plotly id of the parent sector, "" for the root
    gid: str  # hierarchy group id a click opens ("" = the model)
    label: str
    role: str
    value: float
    members: int = 1  # folded: how many series members this sector sums
    note: str = ""  # extra hover line
    depth: int = 0
    children: list[str] = field(default_factory=list)


def leaf_values(h: Hierarchy, metric: str) -> dict[str, float]:
    """Value carried by each OpGraph node: FLOPs per op, or each parameter tensor's size once.

    A parameter counts at the op that first reads it (so a tied decoder weight counts at the word
    embedding lookup and ALBERT's shared layer at its first call), or at its own leaf if no op reads it.
    """
    _check_metric(metric)
    g = h.graph.g
    out: dict[str, float] = {}
    if metric == "flops":
        for n, d in g.nodes(data=True):
            if d["kind"] == "op" and d.get("flops"):
                out[n] = out.get(n, 0) + float(d["flops"])
        return out
    return {n: float(v) for n, v in param_leaf_values(g).items()}


def _elsewhere_text(h: Hierarchy, reads: dict[str, str]) -> str:
    """'also reads X (counted in Y, tied or shared)' for tensors another group counts."""
    names = list(reads.items())
    first = ", ".join(f"{n} (counted in {h.label_of(gid) if gid in h.groups else gid or 'model'})"
                      for n, gid in names[:2])
    more = f" and {len(names) - 2} more" if len(names) > 2 else ""
    return f"also reads {first}{more}: tied or shared, counted once"


def _check_metric(metric: str) -> None:
    if metric not in METRICS:
        raise UserError(f"unknown chart metric {metric!r}", "use 'params' or 'flops'")


def _group_values(h: Hierarchy, leaf: dict[str, float]) -> dict[str, float]:
    vals: dict[str, float] = {}

    def visit(x: str) -> float:
        if x not in h.groups:
            return leaf.get(x, 0.0)
        total = sum(visit(c) for c in h.groups[x].children)
        vals[x] = total
        return total

    visit(ROOT)
    return vals


def _group_kids(h: Hierarchy, gid: str) -> list[str]:
    return [c for c in h.groups[gid].children if c in h.groups]


def part_of_layer(h: Hierarchy, gid: str) -> str:
    """'feed-forward', 'attention' or 'other' for a group inside a transformer layer (by role, then name)."""
    for x in [gid, *h.ancestors(gid)]:
        grp = h.groups.get(x)
        if grp is None or grp.role == "layer":
            break
        if grp.role in _FFN_ROLES:
            return "feed-forward"
        if grp.role in _ATT_ROLES:
            return "attention"
        attr = x.split("@")[0].rsplit(".", 1)[-1].lower()
        if any(attr.startswith(k) for k in _FFN_NAMES):
            return "feed-forward"
        if any(attr.startswith(k) for k in _ATT_NAMES):
            return "attention"
    return "other"


def build_sectors(h: Hierarchy, metric: str = "params", series: str = "fold") -> list[Sector]:
    """The chart's sectors, parents before children.

    Skipped (their children take their place): inner model wrappers (BertModel inside BertForMaskedLM),
    groups whose whole value sits in a single child group (Encoder -> BertLayer ×12), and groups with value 0.
    """
    _check_metric(metric)
    if series not in ("fold", "layers"):
        raise UserError(f"unknown series mode {series!r}", "use 'fold' or 'layers'")
    vals = _group_values(h, leaf_values(h, metric))
    out: list[Sector] = []
    used: set[str] = set()

    def uid(base: str) -> str:
        k, i = base, 1
        while k in used:
            i += 1
            k = f"{base}#{i}"
        used.add(k)
        return k

    def val(gids: list[str]) -> float:
        return sum(vals.get(g, 0.0) for g in gids)

    def skip(gids: list[str]) -> bool:
        """A pass-through level: its children are drawn in its place."""
        grp = h.groups[gids[0]]
        if grp.kind == "series":
            return False
        if grp.role == "model" and gids[0] != ROOT:
            return True
        kids = [c for c in _group_kids(h, gids[0]) if vals.get(c, 0) > 0]
        if len(kids) != 1 or vals.get(kids[0], 0) != vals.get(gids[0], 0):
            return False
        kid = h.groups[kids[0]]
        # Encoder -> BertLayer ×12, MLM head -> MLM head: the child says it better. Feed-forward -> dense
        # (the Linear) stays: the block names what the Linear is for.
        return kid.kind == "series" or kid.label == grp.label or grp.role in ("encoder", "model")

    def kid_lists(gids: list[str]) -> list[list[str]]:
        """Children aligned across folded members (same structure: same position)."""
        lists = [_group_kids(h, g) for g in gids]
        n = min(len(x) for x in lists)
        return [[x[i] for x in lists] for i in range(n)]

    def emit(gids: list[str], parent: str, depth: int) -> None:
        grp = h.groups[gids[0]]
        if grp.kind == "series" and series == "fold":
            # one sector for the series; below it, the blocks of every member summed
            sid = uid(gids[0])
            members = [m for g in gids for m in h.groups[g].members]
            n = len(h.groups[gids[0]].members)
            note = (f"{n} layers share these weights; counted once" if grp.shared_weights and metric == "params"
                    else f"{n} repeated {grp.cls}, summed")
            out.append(Sector(sid, parent, gids[0], grp.label, grp.role, val(gids), n * len(gids), note,
                              depth))
            for kids in kid_lists(members):
                walk(kids, sid, depth + 1)
            return
        if grp.kind == "series":  # series == "layers": the series, then its members
            sid = uid(gids[0])
            note = "one layer's weights, run in every call" if grp.shared_weights and metric == "params" else ""
            out.append(Sector(sid, parent, gids[0], grp.label, grp.role, val(gids), 1, note, depth))
            for m in grp.members:
                walk([m], sid, depth + 1, label=f"{h.groups[m].label} {_member_name(m, grp.members)}")
            return
        sid = uid(gids[0] if gids[0] != ROOT else ROOT_ID)
        out.append(Sector(sid, parent, gids[0], _label(grp), grp.role, val(gids), len(gids), "", depth))
        for kids in kid_lists(gids):
            walk(kids, sid, depth + 1)

    def walk(gids: list[str], parent: str, depth: int, label: str | None = None) -> None:
        if val(gids) <= 0:
            return
        if skip(gids):
            for kids in kid_lists(gids):
                walk(kids, parent, depth, None)
            return
        before = len(out)
        emit(gids, parent, depth)
        if label is not None and len(out) > before:
            out[before].label = label

    emit([ROOT], "", 0)
    out[0].label = h.graph.meta.get("name") or h.groups[ROOT].cls
    for s in out:
        if s.parent:
            next(p for p in out if p.id == s.parent).children.append(s.id)
    return out


def _label(grp) -> str:
    """Group label with its size for Linear and Embedding modules: "dense 768→3072"."""
    a = grp.attrs
    feats = linear_features(a)  # a Linear, or GPT-2's Conv1D
    if feats is not None:
        return f"{grp.label} {feats[0]}→{feats[1]}"
    if "num_embeddings" in a and "embedding_dim" in a:
        return f"{grp.label} {a['num_embeddings']}×{a['embedding_dim']}"
    return grp.label


def _member_name(m: str, members: list[str]) -> str:
    tail = m.rsplit(".", 1)[-1]
    return tail if tail.isdigit() else str(members.index(m))


# ----------------------------------------------------------------------------------------------------------
# Facts shown in the title


def facts(h: Hierarchy, metric: str = "params") -> dict[str, Any]:
    """Numbers the chart states in its subtitle: total, largest embedding table, one layer's split."""
    leaf = leaf_values(h, metric)
    vals = _group_values(h, leaf)
    total = vals.get(ROOT, 0.0)
    out: dict[str, Any] = {"total": total}
    embeds = [gid for gid, g in h.groups.items() if g.role == "embedding" and vals.get(gid, 0) > 0]
    if embeds:
        top = max(embeds, key=lambda x: vals[x])
        out["embedding"] = {"gid": top, "label": h.groups[top].label, "value": vals[top],
                            "share": vals[top] / total if total else 0.0}
    layers = [s for s in h.series() if s.role == "layer"]
    layer_gid = layers[0].members[0] if layers else next(
        (gid for gid, g in h.groups.items() if g.role == "layer"), None)
    if layer_gid is not None:
        parts = {"feed-forward": 0.0, "attention": 0.0, "other": 0.0}
        for n in h.leaves(layer_gid):
            if n in leaf:
                parts[part_of_layer(h, h.parent(n))] += leaf[n]
        lt = sum(parts.values())
        out["layer"] = {"gid": layer_gid, "label": h.groups[layer_gid].cls, "value": lt, **{
            k: v for k, v in parts.items()}, "ffn_share": parts["feed-forward"] / lt if lt else 0.0,
            "attention_share": parts["attention"] / lt if lt else 0.0}
    return out


def _subtitle(h: Hierarchy, metric: str) -> str:
    f = facts(h, metric)
    bits = []
    if metric == "params":
        bits.append(f"{numfmt.count(f['total'])} parameters, tied/shared tensors counted once")
        if "embedding" in f:
            e = f["embedding"]
            bits.append(f"{e['label']}: {human(e['value'])} = {numfmt.percent(e['share'], 1)}")
    else:
        seq = h.ctx.get("seq")
        bits.append(f"{human(f['total'])} FLOPs per forward pass" + (f" of {seq} tokens" if seq else ""))
        unknown = h.groups[ROOT].flops_unknown
        if unknown:
            bits.append(f"+ unknown: {unknown} ops we cannot count are left out")
    if "layer" in f and f["layer"]["value"] > 0:
        lay = f["layer"]
        bits.append(f"each {lay['label']}: feed-forward {numfmt.percent(lay['ffn_share'], 1)}, attention "
                    f"{numfmt.percent(lay['attention_share'], 1)}")
    return "<br>".join(bits)


# ----------------------------------------------------------------------------------------------------------
# Figures


def _layer_split(h: Hierarchy, s: Sector, leaf: dict[str, float]) -> str:
    """'feed-forward 66.6% · attention 33.3%' for a layer (or series of layers) sector."""
    if s.role != "layer":
        return ""
    grp = h.groups[s.gid]
    layers = grp.members if grp.kind == "series" else [s.gid]
    parts = {"feed-forward": 0.0, "attention": 0.0}
    total = 0.0
    for lay in layers:
        for n in h.leaves(lay):
            if n in leaf:
                total += leaf[n]
                p = part_of_layer(h, h.parent(n))
                if p in parts:
                    parts[p] += leaf[n]
    if total <= 0:
        return ""
    return f"feed-forward {numfmt.percent(parts['feed-forward'] / total, 1)} · attention {numfmt.percent(parts['attention'] / total, 1)}"


def _sector_ancestors(s: Sector, by_id: dict[str, Sector]) -> list[str]:
    out = []
    p = s.parent
    while p:
        out.append(p)
        p = by_id[p].parent
    return out


def _trace_data(h: Hierarchy, metric: str, series: str) -> dict[str, Any]:
    sectors = build_sectors(h, metric, series)
    leaf = leaf_values(h, metric)
    total = sectors[0].value or 1.0
    by_id = {s.id: s for s in sectors}
    unit = "parameters" if metric == "params" else "FLOPs"
    texts, hovers, templates = [], [], []
    for s in sectors:
        share_root = s.value / total
        parent = by_id.get(s.parent)
        share_parent = s.value / parent.value if parent and parent.value else 1.0
        split = _layer_split(h, s, leaf)
        # inside a layer the share of that layer matters (feed-forward ≈ 2/3), elsewhere the share of the model
        layer = next((by_id[a] for a in _sector_ancestors(s, by_id) if by_id[a].role == "layer"), None)
        lines = [f"<b>{s.label}</b>", f"{numfmt.count(s.value)} {unit} ({human(s.value)})",
                 f"{numfmt.percent(share_root, 1)} of the model"]
        if layer is not None and layer.value:
            lines.append(f"{numfmt.percent(s.value / layer.value, 1)} of {layer.label}")
        if parent is not None and parent is not layer:
            lines.append(f"{numfmt.percent(share_parent, 1)} of {parent.label}")
        if s.members > 1:
            lines.append(f"summed over {s.members} repeats: {human(s.value / s.members)} each")
        if split:
            lines.append(split)
        if s.note:
            lines.append(s.note)
        grp = h.groups[s.gid]
        if metric == "params" and grp.reads_elsewhere and s.members == 1:
            lines.append(_elsewhere_text(h, grp.reads_elsewhere))
        lines.append(f"{role_label(s.role)} · click to open <i>{s.gid or '(model)'}</i>")
        hovers.append("<br>".join(lines))
        pct = f"{numfmt.percent(s.value / layer.value, 1)} of layer" if layer is not None and layer.value else f"{numfmt.percent(share_root, 1)}"
        text = f"{human(s.value)} · {pct}" if s.depth else f"{human(s.value)} {unit}"
        if split:
            text += f"<br>{split.split(' · ')[0]}"
        texts.append(text)
        templates.append("%{label}<br>%{text}")
    return {
        "ids": [s.id for s in sectors],
        "labels": [s.label for s in sectors],
        "parents": [s.parent for s in sectors],
        "values": [s.value for s in sectors],
        "customdata": [s.gid for s in sectors],
        "text": texts,
        "hovertext": hovers,
        "texttemplate": templates,
        "colors": [role_color(s.role) if s.depth else "#ffffff" for s in sectors],
        "sectors": sectors,
    }


def _trace(h: Hierarchy, metric: str, kind: str, series: str, maxdepth: int | None = None, **domain: Any):
    import plotly.graph_objects as go

    d = _trace_data(h, metric, series)
    common = dict(
        ids=d["ids"], labels=d["labels"], parents=d["parents"], values=d["values"], branchvalues="total",
        customdata=d["customdata"], text=d["text"], hovertext=d["hovertext"],
        hovertemplate="%{hovertext}<extra></extra>",
        texttemplate=d["texttemplate"], marker={"colors": d["colors"], "line": {"color": "#ffffff", "width": 1}},
        textfont={"color": "#222222"}, insidetextorientation="auto" if kind == "sunburst" else None,
        name="parameters" if metric == "params" else "FLOPs", **domain,
    )
    if kind == "sunburst":
        return go.Sunburst(**{k: v for k, v in common.items() if v is not None}, rotation=90, sort=False,
                           maxdepth=maxdepth or 5)
    return go.Treemap(**{k: v for k, v in common.items() if k != "insidetextorientation"}, sort=True,
                      maxdepth=maxdepth or 4, tiling={"pad": 2}, pathbar={"visible": True})


def chart_figure(h: Hierarchy, metric: str = "params", kind: str = "sunburst", series: str = "fold",
                 height: int = 720, maxdepth: int | None = None) -> go.Figure:
    """A sunburst or treemap of parameters or FLOPs, model -> layer -> block -> Linear.

    ``customdata`` of each sector is the hierarchy group id to open in the graph view (the model root is "").
    ``maxdepth``: rings (or nesting levels) shown at once; clicking a sector zooms into it.
    """
    import plotly.graph_objects as go

    _check_metric(metric)
    if kind not in KINDS:
        raise UserError(f"unknown chart kind {kind!r}", "use 'sunburst' or 'treemap'")
    name = h.graph.meta.get("name") or h.groups[ROOT].cls
    what = "Parameters" if metric == "params" else "FLOPs"
    fig = go.Figure(_trace(h, metric, kind, series, maxdepth))
    fig.update_layout(
        title={"text": f"{what} by group · {name}", "subtitle": {"text": _subtitle(h, metric)}, "x": 0.01,
               "font": {"size": 15}},
        margin={"l": 10, "r": 10, "t": 96, "b": 10}, height=height, paper_bgcolor="white",
        uniformtext={"minsize": 9, "mode": "hide"},
        font={"family": "DejaVu Sans, Liberation Sans, Arial, sans-serif", "size": 12},
    )
    return fig


def chart_pair(h: Hierarchy, kind: str = "sunburst", series: str = "fold", height: int = 760) -> go.Figure:
    """Parameters (left) and FLOPs (right) side by side: the figure ``write_chart`` saves."""
    import plotly.graph_objects as go

    if kind not in KINDS:
        raise UserError(f"unknown chart kind {kind!r}", "use 'sunburst' or 'treemap'")
    name = h.graph.meta.get("name") or h.groups[ROOT].cls
    fig = go.Figure([
        _trace(h, "params", kind, series, domain={"x": [0.0, 0.49], "y": [0.0, 0.94]}),
        _trace(h, "flops", kind, series, domain={"x": [0.51, 1.0], "y": [0.0, 0.94]}),
    ])
    anns = []
    for x, metric, what in ((0.245, "params", "Parameters"), (0.755, "flops", "FLOPs")):
        anns.append({"x": x, "y": 1.0, "xref": "paper", "yref": "paper", "showarrow": False,
                     "xanchor": "center", "yanchor": "bottom", "font": {"size": 12},
                     "text": f"<b>{what}</b><br>{_subtitle(h, metric)}"})
    fig.update_layout(
        title={"text": f"Where the parameters and the compute are · {name}", "x": 0.01, "y": 0.99,
               "yanchor": "top", "font": {"size": 16}},
        annotations=anns, margin={"l": 10, "r": 10, "t": 140, "b": 10}, height=height, width=1500,
        uniformtext={"minsize": 9, "mode": "hide"},
        paper_bgcolor="white", font={"family": "DejaVu Sans, Liberation Sans, Arial, sans-serif", "size": 12},
    )
    return fig


# ----------------------------------------------------------------------------------------------------------
# Files


def write_chart(h: Hierarchy, path: str | Path, kind: str = "sunburst", series: str = "fold",
                metric: str | None = None) -> Path:
    """Write the parameter and FLOPs chart (both side by side, or one ``metric``) as .html, .svg or .png.

    .html is self-contained (plotly.js inline, works offline); .svg and .png are rendered by kaleido in the
    system Chromium. The file is written atomically.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise UserError(f"unknown chart format '{path.suffix}' for {path}", "use .html, .svg or .png")
    check_writable(path)
    fig = chart_pair(h, kind, series) if metric is None else chart_figure(h, metric, kind, series)
    if suffix == ".html":
        html = fig.to_html(include_plotlyjs=True, full_html=True, config={"displaylogo": False})
        write_atomic(path, html)
    else:
        write_atomic(path, figure_image(fig, suffix[1:]))
    return path


def figure_image(fig: go.Figure, fmt: str = "png", scale: float = 1.0) -> bytes:
    """A plotly figure as SVG or PNG bytes, through kaleido and the system Chromium (no download)."""
    if fmt not in ("svg", "png"):
        raise UserError(f"unknown image format {fmt!r}", "use svg or png")
    try:
        import kaleido  # noqa: F401
    except ImportError:
        raise UserError("writing .svg/.png charts needs the kaleido package",
                        "pip install kaleido (scripts/setup.sh installs it), or write .html") from None
    _point_kaleido_at_chromium()
    width = fig.layout.width or 1100
    height = fig.layout.height or 720
    try:
        return fig.to_image(format=fmt, width=width, height=height, scale=scale)
    except Exception as e:  # kaleido reports a missing browser in several ways
        raise UserError(f"could not render the chart as {fmt}: {type(e).__name__}: {str(e).splitlines()[0]}",
                        "install Chromium (scripts/setup.sh does; or set BROWSER_PATH to a Chrome/Chromium), "
                        "or write .html") from e


def _point_kaleido_at_chromium() -> None:
    """kaleido (choreographer) searches PATH for chrome/chromium; also honour the usual Debian location."""
    import os
    import shutil

    if os.environ.get("BROWSER_PATH"):
        return
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome"):
        if shutil.which(name):
            return
    for candidate in ("/usr/bin/chromium", "/usr/lib/chromium/chromium", "/snap/bin/chromium"):
        if os.access(candidate, os.X_OK):
            os.environ["BROWSER_PATH"] = candidate
            return
