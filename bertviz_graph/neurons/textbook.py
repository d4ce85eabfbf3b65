"""The whole network as the textbook draws it: a stack of neuron layers whose widths are the real sizes.

Why: the op graph shows BERT as hundreds of add/mul/matmul nodes; the textbook shows columns of neurons
joined by weighted edges. This picture is the bridge: each band is one layer of neurons for ONE token
position (768 wide in bert-base, 3072 in the feed-forward layer), Q/K/V are drawn as 12 parallel heads of
64, grey fans between bands are fully-connected layers (one trained weight per edge, the count is written
on the fan), dashed lines are attention (weights between positions computed from the input, not trained),
and the repeated layer is drawn once and marked ×12. Each band carries the hierarchy group id in
``customdata`` so a click opens that group in the graph view.

Built from the hierarchy and its module attributes (in/out features, LayerNorm shape, heads), not from a
BERT template: bert-tiny, DistilBERT, ALBERT (one shared layer) and MiniLM come out right too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bertviz_graph import format as fmt
from bertviz_graph.format import size as _n
from bertviz_graph.hierarchy.heads import HeadCounts, ParamHeads, head_axis, head_counts, param_heads
from bertviz_graph.hierarchy.style import role_color
from bertviz_graph.hierarchy.tree import ROOT
from bertviz_graph.neurons.linear_ops import is_softmax, linear_features, linear_op, linear_params

if TYPE_CHECKING:
    import plotly.graph_objects as go

    from bertviz_graph.hierarchy.tree import Hierarchy

# Roles that name what a band is for (its colour); the nearest such ancestor wins.
_BLOCK_ROLES = ("attention", "attention_output", "ffn", "ffn_output", "pooler", "head", "embeddings")
THICK = 0.5  # band height of a layer of neurons (y units)
THIN = 0.22  # band height of a per-neuron operation (LayerNorm, GELU)
FAN = 1.25  # vertical gap holding a fully-connected fan
STEP = 0.42  # vertical gap before a per-neuron band
WIDE = 6  # a band wider than WIDE × hidden (the vocabulary) is drawn cut, not to scale
EDGE_FILL = "rgba(90, 90, 90, 0.16)"
ATTN_LINE = "rgba(200, 60, 40, 0.75)"


@dataclass
class Band:
    """One layer of neurons (or a per-neuron operation) in the textbook picture."""

    gid: str  # hierarchy group a click opens
    kind: str  # "embeddings" | "linear" | "attention" | "norm" | "act"
    name: str  # short name: "query", "dense", "LayerNorm"
    width: int  # neurons per token position
    role: str  # colour role
    heads: int = 0  # > 0: drawn as this many parallel groups of width // heads
    in_features: int | None = None  # Linear: neurons feeding it
    level: int = 0
    residual_from: int | None = None  # norm after a skip add: index of the band the skip comes from
    detail: str = ""  # hover text
    x0: float = 0.0  # drawn left edge (after layout)
    drawn_width: float = 0.0  # drawn width (the width, or the cut width for the vocabulary)
    y: float = 0.0
    cut: bool = False
    split_inputs: int = 0  # attention output dense: reads the concatenated heads (input columns)
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def thin(self) -> bool:
        return self.kind in ("norm", "act")


@dataclass
class Bracket:
    """A folded series drawn once: bands ``first``..``last`` repeat ``count`` times."""

    gid: str
    label: str
    first: int
    last: int
    count: int
    shared: bool


def _block_role(h: Hierarchy, gid: str, default: str) -> str:
    for x in [gid, *h.ancestors(gid)]:
        grp = h.groups.get(x)
        if grp is not None and grp.role in _BLOCK_ROLES:
            return grp.role
    return default


def _weight_name(h: Hierarchy, gid: str) -> str | None:
    """The 2-D weight the Linear's op reads (a tied decoder reads the word embedding), at either op level."""
    return linear_params(h, gid)[0]


def _linear_op(h: Hierarchy, gid: str) -> str | None:
    return linear_op(h, gid)


_GENERIC = ("dense", "lin1", "lin2", "fc1", "fc2", "out_lin", "linear", "proj", "out_proj", "decoder")


