"""Plain data and plotly figures for the analyses (heads, FFN ablations, spectra): one implementation read by
the CLI's report files, the app's Analysis panel and the widget."""

from __future__ import annotations

from typing import Any

import numpy as np

from bertviz_graph import format as fmt
from bertviz_graph.errors import UserError
from bertviz_graph.run.attention import attention_ops


def summary_heads(r: Any) -> list[str]:
    """Plain sentences about a HeadReport."""
    iu = np.triu_indices(len(r.distances), 1)
    d = r.distances[iu]
    lines = list(r.notes)
    lines.append(f"{r.layers * r.heads} heads of {r.name}, {r.sentences} sentences ({r.tokens} query tokens): "
                 f"Jensen-Shannon divergence between heads median {np.median(d):.3f} nats, "
                 f"closest pair {d.min():.3f}, farthest {d.max():.3f} (max possible ln 2 = 0.693).")
    if r.groups:
        names = "; ".join("{" + ", ".join(r.label(i) for i in g) + "}" for g in r.groups[:8])
        lines.append(f"{len(r.groups)} groups of near-duplicate heads (average JS < {r.threshold} nats), "
                     f"{sum(len(g) for g in r.groups)} heads in all: {names}.")
    else:
        lines.append(f"No near-duplicate heads (no group with average JS < {r.threshold} nats).")
    broad = [r.label(i) for i in range(len(r.distances)) if r.shares["cls"][i] + r.shares["sep"][i] > 0.5]
    lines.append(f"{len(broad)} heads put over half their attention on [CLS]/[SEP] (Clark et al.'s 'no-op' "
                 "heads)" + (f": {', '.join(broad[:12])}{' ...' if len(broad) > 12 else ''}." if broad else "."))
    return lines


