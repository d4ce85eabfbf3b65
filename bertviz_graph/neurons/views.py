"""What the app and the notebook widget call to show the neural network behind a graph element.

- ``neuron_view``: the textbook drawing of a Linear (or one attention head's slice of it), sampled honestly;
- ``neuron_detail``: all incoming weights of one output neuron (the click on a neuron);
- ``linear_candidates``: the Linears under a group, for a picker when the selection is a block.

A node id can be a Linear group ("bert.encoder.layer.0.intermediate.dense"), a block holding one Linear
("...intermediate"), the linear op ("linear_4"), the weight parameter ("param:...weight") or its name.
Weights come from ``details.weights_for(graph)`` (the checkpoint, else clearly marked random values).

Per-head slices: query/key/value weights are [out, in]; head h owns OUTPUT rows h·d … (h+1)·d−1. The
attention output projection reads the concatenated heads: head h owns its INPUT columns h·d … (h+1)·d−1.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from bertviz_graph.details import conv1d_shown_as_linear, weights_for
from bertviz_graph.errors import UserError
from bertviz_graph.hierarchy.heads import (
    HeadCounts,
    ParamHeads,
    head_axis,
    head_counts,
    is_fused_qkv,
    param_heads,
)
from bertviz_graph.hierarchy.tree import ROOT, build_hierarchy
from bertviz_graph.neurons.linear_ops import (
    linear_features,
    linear_params,
    linear_users,
    weight_and_bias,
)

if TYPE_CHECKING:
    import plotly.graph_objects as go

    from bertviz_graph.graph import OpGraph
    from bertviz_graph.hierarchy.tree import Hierarchy



# ----------------------------------------------------------------------------------------------------------
# The graph's weight store


def store_for(graph: OpGraph):
    """The graph's one weight store (``details.weights_for``: shared with the app's panels and the widget)."""
    return weights_for(graph)


def hierarchy_of(graph: OpGraph) -> Hierarchy:
    if graph.hierarchy is None:
        graph.hierarchy = build_hierarchy(graph)
    return graph.hierarchy


# ----------------------------------------------------------------------------------------------------------
# Which Linear a node id means


@dataclass
class LinearRef:
    """A fully-connected layer found from a node id: its group, weight name, sizes and head split."""

    gid: str | None  # the Linear module's group (None when only the parameter is known)
    weight: str  # parameter name of W [out, in]
    bias: str | None
    out_features: int
    in_features: int
    heads: int  # this weight's own heads (its key/value heads for K and V under GQA; 0 if not split)
    split: int | None  # 0: heads own output rows (Q/K/V), 1: heads own input columns (attention output)
    label: str
    stored_in_out: bool = False  # GPT-2's Conv1D: the checkpoint holds W as [in, out]; shown as [out, in]
    fused_qkv: bool = False  # GPT-2's c_attn: output rows are [Q | K | V], each split by head
    layout: ParamHeads | None = None  # the hierarchy's head split of this weight (hierarchy/heads.py)

    @property
    def d_head(self) -> int | None:
        return self.layout.d if self.layout is not None else None

    @property
    def layout_note(self) -> str:
        """How the drawn W relates to what the model stores ("" for an ordinary Linear)."""
        if not self.stored_in_out:
            return ""
        return (f"stored [in, out] = {self.in_features}×{self.out_features} (GPT-2's Conv1D), drawn as "
                "[out, in]")


def _is_linear_group(h: Hierarchy, gid: str) -> bool:
    grp = h.groups.get(gid)
    return grp is not None and grp.kind == "module" and linear_features(grp.attrs) is not None


def linear_candidates(graph: OpGraph, node_id: str) -> list[tuple[str, str]]:
    """(group id, label) of the Linears under a group (first member of a folded series), in order."""
    h = hierarchy_of(graph)
    if node_id not in h.groups:
        return []
    out: list[tuple[str, str]] = []

    def visit(x: str) -> None:
        grp = h.groups[x]
        if _is_linear_group(h, x):
            out.append((x, _linear_label(h, x)))
            return
        kids = [grp.members[0]] if grp.kind == "series" and grp.members else grp.children
        for c in kids:
            if c in h.groups:
                visit(c)

    visit(node_id)
    return out


def _linear_label(h: Hierarchy, gid: str) -> str:
    grp = h.groups[gid]
    attr = gid.split("@")[0].rsplit(".", 1)[-1]
    parent = h.groups.get(grp.parent or "")
    ctx = f"{parent.label} · " if parent is not None and parent.id != ROOT and parent.label != attr else ""
    n_in, n_out = linear_features(grp.attrs) or (0, 0)
    return f"{ctx}{attr} ({n_in}→{n_out})"


def _param_of_linear(h: Hierarchy, gid: str) -> tuple[str | None, str | None]:
    """(weight name, bias name) the Linear's op reads (a tied decoder reads the word embedding)."""
    return linear_params(h, gid)