def _context_name(h: Hierarchy, gid: str) -> str:
    """'query', or for a generic attribute name the block it serves: 'Feed-forward dense'."""
    attr = gid.split("@")[0].rsplit(".", 1)[-1]
    if attr not in _GENERIC:
        return attr
    for a in h.ancestors(gid):
        grp = h.groups.get(a)
        if grp is not None and grp.kind == "module" and grp.label and grp.label != attr and a != ROOT:
            return f"{grp.label} {attr}"
    return attr


def _tied_with(h: Hierarchy, gid: str, weight: str) -> str | None:
    """The owner of the weight matrix when this Linear borrows it (MLM decoder = word embeddings)."""
    if not weight:
        return None
    node = h.graph.g.nodes.get("param:" + weight)
    if node is None:
        return None
    own = gid.split("@")[0]
    return None if weight.startswith(own + ".") else weight


def _data_inputs(h: Hierarchy, op: str | None) -> frozenset[str]:
    if op is None:
        return frozenset()
    g = h.graph.g
    return frozenset(u for u in g.predecessors(op) if g.nodes[u]["kind"] not in ("param", "buffer"))


def _head_layout(name: str, n_out: int, n_in: int, counts: HeadCounts | None) -> ParamHeads | None:
    """The hierarchy's head split of a Linear's weight (None when it has none or the sizes do not fit)."""
    axis = head_axis(name)
    try:
        return param_heads(name, n_out if axis == 0 else n_in, counts)
    except ValueError:
        return None


def collect_bands(h: Hierarchy) -> tuple[list[Band], list[Bracket]]:
    """The bands in execution order (one member of each folded series) and the series brackets."""
    g = h.graph.g
    counts = head_counts(h.ctx)
    bands: list[Band] = []
    brackets: list[Bracket] = []
    owner: dict[str, int] = {}  # OpGraph node -> band index that holds it (for residual sources)

    def add(b: Band, members: list[str]) -> None:
        bands.append(b)
        for n in members:
            owner[n] = len(bands) - 1

    def visit(x: str) -> None:
        if x in h.groups:
            grp = h.groups[x]
            if grp.kind == "series":
                first = len(bands)
                visit(grp.members[0])
                if len(bands) > first:
                    brackets.append(Bracket(x, grp.label, first, len(bands) - 1, len(grp.members),
                                            grp.shared_weights))
                return
            if grp.cls == "(ops)" or grp.role == "dropout":
                return
            a = grp.attrs
            if grp.role in ("embeddings", "embedding"):
                dims = [h.groups[c].attrs.get("embedding_dim") for c in grp.children if c in h.groups]
                dims = [d for d in dims if d] or [a.get("embedding_dim") or h.ctx.get("hidden") or 0]
                width = max(dims)
                add(Band(x, "embeddings", grp.label, int(width), "embeddings"), h.leaves(x))
                return
            feats = linear_features(a)  # a Linear, or GPT-2's Conv1D (nx → nf)
            if feats is not None:
                n_in, n_out = feats
                name = _weight_name(h, x) or ""
                lay = _head_layout(f"{x}.weight", n_out, n_in, counts)
                # a fused Q|K|V (GPT-2's c_attn) is not one run of heads: drawn unsplit; K and V of a
                # grouped-query model are split by their key/value heads
                nh = lay.count if lay is not None and lay.axis == 0 and not lay.parts else 0
                b = Band(x, "linear", _context_name(h, x), n_out,
                         _block_role(h, x, "linear"), heads=nh, in_features=n_in)
                if lay is not None and lay.axis == 1:
                    b.split_inputs = lay.count
                b.meta["op"] = _linear_op(h, x)
                b.meta["weight"] = name
                b.meta["tied"] = _tied_with(h, x, name)
                add(b, h.leaves(x))
                return
            if grp.role == "layernorm":
                shape = a.get("normalized_shape") or [bands[-1].width if bands else 0]
                width = shape[0] if isinstance(shape, list) else int(shape)
                b = Band(x, "norm", x.split("@")[0].rsplit(".", 1)[-1], int(width), "layernorm")
                b.meta["norm"] = "RMSNorm" if "RMS" in grp.cls or grp.cls == "T5LayerNorm" else "LayerNorm"
                b.residual_from = _residual_source(h, x, owner, len(bands))
                add(b, h.leaves(x))
                return
            if grp.role == "activation":
                width = bands[-1].width if bands else 0
                add(Band(x, "act", _act_name(h, x), int(width), "activation"), h.leaves(x))
                return
            for c in grp.children:
                visit(c)
            return
        d = g.nodes[x]
        if d["kind"] != "op":
            return
        role = h.role_of(x)
        if role == "softmax" or is_softmax(g, x):  # primitive level: the div ending exp / sum(exp)
            # per head: softmax(QKᵀ/√d)·V; as wide as the value vectors it mixes
            width = bands[-1].width if bands else (h.ctx.get("hidden") or 0)
            if counts is not None and counts.d_head:  # every query head's mix (wider than V under GQA)
                width = counts.heads * counts.d_head
            heads = counts.heads if counts is not None else 0
            parent = h.parent(x) or ROOT
            add(Band(parent, "attention", "attention", int(width), "softmax", heads=heads
                     if heads and width % heads == 0 else 0), [x])
        elif role == "activation" and (h.parent(x) not in h.groups or h.groups[h.parent(x)].role != "activation"):
            width = bands[-1].width if bands else 0
            add(Band(h.parent(x) or ROOT, "act", d["op"], int(width), "activation"), [x])

    visit(ROOT)
    bands[:] = _gated_order(h, bands)
    _levels(h, bands)
    for b in bands:
        b.detail = _detail(h, b, bands)
    _layout(h, bands)
    return bands, brackets


