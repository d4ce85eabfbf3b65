"""A training step as plain data and figures, for the app's Training tab, the widget and the CLI alike."""

from __future__ import annotations

from typing import Any

import numpy as np

from bertviz_graph import format as fmt
from bertviz_graph.train.trainable import layer_list
from bertviz_graph.train.update import update_norms


def groups(step: Any) -> list[tuple[str, list[str]]]:
    """Parameter names grouped for the per-layer strip: embeddings, layer 0..N-1, then the rest."""

    stack = layer_list(step.model)
    path, n = stack if stack else ("", 0)
    rows: dict[str, list[str]] = {}
    for name in step.params:
        label = "other"
        if path and name.startswith(path + "."):
            label = f"layer {name[len(path) + 1:].split('.', 1)[0]}"
        elif "embeddings" in name.split("."):
            label = "embeddings"
        elif name.startswith("classifier.") or name.startswith("cls.") or "pooler" in name.split("."):
            label = "head"
        rows.setdefault(label, []).append(name)
    order = ["embeddings"] + [f"layer {k}" for k in range(n)] + ["head", "other"]
    return [(k, rows[k]) for k in order if k in rows]


def layer_strip(step: Any, optimizer: str = "sgd") -> list[dict[str, Any]]:
    """Per group: ‖∂L/∂W‖ (over all its trainable tensors), ‖ΔW‖/‖W‖ for ``optimizer``, trainable share."""

    upd = update_norms(step, optimizer)
    out = []
    for label, names in groups(step):
        tr = [n for n in names if n in step.grads]
        g2 = sum(float(step.grads[n].double().pow(2).sum()) for n in tr)
        w2 = sum(float(step.params[n].detach().double().pow(2).sum()) for n in tr)
        d2 = sum(upd[n] ** 2 for n in tr)
        total = sum(step.params[n].numel() for n in names)
        out.append({"group": label, "grad_norm": g2 ** 0.5, "rel_update": (d2 / w2) ** 0.5 if w2 else 0.0,
                    "trainable": sum(step.params[n].numel() for n in tr), "numbers": total,
                    "frozen": not tr})
    return out


def top_params(step: Any, k: int = 10) -> list[dict[str, Any]]:
    """The ``k`` parameter tensors with the largest gradient norm."""
    rows = [{"name": n, "grad_norm": g, "weight_norm": w, "shape": list(step.params[n].shape)}
            for n, (g, w) in step.norms().items()]
    return sorted(rows, key=lambda r: -r["grad_norm"])[:k]


def largest_entries(step: Any, name: str, k: int = 8) -> list[tuple[tuple[int, ...], float]]:
    """The ``k`` largest |∂L/∂W| entries of one matrix: (index, value)."""
    g = step.grad(name)
    flat = np.argsort(-np.abs(g), axis=None)[:k]
    return [(tuple(int(i) for i in np.unravel_index(f, g.shape)), float(g.flat[f])) for f in flat]


def edge_flow(step: Any, input: int = 0) -> dict[tuple[str, str], float]:
    """Backward mode: the size ‖∂L/∂value‖ carried along each graph edge u -> v (u's output gradient)."""
    if not step.act_grads or step.graph is None:
        return {}
    grads = step.act_grads[input]
    g = step.graph.g
    return {(u, v): float(grads[u].float().norm()) for u, v in g.edges if u in grads}


def summary(step: Any) -> dict[str, Any]:
    return {"model": step.model_name, "objective": step.objective, "loss": step.loss, "describe": step.describe,
            "lr": step.lr, "dropout": step.dropout, "trained_weights": step.trained, "how": step.how,
            "counts": step.counts.sentence(), "trainable_numbers": step.counts.trainable,
            "trainable_tensors": step.counts.trainable_tensors, "total_numbers": step.counts.total,
            "total_tensors": step.counts.total_tensors, "op_gradients": sum(map(len, step.act_grads)),
            "gradient_mb": step.grad_bytes / 2**20, "seconds": step.seconds, "tokens": step.tokens,
            "notes": list(step.notes)}


def step_json(step: Any, optimizer: str = "sgd", losses: list[float] | None = None,
              edge: Any = None) -> dict[str, Any]:
    """Everything the CLI writes to ``step.json``."""
    out = summary(step)
    out["layers"] = layer_strip(step, optimizer)
    out["top_gradients"] = top_params(step)
    out["parameters"] = {n: {"grad_norm": g, "weight_norm": w} for n, (g, w) in step.norms().items()}
    if losses is not None:
        out["losses"] = losses
    if edge is not None:
        out["edge"] = {"module": edge.module, "out": edge.out_index, "in": edge.in_index, "weight": edge.weight,
                       "terms": [{"token": t, "x": float(x), "delta": float(d), "term": float(p)}
                                 for t, x, d, p in zip(edge.tokens, edge.x, edge.delta, edge.terms)],
                       "sum": edge.total, "autograd": edge.autograd, "update": edge.update}
    return out


