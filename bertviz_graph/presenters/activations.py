"""Activations of a run, as plain data and plotly figures (shared by the app, the widget and the CLI).

- ``tensor_view``: an op's (or edge's) output as a [tokens × features] matrix with token labels, its
  statistics and the top features per token; ``tensor_figure`` draws it.
- ``node_sizes``: one number per graph node (RMS of its output) for colour-by activation size.
- ``residual_norms``: the residual stream's L2 norm per layer and token.
- ``neuron_view``: a Linear for one token: inputs, outputs and the strongest contributions w·x, with the
  honest share of the total those drawn edges carry; ``ffn_neurons``: which feed-forward neurons fire.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import plotly.graph_objects as go

from bertviz_graph import format as fmt
from bertviz_graph.errors import UserError
from bertviz_graph.graph import OpGraph
from bertviz_graph.presenters.edge_ops import WEIGHT_EDGES, ops_per_edge
from bertviz_graph.render.weight_files import colorize
from bertviz_graph.run.attention import attention_ops

RANDOM_RUN_NOTE = ("random weights (no checkpoint): these activations show what an untrained network does "
                   "with the sentence; there is no learned structure in them")
FONT = {"family": "DejaVu Sans, Liberation Sans, Arial, sans-serif", "size": 11}


def check_token(acts: Any, token: Any) -> int | None:
    """None (all tokens) or a valid token index; a bad index is a UserError naming the range."""
    if token is None or token == "":
        return None
    try:
        t = int(token)
    except (TypeError, ValueError):
        raise UserError(f"token index {token!r} is not a number", "pick a token from the list") from None
    n = len(acts.tokens)
    if not 0 <= t < n:
        raise UserError(f"token index {t} is outside the sentence (0..{n - 1})", "pick a token from the list")
    return t


@dataclass
class TensorView:
    node_id: str
    matrix: np.ndarray  # [tokens, features] (features flattened), float32
    tokens: list[str]
    shape: list[int]  # the tensor's own shape
    stats: list[tuple[str, str]]
    top: list[list[tuple[int, float]]]  # per token: (feature, value) of the largest |value|
    note: str = ""
    feature_label: str = "feature"
    token_axis: bool = True
    extra: dict[str, Any] = field(default_factory=dict)


def as_token_matrix(arr: np.ndarray, n_tokens: int) -> tuple[np.ndarray, bool]:
    """Move the (first) token-length axis to the front and flatten the rest; (matrix, found a token axis)."""
    a = np.asarray(arr, dtype=np.float32)
    if a.ndim == 0:
        return a.reshape(1, 1), False
    if a.ndim >= 2 and a.shape[0] == 1:
        a = a[0]
    axes = [i for i, s in enumerate(a.shape) if s == n_tokens]
    if not axes:
        return a.reshape(1, -1), False
    ax = axes[0]
    a = np.moveaxis(a, ax, 0)
    return a.reshape(n_tokens, -1), True


def tensor_view(acts: Any, node_id: str, token: Any = None, top_k: int = 5) -> TensorView:
    arr = acts.array(node_id)
    t = check_token(acts, token)
    m, tok_axis = as_token_matrix(arr, len(acts.tokens))
    labels = [f"{i} {s}" for i, s in enumerate(acts.labels)] if tok_axis else ["(no token axis)"]
    sel = m if t is None or not tok_axis else m[t:t + 1]
    flat = sel.astype(np.float64).ravel()
    stats = [("shape", "×".join(map(str, arr.shape))), ("min", f"{flat.min():.4g}"), ("max", f"{flat.max():.4g}"),
             ("mean", f"{flat.mean():.4g}"), ("std", f"{flat.std():.4g}"),
             ("RMS", f"{np.sqrt((flat ** 2).mean()):.4g}")]
    if node_id in getattr(acts, "float16", set()):
        stats.append(("kept as", "float16 (memory budget)"))
    top = []
    for row in m:
        idx = np.argsort(-np.abs(row))[:top_k]
        top.append([(int(i), float(row[i])) for i in idx])
    return TensorView(node_id, m, labels, list(arr.shape), stats, top,
                      note="" if acts.trained else RANDOM_RUN_NOTE, token_axis=tok_axis)


def tensor_figure(tv: TensorView, token: int | None = None, max_cols: int = 1536) -> go.Figure:
    """[tokens × features] heatmap with token labels; columns beyond ``max_cols`` are block-max reduced."""
    m = tv.matrix
    step = max(1, int(np.ceil(m.shape[1] / max_cols)))
    if step > 1:
        pad = (-m.shape[1]) % step
        mp = np.pad(m, ((0, 0), (0, pad)))
        blocks = mp.reshape(m.shape[0], -1, step)
        pick = np.abs(blocks).argmax(-1)
        m = np.take_along_axis(blocks, pick[..., None], -1)[..., 0]
    x = np.arange(m.shape[1]) * step
    lim = float(np.abs(m).max()) or 1.0
    fig = go.Figure(go.Heatmap(
        z=m, x=x, y=list(range(len(tv.tokens))), colorscale="RdBu_r", zmin=-lim, zmax=lim,
        customdata=np.broadcast_to(np.array(tv.tokens, dtype=object)[:, None], m.shape),
        hovertemplate="token %{customdata}<br>" + tv.feature_label + " %{x}<br>value %{z:.5g}<extra></extra>",
        colorbar={"thickness": 10, "len": 0.9}))
    if token is not None and tv.token_axis:
        fig.add_hrect(y0=token - 0.5, y1=token + 0.5, line={"color": "black", "width": 2})
    h = max(220, min(900, 60 + 18 * len(tv.tokens)))
    fig.update_layout(
        title={"text": f"{tv.node_id}: {' × '.join(map(str, tv.shape))}"
               + (f" (columns block-max ×{step})" if step > 1 else ""), "font": {"size": 12}},
        yaxis={"tickmode": "array", "tickvals": list(range(len(tv.tokens))), "ticktext": tv.tokens,
               "autorange": "reversed", "automargin": True},
        xaxis={"title": tv.feature_label}, height=h, margin={"l": 10, "r": 10, "t": 40, "b": 40}, font=FONT)
    return fig


def node_sizes(graph: OpGraph, acts: Any) -> dict[str, float]:
    """RMS of each kept op output (colour-by activation size); ops not kept in memory are left out."""
    import torch

    out = {}
    for n, v in acts.values.items():
        if isinstance(v, torch.Tensor) and v.is_floating_point() and v.numel():
            out[n] = float(v.float().pow(2).mean().sqrt())
    return out


def layer_outputs(graph: OpGraph) -> list[tuple[str, str]]:
    """(label, op id) of the hidden state after the embeddings and after each layer: the last op run
    inside each embeddings/layer module."""

    att = attention_ops(graph)
    layers = []
    for _, m in att:  # ".../layer.3.attention.self" -> ".../layer.3"
        parts = m.split(".")
        cut = max(i for i, p in enumerate(parts) if p.isdigit() or "@" in p) if any(
            p.isdigit() or "@" in p for p in parts) else len(parts) - 1
        layers.append(".".join(parts[:cut + 1]))
    last: dict[str, tuple[int, str]] = {}
    emb = None
    for n, d in graph.nodes("op"):
        mod = d["module"]
        for lay in layers:
            if mod == lay or mod.startswith(lay + "."):
                if lay not in last or d["order"] > last[lay][0]:
                    last[lay] = (d["order"], n)
        if "embeddings" in mod.split(".")[-1] or mod.endswith("embeddings") or ".embeddings." in mod + ".":
            if emb is None or d["order"] > emb[0]:
                emb = (d["order"], n)
    out = [("embeddings", emb[1])] if emb else []
    out += [(f"layer {i}", last[lay][1]) for i, lay in enumerate(layers) if lay in last]
    return out


def residual_norms(graph: OpGraph, acts: Any) -> tuple[list[str], np.ndarray]:
    """Row labels and [layers+1, tokens] L2 norms of the residual stream (hidden state per token)."""
    rows = layer_outputs(graph)
    if not rows:
        raise UserError("no layers found in this graph", "residual norms need a BERT-style encoder")
    mats = acts.arrays([op for _, op in rows])
    norms = np.stack([np.linalg.norm(as_token_matrix(a, len(acts.tokens))[0], axis=1) for a in mats])
    return [r for r, _ in rows], norms


def residual_figure(labels: list[str], norms: np.ndarray, tokens: list[str]) -> go.Figure:
    step = max(1, int(np.ceil(len(tokens) / 20)))  # at most ~20 token labels: long sentences stay readable
    ticks = list(range(0, len(tokens), step))
    fig = go.Figure(go.Heatmap(z=norms, y=labels, x=list(range(len(tokens))), colorscale="Viridis",
                               customdata=np.broadcast_to(np.array(tokens, dtype=object), norms.shape),
                               hovertemplate="%{y}, token %{customdata}<br>‖h‖ = %{z:.4g}<extra></extra>",
                               colorbar={"thickness": 10}))
    fig.update_layout(title={"text": "Residual stream norm ‖h‖ per layer and token", "font": {"size": 12}},
                      xaxis={"tickmode": "array", "tickvals": ticks, "ticktext": [f"{i} {tokens[i]}" if step > 1
                                                                                   else tokens[i] for i in ticks],
                             "tickangle": -45},
                      yaxis={"autorange": "reversed"}, height=max(240, 40 + 26 * len(labels)),
                      margin={"l": 10, "r": 10, "t": 40, "b": 60}, font=FONT)
    return fig


@dataclass
class NeuronView:
    module: str
    token: int
    token_label: str
    x: np.ndarray  # [in] input of the Linear at this token
    y: np.ndarray  # [out] its output (w·x + b)
    inputs: list[int]  # shown input neurons
    outputs: list[int]  # shown output neurons
    edges: list[tuple[int, int, float]]  # (input, output, w·x)
    share: float  # sum |w·x| of the drawn edges / sum |w·x| over every edge of the layer
    share_shown_outputs: float  # ... / sum |w·x| into the shown outputs
    caption: str
    trained: bool


def _linear_op(graph: OpGraph, module: str) -> tuple[str, str]:
    """(op id, input node id) of the linear op a module runs."""
    ops = [(n, d) for n, d in graph.nodes("op") if d["module"] == module and d.get("op") in ("linear", "addmm")]
    if not ops:
        raise UserError(f"{module!r} is not a Linear of this graph", "select a Linear (query, dense, ...)")
    n, d = ops[0]
    params = set(d.get("params") or [])
    preds = [p for p in graph.g.predecessors(n) if graph.g.nodes[p]["kind"] not in ("param", "buffer")
             and graph.g.nodes[p].get("name") not in params]
    return n, preds[0]


def neuron_view(graph: OpGraph, acts: Any, weight: np.ndarray, bias: np.ndarray | None, module: str,
                token: Any, n_in: int = 12, n_out: int = 12, n_edges: int = 60) -> NeuronView:
    """The Linear ``module`` for one token: y = W x + b, with the edges' contributions W[i, j]·x[j]."""
    t = check_token(acts, token)
    t = 0 if t is None else t
    op, src = _linear_op(graph, module)
    x = as_token_matrix(acts.array(src), len(acts.tokens))[0][t].astype(np.float64)
    y = as_token_matrix(acts.array(op), len(acts.tokens))[0][t].astype(np.float64)
    W = np.asarray(weight, dtype=np.float64)
    mod = (getattr(graph, "modules", {}) or {}).get(module)
    if mod is not None and mod.cls == "Conv1D":  # GPT-2 stores W as [in, out] (y = x·W + b)
        W = W.T
    contrib = W * x[None, :]  # [out, in]
    outs = [int(i) for i in np.argsort(-np.abs(y))[:n_out]]
    sub = contrib[outs]
    ins = [int(j) for j in np.argsort(-np.abs(sub).sum(0))[:n_in]]
    block = sub[:, ins]
    flat = np.argsort(-np.abs(block).ravel())[:n_edges]
    edges = [(ins[k % len(ins)], outs[k // len(ins)], float(block.ravel()[k])) for k in flat]
    total = float(np.abs(contrib).sum()) or 1.0
    drawn = float(sum(abs(c) for *_, c in edges))
    share = drawn / total
    share_out = drawn / (float(np.abs(sub).sum()) or 1.0)
    label = acts.labels[t]
    caption = (f"token {t} '{label}': the {len(edges)} strongest contributions w·x among the {len(ins)} inputs "
               f"and {len(outs)} outputs shown carry {fmt.percent(share_out, 1)} of the |w·x| flowing into those outputs and "
               f"{fmt.percent(share, 2)} of the total |w·x| over all {fmt.count(W.size)} weighted edges of this layer for this token")
    if not acts.trained:
        caption += ". " + RANDOM_RUN_NOTE
    return NeuronView(module, t, label, x, y, ins, outs, edges, share, share_out, caption, acts.trained)


def neuron_figure(nv: NeuronView) -> go.Figure:
    """Inputs (left) and outputs (right) coloured by value; edges by w·x (red +, blue −, width ∝ |w·x|)."""
    fig = go.Figure()
    yin = {j: i for i, j in enumerate(nv.inputs)}
    yout = {j: i * (len(nv.inputs) - 1) / max(1, len(nv.outputs) - 1) for i, j in enumerate(nv.outputs)}
    cmax = max((abs(c) for *_, c in nv.edges), default=1.0) or 1.0
    for j, i, c in sorted(nv.edges, key=lambda e: abs(e[2])):
        fig.add_trace(go.Scatter(x=[0, 1], y=[yin[j], yout[i]], mode="lines", hoverinfo="text",
                                 text=f"x[{j}]·W[{i},{j}] = {c:.4g}", showlegend=False,
                                 line={"width": 0.5 + 5 * abs(c) / cmax,
                                       "color": "rgba(200,40,40,0.6)" if c > 0 else "rgba(40,80,200,0.6)"}))
    fig.add_trace(_neuron_column(0, nv.inputs, yin, nv.x, "in", "input", "x", "middle left"))
    fig.add_trace(_neuron_column(1, nv.outputs, yout, nv.y, "out", "output", "y", "middle right"))
    fig.update_layout(
        title={"text": f"{nv.module} for token {nv.token} '{nv.token_label}'", "font": {"size": 12}},
        xaxis={"visible": False, "range": [-0.45, 1.45]}, yaxis={"visible": False, "autorange": "reversed"},
        height=420, margin={"l": 10, "r": 10, "t": 40, "b": 10}, font=FONT, plot_bgcolor="white")
    return fig


def ffn_ops(graph: OpGraph) -> list[str]:
    """The activation op (GELU) of each feed-forward layer, in order."""
    acts_ops = [(d["order"], n) for n, d in graph.nodes("op") if d.get("op") in ("gelu", "relu", "silu", "tanh")
                and len(d.get("shape") or []) == 3]
    return [n for _, n in sorted(acts_ops)]


def ffn_neurons(graph: OpGraph, acts: Any, layer: int, top_k: int = 10) -> dict[str, Any]:
    """Which of a layer's feed-forward neurons fire (after GELU) for which token."""
    ops = ffn_ops(graph)
    if not 0 <= layer < len(ops):
        raise UserError(f"layer {layer} has no feed-forward activation (layers 0..{len(ops) - 1})",
                        "pick another layer")
    m = as_token_matrix(acts.array(ops[layer]), len(acts.tokens))[0]
    top = [[(int(i), float(row[i])) for i in np.argsort(-row)[:top_k]] for row in m]
    return {"op": ops[layer], "matrix": m, "firing": (m > 0).mean(1), "top": top, "tokens": acts.labels}


def op_for(graph: OpGraph, h: Any, node_id: str | None) -> str | None:
    """The op whose output stands for a selected node: the op itself, a module's last op (its output), or
    for a folded ×N series its first member's. None for parameters and unknown ids."""
    if not node_id:
        return None
    g = graph.g
    if node_id in g:
        d = g.nodes[node_id]
        if d["kind"] == "op":
            return node_id
        if d["kind"] == "output":
            preds = list(g.predecessors(node_id))
            return preds[0] if preds else None
        return None
    grp = h.groups.get(node_id) if h is not None else None
    if grp is None:
        return None
    if grp.kind == "series" and grp.members:
        return op_for(graph, h, grp.members[0])
    leaves = [x for x in h.leaves(node_id) if x in g and g.nodes[x]["kind"] == "op"]
    return max(leaves, key=lambda x: g.nodes[x]["order"]) if leaves else None


def linear_module(graph: OpGraph, h: Any, node_id: str | None) -> str | None:
    """The module path of a selected Linear (the module itself or its linear op), else None."""
    if not node_id:
        return None
    g = graph.g
    if node_id in g and g.nodes[node_id]["kind"] == "op":
        d = g.nodes[node_id]
        return d["module"] if d.get("op") in ("linear", "addmm") else None
    grp = h.groups.get(node_id) if h is not None else None
    if grp is not None and grp.cls in ("Linear", "Conv1D"):  # GPT-2's Conv1D is a Linear stored [in, out]
        return node_id
    return None


def _neuron_column(x: float, idx, ys, values, short: str, side: str, var: str, textpos: str) -> go.Scatter:
    """One column of neurons (inputs at x=0, outputs at x=1), coloured by their value on a symmetric scale."""
    lim = float(np.abs(values[idx]).max()) or 1.0
    return go.Scatter(
        x=[x] * len(idx), y=[ys[k] for k in idx], mode="markers+text", showlegend=False,
        marker={"size": 16, "color": [values[k] for k in idx], "colorscale": "RdBu_r", "cmin": -lim,
                "cmax": lim, "line": {"width": 1, "color": "#333"}},
        text=[f"{short} {k}" for k in idx], textposition=textpos,
        hovertemplate=f"{side} neuron %{{text}}<br>{var} = %{{marker.color:.4g}}<extra></extra>")


# ---- edges: the tensor an edge of the drawn graph carries ------------------------------------------------

@dataclass
class EdgeTensors:
    """The graph tensors one drawn edge stands for: their producers (graph node ids), kinds and names."""

    edge_id: str
    source: str  # visible box ids
    target: str
    kind: str
    tensors: list[str]  # graph node ids whose output flows along the edge, in model order


def edge_tensors(graph: OpGraph, view: Any, edge_id: str) -> EdgeTensors:
    """Which tensors the drawn edge ``edge_id`` of ``view`` carries: the outputs of the graph nodes (ops,
    inputs, weights) inside its source box that feed a node inside its target box. An edge between two
    closed groups can carry several."""
    found = next((e for e in view.data().edges if e.id == edge_id), None)
    if found is None:
        raise UserError(f"no edge {edge_id!r} in this view", "hover an edge of the picture on screen")
    g = graph.g
    weights = found.kind in WEIGHT_EDGES
    us: set[str] = set()
    for u, v in g.edges():
        if view.rep(u) == found.source and view.rep(v) == found.target:
            is_w = g.nodes[u]["kind"] in ("param", "buffer")
            if is_w == weights:
                us.add(u)
    ordered = sorted(us, key=lambda x: g.nodes[x].get("order", 0))
    return EdgeTensors(edge_id, found.source, found.target, found.kind, ordered)


def _tensor_stats(a: np.ndarray) -> tuple[float, float, float]:
    f = np.asarray(a, dtype=np.float64).ravel()
    if not f.size:
        return 0.0, 0.0, 0.0
    return float(np.sqrt((f ** 2).mean())), float(f.max()), float(f.min())


def edge_summary(graph: OpGraph, acts: Any, et: EdgeTensors) -> str:
    """One line for the hover tooltip: what the edge carries for this sentence (shape, RMS, max)."""
    if not et.tensors:
        return "carries no tensor of the graph"
    if et.kind in WEIGHT_EDGES:
        names = [graph.g.nodes[u].get("name") or u for u in et.tensors]
        return "weights (not activations): " + ", ".join(names[:3]) + (" …" if len(names) > 3 else "")
    parts = []
    kept = getattr(acts, "values", None)
    for u in et.tensors[:3]:
        if kept is not None and u not in kept and u in acts:
            parts.append(f"{u}: not kept (memory budget), click to compute it")
            continue
        if u not in acts:
            parts.append(f"{u}: not captured")
            continue
        try:
            a = acts.array(u)
        except UserError:
            parts.append(f"{u}: not a tensor")
            continue
        shape = "×".join(map(str, a.shape))
        if not np.issubdtype(a.dtype, np.floating) or "input_ids" in u:
            parts.append(f"{u}: {shape} token ids")
            continue
        rms, mx, _ = _tensor_stats(a)
        parts.append(f"{u}: {shape}, RMS {fmt.short(rms)}, max {fmt.short(mx)}")
    more = len(et.tensors) - 3
    lead = f"{len(et.tensors)} tensors — " if len(et.tensors) > 1 else ""
    return lead + "; ".join(parts) + (f"; +{more} more" if more > 0 else "")


def edge_tips(graph: OpGraph, view: Any, acts: Any) -> dict[str, str]:
    """Tooltip line of every data/residual edge of ``view`` for this run (one pass over the graph's edges)."""
    carried = ops_per_edge(graph, view)
    return {e.id: edge_summary(graph, acts, EdgeTensors(e.id, e.source, e.target, e.kind, carried[e.id]))
            for e in view.data().edges if e.id in carried}


def edge_view(graph: OpGraph, view: Any, acts: Any, edge_id: str, token: Any = None,
              which: int = 0) -> tuple[EdgeTensors, TensorView | None, str]:
    """(the edge's tensors, the ``which``-th one as a TensorView or None, a sentence saying what it carries)."""
    et = edge_tensors(graph, view, edge_id)
    h = view.hierarchy
    src, dst = h.label_of(et.source), h.label_of(et.target)
    if et.kind in WEIGHT_EDGES:
        return et, None, (f"edge {src} → {dst} carries weights ({', '.join(et.tensors[:4])}), not an activation: "
                          "see the Weights tab")
    shown = [u for u in et.tensors if u in acts]
    if not shown:
        return et, None, f"edge {src} → {dst}: no captured tensor ({', '.join(et.tensors[:4]) or 'none'})"
    which = min(max(int(which), 0), len(shown) - 1)
    tv = tensor_view(acts, shown[which], token)
    what = (f"edge {src} → {dst} carries the output of {shown[which]}" if len(et.tensors) == 1 else
            f"edge {src} → {dst} carries {len(et.tensors)} tensors ({', '.join(et.tensors[:6])}"
            f"{' …' if len(et.tensors) > 6 else ''}); shown: {shown[which]}")
    return et, tv, what


# ---- colour-by change: how much a box changes its input ----------------------------------------------------
CHANGE_TEXT = ("‖out − in‖ / ‖in‖ over all tokens: how much a box changes its input; only boxes whose output "
               "has the shape of exactly one input (a layer, an attention block, a LayerNorm; a ×N stack as a whole)")


def box_io(graph: OpGraph, h: Any, node_id: str) -> tuple[str | None, str | None, str]:
    """(input node id, output op id, '') of a shape-preserving box, or (None, None, why not)."""
    g = graph.g
    grp = h.groups.get(node_id) if node_id not in g else None
    # a folded ×N stack: what the whole stack does (into its first member, out of its last)
    members = grp.members if grp is not None and grp.kind == "series" and grp.members else [node_id]
    out = op_for(graph, h, members[-1])
    if out is None:
        return None, None, "an input, a weight or an empty group: no output op"
    inside = {x for m in members for x in (h.leaves(m) if m in h.groups else [m])}
    shape = list(g.nodes[out].get("shape") or [])
    ins = set()
    for x in inside:
        for p in g.predecessors(x):
            if p not in inside and g.nodes[p]["kind"] not in ("param", "buffer"):
                ins.add(p)
    same = [p for p in ins if list(g.nodes[p].get("shape") or []) == shape and shape]
    if len(same) != 1:
        return None, out, ("no input has the output's shape" if not same
                           else f"{len(same)} inputs have the output's shape")
    return same[0], out, ""


def change_values(graph: OpGraph, h: Any, acts: Any, node_ids: list[str]) -> dict[str, float | str]:
    """Per box: ‖out − in‖ / ‖in‖ for this run (a float), or why it is undefined (a string)."""
    out: dict[str, float | str] = {}
    for n in node_ids:
        src, op, why = box_io(graph, h, n)
        if src is None:
            out[n] = why
            continue
        if src not in acts or op not in acts:
            out[n] = "not captured"
            continue
        a, b = acts.arrays([src, op])
        den = float(np.linalg.norm(a.astype(np.float64)))
        out[n] = float(np.linalg.norm(b.astype(np.float64) - a.astype(np.float64)) / den) if den else "input is 0"
    return out


def tensor_png_uri(tv: TensorView, max_cols: int = 768) -> str:
    """The [tokens × features] matrix as a small PNG data URI (the widget's edge panel), same colours
    as the weight heatmaps (blue < 0 < red, symmetric)."""
    import base64
    import io

    from PIL import Image


    m = tv.matrix
    step = max(1, int(np.ceil(m.shape[1] / max_cols)))
    if step > 1:
        m = m[:, ::step]
    vmax = float(np.abs(m).max()) or 1.0
    img = Image.fromarray(colorize(m, vmax))
    k = max(1, min(24, 150 // max(1, m.shape[0])))  # a few tokens still make a picture you can see
    img = img.resize((img.width, img.height * k), Image.NEAREST)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def edge_details(graph: OpGraph, view: Any, acts: Any, edge_id: str, token: Any = None) -> dict[str, Any]:
    """The widget's details panel for a selected edge: what it carries, statistics, the top features per
    token and the heatmap as an image (the app draws the same TensorView with plotly)."""
    et, tv, what = edge_view(graph, view, acts, edge_id, token)
    h = view.hierarchy
    d: dict[str, Any] = {"id": edge_id, "edge": True, "title": f"{h.label_of(et.source)} → {h.label_of(et.target)}",
                         "subtitle": what, "color": "#ffffff", "rows": [], "weights": []}
    if tv is None:
        return d
    d["rows"] = [[k, v] for k, v in tv.stats]
    if tv.token_axis:
        d["rows"] += [[f"top features · {tv.tokens[i]}", ", ".join(f"[{j}] {v:.3g}" for j, v in tv.top[i][:4])]
                      for i in range(len(tv.top))][:64]
    d["image"] = tensor_png_uri(tv)
    d["image_caption"] = (f"rows: {len(tv.tokens)} tokens ({tv.tokens[0]} … {tv.tokens[-1]}); columns: "
                          f"{tv.matrix.shape[1]} features; colour ±{float(np.abs(tv.matrix).max()):.3g}, "
                          "blue < 0 < red")
    if tv.note:
        d["explanation"] = tv.note
    return d


HEAD_GROUPS = ("cls", "lm_head", "pooler", "classifier", "pre_classifier", "vocab_projector", "qa_outputs")


def output_boxes(graph: OpGraph, h: Any) -> list[str]:
    """The graph's output nodes and the model's head group(s) (MLM head, pooler, classifier): the boxes
    that stand for the predictions and link to them."""
    out = [n for n, d in graph.g.nodes(data=True) if d["kind"] == "output"]
    out += [gid for gid in h.groups if gid and gid.split(".")[-1] in HEAD_GROUPS and gid.count(".") <= 1]
    return out


def prediction_rows(p: Any) -> list[list[str]]:
    """A run.predict.Prediction as [label, text] rows (the widget's details of the output node)."""
    rows: list[list[str]] = []
    if p.kind == "mlm":
        rows += [[f"[MASK] at {r['position']}", ", ".join(f"{t} {pr:.3f}" for t, pr in zip(r["tokens"], r["probs"]))]
                 for r in p.rows]
    elif p.kind == "cls":
        rows += [[r["label"], f"logit {r['logit']:.4f}, p {r['prob']:.3f}"] for r in p.rows]
    elif p.kind == "embedding":
        rows.append([f"sentence embedding ({p.pooling} pooling, {p.embedding.size} dims)",
                     " ".join(f"{v:.3f}" for v in p.embedding[:6]) + " …"])
        rows += [[f"cosine with “{r['other']}”", f"{r['cosine']:.4f}"] for r in p.rows]
    if p.note:
        rows.append(["note", p.note])
    return rows
