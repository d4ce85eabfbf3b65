"""The textbook picture of one fully-connected layer, sampled honestly.

A Linear with weight W [out, in] IS a layer of ``in`` input neurons fully connected to ``out`` output
neurons, one trained weight per edge (768×3072 = 2,359,296 edges in BERT-base's feed-forward layer). That
is far too many to draw, so ``sample_fc`` picks the strongest neurons and edges and says exactly how much
of the layer (edges and |w| mass) the drawing shows.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import plotly.graph_objects as go

from bertviz_graph import format as fmt
from bertviz_graph.format import pct as _pct
from bertviz_graph.render.weights import NEGATIVE_COLOR, POSITIVE_COLOR


def _top(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k largest scores, ties broken by the smaller index (deterministic)."""
    k = max(0, min(int(k), scores.size))
    order = np.lexsort((np.arange(scores.size), -scores))
    return order[:k]


def _union_top_inputs(sub: np.ndarray, max_in: int) -> np.ndarray:
    """Round-robin union of each row's inputs ordered by |w| (ties by index), capped at max_in."""
    n_rows, n_in = sub.shape
    k = max(0, min(int(max_in), n_in))
    if n_rows == 0:
        return np.arange(k)
    order = np.argsort(-sub, axis=1, kind="stable")  # per row: strongest first, ties by smaller index
    picked: list[int] = []
    seen: set[int] = set()
    for r in range(n_in):
        for row in range(n_rows):
            i = int(order[row, r])
            if i not in seen:
                seen.add(i)
                picked.append(i)
                if len(picked) == k:
                    return np.asarray(picked, dtype=np.intp)
    return np.asarray(picked, dtype=np.intp)


@dataclass
class FcSample:
    """A drawable subset of a fully-connected layer, with how much of the layer it represents."""

    inputs: np.ndarray  # input neuron indices in the full layer (col_offset applied), ascending
    outputs: np.ndarray  # output neuron indices in the full layer (row_offset applied), ascending
    edges: list[tuple[int, int, float]]  # (input index, output index, weight), strongest |w| first
    in_features: int  # input neurons of the sampled matrix
    out_features: int
    total_edges: int  # in_features * out_features
    drawn_edges: int
    edge_fraction: float  # drawn_edges / total_edges
    mass_fraction: float  # sum |w| of drawn edges / sum |w| of the whole matrix
    out_norms: dict[int, float] = field(default_factory=dict)  # incoming-weight L2 norm of drawn outputs

    def caption(self) -> str:
        """The plain statement the figure carries: how much is shown."""
        return (
            f"showing {fmt.count(self.drawn_edges)} of {fmt.count(self.total_edges)} edges "
            f"({_pct(self.edge_fraction)} of edges, {_pct(self.mass_fraction)} of total |w|)"
        )




