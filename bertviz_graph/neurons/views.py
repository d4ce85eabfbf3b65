"""What the app and the notebook widget call to show the neural network behind a graph element.

- ``neuron_view``: the textbook drawing of a Linear (or one attention head's slice of it), sampled honestly;
- ``neuron_detail``: all incoming weights of one output neuron (the click on a neuron);
- ``mapping_text``: the on-screen mapping "graph element -> neural-network terms" for the selected node;
- ``linear_candidates``: the Linears under a group, for a picker when the selection is a block.

A node id can be a Linear group ("bert.encoder.layer.0.intermediate.dense"), a block holding one Linear
("...intermediate"), the linear op ("linear_4"), the weight parameter ("param:...weight") or its name.
Weights come from ``details.weights_for(graph)`` (the checkpoint, else clearly marked random values).

Per-head slices: query/key/value weights are [out, in]; head h owns OUTPUT rows h·d … (h+1)·d−1. The
attention output projection reads the concatenated heads: head h owns its INPUT columns h·d … (h+1)·d−1.
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from bertviz_graph.errors import UserError
from bertviz_graph.hierarchy.heads import (
    HeadCounts,
    ParamHeads,
    head_axis,
    head_counts,
    is_fused_qkv,
    param_heads,
)
from bertviz_graph.hierarchy.tree import ROOT
from bertviz_graph.neurons.linear_ops import (
    LINEAR_OPS,
    linear_features,
    linear_params,
    linear_users,
    params_read,
    weight_and_bias,
)

if TYPE_CHECKING:
    import plotly.graph_objects as go

    from bertviz_graph.graph import OpGraph
    from bertviz_graph.hierarchy.tree import Hierarchy

_LINEAR_OPS = LINEAR_OPS


# ----------------------------------------------------------------------------------------------------------
# Weight stores, one per traced graph


_STORES: dict[int, tuple[weakref.ref, Any]] = {}
_LOCK = threading.Lock()


def store_for(graph: OpGraph):
    """``details.weights_for(graph)``, created once per graph (random weights are generated lazily)."""
    from bertviz_graph.details import weights_for

    key = id(graph)
    with _LOCK:
        hit = _STORES.get(key)
        if hit is not None and hit[0]() is graph:
            return hit[1]
        store = weights_for(graph)
        try:
            ref = weakref.ref(graph, lambda _r, k=key: _STORES.pop(k, None))
        except TypeError:  # not weak-referenceable: do not cache
            return store
        _STORES[key] = (ref, store)
        return store


def _hier(graph: OpGraph) -> Hierarchy:
    if graph.hierarchy is None:
        from bertviz_graph.hierarchy.tree import build_hierarchy

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
    h = _hier(graph)
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
    h = _hier(graph)
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
    stored_in_out = _is_conv1d(graph, gid, weight)
    n_out, n_in = (int(shape[1]), int(shape[0])) if stored_in_out else (int(shape[0]), int(shape[1]))
    # a tied decoder reads the word embedding [vocab, hidden] = [out, in] as its weight: same layout
    name_for_split = f"{gid}.weight" if gid else weight
    split = head_axis(name_for_split)
    try:  # the hierarchy decides who owns what (query heads, key/value heads, fused Q|K|V)
        layout = param_heads(name_for_split, n_out if split == 0 else n_in, _heads_of(h, gid))
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


def _is_conv1d(graph: OpGraph, gid: str | None, weight: str) -> bool:
    """Whether the weight belongs to a GPT-2 Conv1D (stored [in, out]): its group's or its owner's class."""
    mods = getattr(graph, "modules", {}) or {}
    for path in (gid, weight.rsplit(".", 1)[0]):
        m = mods.get(path.split("@")[0]) if path else None
        if m is not None:
            return m.cls == "Conv1D"
    return False


def _store(graph: OpGraph, store: Any) -> Any:
    """The caller's store (else the graph's), with Conv1D weights shown as [out, in]."""
    from bertviz_graph.details import conv1d_shown_as_linear

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


def _heads_of(h: Hierarchy, gid: str | None) -> HeadCounts | None:
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
    from bertviz_graph.neurons.fc import fc_figure, sample_fc

    ref = resolve_linear(graph, node_id)
    store = _store(graph, store)
    rows, cols, r0, c0 = head_window(ref, head)
    W, row_index = _rows_of(store, ref, head_bands(ref, head), cols)
    sample = sample_fc(W, max_out=max_out, max_in=max_in, max_edges=max_edges, row_index=row_index,
                       col_offset=c0)
    seq = _hier(graph).ctx.get("seq")
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
    from bertviz_graph.neurons.fc import neuron_figure

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


# ----------------------------------------------------------------------------------------------------------
# The mapping, in words


def _shape_text(s: list[int] | None) -> str:
    return "[" + ", ".join(map(str, s)) + "]" if s else "[]"


def _dims(h: Hierarchy, gid: str | None = None) -> dict[str, Any]:
    from bertviz_graph.details import dims_for

    attrs = h.groups[gid].attrs if gid in h.groups else {}
    return dims_for(h, attrs)


def _positions(h: Hierarchy) -> str:
    seq = h.ctx.get("seq")
    return f"all {seq} token positions" if seq else "every token position"


def _tensor_meaning(shape: list[int], dims: dict[str, Any]) -> str:
    from bertviz_graph.neurons.explain import explain_tensor

    text = explain_tensor(shape, dims=dims)
    if len(shape) == 4 and shape[1] == 1 and text.endswith(" numbers"):
        return (f"attention mask: {shape[2]}×{shape[3]} (query × key positions), added to the scores, the same "
                "for every head; not trained")
    return text


def _tensor_rows(h: Hierarchy, node: str, dims: dict[str, Any]) -> list[tuple[str, str]]:
    """Input and output edges of an op, in neuron terms."""

    g = h.graph.g
    rows: list[tuple[str, str]] = []
    seen: set[str] = set()
    for u, _, ed in g.in_edges(node, data=True):
        if g.nodes[u]["kind"] in ("param", "buffer") or not ed.get("shape"):
            continue
        txt = _shape_text(ed["shape"])
        if txt in seen:
            continue
        seen.add(txt)
        rows.append((f"input edge {txt}", _tensor_meaning(ed["shape"], dims)))
    shape = g.nodes[node].get("shape")
    if shape:
        rows.append((f"output edge {_shape_text(shape)}", _tensor_meaning(shape, dims)))
    return rows


def _linear_rows(h: Hierarchy, n_in: int, n_out: int, what: str) -> list[tuple[str, str]]:
    return [
        (what, f"a fully-connected layer: {n_in} input neurons → {n_out} output neurons, {n_in * n_out:,} "
               f"weighted edges (one trained weight each) + {n_out} biases"),
        ("all positions", f"shared by {_positions(h)}: the textbook layer is applied to each "
                                           "token's vector separately"),
        (f"weight W [{n_out}, {n_in}]", "row i = the incoming edges of output neuron i; column j = the outgoing "
                                        "edges of input neuron j"),
    ]


def _op_rows(h: Hierarchy, node: str) -> list[tuple[str, str]]:
    g = h.graph.g
    d = g.nodes[node]
    op = d.get("op", "")
    role = h.role_of(node)
    home = h.parent(node)
    dims = _dims(h, home)
    hidden = dims.get("hidden")
    rows: list[tuple[str, str]] = []
    params = params_read(g, node)  # at the primitive level W arrives as permute(W)
    if role == "linear" or (op in _LINEAR_OPS and any(len(g.nodes[p].get("shape") or []) == 2 for p in params)):
        w = next((p for p in params if len(g.nodes[p].get("shape") or []) == 2), None)
        if w is not None:
            n_out, n_in = g.nodes[w]["shape"]
            if _is_conv1d(h.graph, home, g.nodes[w]["name"]):  # stored [in, out]
                n_out, n_in = n_in, n_out
            rows += _linear_rows(h, n_in, n_out, f"op {op} (Linear)")
            kinds = {h.edge_kinds.get((w, x)) for x in (node, *g.predecessors(node))}  # via permute(W) too
            if "tied" in kinds:
                rows.append(("tied weight", f"reads {g.nodes[w]['name']}: the same trained numbers as that layer"))
            elif "shared" in kinds:
                rows.append(("shared weight", f"reads {g.nodes[w]['name']}: the same tensor every repeat of "
                                              "this layer uses (counted once, at its first use)"))
    elif role == "softmax":
        rows.append((f"op {op}", "attention weights: edges between token positions (per head, a "
                                 f"{h.ctx.get('seq') or 'N'}×{h.ctx.get('seq') or 'N'} table) whose weights are "
                                 "computed from the input; no trained parameter"))
    elif role == "matmul":
        rows.append((f"op {op}", "attention matmul: both operands come from the input (Q·Kᵀ gives scores "
                                 "between positions; weights·V mixes the value vectors), so no trained weight"))
    elif role == "layernorm":
        n = (d.get("shape") or [hidden])[-1]
        rows.append((f"op {op}", f"per-token normalisation over the {n} neurons of each position, then a gain "
                                 f"and a shift per neuron: 2×{n} = {2 * n:,} trained parameters, no edges"
                                 if isinstance(n, int) else "per-token normalisation"))
    elif role == "activation":
        rows.append((f"op {op}", "per-neuron: each number passes through the function on its own; no weights, "
                                 "no edges"))
    elif role == "embedding":
        w = next((p for p in params if len(g.nodes[p].get("shape") or []) == 2), None)
        if w is not None:
            n, dim = g.nodes[w]["shape"]
            rows.append((f"op {op}", f"table lookup = a fully-connected layer from {n:,} one-hot input neurons to "
                                     f"{dim} neurons, no bias; only the active input's {dim} edges matter"))
    elif op == "add":
        residual = any(h.is_residual(u, node) for u in g.predecessors(node))
        if residual:
            rows.append(("op add (skip connection)", "per-neuron: adds the block's input back, unchanged, to its "
                                                      "output; no weights"))
        elif params:
            rows.append(("op add (bias)", "per-neuron: each neuron's own trained offset"))
        else:
            rows.append(("op add", "per-neuron addition (or a broadcast mask); no weights, no edges"))
    elif role == "elementwise":
        rows.append((f"op {op}", "per-neuron: works number by number; no weights, no edges"))
    elif role == "shape":
        heads, d_head = h.ctx.get("heads"), h.ctx.get("d_head")
        eg = f" (e.g. {hidden} → {heads} heads × {d_head})" if hidden and heads and d_head else ""
        rows.append((f"op {op}", f"regroups the same numbers{eg}; no computation"))
    elif role == "dropout":
        rows.append((f"op {op}", "identity at inference; in training it zeroes random neurons"))
    else:
        rows.append((f"op {op}", "an op without a specific neural-network meaning; see its shapes"))
    return rows + _tensor_rows(h, node, dims)


def _param_rows(h: Hierarchy, node: str) -> list[tuple[str, str]]:
    g = h.graph.g
    d = g.nodes[node]
    shape = d.get("shape") or []
    name = d["name"]
    users = [g.nodes[v].get("op") for v in g.successors(node)] + (["linear"] if linear_users(g, node) else [])
    rows: list[tuple[str, str]] = []
    if len(shape) == 2 and "embedding" in users:
        rows.append((f"table {_shape_text(shape)}", f"{shape[0]:,} rows of {shape[1]} numbers; as a layer: the "
                                                    f"edges from {shape[0]:,} one-hot inputs to {shape[1]} neurons"))
        if any(u in _LINEAR_OPS for u in users):
            rows.append(("also an output layer's weight", f"tied: read as W [{shape[0]}, {shape[1]}] = "
                                                          f"{shape[0]:,} output neurons × {shape[1]} input "
                                                          f"neurons, {shape[0] * shape[1]:,} edges"))
    elif len(shape) == 2:
        rows.append((f"weight {_shape_text(shape)}", f"the weighted edges of a fully-connected layer: "
                                                     f"{shape[0]} output neurons × {shape[1]} input neurons = "
                                                     f"{shape[0] * shape[1]:,} edges"))
    elif len(shape) == 1:
        low = name.lower()
        if "norm" in low:
            what = "gain" if low.endswith(("weight", "gamma")) else "shift"
            rows.append((f"{what} {_shape_text(shape)}", f"one trained {what} per neuron ({shape[0]}); no edges"))
        else:
            rows.append((f"bias {_shape_text(shape)}", f"one trained offset per output neuron ({shape[0]})"))
    else:
        rows.append((f"parameter {_shape_text(shape)}", "trained numbers"))
    if d.get("tied"):
        rows.append(("tied", "also used as " + ", ".join(d["tied"])))
    return rows


def _group_rows(h: Hierarchy, gid: str) -> list[tuple[str, str]]:

    grp = h.groups[gid]
    dims = _dims(h, gid)
    rows: list[tuple[str, str]] = []
    a = grp.attrs
    if grp.kind == "series":
        n = len(grp.members)
        each = h.groups[grp.members[0]].params
        rows.append((f"{grp.label}", f"{n} stacked copies of the same layer structure, "
                                     + ("ALL with the same weights (shared)" if grp.shared_weights
                                        else f"each with its own {each:,} trained parameters")))
    elif linear_features(a) is not None:  # a Linear, or GPT-2's Conv1D (nx → nf)
        n_in, n_out = linear_features(a)
        conv = grp.cls == "Conv1D"
        rows += _linear_rows(h, n_in, n_out, f"{'Conv1D' if conv else 'Linear'} {n_in}→{n_out}")
        if conv:
            rows.append(("stored [in, out]", f"GPT-2's Conv1D keeps W as [{n_in}, {n_out}] (y = x·W + b): the same "
                                             f"layer; views show it transposed as W [{n_out}, {n_in}]"))
        split = head_axis(f"{gid}.weight")
        try:
            lay = param_heads(f"{gid}.weight", n_out if split == 0 else n_in, _heads_of(h, gid))
        except ValueError:
            lay = None
        if lay is not None and lay.parts:
            p, d = lay.part, lay.d
            rows.append(("Q, K, V fused", f"output neurons 0–{p - 1} are the queries, {p}–{2 * p - 1} the keys, "
                                          f"{2 * p}–{3 * p - 1} the values; in each, head h owns h·{d} … (h+1)·{d}−1"))
        elif lay is not None:
            d = lay.d
            owns = "output neurons (rows)" if split == 0 else "input neurons (columns)"
            who = f"{lay.count} key/value heads" if lay.group > 1 else f"{lay.count} heads"
            shared = f"; each serves {lay.group} query heads" if lay.group > 1 else ""
            rows.append((who, f"head h owns {owns} h·{d} … (h+1)·{d}−1{shared}"))
    elif grp.role == "layernorm":
        n = (a.get("normalized_shape") or [dims.get("hidden")])[0]
        rows.append((f"LayerNorm({n})", f"per-token normalisation over the {n} neurons of each position; "
                                        f"2×{n} = {2 * n:,} trained parameters (gain and shift per neuron), "
                                        "no edges" if isinstance(n, int) else "per-token normalisation"))
    elif grp.role == "embedding" and "num_embeddings" in a:
        n, dim = a["num_embeddings"], a["embedding_dim"]
        rows.append((f"Embedding {n}×{dim}", f"table lookup = a fully-connected layer from {n:,} one-hot inputs "
                                             f"to {dim} neurons, no bias"))
    elif grp.role == "activation":
        rows.append((grp.label, "per-neuron: each number goes through the function on its own; no weights"))
    elif grp.role == "attention":
        heads = _heads_of(h, gid)
        seq = h.ctx.get("seq")
        lin = [c for c in linear_candidates(h.graph, gid)]
        rows.append(("query, key, value", f"{len(lin) or 3} fully-connected layers; their output neurons split "
                                          f"into {heads or 'several'} heads"
                                          + (f" × {dims.get('d_head')}" if dims.get("d_head") else "")))
        rows.append(("softmax(QKᵀ/√d)", f"per head, a {seq or 'N'}×{seq or 'N'} table of edges between token "
                                        "positions whose weights are computed from the input: no trained "
                                        "parameter"))
        rows.append(("· V", "each position's output = the weighted sum of the value vectors"))
    else:
        cands = linear_candidates(h.graph, gid)
        if cands:
            n_w = 0
            for c, _ in cands:
                n_in, n_out = linear_features(h.groups[c].attrs) or (0, 0)
                n_w += n_in * n_out
            rows.append((grp.label, f"{len(cands)} fully-connected layer{'s' if len(cands) > 1 else ''} "
                                    f"({n_w:,} weighted edges) plus per-neuron ops"))
        else:
            rows.append((grp.label, "no fully-connected layer inside; per-neuron or reshaping ops"))
    if grp.params and grp.kind != "series":
        rows.append(("trained parameters", f"{grp.params:,}"))
    for label, shapes in (("input edge", grp.inputs[:2]), ("output edge", grp.outputs[:1])):
        for s in shapes:
            rows.append((f"{label} {_shape_text(s)}", _tensor_meaning(s, dims)))
    return rows


def mapping_text(graph: OpGraph, node_id: str) -> list[tuple[str, str]]:
    """The on-screen mapping for the selected element: [(graph element, what it is in neural-network terms)].

    ``node_id`` is a group, an OpGraph node, or an edge "u->v" (a tensor).
    """
    from bertviz_graph.neurons.explain import explain_tensor

    h = _hier(graph)
    g = graph.g
    if node_id in h.groups:
        return _group_rows(h, node_id)
    if node_id in g:
        kind = g.nodes[node_id]["kind"]
        if kind == "op":
            return _op_rows(h, node_id)
        if kind in ("param", "buffer"):
            return _param_rows(h, node_id) if kind == "param" else [
                ("buffer", "stored numbers that are not trained (e.g. position ids)")]
        shape = g.nodes[node_id].get("shape")
        return [(f"{kind} {_shape_text(shape)}", explain_tensor(shape, dims=_dims(h)) if shape else kind)]
    if "->" in node_id:
        u, v = node_id.split("->", 1)
        v = v.split("#", 1)[0]  # "a->b#shared": the second edge of another kind between the same boxes
        shape = None
        if g.has_edge(u, v):
            shape = g.edges[u, v].get("shape")
        elif u in g:
            shape = g.nodes[u].get("shape")
        elif u in h.groups and h.groups[u].outputs:
            shape = h.groups[u].outputs[0]
        if shape:
            return [(f"tensor edge {_shape_text(shape)}", _tensor_meaning(shape, _dims(h)))]
    raise UserError(f"no node '{node_id}' in this model", "select a node of the graph")


def mapping_overview(graph: OpGraph) -> str:
    """The one-paragraph answer to "how does this graph relate to a textbook network?"."""
    from bertviz_graph.neurons.explain import explain_overview

    return explain_overview(_dims(_hier(graph)))