def strip_figure(step: Any, optimizer: str = "sgd", losses: list[float] | None = None):
    """Bars per layer: gradient norm and relative update (frozen groups grey); the loss curve beside them."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    rows = layer_strip(step, optimizer)
    n = 3 if losses else 2
    titles = ["‖∂L/∂W‖ per layer (grey: frozen)", f"‖ΔW‖/‖W‖ ({optimizer}, lr {step.lr:g})"] \
        + (["loss per step (on a copy)"] if losses else [])
    fig = make_subplots(rows=n, cols=1, subplot_titles=titles, vertical_spacing=0.5 / n)
    names = [r["group"] for r in rows]
    colour = ["#bbbbbb" if r["frozen"] else "#d95f02" for r in rows]
    fig.add_trace(go.Bar(x=names, y=[r["grad_norm"] for r in rows], marker_color=colour, name="gradient"), 1, 1)
    fig.add_trace(go.Bar(x=names, y=[r["rel_update"] for r in rows], marker_color=colour, name="update"), 2, 1)
    if losses:
        fig.add_trace(go.Scatter(x=list(range(1, len(losses) + 1)), y=losses, mode="lines+markers",
                                 name="loss"), 3, 1)
    fig.update_layout(showlegend=False, height=230 * n + 40, margin=dict(l=50, r=20, t=60, b=40),
                      title=f"{step.objective} loss {step.loss:.4g}; {fmt.percent(step.counts.share, 2)} of the numbers train",
                      title_font_size=13)
    return fig


def strongest_edge(step: Any, module: str) -> tuple[int, int]:
    """(out j, in i) of the largest |∂L/∂w_ji| of a Linear: the edge whose rule is worth writing out."""
    (j, i), _ = largest_entries(step, f"{module}.weight", 1)[0]
    return j, i


def grad_heatmap(step: Any, op: str, input: int = 0, max_cols: int = 1536):
    """∂L/∂(op output) as a [tokens × features] heatmap (diverging: sign matters)."""
    import plotly.graph_objects as go

    g = step.activation_grad(op, input)
    g = g.reshape(-1, g.shape[-1]) if g.ndim > 1 else g.reshape(1, -1)
    g = g[:, :max_cols]
    lim = float(np.abs(g).max()) or 1.0
    labels = step.tokens[input][: g.shape[0]] if g.shape[0] == len(step.tokens[input]) else None
    fig = go.Figure(go.Heatmap(z=g, y=labels, colorscale="RdBu", zmid=0, zmin=-lim, zmax=lim,
                               colorbar=dict(title="∂L/∂y")))
    fig.update_layout(height=max(220, 18 * g.shape[0] + 80), margin=dict(l=80, r=20, t=40, b=40),
                      title=f"∂L/∂output of {op} [tokens × features]", title_font_size=12,
                      yaxis=dict(autorange="reversed"))
    return fig


FROZEN_FILL = "#d9d9d9"  # boxes whose weights are all frozen
NO_WEIGHT_FILL = "#ffffff"  # ops with no weight of their own: they only pass the gradient on


def graph_fills(step: Any, lv: Any, mode: str = "grad", optimizer: str = "sgd") -> tuple[dict[str, str], dict[str, float]]:
    """Fill colours (and values) per visible box: ‖∂L/∂W‖ (``grad``) or ‖ΔW‖/‖W‖ (``update``) of the
    parameters under it, on a linear sequential scale; frozen boxes grey, weightless boxes white."""
    from plotly.colors import sample_colorscale

    g, h = step.graph.g, step.graph.hierarchy

    upd = update_norms(step, optimizer) if mode == "update" else {}
    values: dict[str, float] = {}
    fills: dict[str, str] = {}
    for n in lv.view.nodes:
        if n.expanded:
            continue
        if n.kind in ("group", "series") and h is not None and n.id in h.groups:
            names = [g.nodes[x]["name"] for x in h.leaves(n.id) if x in g and g.nodes[x]["kind"] == "param"]
        elif n.kind == "param" and n.id in g:
            names = [g.nodes[n.id]["name"]]
        else:
            names = []
        if not names:
            fills[n.id] = NO_WEIGHT_FILL
            continue
        tr = [x for x in names if x in step.grads]
        if not tr:
            fills[n.id] = FROZEN_FILL
            continue
        if mode == "update":
            w2 = sum(float(step.params[x].detach().double().pow(2).sum()) for x in tr)
            d2 = sum(upd[x] ** 2 for x in tr)
            values[n.id] = (d2 / w2) ** 0.5 if w2 else 0.0
        else:
            values[n.id] = sum(float(step.grads[x].double().pow(2).sum()) for x in tr) ** 0.5
    hi = max(values.values(), default=0.0) or 1.0
    for k, v in values.items():
        fills[k] = _hex(sample_colorscale("Oranges", [0.08 + 0.92 * min(v / hi, 1.0)])[0])
    return fills, values


def _hex(rgb: str) -> str:
    nums = [int(float(x)) for x in rgb[rgb.index("(") + 1:rgb.index(")")].split(",")[:3]]
    return "#" + "".join(f"{c:02x}" for c in nums)


def weight_grad_figure(step: Any, name: str, max_side: int = 768):
    """∂L/∂W of one matrix as a heatmap [out × in] (every 2nd/4th row or column past ``max_side``), with its
    largest entries named in the title."""
    import plotly.graph_objects as go

    g = step.grad(name)
    g = g.reshape(g.shape[0], -1) if g.ndim > 1 else g.reshape(1, -1)
    sr, sc = max(1, -(-g.shape[0] // max_side)), max(1, -(-g.shape[1] // max_side))
    z = g[::sr, ::sc]
    lim = float(np.abs(g).max()) or 1.0
    top = ", ".join(f"[{','.join(map(str, i))}] {v:+.3g}" for i, v in largest_entries(step, name, 3))
    fig = go.Figure(go.Heatmap(z=z, x=list(range(0, g.shape[1], sc)), y=list(range(0, g.shape[0], sr)),
                               colorscale="RdBu", zmid=0, zmin=-lim, zmax=lim, colorbar=dict(title="∂L/∂W")))
    fig.update_layout(height=380, margin=dict(l=50, r=20, t=70, b=40), yaxis=dict(autorange="reversed"),
                      title=f"∂L/∂W of {name} {list(g.shape)}<br>largest: {top}", title_font_size=11)
    return fig
