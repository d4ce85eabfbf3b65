"""The update a step makes, by torch's own optimizers on copies (the shown weights never move), and N steps
on a copy of the model that can be saved as a ``save_pretrained`` folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bertviz_graph.errors import UserError
from bertviz_graph.io import write_folder_atomic
from bertviz_graph.train.objectives import build, forward
from bertviz_graph.train.trainable import lora_model, parse, select

OPTIMIZERS = ("sgd", "adamw")


def _optimizer(name: str, params: list[Any], lr: float, weight_decay: float):
    import torch

    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, weight_decay=weight_decay)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    raise UserError(f"unknown optimizer {name!r}", f"choose one of: {', '.join(OPTIMIZERS)}")


def delta(param: Any, grad: Any, lr: float, optimizer: str = "sgd", weight_decay: float = 0.0):
    """ΔW of one (first) step of ``optimizer`` with gradient ``grad``, computed on a copy of ``param``."""
    import torch

    # float64: ΔW is ~1e-4 of W, and (W + ΔW) − W in float32 would keep only ~3 digits of it
    w = torch.nn.Parameter(param.detach().double().clone())
    w.grad = grad.detach().double().clone()
    opt = _optimizer(optimizer, [w], lr, weight_decay)
    before = w.detach().clone()
    opt.step()
    return (w.detach() - before).float()


def update_norms(step: Any, optimizer: str = "sgd") -> dict[str, float]:
    """parameter -> ‖ΔW‖ for one step of ``optimizer`` (AdamW: its first step)."""
    return {name: float(delta(step.params[name], g, step.lr, optimizer).norm()) for name, g in step.grads.items()}


def relative_updates(step: Any, optimizer: str = "sgd") -> dict[str, float]:
    """parameter -> ‖ΔW‖ / ‖W‖ (a zero-initialised tensor such as LoRA's B: 0 here; its ‖ΔW‖ counts in groups)."""
    out = {}
    for name, d in update_norms(step, optimizer).items():
        w = float(step.params[name].detach().float().norm())
        out[name] = d / w if w > 0 else 0.0
    return out


def train_steps(run: Any, examples: list[dict[str, Any]], steps: int, lr: float, trainable: str = "all",
                optimizer: str = "adamw", objective: str | None = None, progress: Any = None) -> tuple[Any, list[float]]:
    """``steps`` optimizer steps over ``examples`` (cycled) on a COPY of the model; (trained copy, losses).

    Each example is a dict of ``build`` keyword arguments (text, pair, target, label, mask)."""
    import copy

    import torch


    if steps < 1:
        raise UserError(f"--steps {steps} must be ≥ 1", "pass e.g. --steps 5")
    if not lr > 0:
        raise UserError(f"learning rate {lr:g} must be > 0", "pass e.g. --lr 1e-4")
    if not examples:
        raise UserError("no training examples", "give --text (and --pair) or a --data file")
    kind, rank = parse(trainable)
    objs = [build(run, objective=objective, **ex) for ex in examples]
    model = lora_model(run.model, rank) if kind == "lora" else copy.deepcopy(run.model)
    model.eval()  # dropout off: deterministic steps
    names = set(select(model, trainable) if kind != "lora" else
                [n for n, p in model.named_parameters() if p.requires_grad])
    for n, p in model.named_parameters():
        p.requires_grad_(n in names)
    extras = [p for o in objs for p in o.extra.values()]
    opt = _optimizer(optimizer, [p for p in model.parameters() if p.requires_grad] + extras, lr, 0.0)
    losses = []
    for k in range(steps):
        obj = objs[k % len(objs)]
        opt.zero_grad()
        with torch.enable_grad():
            loss = obj.loss([forward(model, t) for t in obj.inputs])
            loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
        if progress is not None:
            progress(k + 1, steps, losses[-1])
    if kind == "lora":
        model = model.merge_and_unload()  # a plain model again: every command reads the saved folder
    for p in model.parameters():
        p.requires_grad_(True)
    return model, losses


def save_trained(model: Any, out: Any, run: Any, force: bool = False):
    """Write the trained copy as a ``save_pretrained`` folder, atomically, with the source's tokenizer files."""
    from bertviz_graph.pruning.save import check_output_folder  # lazy: start-up (numpy, torch)

    out = check_output_folder(out, force)
    def fill(tmp: Path) -> None:
        model.save_pretrained(tmp, safe_serialization=True)
        if run.tokenizer is not None:
            run.tokenizer.save_pretrained(tmp)

    return write_folder_atomic(out, fill)