def _act_name(h: Hierarchy, gid: str) -> str:
    """'GELU', 'tanh': from the module class (NewGELUActivation runs as mul/pow/tanh ops)."""
    cls = h.groups[gid].cls
    low = cls.lower()
    for key, name in (("gelu", "GELU"), ("tanh", "tanh"), ("relu", "ReLU"), ("silu", "SiLU")):
        if key in low:
            return name
    g = h.graph.g
    ops = [g.nodes[n]["op"] for n in h.leaves(gid) if g.nodes[n]["kind"] == "op"]
    return ops[-1] if len(ops) == 1 else cls


def _residual_source(h: Hierarchy, norm_gid: str, owner: dict[str, int], n_bands: int) -> int | None:
    """A LayerNorm right after a skip add: the band the skip connection comes from.

    The add feeding the LayerNorm has two inputs: the block's own output (from the band just above) and
    a tensor from further back, the skip. Marked residual edges are preferred; otherwise the add input
    owned by the earliest band (before the one just above) is the skip.
    """
    g = h.graph.g
    for n in h.leaves(norm_gid):
        if g.nodes[n]["kind"] != "op":
            continue
        for u in g.predecessors(n):
            du = g.nodes[u]
            if du["kind"] != "op" or du.get("op") != "add":
                continue
            srcs = [(src, ed) for src, _, ed in g.in_edges(u, data=True) if src in owner]
            for src, _ed in srcs:
                if h.is_residual(src, u):
                    return owner[src]
            back = [owner[src] for src, _ in srcs if owner[src] < n_bands - 1]
            if back and len(g.in_edges(u)) >= 2:
                return min(back)
        break
    return None


def _gated_order(h: Hierarchy, bands: list[Band]) -> list[Band]:
    """A gated MLP runs gate, act(gate), up: the up projection reads the same tensor as the gate, so it is
    moved next to the gate (one level, side by side) and the activation, which multiplies both, after them.
    Skip-connection band indices are remapped."""
    order = list(range(len(bands)))
    for i, b in enumerate(bands):
        if b.kind != "linear" or i < 2:
            continue
        pos = order.index(i)
        j = pos - 1
        while j >= 0 and bands[order[j]].kind == "act":
            j -= 1
        prev = bands[order[j]] if j >= 0 else None
        if j < pos - 1 and prev is not None and prev.kind == "linear" and \
                _data_inputs(h, prev.meta.get("op")) == _data_inputs(h, b.meta.get("op")):
            order.insert(j + 1, order.pop(pos))
            for k in range(j + 2, pos + 1):
                if bands[order[k]].kind == "act":
                    bands[order[k]].meta["gated"] = True
    if order == list(range(len(bands))):
        return bands
    new_of = {old: new for new, old in enumerate(order)}
    out = [bands[k] for k in order]
    for b in out:
        if b.residual_from is not None:
            b.residual_from = new_of[b.residual_from]
    return out