def _op_params(h: Hierarchy, op: str) -> tuple[str | None, str | None]:
    return weight_and_bias(h.graph.g, op)


def resolve_linear(graph: OpGraph, node_id: str) -> LinearRef:
    """The fully-connected layer a node id stands for; UserError (with the choices) if there is none."""
    h = hierarchy_of(graph)
    g = graph.g
    gid: str | None = None
    weight = bias = None
    if node_id in h.groups:
        if _is_linear_group(h, node_id):
            gid = node_id
        else:
            cands = linear_candidates(graph, node_id)
            if len(cands) == 1:
                gid = cands[0][0]
            elif not cands:
                raise UserError(f"'{h.groups[node_id].label}' holds no fully-connected (Linear) layer",
                                "select a Linear, or a block such as Feed-forward")
            else:
                raise UserError(
                    f"'{h.groups[node_id].label}' holds {len(cands)} fully-connected layers",
                    "pick one: " + ", ".join(c for c, _ in cands[:8]) + (" …" if len(cands) > 8 else ""))
        weight, bias = _param_of_linear(h, gid)
    else:
        nid = node_id if node_id in g else ("param:" + node_id if "param:" + node_id in g else None)
        if nid is None:
            raise UserError(f"no node '{node_id}' in this model", "select a node of the graph")
        d = g.nodes[nid]
        if d["kind"] == "op":
            weight, bias = _op_params(h, nid)
            home = h.parent(nid)
            gid = home if home is not None and _is_linear_group(h, home) else None
            if gid is not None and bias is None:
                bias = _param_of_linear(h, gid)[1]  # primitive level: the bias is added by a later op
            if weight is None:
                raise UserError(f"op '{d.get('label', nid)}' reads no trained weight matrix",
                                "select a linear op, a Linear module or a weight parameter")
        elif d["kind"] == "param" and len(d.get("shape") or []) == 2:
            weight = d["name"]
            users = linear_users(g, nid) or [v for v in g.successors(nid) if g.nodes[v]["kind"] == "op"
                                             and h.role_of(v) == "linear"]
            if users:
                home = h.parent(users[0])
                gid = home if home is not None and _is_linear_group(h, home) else None
                bias = (_param_of_linear(h, gid)[1] if gid else None) or _op_params(h, users[0])[1]
        else:
            raise UserError(f"'{d.get('label', nid)}' is not a fully-connected layer",
                            "select a Linear module, a linear op or a 2-D weight")
    if weight is None:
        raise UserError(f"no weight matrix found for '{node_id}'", "select a Linear module")
    shape = g.nodes["param:" + weight]["shape"] if "param:" + weight in g else None
    if shape is None or len(shape) != 2:
        raise UserError(f"{weight} is not a 2-D weight matrix", "select a Linear module")
    if gid is not None and not _is_linear_group(h, gid):
        gid = None
    stored_in_out = is_conv1d(graph, gid, weight)
    n_out, n_in = (int(shape[1]), int(shape[0])) if stored_in_out else (int(shape[0]), int(shape[1]))
    # a tied decoder reads the word embedding [vocab, hidden] = [out, in] as its weight: same layout
    name_for_split = f"{gid}.weight" if gid else weight
    split = head_axis(name_for_split)
    try:  # the hierarchy decides who owns what (query heads, key/value heads, fused Q|K|V)
        layout = param_heads(name_for_split, n_out if split == 0 else n_in, heads_of(h, gid))
    except ValueError:
        layout = None
    label = _linear_label(h, gid) if gid else weight
    fused = is_fused_qkv(name_for_split)
    if fused:
        label += " · fused query/key/value"
    if layout is not None and layout.group > 1:
        label += f" · {layout.count} key/value heads"
    return LinearRef(gid=gid, weight=weight, bias=bias, out_features=n_out, in_features=n_in,
                     heads=layout.count if layout else 0, split=split if layout else None, label=label,
                     stored_in_out=stored_in_out, fused_qkv=fused, layout=layout)


