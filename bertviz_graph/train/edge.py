"""The textbook rule on one edge of a Linear y = W·x + b: ∂L/∂w_ji = Σ_t x_t,i · δ_t,j, with the numbers.

x_t,i is the Linear's input (forward capture) and δ_t,j = ∂L/∂y_t,j its output's gradient (the backward pass),
one term per token of every input of the step; the sum is checked against the parameter's autograd gradient.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from bertviz_graph.errors import UserError
from bertviz_graph.train.update import delta


@dataclass
class EdgeRule:
    module: str
    out_index: int
    in_index: int
    weight: float  # w_ji
    tokens: list[str]  # one label per term
    x: np.ndarray  # x_t,i
    delta: np.ndarray  # δ_t,j
    terms: np.ndarray  # x_t,i · δ_t,j
    total: float  # Σ terms
    autograd: float  # the parameter's gradient entry from autograd
    update: float  # Δw_ji of one (first) step of ``optimizer`` with the step's lr
    optimizer: str = "sgd"
    lr: float = 0.0

    def lines(self) -> list[str]:
        out = [f"{self.module}: w[{self.out_index},{self.in_index}] = {self.weight:+.6g}",
               f"∂L/∂w = Σ_t x_t,{self.in_index} · δ_t,{self.out_index}"]
        out += [f"  {t:>12}: {x:+.5g} × {d:+.5g} = {p:+.5g}"
                for t, x, d, p in zip(self.tokens, self.x, self.delta, self.terms)]
        out += [f"  sum = {self.total:+.7g}   (autograd: {self.autograd:+.7g})",
                self.update_line()]
        return out

    def update_line(self) -> str:
        """Δw for the chosen optimizer, named (AdamW's first step: m̂ = g, v̂ = g², so −lr·g/(|g|+ε))."""
        if self.optimizer == "adamw":
            return f"Δw (AdamW, first step, lr {self.lr:g}) = −lr · g/(|g| + ε) = {self.update:+.5g}"
        return f"Δw (SGD, lr {self.lr:g}) = −lr · ∂L/∂w = {self.update:+.5g}"


def linear_ops_of(graph: Any, module: str) -> tuple[str, str]:
    """(the product op, its input op) of the Linear ``module``: the op of that module reading its weight
    directly or through an op that only re-views it (``t``/``permute`` at the primitive op level)."""
    g = graph.g
    weight = f"param:{module}.weight"

    def weight_view(p: str) -> bool:  # the weight itself, or an op whose only inputs are that weight
        if p == weight:
            return True
        srcs = list(g.predecessors(p))
        return g.nodes[p]["kind"] == "op" and srcs == [weight]

    for n, d in g.nodes(data=True):
        if d["kind"] != "op" or d.get("module") != module:
            continue
        preds = list(g.predecessors(n))
        if not any(weight_view(p) for p in preds):
            continue
        ins = [p for p in preds if not weight_view(p) and g.nodes[p]["kind"] not in ("param", "buffer")]
        if ins:
            return n, ins[0]
    raise UserError(f"no Linear {module!r} in the graph", "pick a Linear module, e.g. encoder.layer.0.attention.self.query")


def edge_rule(step: Any, module: str, out_index: int, in_index: int, optimizer: str = "sgd") -> EdgeRule:
    wname = f"{module}.weight"
    if wname not in step.params:
        raise UserError(f"{module!r} has no weight", "pick a Linear module")
    w = step.params[wname]
    if not (0 <= out_index < w.shape[0] and 0 <= in_index < w.shape[1]):
        raise UserError(f"edge {in_index}→{out_index} is outside {module}'s {w.shape[1]}→{w.shape[0]}",
                        f"pick in 0..{w.shape[1] - 1}, out 0..{w.shape[0] - 1}")
    if wname not in step.grads:
        raise UserError(f"{wname} is frozen in this step", "train it to see its gradient")
    if not step.act_grads:
        raise UserError("this step has no op gradients (" + step.how + ")", "run it without LoRA or dropout")
    op, src = linear_ops_of(step.graph, module)
    xs, ds, labels = [], [], []
    for i, (acts, grads) in enumerate(zip(step.acts, step.act_grads)):
        if op not in grads:
            continue
        x = acts[src].float().reshape(-1, w.shape[1])[:, in_index]
        d = grads[op].float().reshape(-1, w.shape[0])[:, out_index]
        xs.append(x.numpy())
        ds.append(d.numpy())
        pre = f"{'ab'[i]}:" if len(step.acts) > 1 else ""
        labels += [pre + t for t in step.tokens[i]][: len(x)]
    x, d = np.concatenate(xs).astype(np.float64), np.concatenate(ds).astype(np.float64)
    terms = x * d
    total = float(terms.sum())
    # the optimizer is elementwise (no weight decay here): one entry's first step is the tensor's step there
    g = step.grads[wname][out_index, in_index]
    upd = float(delta(w.detach()[out_index, in_index], g, step.lr, optimizer))
    return EdgeRule(module, out_index, in_index, float(w.detach()[out_index, in_index]), labels, x, d, terms, total,
                    float(g), upd, optimizer, step.lr)