def _levels(h: Hierarchy, bands: list[Band]) -> None:
    """Consecutive Linears that read the same tensor (query, key, value) share a level, side by side."""
    level = -1
    prev_inputs: frozenset[str] | None = None
    for i, b in enumerate(bands):
        inputs = _data_inputs(h, b.meta.get("op")) if b.kind == "linear" else None
        same = (b.kind == "linear" and i > 0 and bands[i - 1].kind == "linear" and inputs
                and inputs == prev_inputs)
        if not same:
            level += 1
        b.level = level
        prev_inputs = inputs




def _detail(h: Hierarchy, b: Band, bands: list[Band]) -> str:
    seq = h.ctx.get("seq")
    per = f"at each of the {seq} token positions" if seq else "at every token position"
    if b.kind == "embeddings":
        grp = h.groups[b.gid]
        tables = [h.groups[c] for c in grp.children if c in h.groups and "num_embeddings" in h.groups[c].attrs]
        if not tables and "num_embeddings" in grp.attrs:
            tables = [grp]
        tx = ", ".join(f"{t.label} {t.attrs['num_embeddings']}×{t.attrs['embedding_dim']}" for t in tables)
        return (f"{b.width} neurons per position: the looked-up vectors ({tx}) added and normalised. "
                "A lookup = a fully-connected layer from a one-hot input, no bias.")
    if b.kind == "linear":
        w = (b.in_features or 0) * b.width
        s = (f"fully-connected {b.in_features}→{b.width}: {_n(w)} trained weights (one per edge) + "
             f"{b.width} biases, the same weights {per}")
        if b.heads:
            s += f"<br>output neurons split into {b.heads} heads × {b.width // b.heads}"
        if b.split_inputs:
            s += f"<br>reads the {b.split_inputs} heads' outputs side by side and mixes them"
        if b.meta.get("tied"):
            s += f"<br>its weight matrix is {b.meta['tied']} (tied: the same trained numbers)"
        if _block_role(h, b.gid, "") == "pooler":
            s += "<br>the pooler reads only the first position ([CLS])"
        return s
    if b.kind == "attention":
        hd = b.width // b.heads if b.heads else None
        sq = f"{seq}×{seq}" if seq else "positions×positions"
        return (f"per head{f' (of {hd} neurons)' if hd else ''}: softmax(Q·Kᵀ/√d) gives {sq} weights between "
                "token positions, computed from the input, NOT trained; each position's output is that "
                f"weighted sum of the value vectors. {b.width} neurons out, no trained parameter.")
    if b.kind == "norm":
        skip = " after adding the skip connection (the block's input, unchanged)" if b.residual_from is not None \
            else ""
        if b.meta.get("norm") == "RMSNorm":
            return (f"RMSNorm over the {b.width} neurons of each position{skip}; {b.width} trained "
                    "numbers (a gain per neuron, no shift), no edges between neurons")
        return (f"LayerNorm over the {b.width} neurons of each position{skip}; {2 * b.width} trained "
                "numbers (a gain and a shift per neuron), no edges between neurons")
    if b.meta.get("gated"):
        return (f"{b.name} of each of the {b.width} gate neurons, times the matching up neuron (a gated MLP): "
                "no weights, no edges")
    return f"{b.name} applied to each of the {b.width} neurons on its own: no weights, no edges"


# ----------------------------------------------------------------------------------------------------------
# Layout and figure


def _layout(h: Hierarchy, bands: list[Band]) -> float:
    """Set x0/drawn_width/y of every band; returns the cut width (widest drawn band)."""
    hidden = h.ctx.get("hidden") or max((b.width for b in bands), default=1)
    normal = [b.width for b in bands if b.width <= WIDE * hidden] or [hidden]
    levels: dict[int, list[Band]] = {}
    for b in bands:
        levels.setdefault(b.level, []).append(b)
    gap = 0.06 * max(normal)
    side = [sum(b.width for b in lv) + gap * (len(lv) - 1) for lv in levels.values()]
    cap = max([s for s in side if s <= WIDE * hidden * 1.5] or normal) * 1.12
    y = 0.0
    prev: list[Band] | None = None
    for lvl in sorted(levels):
        lv = levels[lvl]
        if prev is not None:
            y += (STEP if lv[0].thin or lv[0].kind == "attention" and False else FAN) + (
                (THIN if lv[0].thin else THICK) + (THIN if prev[0].thin else THICK)) / 2
        for b in lv:
            b.cut = b.width > cap
            b.drawn_width = cap if b.cut else max(float(b.width), 0.012 * cap)
        total = sum(b.drawn_width for b in lv) + gap * (len(lv) - 1)
        x = -total / 2
        for b in lv:
            b.x0, b.y = x, y
            x += b.drawn_width + gap
        prev = lv
    return cap