def is_conv1d(graph: OpGraph, gid: str | None, weight: str) -> bool:
    """Whether the weight belongs to a GPT-2 Conv1D (stored [in, out]): its group's or its owner's class."""
    mods = getattr(graph, "modules", {}) or {}
    for path in (gid, weight.rsplit(".", 1)[0]):
        m = mods.get(path.split("@")[0]) if path else None
        if m is not None:
            return m.cls == "Conv1D"
    return False


def _store(graph: OpGraph, store: Any) -> Any:
    """The caller's store (else the graph's), with Conv1D weights shown as [out, in]."""
    return conv1d_shown_as_linear(graph, store or store_for(graph))


def head_bands(ref: LinearRef, head: int | None) -> list[tuple[int, int]]:
    """Output-row bands of W the view draws: all rows, one head's rows, or a fused head's Q, K and V rows."""
    rows = head_window(ref, head)[0]
    if head is None or not ref.fused_qkv:
        return [(rows.start, rows.stop)]
    return list(ref.layout.bands(int(head))) if ref.layout is not None else [(rows.start, rows.stop)]


def _rows_of(store: Any, ref: LinearRef, bands: list[tuple[int, int]], cols: slice) -> tuple[np.ndarray, np.ndarray]:
    """(W rows of the bands stacked, their output-neuron indices in the full layer)."""
    W = np.concatenate([np.asarray(store.get_slice(ref.weight, slice(a, b), cols), np.float32) for a, b in bands])
    return W, np.concatenate([np.arange(a, b) for a, b in bands])


def heads_of(h: Hierarchy, gid: str | None) -> HeadCounts | None:
    """The model's head counts: from the hierarchy's facts, else (a module traced without a config in its
    meta, e.g. GPT2Model) from the module's own config."""
    counts = head_counts(h.ctx)
    if counts is not None:
        return counts
    cfg = getattr(getattr(h.graph, "module", None), "config", None)
    heads = getattr(cfg, "num_attention_heads", None)
    kv = getattr(cfg, "num_key_value_heads", None) or heads
    return HeadCounts(heads, kv) if isinstance(heads, int) and isinstance(kv, int) else None


def head_window(ref: LinearRef, head: int | None) -> tuple[slice, slice, int, int]:
    """(rows, cols, row_offset, col_offset) of W for ``head`` (all of W when head is None)."""
    full = (slice(0, ref.out_features), slice(0, ref.in_features), 0, 0)
    if head is None:
        return full
    if ref.split is None or not ref.d_head:
        raise UserError(f"{ref.label} is not split by attention head",
                        "per-head views exist for query, key, value and the attention output projection")
    if not 0 <= int(head) < ref.heads:
        raise UserError(f"head {head} is out of range", f"use 0..{ref.heads - 1}")
    # the hierarchy's split (for a fused Q|K|V its Q band; head_bands gives all three), as slices of W [out, in]
    a, b = ref.layout.bands(int(head))[0]
    if ref.split == 0:
        return slice(a, b), slice(0, ref.in_features), a, 0
    return slice(0, ref.out_features), slice(a, b), 0, a


def head_matrix(graph: OpGraph, node_id: str, head: int | None = None, store: Any = None) -> np.ndarray:
    """The weight matrix the neuron view samples: W, or the head's rows (Q/K/V) / columns (output)."""
    ref = resolve_linear(graph, node_id)
    store = _store(graph, store)
    _, cols, _, _ = head_window(ref, head)
    return _rows_of(store, ref, head_bands(ref, head), cols)[0]


# ----------------------------------------------------------------------------------------------------------
# Figures


