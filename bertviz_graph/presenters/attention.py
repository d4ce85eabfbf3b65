"""Attention maps of a run as plotly figures: one map, the model view (layers × heads grid), the head view
(lines between two token columns), per-head summaries, rollout; and file export (.svg .png .html).

The grid is ONE heatmap trace (the maps tiled with gaps), so 72 maps draw as fast as one; maps longer than
``THUMB`` tokens are block-max reduced in the grid only (click a tile: the full-resolution map).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import plotly.graph_objects as go

from bertviz_graph.errors import UserError
from bertviz_graph.hierarchy.heads import HeadCounts, head_axis
from bertviz_graph.io import check_writable, write_atomic
from bertviz_graph.neurons.charts import figure_image  # kaleido/plotly image export: on export only
from bertviz_graph.render.weights import query_head_slice
from bertviz_graph.run.attention import SUMMARY_KEYS, AttentionMaps, head_summaries, rollout

if TYPE_CHECKING:
    from bertviz_graph.graph import OpGraph

THUMB = 48  # tokens per tile side in the grid, at most
GAP = 1  # empty cells between tiles
FONT = {"family": "DejaVu Sans, Liberation Sans, Arial, sans-serif", "size": 11}
RANDOM_NOTE = "random weights: these maps show no learned attention"
SUMMARY_TITLES = {"entropy": "entropy (bits)", "to_cls": "attention to [CLS]", "to_sep": "attention to [SEP]",
                  "to_self": "attention to the same token", "to_prev": "attention to the previous token",
                  "to_next": "attention to the next token", "distance": "mean attention distance (tokens)"}


def check_layer_head(am: AttentionMaps, layer: int | None, head: int | None) -> None:
    if layer is not None and not 0 <= int(layer) < am.layers:
        raise UserError(f"layer {layer} does not exist (0..{am.layers - 1})", f"use --layer 0..{am.layers - 1}")
    if head is not None and not 0 <= int(head) < am.heads:
        raise UserError(f"head {head} does not exist (0..{am.heads - 1})", f"use --head 0..{am.heads - 1}")


def _title(am: AttentionMaps, text: str) -> str:
    return text + ("" if am.trained else f" — {RANDOM_NOTE}")


def map_figure(am: AttentionMaps, layer: int, head: int | None = None, threshold: float = 0.0) -> go.Figure:
    """One head's (or the head-mean's) token × token map with token labels; cells below ``threshold`` blank."""
    check_layer_head(am, layer, head)
    m = am.maps[layer].mean(0) if head is None else am.maps[layer, head]
    z = np.where(m >= threshold, m, np.nan) if threshold > 0 else m
    labels = [f"{i} {t}" for i, t in enumerate(am.tokens)]
    fig = go.Figure(go.Heatmap(
        z=z, x=labels, y=labels, colorscale="Blues", zmin=0, zmax=float(np.nanmax(m)) or 1.0,
        hovertemplate="query %{y}<br>key %{x}<br>attention %{z:.4f}<extra></extra>", colorbar={"thickness": 10}))
    side = min(720, max(300, 120 + 16 * len(labels)))
    fig.update_layout(
        title={"text": _title(am, f"layer {layer}, {'mean of heads' if head is None else f'head {head}'}"),
               "font": {"size": 12}},
        xaxis={"title": "key (attended to)", "tickangle": -60, "automargin": True, "showticklabels": len(labels) <= 64},
        yaxis={"title": "query", "autorange": "reversed", "automargin": True, "showticklabels": len(labels) <= 64},
        width=side + 80, height=side, margin={"l": 10, "r": 10, "t": 40, "b": 10}, font=FONT)
    return fig


def _thumb(m: np.ndarray, size: int) -> np.ndarray:
    T = m.shape[-1]
    if T <= size:
        return m
    step = int(np.ceil(T / size))
    pad = (-T) % step
    mp = np.pad(m, ((0, pad), (0, pad)))
    n = mp.shape[0] // step
    return mp.reshape(n, step, n, step).max(axis=(1, 3))


def grid_figure(am: AttentionMaps, threshold: float = 0.0, values: np.ndarray | None = None,
                title: str | None = None) -> go.Figure:
    """The model view: every layer (rows) × head (columns) map as one tiled heatmap."""
    maps = am.maps if values is None else values
    tiles = [[_thumb(maps[li, hi], THUMB) for hi in range(maps.shape[1])] for li in range(maps.shape[0])]
    s = tiles[0][0].shape[0]
    L, H = maps.shape[:2]
    z = np.full((L * (s + GAP), H * (s + GAP)), np.nan, dtype=np.float32)
    layer_of = np.full(z.shape, -1, dtype=np.int16)
    head_of = np.full(z.shape, -1, dtype=np.int16)
    for li in range(L):
        for hi in range(H):
            t = tiles[li][hi]
            if threshold > 0:
                t = np.where(t >= threshold, t, np.nan)
            r, c = li * (s + GAP), hi * (s + GAP)
            z[r:r + s, c:c + s] = t
            layer_of[r:r + s, c:c + s] = li
            head_of[r:r + s, c:c + s] = hi
    cd = np.stack([layer_of, head_of], -1)
    fig = go.Figure(go.Heatmap(
        z=z, customdata=cd, colorscale="Blues", zmin=0, zmax=1, showscale=False, hoverongaps=False,
        hovertemplate="layer %{customdata[0]}, head %{customdata[1]}<br>attention %{z:.3f}<extra></extra>"))
    step = s + GAP
    fig.update_layout(
        title={"text": _title(am, title or f"Model view: {L} layers × {H} heads (click a map to enlarge)"),
               "font": {"size": 12}},
        xaxis={"tickmode": "array", "tickvals": [h * step + s / 2 for h in range(H)],
               "ticktext": [f"h{h}" for h in range(H)], "side": "top", "showgrid": False, "zeroline": False,
               "constrain": "domain"},
        yaxis={"tickmode": "array", "tickvals": [li * step + s / 2 for li in range(L)],
               "ticktext": [f"L{li}" for li in range(L)], "autorange": "reversed", "showgrid": False,
               "zeroline": False, "scaleanchor": "x", "constrain": "domain"},
        height=max(260, 70 + 52 * L), margin={"l": 10, "r": 10, "t": 60, "b": 10}, font=FONT,
        plot_bgcolor="white")
    return fig


def grid_cell(click: dict | None) -> tuple[int, int] | None:
    """(layer, head) of a click on the grid (plotly clickData), or None."""
    pts = (click or {}).get("points") or []
    cd = pts[0].get("customdata") if pts else None
    if isinstance(cd, dict):  # a typed array arrives as {"0": layer, "1": head}
        cd = [cd.get("0"), cd.get("1")]
    if not isinstance(cd, (list, tuple)) or len(cd) < 2:
        return None
    li, hi = cd[:2]
    return (int(li), int(hi)) if li is not None and li >= 0 else None


HEAD_COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
                "#bcbd22", "#17becf", "#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173", "#3182bd"]


def head_view_figure(am: AttentionMaps, layer: int, heads: list[int] | None = None, token: int | None = None,
                     threshold: float = 0.02) -> go.Figure:
    """bertviz's head view: tokens in two columns, a line query -> key per head with opacity = weight.
    ``token``: show only that token's lines (what hovering a token does in bertviz)."""
    check_layer_head(am, layer, None)
    heads = list(range(am.heads)) if heads is None else [int(h) for h in heads]
    for h in heads:
        check_layer_head(am, layer, h)
    T = len(am.tokens)
    fig = go.Figure()
    levels = (0.15, 0.35, 0.6, 0.85, 1.0)
    for h in heads:
        m = am.maps[layer, h]
        colour = HEAD_COLOURS[h % len(HEAD_COLOURS)]
        for k, lv in enumerate(levels):
            lo = 0.0 if k == 0 else levels[k - 1]
            xs, ys = [], []
            for q in range(T) if token is None else [token]:
                for key in range(T):
                    w = m[q, key]
                    if w >= threshold and lo < w <= lv:
                        xs += [0, 1, None]
                        ys += [q, key, None]
            if xs:
                fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", hoverinfo="skip", showlegend=k == 0,
                                         name=f"head {h}", legendgroup=str(h), opacity=max(0.08, lv),
                                         line={"color": colour, "width": 1 + 3 * lv}))
    labels = list(am.tokens)
    for side in (0, 1):
        fig.add_trace(go.Scatter(x=[side] * T, y=list(range(T)), mode="text", text=labels, showlegend=False,
                                 textposition=f"middle {'left' if side == 0 else 'right'}",
                                 customdata=list(range(T)), hovertemplate="%{text}<extra></extra>"))
    fig.update_layout(
        title={"text": _title(am, f"Head view, layer {layer}" + (f", token {token} '{labels[token]}'"
                                                                if token is not None else "")),
               "font": {"size": 12}},
        xaxis={"visible": False, "range": [-0.8, 1.8]}, yaxis={"visible": False, "autorange": "reversed"},
        height=max(300, 60 + 22 * T), margin={"l": 10, "r": 10, "t": 40, "b": 10}, font=FONT,
        plot_bgcolor="white", legend={"orientation": "h", "y": -0.02})
    return fig


