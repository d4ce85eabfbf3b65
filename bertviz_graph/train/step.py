"""One training step: real autograd through the real model, every parameter's gradient and every op's ∂L/∂output.

How: the model's exported program (``run.capture``: the same ATen calls on the model's own parameter tensors,
matched to the graph's node ids) is run with gradients on, each op's output kept by graph id; the objective's
loss is formed from the program's outputs and ``torch.autograd.grad`` returns, in one backward pass, the
gradient of every trainable parameter and of every kept op output. Nothing is written into ``.grad`` and no
weight changes: the shown model is read, never modified. LoRA (peft) and dropout run the plain model instead
(on a copy), giving parameter gradients only. Tests compare all of it with autograd on the plain model.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bertviz_graph.errors import UserError
from bertviz_graph.train.edge import edge_rule
from bertviz_graph.train.objectives import Objective, build, forward
from bertviz_graph.train.trainable import Counts, counts, lora_model, parse, select
from bertviz_graph.train.update import delta, relative_updates

DEFAULT_BUDGET_MB = 256  # for the kept ∂L/∂output tensors, like the forward capture's budget


@dataclass
class Step:
    """What one step computed. ``grad(name)`` is ∂L/∂parameter (numpy, the parameter's shape)."""

    loss: float
    objective: str
    describe: str
    trainable: list[str]
    frozen: list[str]
    counts: Counts
    lr: float
    trained: bool  # False: random weights, the step shows no learned structure
    model_name: str
    tokens: list[list[str]]  # per input
    grads: dict[str, Any]  # parameter name -> torch tensor (float32)
    params: dict[str, Any]  # parameter name -> the (unchanged) parameter tensor
    act_grads: list[dict[str, Any]] = field(default_factory=list)  # per input: graph id -> ∂L/∂output
    acts: list[dict[str, Any]] = field(default_factory=list)  # per input: graph id -> output (detached)
    notes: list[str] = field(default_factory=list)
    dropout: bool = False
    how: str = "program"  # "program" (op gradients too) or "plain model" (parameter gradients only)
    seconds: float = 0.0
    grad_bytes: int = 0
    graph: Any = None
    model: Any = None  # the module whose parameters these are (a LoRA copy for lora:R)

    def __repr__(self) -> str:
        return (f"Step({self.objective}: loss {self.loss:.6g}, {self.counts.sentence()}, "
                f"{sum(map(len, self.act_grads))} op gradients)")

    def grad(self, name: str) -> np.ndarray:
        if name in self.grads:
            return self.grads[name].detach().numpy()
        if name in self.params:
            raise UserError(f"{name} is frozen in this step: it gets no gradient", "train it (--trainable all)")
        raise UserError(f"no parameter named {name!r}", "use a name from model.named_parameters()")

    def activation_grad(self, node_id: str, input: int = 0) -> np.ndarray:
        """∂L/∂(the op's output), [tokens × features] after the batch dim, for input ``input``."""
        if not self.act_grads:
            raise UserError("this step has no op gradients (" + self.how + ")", "run it without LoRA or dropout")
        g = self.act_grads[input].get(node_id)
        if g is None:
            raise UserError(f"no gradient reaches {node_id!r}", "pick an op on the path to the loss")
        return g.float().numpy()

    def norms(self) -> dict[str, tuple[float, float]]:
        """parameter -> (‖∂L/∂W‖, ‖W‖)."""
        return {n: (float(g.norm()), float(self.params[n].detach().float().norm())) for n, g in self.grads.items()}

    def update(self, name: str, optimizer: str = "sgd", weight_decay: float = 0.0) -> np.ndarray:
        """ΔW of this parameter for one step of ``optimizer`` (torch's own SGD / AdamW on a copy)."""

        return delta(self.params[name], self.grads[name], self.lr, optimizer, weight_decay).numpy()

    def relative_updates(self, optimizer: str = "sgd") -> dict[str, float]:

        return relative_updates(self, optimizer)

    def edge(self, module: str, out_index: int, in_index: int, optimizer: str = "sgd"):

        return edge_rule(self, module, out_index, in_index, optimizer)


def train_step(graph: Any, run: Any, text: str, pair: str | None = None, objective: str | None = None,
               target: float | None = None, label: int | None = None, mask: str | None = None, lr: float = 1e-3,
               trainable: str | None = "all", dropout: bool = False, capture_ops: bool = True,
               budget_mb: float | None = DEFAULT_BUDGET_MB) -> Step:
    """One step of ``objective`` on ``run.model`` (see the module docstring); the model is not changed."""
    import torch

    t0 = time.perf_counter()
    if not lr > 0:
        raise UserError(f"learning rate {lr:g} must be > 0", "pass e.g. --lr 1e-3")
    obj = build(run, text, pair, objective, target, label, mask)
    kind, rank = parse(trainable)
    model = run.model
    notes = list(run.notes)
    if not run.trained:
        notes.append("random weights (a structure-only preset): the step runs, but shows no learned structure")
    if kind == "lora":
        model = lora_model(run.model, rank)
        names = [n for n, p in model.named_parameters() if p.requires_grad] + list(obj.extra)
    else:
        names = select(model, trainable, obj.extra)
    params = dict(model.named_parameters())
    params.update(obj.extra)
    frozen = [n for n in params if n not in set(names)]
    cnt = counts(model, names, obj.extra)
    use_program = capture_ops and kind != "lora" and not dropout and graph is not None
    if dropout:
        import copy

        model = copy.deepcopy(model).train()  # a copy: the shown model stays in eval mode
        params = {**dict(model.named_parameters()), **obj.extra}
        notes.append("dropout ON: this step is random (rerun gives other numbers)")
    step = Step(loss=0.0, objective=obj.name, describe=obj.describe, trainable=names, frozen=frozen, counts=cnt,
                lr=float(lr), trained=run.trained, model_name=run.name, tokens=[list(t.tokens) for t in obj.inputs],
                grads={}, params=params, notes=notes, dropout=dropout, graph=graph, model=model)
    wanted = [params[n] for n in names]
    with torch.enable_grad():
        if use_program:
            outs, kept = _program_forward(graph, run, obj)
            ids = [(i, gid) for i, k in enumerate(kept) for gid, v in k.items() if v.requires_grad]
            loss = obj.loss(outs)
            got = torch.autograd.grad(loss, wanted + [kept[i][gid] for i, gid in ids], allow_unused=True)
            pg, ag = got[:len(wanted)], got[len(wanted):]
            step.act_grads, step.grad_bytes = _keep_grads(ids, ag, len(obj.inputs), budget_mb, step.notes)
            step.acts = [{gid: v.detach() for gid, v in k.items()} for k in kept]
            step.how = "program"
        else:
            outs = [forward(model, t) for t in obj.inputs]
            loss = obj.loss(outs)
            pg = torch.autograd.grad(loss, wanted, allow_unused=True)
            step.how = "plain model"
            step.notes.append("gradients of parameters only (LoRA / dropout run the plain model, no op gradients)")
    step.loss = float(loss.detach())
    step.grads = {n: (g.detach() if g is not None else torch.zeros_like(params[n])).float()
                  for n, g in zip(names, pg)}
    step.seconds = time.perf_counter() - t0
    return step


def _program_forward(graph: Any, run: Any, obj: Objective) -> tuple[list[Any], list[dict[str, Any]]]:
    """Each input through the exported program with gradients on; every op output kept by graph id."""
    from bertviz_graph.run.capture import program_args, program_for  # lazy: start-up (networkx)

    outs, kept = [], []
    for toks in obj.inputs:
        prog = program_for(graph, run, len(toks))
        values: dict[str, Any] = {}
        outs.append(_interpreter(prog, values).run(*program_args(prog, run, toks)))
        kept.append(values)
    return outs, kept


def _interpreter(prog: Any, values: dict[str, Any]) -> Any:
    """An FX interpreter of ``prog`` that puts each op's floating output (not detached) in ``values``."""
    import torch
    from torch.fx import Interpreter

    class _Interp(Interpreter):
        def run_node(self, n):
            val = super().run_node(n)
            gid = prog.to_graph.get(n.name)
            if gid is not None and not gid.startswith(("param:", "buffer:", "input:")):
                v = next((x for x in val if isinstance(x, torch.Tensor)), None) \
                    if isinstance(val, (tuple, list)) else val
                if isinstance(v, torch.Tensor) and v.is_floating_point():
                    values[gid] = v
            return val

    return _Interp(prog.gm, garbage_collect_values=True)


def _keep_grads(ids: list[tuple[int, str]], grads: Any, n_inputs: int, budget_mb: float | None,
                notes: list[str]) -> tuple[list[dict[str, Any]], int]:
    """Op gradients per input: float32 up to half the budget, float16 up to the budget, the rest dropped."""
    import torch

    budget = None if budget_mb is None else int(budget_mb * 2**20)
    out: list[dict[str, Any]] = [{} for _ in range(n_inputs)]
    used, halved, dropped = 0, 0, 0
    for (i, gid), g in zip(ids, grads):
        if g is None:
            continue
        g = g.detach()
        nbytes = g.numel() * 4
        if budget is None or used + nbytes <= budget // 2:
            out[i][gid] = g
            used += nbytes
        elif used + nbytes // 2 <= budget:
            out[i][gid] = g.to(torch.float16)
            used += nbytes // 2
            halved += 1
        else:
            dropped += 1
    if halved or dropped:
        notes.append(f"gradient budget {budget_mb:g} MB: {halved} op gradients kept in float16, {dropped} not kept")
    return out, used