def neuron_view(graph: OpGraph, node_id: str, head: int | None = None, *, store: Any = None,
                max_out: int = 24, max_in: int = 24, max_edges: int = 300) -> go.Figure:
    """The textbook drawing of the fully-connected layer behind ``node_id`` (or one head's slice of it).

    The strongest output neurons and their strongest incoming edges are drawn, and the figure says what
    fraction of the layer's edges (and of its total |w|) that is. The output-neuron markers carry their
    index in ``customdata`` (click -> ``neuron_detail``); every trace's ``meta`` holds the Linear's group id.
    """
    from bertviz_graph.neurons.fc import (  # lazy: start-up (plotly)  # plotly: loaded when a view is drawn
        fc_figure,
        sample_fc,
    )

    ref = resolve_linear(graph, node_id)
    store = _store(graph, store)
    rows, cols, r0, c0 = head_window(ref, head)
    W, row_index = _rows_of(store, ref, head_bands(ref, head), cols)
    sample = sample_fc(W, max_out=max_out, max_in=max_in, max_edges=max_edges, row_index=row_index,
                       col_offset=c0)
    seq = hierarchy_of(graph).ctx.get("seq")
    shared = f", shared by all {seq} positions" if seq else ", shared by every position"
    title = f"{ref.label}: a fully-connected layer{shared}"
    in_label = f"input neurons ({ref.in_features} per token)"
    out_label = f"output neurons ({ref.out_features} per token)"
    if head is not None:
        d = ref.d_head
        if ref.fused_qkv:
            (q0, q1), (k0, k1), (v0, v1) = head_bands(ref, head)
            title = (f"{ref.label}, head {head}: Q neurons {q0}–{q1 - 1}, K {k0}–{k1 - 1}, "
                     f"V {v0}–{v1 - 1}")
            out_label = f"head {head}'s Q, K, V (3×{d} of {ref.out_features})"
        elif ref.split == 0:
            title = f"{ref.label}, head {head}: output neurons {r0}–{r0 + d - 1}"
            out_label = f"output neurons of head {head} ({d} of {ref.out_features})"
        else:
            title = f"{ref.label}, head {head}: input neurons {c0}–{c0 + d - 1}"
            in_label = f"head {head}'s neurons ({d} of {ref.in_features})"
    fig = fc_figure(sample, title, in_label=in_label, out_label=out_label)
    marked = [t for t in fig.data if t.mode == "markers+text"]
    if len(marked) == 2:
        marked[0].customdata = [int(i) for i in sample.inputs]
        marked[0].name = "input neurons"
        marked[1].customdata = [int(o) for o in sample.outputs]
        marked[1].name = "output neurons"
    for t in fig.data:
        t.meta = ref.gid or ref.weight
    note = f"W is {ref.out_features}×{ref.in_features} · red > 0, blue < 0, width ∝ |w|"
    if ref.stored_in_out:
        note += f"<br>{ref.layout_note}"
    if ref.fused_qkv and head is None:
        part = ref.out_features // 3
        note += f"<br>Q = output neurons 0–{part - 1}, K = {part}–{2 * part - 1}, V = {2 * part}–{3 * part - 1}"
    note += "<br>click an output neuron for all its incoming weights"
    if not getattr(store, "trained", True):
        note += " · <span style='color:#b22'>RANDOM weights, not trained</span>"
    fig.update_layout(title={"subtitle": {"text": f"{sample.caption()}<br>{note}"}}, margin={"t": 96})
    return fig


def neuron_detail(graph: OpGraph, node_id: str, out_index: int, head: int | None = None, *,
                  store: Any = None, top: int | None = None) -> go.Figure:
    """All incoming weights of output neuron ``out_index`` (its row of W); with a head of the attention
    output projection, only the weights from that head's neurons. ``out_index`` counts in the full layer."""
    from bertviz_graph.neurons.fc import (  # lazy: start-up (plotly)
        neuron_figure,  # lazy: start-up (plotly)  # plotly: loaded when a view is drawn
    )

    ref = resolve_linear(graph, node_id)
    store = _store(graph, store)
    rows, cols, r0, c0 = head_window(ref, head)
    o = int(out_index)
    bands = head_bands(ref, head)
    if not any(a <= o < b for a, b in bands):
        where = ", ".join(f"{a}..{b - 1}" for a, b in bands)
        raise UserError(f"output neuron {o} is outside {where}"
                        + (f" (head {head})" if head is not None else ""), "click a drawn output neuron")
    row = np.asarray(store.get_slice(ref.weight, slice(o, o + 1), cols), np.float32).reshape(1, -1)
    bias = None
    if ref.bias is not None:
        try:
            bias = float(np.asarray(store.get_slice(ref.bias, slice(o, o + 1))).ravel()[0])
        except (KeyError, ValueError, IndexError):
            bias = None
    who = f"head {head}'s " if head is not None and ref.split == 1 else ""
    title = f"{ref.label}: {who}incoming weights of output neuron {o}"
    fig = neuron_figure(row, 0, top=top, title=title, row_offset=o, col_offset=c0)
    sub = fig.layout.title.subtitle.text or ""
    extras = []
    if bias is not None:
        extras.append(f"bias {bias:.4g}")
    if ref.stored_in_out:
        extras.append(f"stored as column {o} of the [in, out] weight (GPT-2's Conv1D)")
    if not getattr(store, "trained", True):
        extras.append("RANDOM initial weights, not trained")
    fig.update_layout(title={"subtitle": {"text": " · ".join([sub, *extras])}})
    for t in fig.data:
        t.meta = ref.gid or ref.weight
    return fig