def summary_figure(am: AttentionMaps, key: str = "entropy") -> go.Figure:
    """One per-head summary as a layers × heads heatmap."""
    if key not in SUMMARY_KEYS:
        raise UserError(f"unknown summary {key!r}", f"use one of: {', '.join(SUMMARY_KEYS)}")
    s = head_summaries(am)[key]
    fig = go.Figure(go.Heatmap(z=s, x=[f"h{h}" for h in range(am.heads)], y=[f"L{li}" for li in range(am.layers)],
                               colorscale="Viridis", texttemplate="%{z:.2f}", colorbar={"thickness": 10},
                               hovertemplate="%{y} %{x}<br>" + SUMMARY_TITLES[key] + " %{z:.4f}<extra></extra>"))
    fig.update_layout(title={"text": _title(am, f"Per head: {SUMMARY_TITLES[key]}"), "font": {"size": 12}},
                      yaxis={"autorange": "reversed"}, height=max(240, 60 + 34 * am.layers),
                      margin={"l": 10, "r": 10, "t": 40, "b": 10}, font=FONT)
    return fig


def summary_rows(am: AttentionMaps) -> list[dict]:
    s = head_summaries(am)
    return [{"layer": li, "head": hi, **{k: round(float(s[k][li, hi]), 4) for k in SUMMARY_KEYS}}
            for li in range(am.layers) for hi in range(am.heads)]


