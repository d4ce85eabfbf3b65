"""A training step as plain data and figures, for the app's Training tab, the widget and the CLI alike."""

from __future__ import annotations

from typing import Any

import numpy as np

from bertviz_graph import format as fmt
from bertviz_graph.hierarchy.heads import head_axis, head_counts, param_heads
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
                       "sum": edge.total, "autograd": edge.autograd, "update": edge.update,
                       "optimizer": edge.optimizer}
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


LORA_PREFIX = "base_model.model."  # peft's names of the wrapped model's parameters
LORA_PARTS = ("lora_A", "lora_B")


def step_names(step: Any, name: str) -> list[str]:
    """The step's parameters standing for the graph's weight ``name``: itself, or under LoRA (peft) the
    wrapped weight (frozen) and the two adapters A, B trained beside it."""
    if name in step.params:
        return [name]
    mod, _, leaf = name.rpartition(".")
    out = [x for x in (LORA_PREFIX + name, f"{LORA_PREFIX}{mod}.base_layer.{leaf}") if x in step.params]
    if leaf == "weight":
        out += [x for x in (f"{LORA_PREFIX}{mod}.{p}.default.weight" for p in LORA_PARTS) if x in step.params]
    return out


def box_params(step: Any, n: Any) -> list[str]:
    """The step's parameter names under a visible box (a group, a series, a weight)."""
    g, h = step.graph.g, step.graph.hierarchy
    if n.kind in ("group", "series") and h is not None and n.id in h.groups:
        names = [g.nodes[x]["name"] for x in h.leaves(n.id) if x in g and g.nodes[x]["kind"] == "param"]
    elif n.kind == "param" and n.id in g:
        names = [g.nodes[n.id]["name"]]
    else:
        return []
    return [x for name in names for x in step_names(step, name)]


def lora_rank(step: Any) -> int | None:
    """The rank of the step's LoRA adapters (None without LoRA)."""
    a = next((x for x in step.grads if ".lora_A." in x), None)
    return int(step.params[a].shape[0]) if a is not None else None


def lora_sentence(step: Any) -> str | None:
    """'LoRA r=8: 0.48 % of the weights train ...' for a LoRA step (None otherwise)."""
    r = lora_rank(step)
    if r is None:
        return None
    mods = sorted({x.split(".lora_")[0][len(LORA_PREFIX):] for x in step.grads if ".lora_" in x})
    a = next(x for x in step.grads if ".lora_A." in x)
    b = a.replace(".lora_A.", ".lora_B.")
    return (f"LoRA r={r}: {100 * step.counts.share:.2f} % of the weights train — adapters A "
            f"{list(step.params[a].shape)} and B {list(step.params[b].shape)} beside each of {len(mods)} frozen "
            f"weights ({', '.join(sorted({m.rsplit('.', 1)[-1] for m in mods}))}); the graph colours them on their Linears")


FROZEN_FILL = "#d9d9d9"  # boxes whose weights are all frozen
NO_WEIGHT_FILL = "#ffffff"  # ops with no weight of their own: they only pass the gradient on


def graph_fills(step: Any, lv: Any, mode: str = "grad", optimizer: str = "sgd") -> tuple[dict[str, str], dict[str, float]]:
    """Fill colours (and values) per visible box: ‖∂L/∂W‖ (``grad``) or ‖ΔW‖/‖W‖ (``update``) of the
    parameters under it, on a linear sequential scale; frozen boxes grey, weightless boxes white."""

    upd = update_norms(step, optimizer) if mode == "update" else {}
    values: dict[str, float] = {}
    fills: dict[str, str] = {}
    for n in lv.view.nodes:
        if n.expanded:
            continue
        names = box_params(step, n)
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
        fills[k] = fill_for(v / hi)
    return fills, values


FILL_RANGE = (0.08, 0.62)  # of plotly's Oranges: cut before its darkest browns so box text stays readable


def fill_for(t: float) -> str:
    """The fill of a box at ``t`` in [0, 1] of the view's largest value (linear)."""
    from plotly.colors import sample_colorscale

    lo, hi = FILL_RANGE
    return _hex(sample_colorscale("Oranges", [lo + (hi - lo) * min(max(t, 0.0), 1.0)])[0])


def _hex(rgb: str) -> str:
    nums = [int(float(x)) for x in rgb[rgb.index("(") + 1:rgb.index(")")].split(",")[:3]]
    return "#" + "".join(f"{c:02x}" for c in nums)


def grad_heads(step: Any, name: str) -> Any:
    """The head split of parameter ``name`` (hierarchy/heads.py: rows of Q/K/V, columns of the attention
    output), or None when heads do not split it."""
    h = getattr(step.graph, "hierarchy", None) if step.graph is not None else None
    counts = head_counts(getattr(h, "ctx", None))
    shape = tuple(step.params[name].shape)
    axis = head_axis(name)
    if counts is None or len(shape) != 2 or axis is None:
        return None
    try:
        return param_heads(name, shape[axis], counts)
    except ValueError:  # sizes that do not fit the counts: no bands rather than wrong ones
        return None


