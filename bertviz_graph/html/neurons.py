"""The neuron view of every Linear for the file's sentence: what ``w.fired(lin, token)`` draws in the widget
(``presenters.activations.neuron_view``: the strongest inputs, outputs and contributions w·x), for every
Linear and token, as plain numbers the page draws (js/src/neurons_offline.js)."""

from __future__ import annotations

from typing import Any

from bertviz_graph.errors import UserError
from bertviz_graph.presenters.activations import linear_module, neuron_view

SIG = 5  # significant digits kept (the page shows 4 on hover)


def _r(v: float) -> float:
    return float(f"{v:.{SIG}g}")


def neuron_payload(graph: Any, session: Any, acts: Any) -> dict[str, Any] | None:
    """{"tokens": [...], "linears": {module: [per token: {"ins", "outs", "x", "y", "edges", "caption"}]}};
    None for a graph without a PyTorch model to read weights from (an ONNX file)."""
    if graph.meta.get("origin") == "onnx":
        return None
    h = graph.hierarchy
    model = session.runnable.model
    out: dict[str, Any] = {}
    for gid in h.groups:
        lin = linear_module(graph, h, gid)
        if lin is None or lin != gid:
            continue
        try:
            mod = model.get_submodule(lin)
            w = mod.weight.detach().float().numpy()
            b = None if mod.bias is None else mod.bias.detach().float().numpy()
            per = []
            for t in range(len(acts.tokens)):
                try:
                    nv = neuron_view(graph, acts, w, b, lin, t)
                except IndexError:
                    if not per:
                        raise
                    break  # one row per token, or fewer: the pooler reads [CLS] only
                per.append({"ins": nv.inputs, "outs": nv.outputs, "x": [_r(nv.x[j]) for j in nv.inputs],
                            "y": [_r(nv.y[i]) for i in nv.outputs],
                            "edges": [[j, i, _r(c)] for j, i, c in nv.edges], "caption": nv.caption})
        except (UserError, AttributeError, KeyError, IndexError):
            continue  # a Linear this run cannot read (no input recorded): the panel says none is stored
        out[lin] = per
    return {"tokens": list(acts.labels), "linears": out} if out else None