def rollout_figure(am: AttentionMaps, layer: int | None = None) -> go.Figure:
    r = rollout(am)
    li = am.layers - 1 if layer is None else int(layer)
    check_layer_head(am, li, None)
    labels = [f"{i} {t}" for i, t in enumerate(am.tokens)]
    fig = go.Figure(go.Heatmap(z=r[li], x=labels, y=labels, colorscale="Purples", colorbar={"thickness": 10},
                               hovertemplate="token %{y} after layer " + str(li)
                               + "<br>draws on input %{x}: %{z:.4f}<extra></extra>"))
    fig.update_layout(title={"text": _title(am, f"Attention rollout up to layer {li}"), "font": {"size": 12}},
                      yaxis={"autorange": "reversed", "automargin": True}, xaxis={"tickangle": -60},
                      height=min(720, max(300, 120 + 16 * len(labels))),
                      margin={"l": 10, "r": 10, "t": 40, "b": 10}, font=FONT)
    return fig


def write_attention(am: AttentionMaps, path: str | Path, layer: int | None = None, head: int | None = None,
                    threshold: float = 0.0) -> Path:
    """.svg / .png / .html of the grid (no --layer), a layer's mean map (--layer) or one head's map."""

    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".svg", ".png", ".html"):
        raise UserError(f"unknown format '{path.suffix}' for {path}", "use .svg, .png or .html")
    if head is not None and layer is None:
        raise UserError("--head needs --layer", "add --layer N")
    check_layer_head(am, layer, head)
    check_writable(path)
    fig = grid_figure(am, threshold) if layer is None else map_figure(am, layer, head, threshold)
    if fig.layout.width is None:
        fig.update_layout(width=max(700, 70 * am.heads) if layer is None else 800)
    if suffix == ".html":
        write_atomic(path, fig.to_html(include_plotlyjs=True, full_html=True, config={"displaylogo": False}))
    else:
        write_atomic(path, figure_image(fig, suffix[1:]))
    return path


def head_params(graph: OpGraph, module: str, head: int,
                num_heads: HeadCounts | int) -> dict[str, tuple[int, int, int]]:
    """{parameter name: (dim, start, stop)} of the Q, K, V weights/biases and output projection columns that
    query head ``head`` of the attention module ``module`` reads (under grouped-query attention its K and V
    rows are those of its key/value head)."""
    parent = module.rsplit(".", 1)[0] if module.endswith(".self") else module
    out: dict[str, tuple[int, int, int]] = {}
    for _, d in graph.nodes("param"):
        name = d["name"]
        if not name.startswith(parent + ".") or head_axis(name) is None:
            continue
        if name.count(".") - parent.count(".") > 3:
            continue
        shape = list(d["shape"])
        mod = graph.modules.get(name.rsplit(".", 1)[0])
        if mod is not None and mod.cls == "Conv1D" and len(shape) == 2:  # stored [in, out], shown [out, in]
            shape = shape[::-1]
        hs = query_head_slice(name, shape, num_heads, head)
        out[name] = (hs.dim, hs.start, hs.stop)  # a fused Q|K|V (GPT-2's c_attn): its Q band (hs.bands: all)
    return out