def head_grad_norms(step: Any, name: str) -> list[float] | None:
    """‖∂L/∂W‖ of each head's band of ``name`` (None when heads do not split it)."""
    split = grad_heads(step, name)
    if split is None:
        return None
    g = step.grad(name).astype(np.float64)
    g = g if split.axis == 0 else g.T
    return [float(np.sqrt(sum((g[a:b] ** 2).sum() for a, b in split.bands(k)))) for k in range(split.count)]


def largest_rows(step: Any, name: str, k: int = 8) -> list[dict[str, Any]]:
    """The ``k`` largest |∂L/∂w_ji| of a matrix: out j, in i, the value and the head owning it (or None)."""
    split = grad_heads(step, name)
    out = []
    for idx, v in largest_entries(step, name, k):
        head = None
        if split is not None and len(idx) == 2:
            pos = idx[split.axis]
            head = next((h for h in range(split.count) if any(a <= pos < b for a, b in split.bands(h))), None)
        out.append({"out": idx[0], "in": idx[1] if len(idx) > 1 else None, "grad": v, "head": head})
    return out


def weight_grad_figure(step: Any, name: str, max_side: int = 768):
    """∂L/∂W of one matrix as a heatmap [out × in] (every 2nd/4th row or column past ``max_side``), its head
    bands (lines between heads, each head's ‖∂L/∂W‖ beside it) and its largest entries named in the title."""
    import plotly.graph_objects as go

    g = step.grad(name)
    g = g.reshape(g.shape[0], -1) if g.ndim > 1 else g.reshape(1, -1)
    sr, sc = max(1, -(-g.shape[0] // max_side)), max(1, -(-g.shape[1] // max_side))
    z = g[::sr, ::sc]
    lim = float(np.abs(g).max()) or 1.0
    top = ", ".join(f"[{','.join(map(str, i))}] {v:+.3g}" for i, v in largest_entries(step, name, 3))
    fig = go.Figure(go.Heatmap(z=z, x=list(range(0, g.shape[1], sc)), y=list(range(0, g.shape[0], sr)),
                               colorscale="RdBu", zmid=0, zmin=-lim, zmax=lim, colorbar=dict(title="∂L/∂W")))
    split, norms = grad_heads(step, name), head_grad_norms(step, name)
    if split is not None and norms:
        hi = max(norms) or 1.0
        for k in range(split.count):
            for a, b in split.bands(k):
                edge = dict(type="line", line=dict(color="#333", width=0.6, dash="dot"), xref="x", yref="y")
                if split.axis == 0:
                    fig.add_shape(**edge, x0=-0.5, x1=g.shape[1] - 0.5, y0=a - 0.5, y1=a - 0.5)
                else:
                    fig.add_shape(**edge, y0=-0.5, y1=g.shape[0] - 0.5, x0=a - 0.5, x1=a - 0.5)
                mid, big = (a + b) / 2, norms[k] == hi
                label = f"<b>h{k}</b>" if big else f"h{k}"
                fig.add_annotation(text=label, showarrow=False, font=dict(size=9, color="#b30000" if big else "#333"),
                                   **({"x": 1.0, "xref": "paper", "xanchor": "left", "y": mid, "yref": "y"}
                                      if split.axis == 0 else {"y": 1.0, "yref": "paper", "yanchor": "bottom",
                                                               "x": mid, "xref": "x"}))
        strongest = int(np.argmax(norms))
        top += f"<br>head bands ({'rows' if split.axis == 0 else 'columns'}): strongest head {strongest} " \
               f"(‖∂L/∂W‖ {norms[strongest]:.3g} of {float(np.sqrt(sum(n * n for n in norms))):.3g})"
    fig.update_layout(height=420, margin=dict(l=50, r=40, t=90, b=40), yaxis=dict(autorange="reversed"),
                      title=f"∂L/∂W of {name} {list(g.shape)}<br>largest: {top}", title_font_size=11)
    return fig


def tab_data(step: Any, optimizer: str = "sgd", module: str | None = None,
             losses: list[float] | None = None) -> dict[str, Any]:
    """The Training tab as plain data (the widget's tab draws it): what trains, the loss, the per-layer strip,
    and for a selected Linear ``module`` the rule on its strongest edge and its largest gradient entries."""
    lines = [f"{step.objective}: loss {step.loss:.5g} — {step.describe}", f"trainable: {step.counts.sentence()}",
             f"dropout {'ON' if step.dropout else 'off'}; {len(step.grads)} gradients + "
             f"{sum(map(len, step.act_grads))} op gradients in {step.seconds:.2f} s (the shown model is unchanged)"]
    if losses:
        lines.append(f"{len(losses)} steps on a copy ({optimizer}): loss {losses[0]:.4g} → {losses[-1]:.4g}")
    if lora_sentence(step):
        lines.append(lora_sentence(step))
    out: dict[str, Any] = {"lines": lines, "notes": list(step.notes), "optimizer": optimizer, "lr": step.lr,
                           "layers": layer_strip(step, optimizer), "module": module or "", "rule": [], "top": [],
                           "heads": None, "why": ""}
    if module is None:
        out["why"] = "Select a Linear in the graph to see the rule on its strongest edge."
    elif f"{module}.weight" not in step.grads:
        out["why"] = f"{module} is frozen in this step." if f"{module}.weight" in step.params else \
            f"{module} has no weight."
    else:
        name = f"{module}.weight"
        out["top"] = largest_rows(step, name)
        out["heads"] = head_grad_norms(step, name)
        if step.act_grads:
            j, i = strongest_edge(step, module)
            out["rule"] = step.edge(module, j, i, optimizer).lines()
        else:
            out["why"] = "no op gradients in this step (" + step.how + "): the rule needs them"
    return out


def grad_edges(step: Any, module: str, n_in: int = 12, n_out: int = 12, n_edges: int = 60) -> dict[str, Any]:
    """The Linear ``module`` as neurons with its strongest-gradient edges (as the Run tab draws the strongest
    w·x): the ``n_out`` outputs whose row of ∂L/∂W is largest, the ``n_in`` inputs carrying most of it into
    them, and the ``n_edges`` largest |∂L/∂w_ji| between them, with the share of all |∂L/∂W| they hold."""
    G = step.grad(f"{module}.weight").astype(np.float64)
    A = np.abs(G)
    outs = [int(j) for j in np.argsort(-np.sqrt((A * A).sum(1)), kind="stable")[:n_out]]
    sub = A[outs]
    ins = [int(i) for i in np.argsort(-sub.sum(0), kind="stable")[:n_in]]
    block = G[outs][:, ins]
    flat = np.argsort(-np.abs(block).ravel(), kind="stable")[:n_edges]
    edges = [(ins[k % len(ins)], outs[k // len(ins)], float(block.ravel()[k])) for k in flat]
    share = float(sum(abs(g) for *_, g in edges)) / (float(A.sum()) or 1.0)
    return {"module": module, "inputs": ins, "outputs": outs, "edges": edges, "share": share,
            "in_norm": {i: float(np.sqrt((A[:, i] ** 2).sum())) for i in ins},
            "out_norm": {j: float(np.sqrt((A[j] ** 2).sum())) for j in outs},
            "caption": f"the {len(edges)} strongest-gradient edges among the {len(ins)} inputs and {len(outs)} "
                       f"outputs shown hold {fmt.percent(share, 2)} of Σ|∂L/∂W| over all {fmt.count(G.size)} edges of this layer"}


def grad_edges_figure(d: dict[str, Any]):
    """Inputs (left) and outputs (right) with their ‖∂L/∂W‖ column / row; edges by ∂L/∂w_ji (red +, blue −,
    width ∝ |∂L/∂w_ji|), the drawing of the Run tab's strongest w·x edges."""
    import plotly.graph_objects as go

    fig = go.Figure()
    yin = {i: k for k, i in enumerate(d["inputs"])}
    yout = {j: k * (len(d["inputs"]) - 1) / max(1, len(d["outputs"]) - 1) for k, j in enumerate(d["outputs"])}
    gmax = max((abs(g) for *_, g in d["edges"]), default=1.0) or 1.0
    for i, j, g in sorted(d["edges"], key=lambda e: abs(e[2])):
        fig.add_trace(go.Scatter(x=[0, 1], y=[yin[i], yout[j]], mode="lines", hoverinfo="text", showlegend=False,
                                 text=f"∂L/∂w[{j},{i}] = {g:.4g}",
                                 line={"width": 0.5 + 5 * abs(g) / gmax,
                                       "color": "rgba(200,40,40,0.6)" if g > 0 else "rgba(40,80,200,0.6)"}))
    for x, ids, norms, pos, what in ((0, d["inputs"], d["in_norm"], "middle left", "in"),
                                     (1, d["outputs"], d["out_norm"], "middle right", "out")):
        ys = [yin[i] for i in ids] if x == 0 else [yout[j] for j in ids]
        fig.add_trace(go.Scatter(
            x=[x] * len(ids), y=ys, mode="markers+text", text=[f"{what} {k}" for k in ids], textposition=pos,
            hovertext=[f"{what} {k}: ‖∂L/∂W‖ of its {'column' if x == 0 else 'row'} {norms[k]:.3g}" for k in ids],
            hoverinfo="text", showlegend=False,
            marker={"size": 11, "color": [norms[k] for k in ids], "colorscale": "Oranges", "cmin": 0,
                    "line": {"width": 1, "color": "#555"}}))
    fig.update_layout(title={"text": f"{d['module']}: strongest-gradient edges", "font": {"size": 12}},
                      xaxis={"visible": False, "range": [-0.45, 1.45]},
                      yaxis={"visible": False, "autorange": "reversed"}, height=420,
                      margin={"l": 10, "r": 10, "t": 40, "b": 10}, plot_bgcolor="white")
    return fig
