"""A training step drawn on the graph, for the app, the widget and the CLI alike: colour-by ‖∂L/∂W‖ or
‖ΔW‖/‖W‖ per box (``training.graph_fills``: frozen grey, weightless white), the "backward" mode that draws
the size of ∂L/∂x on each edge (where the gradient flows: the residual path versus the branches), and the
tooltips of edges (∂L/∂ of the tensor each carries, per token) and of boxes (their value, or why none)."""

from __future__ import annotations

from typing import Any

import numpy as np

from bertviz_graph import format as fmt
from bertviz_graph.presenters.edge_ops import ops_per_edge
from bertviz_graph.presenters.training import FROZEN_FILL, NO_WEIGHT_FILL, box_params, graph_fills, lora_rank

MODES = {"grad": "Gradient ‖∂L/∂W‖ (this tab's training step)",
         "update": "Relative update ‖ΔW‖/‖W‖ (this tab's training step)",
         "backward": "Backward: ‖∂L/∂x‖ on the edges (this tab's training step)"}
BACKWARD_FILL = "#f7f7f7"  # boxes in backward mode: the edges carry the colour
EDGE_SCALE = ("#cbc9e2", "#3f007d")  # pale -> strong purple: not the boxes' oranges
EDGE_WIDTH = (0.8, 7.0)  # px, linear in ‖∂L/∂x‖ from 0 to the view's largest


def _norm2(step: Any, op: str) -> float | None:
    """‖∂L/∂(op's output)‖² summed over the step's inputs (a pair runs as two inputs); None: no gradient."""
    got = [float(a[op].double().pow(2).sum()) for a in step.act_grads if op in a]
    return sum(got) if got else None


def edge_grads(step: Any, view: Any) -> dict[str, float]:
    """View edge id -> ‖∂L/∂x‖ of what it carries (all its tensors, all inputs of the step)."""
    out = {}
    for eid, ops in ops_per_edge(step.graph, view).items():
        vals = [v for v in (_norm2(step, op) for op in ops) if v is not None]
        if vals:
            out[eid] = sum(vals) ** 0.5
    return out


def edge_strokes(values: dict[str, float]) -> dict[str, tuple[str, float]]:
    """Edge id -> (colour, width): linear from 0 to the largest value in view."""
    from plotly.colors import find_intermediate_color, hex_to_rgb, label_rgb, unlabel_rgb

    hi = max(values.values(), default=0.0) or 1.0
    lo_c, hi_c = (label_rgb(hex_to_rgb(c)) for c in EDGE_SCALE)
    out = {}
    for k, v in values.items():
        t = min(max(v / hi, 0.0), 1.0)
        rgb = unlabel_rgb(find_intermediate_color(lo_c, hi_c, t, colortype="rgb"))
        out[k] = ("#" + "".join(f"{round(c):02x}" for c in rgb), EDGE_WIDTH[0] + t * (EDGE_WIDTH[1] - EDGE_WIDTH[0]))
    return out


def edge_tip(step: Any, ops: list[str]) -> str | None:
    """One tooltip line: ‖∂L/∂x‖ of the edge's tensor(s) and the token whose gradient is largest."""
    lines = []
    for op in ops[:3]:
        for i, a in enumerate(step.act_grads):
            if op not in a:
                continue
            g = a[op].float().numpy()
            g = g.reshape(-1, g.shape[-1]) if g.ndim > 1 else g.reshape(1, -1)
            per = np.sqrt((g.astype(np.float64) ** 2).sum(1))
            toks = step.tokens[i]
            where = f"{'ab'[i]}:" if len(step.act_grads) > 1 else ""
            top = int(per.argmax())
            tok = f" at {where}{toks[top]!r}" if len(per) == len(toks) else ""
            lines.append(f"∂L/∂{op}: ‖·‖ {float(np.sqrt((per ** 2).sum())):.3g}, largest {float(per[top]):.3g}"
                         f"{tok}")
    return "\n".join(lines) or None