def textbook_figure(h: Hierarchy, height: int | None = None, compact: bool = False) -> go.Figure:
    """The model as a stack of neuron layers (one token position), repeated layers drawn once and marked ×N.

    ``customdata`` of every band (bar) is its hierarchy group id. ``compact``: for a narrow panel (about
    500 px): no column of titles on the right (hover a band for them), shorter texts.
    """
    import plotly.graph_objects as go

    bands, brackets = collect_bands(h)
    cap = _layout(h, bands)  # the same layout again; returns the cut width
    fig = go.Figure()
    levels: dict[int, list[Band]] = {}
    for b in bands:
        levels.setdefault(b.level, []).append(b)
    order = sorted(levels)

    # fans (fully-connected layers) and attention lines between a level and the one above it
    fan_text: list[dict[str, Any]] = []
    for k, lvl in enumerate(order[1:], start=1):
        lv, above = levels[lvl], levels[order[k - 1]]
        src0 = min(b.x0 for b in above)
        src1 = max(b.x0 + b.drawn_width for b in above)
        ytop = above[0].y + (THIN if above[0].thin else THICK) / 2
        for b in lv:
            ybot = b.y - (THIN if b.thin else THICK) / 2
            if b.kind == "linear":
                xs = [src0, src1, b.x0 + b.drawn_width, b.x0, src0]
                ys = [ytop, ytop, ybot, ybot, ytop]
                fig.add_trace(go.Scatter(
                    x=xs, y=ys, fill="toself", mode="lines", line={"width": 0}, fillcolor=EDGE_FILL,
                    hoveron="fills", text=b.detail, hoverinfo="text", showlegend=False))
            elif b.kind == "attention":
                for a in above:  # Q, K and V all feed the mixing; drawn per head
                    nh = a.heads or 1
                    for i in range(nh):
                        xa = a.x0 + (i + 0.5) * a.drawn_width / nh
                        xb = b.x0 + (i + 0.5) * b.drawn_width / nh
                        fig.add_trace(go.Scatter(
                            x=[xa, xb], y=[ytop, ybot], mode="lines", hoverinfo="skip", showlegend=False,
                            line={"color": ATTN_LINE, "width": 1, "dash": "dot"}))
            else:  # per-neuron: straight down
                fig.add_trace(go.Scatter(
                    x=[b.x0, b.x0 + b.drawn_width, b.x0 + b.drawn_width, b.x0, b.x0],
                    y=[ytop, ytop, ybot, ybot, ytop], fill="toself", mode="lines", line={"width": 0},
                    fillcolor="rgba(90, 90, 90, 0.07)", hoverinfo="skip", showlegend=False))
        lin = [b for b in lv if b.kind == "linear"]
        if lin:
            n_in = lin[0].in_features or 0
            w = sum((b.in_features or 0) * b.width for b in lin)
            if len(lin) > 1 and len({b.width for b in lin}) == 1:
                txt = f"{len(lin)} × {n_in}×{lin[0].width} = {_n(w)} weights"
            elif len(lin) > 1:  # grouped-query attention: K and V narrower than Q
                txt = " + ".join(f"{b.in_features}×{b.width}" for b in lin) + f" = {_n(w)} weights"
            else:
                txt = f"{n_in}×{lin[0].width} = {_n(w)} weights"
            if lin[0].split_inputs:
                txt += f" · mixes the {lin[0].split_inputs} heads"
            if lin[0].meta.get("tied"):
                txt += ("<br>" if compact else " · ") + "tied to " + lin[0].meta["tied"].rsplit(".", 2)[-2]
            fan_text.append({"x": 0, "y": (ytop + lin[0].y - THICK / 2) / 2, "text": txt, "showarrow": False,
                             "font": {"size": 11, "color": "#333"}, "bgcolor": "rgba(255,255,255,0.85)"})
        elif lv[0].kind == "attention":
            fan_text.append({"x": 0, "y": (ytop + lv[0].y - THICK / 2) / 2, "showarrow": False,
                             "text": "attention: weights between positions, computed from the input (not trained)"
                             if not compact else "attention: weights from the input, not trained",
                             "font": {"size": 11, "color": "rgb(160,40,30)"}, "bgcolor": "rgba(255,255,255,0.85)"})

    anns: list[dict[str, Any]] = list(fan_text)
    # skip connections: a line on the left from the skip's source band to the add & LayerNorm
    left = -cap / 2
    for b in bands:
        if b.residual_from is None:
            continue
        s = bands[b.residual_from]
        x_side = left - 0.04 * cap
        fig.add_trace(go.Scatter(
            x=[s.x0, x_side, x_side, b.x0], y=[s.y, s.y, b.y, b.y], mode="lines",
            line={"color": "#888", "width": 1.4}, hoverinfo="text", showlegend=False,
            text=f"skip connection: {_band_title(s)} is added, unchanged, to the output before "
                 f"this LayerNorm (no weights)"))
        anns.append({"x": x_side, "y": (s.y + b.y) / 2, "text": "skip +", "showarrow": False, "textangle": -90,
                     "font": {"size": 10, "color": "#666"}, "bgcolor": "white"})

    # the bands themselves: one bar per band (or per head), customdata = group id
    xs, bases, ys, widths, colors, custom, hover, lines = [], [], [], [], [], [], [], []
    for b in bands:
        thick = THIN if b.thin else THICK
        parts = b.heads or 1
        seg = b.drawn_width / parts
        pad = seg * 0.08 if parts > 1 else 0.0
        for i in range(parts):
            xs.append(seg - 2 * pad)
            bases.append(b.x0 + i * seg + pad)
            ys.append(b.y)
            widths.append(thick)
            colors.append(role_color(b.role))
            custom.append(b.gid)
            head = ""
            if parts > 1:
                d = b.width // parts
                head = f"<br>head {i}: neurons {i * d}–{(i + 1) * d - 1}"
            hover.append(f"<b>{_band_title(b)}</b>{head}<br>{b.detail}<br><i>{b.gid or '(model)'}</i> · click to "
                         "open in the graph")
            lines.append("#555")
    fig.add_trace(go.Bar(
        x=xs, base=bases, y=ys, width=widths, orientation="h", customdata=custom, hovertext=hover,
        hovertemplate="%{hovertext}<extra></extra>", marker={"color": colors, "line": {"color": lines, "width": 0.6}},
        showlegend=False, name="bands"))

    # labels: a short one on the band, the size and role on the right
    right = cap / 2 + 0.06 * cap
    for lvl in order:
        lv = levels[lvl]
        for b in lv:
            if (b.drawn_width >= 0.16 * cap or compact) and not b.thin:
                short = b.name if compact and b.heads and b.kind == "linear" else _band_short(b)
                if compact and b.kind == "linear" and not b.heads:
                    short = f"{b.name.rsplit(' ', 1)[0] if b.name.endswith(' dense') else b.name} · {_n(b.width)}"
                anns.append({"x": b.x0 + b.drawn_width / 2, "y": b.y, "text": short, "showarrow": False,
                             "font": {"size": 11, "color": "#222"}, "bgcolor": "rgba(255,255,255,0.7)"})
            elif b.thin and compact:  # LayerNorm / GELU bands are thin: a small label on their left end
                anns.append({"x": b.x0, "y": b.y, "text": b.name, "showarrow": False, "xanchor": "left",
                             "font": {"size": 9, "color": "#333"}, "bgcolor": "rgba(255,255,255,0.8)",
                             "borderpad": 0})
            if b.cut:
                for xe in (b.x0, b.x0 + b.drawn_width):
                    anns.append({"x": xe, "y": b.y, "text": "≈", "showarrow": False,
                                 "font": {"size": 18, "color": "#222"}, "bgcolor": "white"})
        if compact:
            continue
        text = " · ".join(_band_title(b) for b in lv) if len(lv) <= 1 else _level_title(lv)
        anns.append({"x": right, "y": lv[0].y, "text": text, "showarrow": False, "xanchor": "left",
                     "font": {"size": 11 if not lv[0].thin else 10, "color": "#222" if not lv[0].thin else "#555"}})
    # ×N brackets (click = open the series)
    for br in brackets:
        y0 = bands[br.first].y - THICK / 2
        y1 = bands[br.last].y + THICK / 2
        xb = cap / 2 + 0.025 * cap
        fig.add_trace(go.Scatter(
            x=[xb, xb + 0.012 * cap, xb + 0.012 * cap, xb], y=[y0, y0, y1, y1], mode="lines",
            line={"color": "#c0601a", "width": 2.5}, hoverinfo="skip", showlegend=False))
        fig.add_trace(go.Scatter(
            x=[xb + 0.012 * cap], y=[(y0 + y1) / 2], mode="markers+text", text=[f"×{br.count}" + ("<br>shared" if br.shared else "")],
            textposition="middle left", textfont={"size": 16, "color": "#c0601a"},
            marker={"size": 14, "color": "#c0601a", "symbol": "square"}, customdata=[br.gid],
            hovertext=[f"<b>{br.label}</b><br>this layer is drawn once; the model runs it {br.count} times"
                       + (" with the SAME weights (shared)" if br.shared else ", each time with its own weights")
                       + f"<br><i>{br.gid}</i> · click to open in the graph"],
            hovertemplate="%{hovertext}<extra></extra>", showlegend=False))
    name = h.graph.meta.get("name") or h.groups[ROOT].cls
    seq = h.ctx.get("seq")
    ymax = max(b.y for b in bands) + THICK if bands else 1
    if compact:
        # short lines: the side panel is about 480 px wide and plotly does not wrap titles
        sub = ("bands = layers of neurons, width = real size<br>grey fans = fully-connected (a trained weight "
               "per edge)<br>dotted = attention · grey lines = skip connections<br>run at each of the "
               f"{seq or 'N'} positions · click a band to open it")
        xr = [left - 0.09 * cap, cap / 2 + 0.12 * cap]
    else:
        sub = ("bands = layers of neurons, width = real size · grey fans = fully-connected layers (one trained "
               "weight per edge)<br>dotted = attention between positions (weights computed from the input) · "
               f"grey lines = skip connections · the same network runs at each of the {seq or 'N'} positions")
        xr = [left - 0.09 * cap, cap / 2 + 0.95 * cap]
    fig.update_layout(
        title={"text": f"{name} as a textbook network" + ("" if compact else " (one token position)"),
               "subtitle": {"text": sub}, "x": 0.01, "font": {"size": 15}},
        annotations=anns, barmode="overlay", bargap=0, plot_bgcolor="white", paper_bgcolor="white",
        xaxis={"visible": False, "range": xr},
        yaxis={"visible": False, "range": [ymax + 0.2, -THICK - 0.2]},
        margin={"l": 10, "r": 10, "t": 128 if compact else 96, "b": 10},
        height=height or int(130 + 52 * ymax / 1.2 + 60), width=None,
        font={"family": "DejaVu Sans, Liberation Sans, Arial, sans-serif", "size": 12},
        hovermode="closest", dragmode=False,
    )
    return fig


