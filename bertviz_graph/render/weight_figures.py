"""Plotly figures of weight tensors: the heatmap of a view, the value histogram, the per-head grid.

The numbers come from ``render/weights.py`` (windows, downsampling, statistics, per-head slices cut by the
hierarchy's head layout); this module only draws them.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from bertviz_graph import format as fmt
from bertviz_graph.hierarchy.heads import QKV_PARTS, HeadCounts
from bertviz_graph.render.weights import (
    COLORSCALE,
    NEGATIVE_COLOR,
    POSITIVE_COLOR,
    HeadSlice,
    How,
    MatrixView,
    axis_labels,
    head_norms,
    head_slices,
    head_window,
    histogram,
    matrix_view,
    param_split,
    read_window,
    short_name,
    tensor_absmax,
)

if TYPE_CHECKING:
    import plotly.graph_objects as go

    from bertviz_graph.sources.weights import WeightSource


def _fmt_range(a: int, b: int) -> str:
    return f"{a}" if b - a == 1 else f"{a}–{b - 1}"


def heatmap_figure(mv: MatrixView, title: str | None = None) -> go.Figure:
    """A compact heatmap of the view: RdBu reversed centred on 0, axes in real indices, exact hover.

    go.Heatmap on the reduced block (≤ max_px cells) keeps the JSON small and hover exact per cell.
    """
    import plotly.graph_objects as go

    ylab, xlab = axis_labels(mv.name, mv.shape)
    vec = mv.is_vector
    if mv.exact:
        where = "index %{x}" if vec else "row %{y}, col %{x}"
        hover = f"{where}<br>value %{{z:.6g}}<extra></extra>"
    else:
        where = "around index %{x:.0f}" if vec else "around row %{y:.0f}, col %{x:.0f}"
        hover = f"{where}<br>{mv.cell_label}: %{{z:.4g}}<extra></extra>"
    shape_txt = "×".join(str(d) for d in mv.shape) or "scalar"
    window = (
        f"cols {_fmt_range(*mv.cols)}" if vec else f"rows {_fmt_range(*mv.rows)}, cols {_fmt_range(*mv.cols)}"
    )
    cell = "exact: one cell per weight" if mv.exact else f"each cell = {mv.cell_label}"
    scope = {"tensor": "whole tensor", "window": "this window", "cells": "shown cells"}.get(mv.vmax_scope, "")
    sub = f"{shape_txt} · {window} · {cell} · colour ±{mv.vmax:.3g} ({scope})"
    if mv.all_zero:
        sub = f"{shape_txt} · {window} · all values are 0"
    if not mv.trained:
        sub += " · RANDOM initial weights, not trained"
    fig = go.Figure(
        go.Heatmap(
            z=mv.z,
            x=mv.col_centres,
            y=np.zeros(1) if vec else mv.row_centres,
            colorscale=COLORSCALE,
            zmin=-mv.vmax,
            zmax=mv.vmax,
            zmid=0,
            hovertemplate=hover,
            colorbar={"thickness": 12, "len": 0.9, "title": {"text": "w", "side": "right"}},
            hoverongaps=False,
        )
    )
    fig.update_layout(
        title={"text": title or mv.name, "subtitle": {"text": sub}, "x": 0.01, "font": {"size": 14}},
        margin={"l": 60, "r": 10, "t": 64, "b": 44},
        height=170 if vec else 520,
        xaxis={"title": {"text": xlab}, "showgrid": False},
        yaxis={
            "title": {"text": ylab},
            "autorange": "reversed",
            "showgrid": False,
            "visible": not vec,
        },
        plot_bgcolor="white",
    )
    return fig


def histogram_figure(store: WeightSource, name: str, bins: int = 60, log_y: bool = False) -> go.Figure:
    """Bar chart of the value distribution, bars coloured by the sign of their centre."""
    import plotly.graph_objects as go

    counts, edges = histogram(store, name, bins)
    centres = (edges[:-1] + edges[1:]) / 2
    colors = [NEGATIVE_COLOR if c < 0 else POSITIVE_COLOR for c in centres]
    fig = go.Figure(
        go.Bar(
            x=centres,
            y=counts,
            width=np.diff(edges),
            marker={"color": colors, "line": {"width": 0}},
            customdata=np.stack([edges[:-1], edges[1:]], axis=1),
            hovertemplate="%{customdata[0]:.4g} … %{customdata[1]:.4g}<br>%{y} values<extra></extra>",
        )
    )
    note = "" if getattr(store, "trained", True) else " · RANDOM initial weights, not trained"
    fig.update_layout(
        title={"text": f"{name}: distribution of {fmt.count(int(counts.sum()))} values{note}", "font": {"size": 13}},
        margin={"l": 50, "r": 10, "t": 40, "b": 40},
        height=260,
        bargap=0,
        xaxis={"title": {"text": "weight value"}},
        yaxis={"title": {"text": "count"}, "type": "log" if log_y else "linear"},
        plot_bgcolor="white",
    )
    return fig


def per_head_figure(
    store: WeightSource,
    name: str,
    num_heads: HeadCounts | int,
    grid_cols: int | None = None,
    max_px: tuple[int, int] = (64, 192),
    how: How = "maxabs",
) -> go.Figure:
    """A grid of each head's slice, downsampled, on one shared colour scale, titled with its norm.

    A Q/K/V head owns d rows × all columns (64×768 in BERT-base: wide), the attention output's head d
    columns × all rows (tall); the panels keep that orientation, so wide slices sit two to a row and tall
    ones four. Each panel has its real row/column indices on its axes."""
    import plotly.graph_objects as go

    shape = tuple(store.shape(name))
    slices = head_slices(name, shape, num_heads)
    split = param_split(name, shape, num_heads)
    who = "KV " if split.group > 1 else ""  # grouped-query K/V: panels are key/value heads
    fused = bool(slices[0].parts)
    # one panel per head; a fused Q|K|V weight gets three per head (its Q, K and V rows), a row each
    panels = [(hs.head, "", hs) for hs in slices] if not fused else [
        (hs.head, f" {QKV_PARTS[p]}", HeadSlice(hs.head, hs.dim, a, b))
        for hs in slices for p, (a, b) in enumerate(hs.parts)]
    vmax = tensor_absmax(store, name) or 1.0
    vec = len(shape) <= 1
    wide = vec or slices[0].dim == 0
    cols = grid_cols or (3 if vec or fused else 2 if wide else min(4, len(slices)))
    views = []
    for _, _, hs in panels:
        r, c = head_window(shape, hs)
        mp = max_px if wide else (max_px[1], max_px[0])
        views.append(matrix_view(store, name, r, c, max_px=mp, how=how, scale="window"))
    norms = head_norms(store, name, num_heads) if not fused else [
        float(np.linalg.norm(mv_full)) for mv_full in
        (read_window(store, name, *head_window(shape, hs)).astype(np.float64) for _, _, hs in panels)]
    nrows = math.ceil(len(panels) / cols)
    panel_h = 46 if vec else 92 if wide else 210  # px: wide slices wider than tall, tall ones taller
    gap_px = 40  # room for each panel's title and tick labels
    top, bottom = 118, 34
    height = nrows * (panel_h + gap_px) + top + bottom - gap_px + 24
    # the grid by hand (make_subplots and per-axis updates cost ~2 s for 12 panels; one dict costs ~0.1 s)
    hgap = 0.06 if wide else 0.035
    w = (1 - hgap * (cols - 1)) / cols
    plot_h = height - top - bottom
    ph, gap = panel_h / plot_h, gap_px / plot_h
    ylab, xlab = axis_labels(name, shape)
    tick = {"size": 9, "color": "#555"}
    data, layout_axes, titles = [], {}, []
    for i, ((head, part, _hs), mv) in enumerate(zip(panels, views, strict=True)):
        r, c = divmod(i, cols)
        k = "" if i == 0 else str(i + 1)
        x0 = c * (w + hgap)
        y1 = 1 - r * (ph + gap)
        data.append(go.Heatmap(
            z=mv.z, x=mv.col_centres, y=np.zeros(1) if vec else mv.row_centres, coloraxis="coloraxis",
            xaxis=f"x{k}", yaxis=f"y{k}",
            hovertemplate=f"{who}head {head}{part}<br>" + ("index %{x:.0f}" if vec else "row %{y:.0f}, col %{x:.0f}")
            + f"<br>{mv.cell_label}: %{{z:.4g}}<extra></extra>"))
        xa = {"domain": [x0, x0 + w], "anchor": f"y{k}", "showgrid": False, "nticks": 3, "tickfont": tick}
        ya = {"domain": [max(0.0, y1 - ph), y1], "anchor": f"x{k}", "showgrid": False, "nticks": 3,
              "tickfont": tick, "autorange": "reversed", "visible": not vec}
        if r == nrows - 1 and c == 0:
            xa["title"] = {"text": xlab.split(" (")[0], "font": {"size": 10}, "standoff": 2}
        if r == 0 and c == 0 and not vec:
            ya["title"] = {"text": ylab.split(" (")[0], "font": {"size": 10}, "standoff": 2}
        layout_axes[f"xaxis{k}"], layout_axes[f"yaxis{k}"] = xa, ya
        nv = norms[i] if fused else norms[head]
        label = (f"{who}head {head}{part} · ‖W‖ {nv:.3g}" if wide else f"{who}head {head}: {nv:.3g}")
        titles.append({"text": label, "x": x0 + w / 2, "y": y1, "xref": "paper", "yref": "paper",
                       "xanchor": "center", "yanchor": "bottom", "showarrow": False, "yshift": 2,
                       "font": {"size": 10}})
    owns = "output rows" if slices[0].dim == 0 else "input columns"
    d = slices[0].stop - slices[0].start
    kv_note = (f" · key/value head h serves query heads h·{split.group} … (h+1)·{split.group}−1"
               if split.group > 1 else "")
    note = "" if getattr(store, "trained", True) else " · <b>RANDOM</b> initial weights, not trained"
    if fused:  # Q, K and V fused: each part is split by head on its own
        part = shape[0] // 3
        owns_text = (f"Q, K, V fused: rows 0:{part}, {part}:{2 * part}, {2 * part}:{3 * part}; "
                     f"head h owns {d} rows of each")
    else:
        owns_text = (f"head h owns {owns} h·{d} … (h+1)·{d}−1{'' if wide else '; titles: head: ‖W‖'}"
                     f"{kv_note}")
    fig = go.Figure(data=data, layout={
        **layout_axes,
        "annotations": titles,
        "title": {
            "text": f"{short_name(name)} by head",
            "subtitle": {"text": f"{owns_text}<br>colour ±{vmax:.3g}{note}",
                         "font": {"size": 11}},
            "font": {"size": 14},
            "x": 0.01,
        },
        "coloraxis": {"colorscale": COLORSCALE, "cmin": -vmax, "cmax": vmax, "cmid": 0,
                      "colorbar": {"thickness": 10, "title": {"text": "w"}, "len": min(1.0, 400 / height)}},
        "margin": {"l": 44, "r": 10, "t": top, "b": bottom},
        "height": height,
        "plot_bgcolor": "white",
    })
    return fig