def heads_figure(r: Any):
    """Clustered heads × heads matrix and the 2-D MDS map coloured by layer."""
    import plotly.graph_objects as go
    from plotly.colors import sample_colorscale
    from plotly.subplots import make_subplots

    labels = r.labels
    o = r.order
    # stacked, not side by side: the app's side panel is narrow
    fig = make_subplots(rows=2, cols=1, subplot_titles=("JS divergence between heads, clustered (nats)",
                                                        "map of the heads (MDS of √JS), colour = layer"),
                        row_heights=[0.55, 0.45], vertical_spacing=0.1)
    fig.add_trace(go.Heatmap(z=r.distances[np.ix_(o, o)], x=[labels[i] for i in o], y=[labels[i] for i in o],
                             colorscale="Viridis_r", colorbar={"title": "nats", "len": 0.5, "y": 0.78},
                             hovertemplate="%{y} vs %{x}: %{z:.3f} nats<extra></extra>"), row=1, col=1)
    colours = sample_colorscale("Turbo", [i / max(r.layers - 1, 1) for i in range(r.layers)])
    for layer in range(r.layers):
        idx = list(range(layer * r.heads, (layer + 1) * r.heads))
        fig.add_trace(go.Scatter(x=r.mds[idx, 0], y=r.mds[idx, 1], mode="markers+text", name=f"layer {layer}",
                                 text=[labels[i] for i in idx], textposition="top center",
                                 textfont={"size": 8}, marker={"color": colours[layer], "size": 9},
                                 customdata=[[i // r.heads, i % r.heads] for i in idx],
                                 hovertemplate="%{text} (click: its map and Q, K, V, O slices)<extra></extra>"),
                      row=2, col=1)
    fig.update_yaxes(autorange="reversed", row=1, col=1)
    fig.update_xaxes(showticklabels=len(labels) <= 48, tickfont={"size": 7}, row=1, col=1)
    fig.update_yaxes(showticklabels=len(labels) <= 48, tickfont={"size": 7}, row=1, col=1)
    fig.update_layout(template="plotly_white", height=1000, width=760, title=f"Redundant heads? {r.name}",
                      legend={"x": 1.02, "y": 0.4})
    return fig


def summary_ablation(s: Any) -> list[str]:
    lines = list(s.notes)
    sh = s.shares
    lines.append(f"The feed-forward block is {fmt.percent(sh['ffn_params'], 0)} of a layer's parameters and "
                 f"{fmt.percent(sh['ffn_flops'], 0)} of its FLOPs (at {sh['tokens']:.0f} tokens).")
    lines.append(f"CKA compares every layer's output with the original on the {s.measuring}; neurons for "
                 f"'shrink' were scored on the {s.scoring}.")
    if s.base:
        b = s.base
        lines.append(f"Held-out task: {s.task}. Unablated: {b['lee_spearman']:.3f} "
                     f"[{b['lee_spearman_lo']:.3f}, {b['lee_spearman_hi']:.3f}].")
        inside = [_name(r) for r in s.rows if b["lee_spearman_lo"] <= r["lee_spearman"] <= b["lee_spearman_hi"]]
        lines.append(f"{len(inside)} of {len(s.rows)} ablations keep the metric inside that interval.")
    last = [k for k in s.rows[0] if k.startswith("cka_")][-1]
    worst = min(s.rows, key=lambda r: r[last])
    lines.append(f"Final-layer CKA: lowest {worst[last]:.3f} ({_name(worst)}); removing one FFN leaves "
                 + ", ".join(f"{r[last]:.2f}" for r in s.rows if r["ablation"] == "remove ffn") + " (layers 0..).")
    return lines


def _name(row: dict) -> str:
    if row["ablation"] == "shrink ffn":
        return f"every FFN shrunk to {fmt.percent(row['keep'], 0)}"
    return f"{row['ablation']} in layer {row['layer']}"


def ablation_figure(s: Any):
    """CKA per (ablation × layer) and the held-out metric per ablation with its interval."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    cols = [k for k in s.rows[0] if k.startswith("cka_")]
    names = [_name(r) for r in s.rows]
    has_task = bool(s.base)
    n = 2 if has_task else 1
    fig = make_subplots(rows=n, cols=1, subplot_titles=("linear CKA of each layer's output with the original",
                                                        "held-out Lee ρ (95% bootstrap interval)")[:n],
                        vertical_spacing=0.12)
    z = np.array([[r[c] for c in cols] for r in s.rows])
    fig.add_trace(go.Heatmap(z=z, x=[c.replace("cka_", "layer ") for c in cols], y=names, zmin=0, zmax=1,
                             colorscale="Viridis", colorbar={"title": "CKA", "len": 0.5 if has_task else 1.0,
                                                             "y": 0.78 if has_task else 0.5},
                             text=np.round(z, 2), texttemplate="%{text}", textfont={"size": 9}), row=1, col=1)
    fig.update_yaxes(autorange="reversed", row=1, col=1)
    if has_task:
        v = [r["lee_spearman"] for r in s.rows]
        fig.add_trace(go.Scatter(x=v, y=names, mode="markers", showlegend=False, marker={"color": "#444"},
                                 error_x={"type": "data", "symmetric": False,
                                          "array": [r["lee_spearman_hi"] - r["lee_spearman"] for r in s.rows],
                                          "arrayminus": [r["lee_spearman"] - r["lee_spearman_lo"]
                                                         for r in s.rows]}), row=2, col=1)
        b = s.base
        fig.add_vrect(x0=b["lee_spearman_lo"], x1=b["lee_spearman_hi"], fillcolor="#9ecae1", opacity=0.35,
                      line_width=0, row=2, col=1)
        fig.add_vline(x=b["lee_spearman"], line={"color": "#3182bd", "dash": "dash"}, row=2, col=1)
        fig.update_yaxes(autorange="reversed", row=2, col=1)
    fig.update_layout(template="plotly_white", height=(160 + 22 * len(names)) * n, width=900,
                      title=f"Is the intermediate layer needed? {s.name}" + (" (band: the unablated model's "
                                                                             "interval)" if has_task else ""))
    return fig


def summary_spectra(sp: Any) -> list[str]:
    rows = sp.rows()
    ratio = np.array([r["effective_over_full"] for r in rows])
    lines = list(sp.notes)
    lines.append(f"{len(rows)} weight matrices of {sp.name}: effective rank / full rank median {np.median(ratio):.2f}"
                 f" (min {ratio.min():.2f}, max {ratio.max():.2f}); 90% of the energy needs a median "
                 f"{fmt.percent(np.median([r['rank_90_energy'] / r['full_rank'] for r in rows]), 0)} of the full rank.")
    return lines


def _kind(name: str) -> str:
    for k in ("query", "key", "value", "attention.output", "intermediate", "output.dense", "pooler"):
        if k in name:
            return {"attention.output": "attn out", "intermediate": "ffn in", "output.dense": "ffn out"}.get(k, k)
    return name.rsplit(".", 2)[-2]


def spectra_figure(sp: Any):
    """Normalised singular values of every matrix, and effective rank / full rank per layer and kind."""
    import plotly.graph_objects as go
    from plotly.colors import qualitative
    from plotly.subplots import make_subplots

    fig = make_subplots(rows=2, cols=1, subplot_titles=("singular values σ/σ_max (one line per matrix)",
                                                        "effective rank / full rank per layer"),
                        vertical_spacing=0.14)
    kinds = list(dict.fromkeys(_kind(m.name) for m in sp.matrices))
    colour = {k: qualitative.Plotly[i % 10] for i, k in enumerate(kinds)}
    seen: set[str] = set()
    for m in sp.matrices:
        k = _kind(m.name)
        fig.add_trace(go.Scatter(y=m.values / m.values[0], mode="lines", line={"color": colour[k], "width": 1},
                                 name=k, legendgroup=k, showlegend=k not in seen, hovertext=m.name), row=1, col=1)
        seen.add(k)
    import re

    for k in kinds:
        pts = [(int(g.group(1)), m.effective_rank / m.full_rank) for m in sp.matrices if _kind(m.name) == k
               and (g := re.search(r"\.(\d+)\.", m.name))]
        if pts:
            fig.add_trace(go.Scatter(x=[p[0] for p in pts], y=[p[1] for p in pts], mode="lines+markers",
                                     line={"color": colour[k]}, name=k, legendgroup=k, showlegend=False),
                          row=2, col=1)
    fig.update_xaxes(title_text="index of the singular value", row=1, col=1)
    fig.update_xaxes(title_text="layer", dtick=1, row=2, col=1)
    fig.update_yaxes(range=[0, 1.02], row=2, col=1)
    fig.update_layout(template="plotly_white", height=780, width=760, title=f"How full is the pot? {sp.name}")
    return fig


def report_html(title: str, lines: list[str], fig: Any) -> str:
    """A self-contained page: the sentences, then the figure (plotly.js inlined: works offline)."""
    import html

    body = "".join(f"<p>{html.escape(x)}</p>" for x in lines)
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            "<style>body{font-family:system-ui,sans-serif;margin:24px;max-width:1200px}p{margin:4px 0}</style>"
            f"</head><body><h2>{html.escape(title)}</h2>{body}"
            f"{fig.to_html(include_plotlyjs=True, full_html=False)}</body></html>")


KINDS = {"heads": "redundant heads (Jensen-Shannon between heads)",
         "ffn": "remove the FFN / attention of a layer (CKA)",
         "rank": "how full is the pot (singular values, ranks)"}


def analysis_view(kind: str, model: Any, sentences: Any = None, task: str | None = None
                  ) -> tuple[list[str], Any, list[dict[str, Any]]]:
    """(sentences, plotly figure, table rows) of one analysis: the one entry the CLI, app and widget share."""

    if kind == "heads":
        from bertviz_graph.analyze.heads import head_report  # lazy: start-up (torch)

        r = head_report(model, sentences)
        return summary_heads(r), heads_figure(r), r.rows()
    if kind == "ffn":
        from bertviz_graph.analyze.ablation import ablation_study  # lazy: start-up (torch)

        s = ablation_study(model, sentences, task=task)
        return summary_ablation(s), ablation_figure(s), s.rows
    if kind == "rank":
        from bertviz_graph.analyze.ranks import spectra  # lazy: start-up (torch)

        sp = spectra(model)
        return summary_spectra(sp), spectra_figure(sp), sp.rows()
    raise UserError(f"unknown analysis '{kind}'", f"use one of: {', '.join(KINDS)}")


def clicked_head(click: Any) -> tuple[int, int] | None:
    """(layer, head) a click on the heads figure picked: a point of the MDS map (its customdata) or a cell of
    the heads × heads matrix (its row head), else None."""
    import re

    pts = (click or {}).get("points") if isinstance(click, dict) else None
    if not pts or not isinstance(pts[0], dict):
        return None
    p = pts[0]
    cd = p.get("customdata")
    if isinstance(cd, (list, tuple)) and len(cd) == 2 and all(isinstance(v, (int, float)) for v in cd):
        return int(cd[0]), int(cd[1])
    m = re.fullmatch(r"L(\d+)\.H(\d+)", str(p.get("y", "")))
    return (int(m[1]), int(m[2])) if m else None


def head_target(graph: Any, layer: int, head: int) -> dict[str, Any]:
    """Where a head lives in the graph: {"layer", "head", "module" (its attention block), "select" (the query
    Linear the Attention tab and the widget select; its Q rows are the head's slice), "label"}."""
    found = attention_ops(graph)
    if not 0 <= int(layer) < len(found):
        raise UserError(f"layer {layer} is not in {graph.name} (layers 0..{len(found) - 1})", "pick another head")
    module = found[int(layer)][1]
    h = graph.hierarchy
    query = module + ".query"
    return {"layer": int(layer), "head": int(head), "module": module,
            "select": query if h is not None and query in h.groups else module, "label": f"L{layer}.H{head}"}