def _band_short(b: Band) -> str:
    if b.kind == "attention":
        return f"{b.heads} heads × {b.width // b.heads}" if b.heads else str(b.width)
    if b.heads:
        return f"{b.name} · {b.heads}×{b.width // b.heads}"
    return f"{b.name} · {_n(b.width)}" if b.kind != "embeddings" else f"embeddings · {b.width}"


def _band_title(b: Band) -> str:
    size = f"{fmt.count(b.width)}" + (" (drawn cut)" if b.cut else "")
    if b.kind == "embeddings":
        return f"Embeddings → {size} per token"
    if b.kind == "linear":
        heads = f" = {b.heads} heads × {b.width // b.heads}" if b.heads else ""
        return f"{b.name}: {size}{heads}"
    if b.kind == "attention":
        heads = f" = {b.heads} heads × {b.width // b.heads}" if b.heads else ""
        return f"attention mix softmax(QKᵀ)·V: {size}{heads}"
    if b.kind == "norm":
        return ("Add (skip) & " if b.residual_from is not None else "") + f"{b.meta.get('norm', 'LayerNorm')} {size}"
    if b.meta.get("gated"):
        return f"{b.name}(gate) × up, on each neuron"
    return f"{b.name} on each neuron"


def _level_title(lv: list[Band]) -> str:
    names = " · ".join(b.name for b in lv)
    w = lv[0].width
    if all(b.width == w for b in lv):
        heads = f" (each {lv[0].heads} heads × {w // lv[0].heads})" if lv[0].heads else ""
        return f"{names}: {len(lv)} × {fmt.count(w)}{heads}"
    return " · ".join(_band_title(b) for b in lv)