def edge_grad_tips(step: Any, view: Any) -> dict[str, str]:
    """Edge id -> the line saying the gradient its tensor gets back (none without op gradients)."""
    carried = ops_per_edge(step.graph, view) if step.act_grads else {}
    return {k: t for k, ops in carried.items() if (t := edge_tip(step, ops))}


LORA_FILL, LORA_STROKE = "#fdd0a2", "#d94801"


def lora_overlay(step: Any, lv: Any) -> str:
    """Each adapted Linear's adapters as a small Linear of their own at its lower right corner ("A·B r=8" and
    their share of the box's numbers), drawn over the frozen weight's box (view level: no re-trace)."""
    from xml.sax.saxutils import escape

    rank = lora_rank(step)
    if not rank:
        return ""
    out = ['<g class="lora" pointer-events="none">']
    for n in lv.view.nodes:
        box = lv.boxes.get(n.id)
        names = box_params(step, n) if box is not None and not n.expanded else []
        adapters = [x for x in names if ".lora_" in x]
        if not adapters or len(adapters) != len([x for x in names if ".lora_A." in x]) * 2 or \
                len(adapters) > 2:  # one adapted Linear per box: a badge on a group would say too little
            continue
        k = sum(step.params[x].numel() for x in adapters)
        total = sum(step.params[x].numel() for x in names)
        text = escape(f"LoRA A·B r={rank}: {100 * k / total:.1f} %")
        w, h = 6.2 * len(text) * 0.82 + 8, 14.0
        x, y = box.left + box.w - w + 6, box.top + box.h - h / 2
        out.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h:.1f}" rx="3" fill="{LORA_FILL}" '
                   f'stroke="{LORA_STROKE}" stroke-width="0.9"/><text x="{x + 4:.1f}" y="{y + 10:.1f}" '
                   f'font-size="8.5" fill="#5a1e02">{text}</text>')
    out.append("</g>")
    return "".join(out) if len(out) > 2 else ""


def picture(step: Any, view: Any, lv: Any, mode: str, optimizer: str = "sgd") -> dict[str, Any]:
    """What the graph draws for ``mode`` (grad | update | backward) of ``view`` (a View) laid out as ``lv``: box
    ``fills``, edge ``strokes``, the ``values`` behind them (boxes or edges) and ``tips`` for the canvas
    (``{"edges", "nodes"}``)."""
    etips = edge_grad_tips(step, view)
    if mode == "backward":
        values = {k: v for k, v in edge_grads(step, view).items() if v > 0}
        fills = {n.id: BACKWARD_FILL for n in lv.view.nodes if not n.expanded}
        return {"fills": fills, "strokes": edge_strokes(values), "values": values,
                "tips": {"edges": etips, "nodes": {}}, "overlay": "", "why": "" if step.act_grads else
                "no op gradients in this step (" + step.how + "): take it without LoRA or dropout"}
    fills, values = graph_fills(step, lv, mode, optimizer)
    title = {"grad": "‖∂L/∂W‖", "update": f"‖ΔW‖/‖W‖ ({optimizer}, lr {step.lr:g})"}[mode]
    nodes = {}
    rank = lora_rank(step)
    for n in lv.view.nodes:
        if n.id in values:
            nodes[n.id] = f"{title}: {values[n.id]:.3g}"
            adapters = [x for x in box_params(step, n) if ".lora_" in x] if rank else []
            if adapters:  # LoRA: what trains here is the adapters beside the frozen weight
                k = sum(step.params[x].numel() for x in adapters)
                nodes[n.id] += f" (LoRA r={rank}: {len(adapters) // 2} adapter pair(s) A·B, {fmt.count(k)} numbers train; W frozen)"
        elif fills.get(n.id) == FROZEN_FILL:
            nodes[n.id] = "frozen in this step: its weights get no update"
        elif fills.get(n.id) == NO_WEIGHT_FILL:
            nodes[n.id] = "no weights of its own: passes the gradient on"
    return {"fills": fills, "strokes": {}, "values": values, "tips": {"edges": etips, "nodes": nodes}, "why": "",
            "overlay": lora_overlay(step, lv)}