def sample_fc(
    W: np.ndarray,
    max_out: int = 24,
    max_in: int = 24,
    max_edges: int = 300,
    row_offset: int = 0,
    col_offset: int = 0,
    row_index: np.ndarray | None = None,
) -> FcSample:
    """Pick the strongest part of a layer W [out, in] to draw.

    1. outputs: the ``max_out`` output neurons with the largest incoming weight norm (row L2 norm);
    2. inputs: the union of each picked output's strongest inputs by |w|, taken round-robin (every
       output's 1st, then every output's 2nd, ...) until ``max_in`` are picked, so one dominant output
       neuron cannot claim all the inputs;
    3. edges: the ``max_edges`` largest |w| between the picked inputs and outputs.
    Offsets turn indices of a slice (one attention head) into indices of the full layer; ``row_index``
    (row k of W is output neuron row_index[k]) does it for rows gathered from several bands (fused Q|K|V).
    """
    W = np.asarray(W)
    rmap = (np.arange(W.shape[0]) + row_offset) if row_index is None else np.asarray(row_index, np.intp)
    if W.ndim != 2:
        raise ValueError(f"a fully-connected layer's weight is 2-D [out, in], got shape {list(W.shape)}")
    n_out, n_in = W.shape
    A = np.abs(W.astype(np.float64, copy=False))
    out_pick = _top(np.sqrt((A * A).sum(axis=1)), max_out)
    sub = A[out_pick]  # [picked outputs, in]
    in_pick = _union_top_inputs(sub, max_in)
    block = sub[:, in_pick]  # [picked outputs, picked inputs]
    # strongest edges, ties by (output index, input index)
    o_idx = np.repeat(out_pick, in_pick.size)
    i_idx = np.tile(in_pick, out_pick.size)
    flat = block.ravel()
    order = np.lexsort((i_idx, o_idx, -flat))[: max(0, int(max_edges))]
    edges = [
        (int(i_idx[k]) + col_offset, int(rmap[o_idx[k]]), float(W[o_idx[k], i_idx[k]])) for k in order
    ]
    total = n_out * n_in
    mass = float(A.sum())
    drawn_mass = float(flat[order].sum()) if order.size else 0.0
    norms = np.sqrt((A[out_pick] ** 2).sum(axis=1)) if out_pick.size else np.zeros(0)
    return FcSample(
        inputs=np.sort(in_pick) + col_offset,
        outputs=np.sort(rmap[out_pick]),
        edges=edges,
        in_features=n_in,
        out_features=n_out,
        total_edges=total,
        drawn_edges=len(edges),
        edge_fraction=len(edges) / total if total else 0.0,
        mass_fraction=drawn_mass / mass if mass > 0 else 0.0,
        out_norms={int(rmap[o]): float(n) for o, n in zip(out_pick, norms, strict=True)},
    )


def _positions(idx: np.ndarray) -> dict[int, float]:
    """Evenly spaced y positions, top to bottom in index order (y=1 top, y=0 bottom)."""
    n = len(idx)
    return {int(v): (1.0 - k / (n - 1) if n > 1 else 0.5) for k, v in enumerate(idx)}


def fc_figure(
    sample: FcSample,
    title: str,
    in_label: str = "input neurons (per token)",
    out_label: str = "output neurons",
    width_buckets: int = 4,
) -> go.Figure:
    """Two columns of neurons joined by the sampled edges: red = positive, blue = negative, width ∝ |w|.

    Edges are grouped into a few traces (sign × width bucket), not one trace per edge.
    """
    yin, yout = _positions(sample.inputs), _positions(sample.outputs)
    fig = go.Figure()
    wmax = max((abs(w) for _, _, w in sample.edges), default=1.0) or 1.0
    nb = max(1, int(width_buckets))
    groups: dict[tuple[bool, int], list[tuple[int, int, float]]] = {}
    for e in sample.edges:
        b = min(nb - 1, int(abs(e[2]) / wmax * nb))
        groups.setdefault((e[2] >= 0, b), []).append(e)
    for (pos, b), es in sorted(groups.items()):
        xs: list[float | None] = []
        ys: list[float | None] = []
        for i, o, _ in es:
            xs += [0.0, 1.0, None]
            ys += [yin[i], yout[o], None]
        fig.add_trace(
            go.Scatter(
                x=xs,
                y=ys,
                mode="lines",
                line={"color": POSITIVE_COLOR if pos else NEGATIVE_COLOR, "width": 0.6 + 3.4 * (b + 1) / nb},
                opacity=0.35 + 0.5 * (b + 1) / nb,
                hoverinfo="skip",
                showlegend=False,
            )
        )
    if sample.edges:  # invisible points at edge midpoints carry each edge's hover text
        fig.add_trace(
            go.Scatter(
                x=[0.5] * len(sample.edges),
                y=[(yin[i] + yout[o]) / 2 for i, o, _ in sample.edges],
                mode="markers",
                marker={"size": 6, "opacity": 0},
                text=[f"w[out {o}, in {i}] = {w:.4g}" for i, o, w in sample.edges],
                hovertemplate="%{text}<extra>edge</extra>",
                showlegend=False,
            )
        )
    for xcol, idx, ymap, label, side in (
        (0.0, sample.inputs, yin, "input neuron", "middle left"),
        (1.0, sample.outputs, yout, "output neuron", "middle right"),
    ):
        hov = [
            f"{label} {int(v)}"
            + (f"<br>incoming norm {sample.out_norms[int(v)]:.4g}" if int(v) in sample.out_norms else "")
            for v in idx
        ]
        fig.add_trace(
            go.Scatter(
                x=[xcol] * len(idx),
                y=[ymap[int(v)] for v in idx],
                mode="markers+text",
                marker={"size": 11, "color": "white", "line": {"color": "#444", "width": 1.2}},
                text=[str(int(v)) for v in idx],
                textposition=side,
                textfont={"size": 9, "color": "#555"},
                hovertext=hov,
                hoverinfo="text",
                showlegend=False,
            )
        )
    fig.update_layout(
        title={"text": title, "subtitle": {"text": sample.caption()}, "x": 0.01, "font": {"size": 14}},
        margin={"l": 20, "r": 20, "t": 70, "b": 36},
        height=max(360, 18 * max(len(sample.inputs), len(sample.outputs)) + 120),
        xaxis={
            "range": [-0.22, 1.22],
            "tickvals": [0, 1],
            "ticktext": [in_label, out_label],
            "showgrid": False,
            "zeroline": False,
        },
        yaxis={"visible": False, "range": [-0.06, 1.06]},
        plot_bgcolor="white",
        hovermode="closest",
    )
    return fig


def neuron_incoming(
    W: np.ndarray, out_index: int, top: int | None = None, col_offset: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """All incoming weights of one output neuron (row ``out_index`` of W [out, in]).

    Returns (input indices, weights): in index order, or the ``top`` largest |w| first (ties by index).
    """
    W = np.asarray(W)
    if not 0 <= out_index < W.shape[0]:
        raise IndexError(f"output neuron {out_index} is outside 0..{W.shape[0] - 1}")
    row = np.asarray(W[out_index], np.float32)
    if top is None:
        return np.arange(row.size) + col_offset, row.copy()
    idx = _top(np.abs(row).astype(np.float64), top)
    return idx + col_offset, row[idx]


def neuron_figure(
    W: np.ndarray,
    out_index: int,
    top: int | None = 40,
    title: str | None = None,
    row_offset: int = 0,
    col_offset: int = 0,
) -> go.Figure:
    """Bar chart of one output neuron's incoming weights (its row of W), coloured by sign."""
    idx, w = neuron_incoming(W, out_index, top, col_offset)
    n_in = np.asarray(W).shape[1]
    what = f"the {len(idx)} largest |w| of {n_in}" if top is not None and len(idx) < n_in else f"all {n_in}"
    fig = go.Figure(
        go.Bar(
            x=[str(int(i)) for i in idx],
            y=w,
            marker={"color": [POSITIVE_COLOR if v >= 0 else NEGATIVE_COLOR for v in w], "line": {"width": 0}},
            hovertemplate="input neuron %{x}<br>w = %{y:.4g}<extra></extra>",
        )
    )
    fig.update_layout(
        title={
            "text": title or f"incoming weights of output neuron {out_index + row_offset}",
            "subtitle": {"text": f"{what} incoming edges (one trained weight each)"},
            "x": 0.01,
            "font": {"size": 14},
        },
        margin={"l": 50, "r": 10, "t": 64, "b": 50},
        height=300,
        xaxis={"title": {"text": "input neuron"}, "type": "category", "showticklabels": len(idx) <= 80},
        yaxis={"title": {"text": "weight"}, "zeroline": True},
        bargap=0.1,
        plot_bgcolor="white",
    )
    return fig
