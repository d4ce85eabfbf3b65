"""Which parameters a training step updates: a ``trainable`` spec -> the names of the tensors that train.

Specs: ``all``; ``last:N`` (the last N layers of the stack); ``bias`` (BitFit: every bias); ``layernorm``;
``head`` (what the task head adds on top of the base model, or the fresh classifier); ``lora:R`` (LoRA of rank R
on the attention's query/key/value projections, through ``peft`` on a copy of the model). Counts are torch's
own: ``named_parameters()`` (shared weights once), so they equal ``sum(p.numel() for p in model.parameters()
if p.requires_grad)`` after freezing.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from bertviz_graph import format as fmt
from bertviz_graph.errors import UserError

SPECS = "all, last:N, bias, layernorm, head, lora:R"


@dataclass(frozen=True)
class Counts:
    """Trainable and total numbers (and tensors), as torch counts them."""

    trainable: int
    trainable_tensors: int
    total: int
    total_tensors: int

    @property
    def share(self) -> float:
        return self.trainable / self.total if self.total else 0.0

    def sentence(self) -> str:
        return (f"{fmt.count(self.trainable)} of {fmt.count(self.total)} numbers train ({fmt.percent(self.share, 2)}), in "
                f"{self.trainable_tensors} of {self.total_tensors} tensors")


def parse(spec: str | None) -> tuple[str, int]:
    """``"last:2"`` -> ("last", 2); ``"lora:8"`` -> ("lora", 8); plain names -> (name, 0)."""
    s = (spec or "all").strip().lower().replace(" ", "")
    kind, _, num = s.partition(":")
    if kind in ("all", "bias", "bitfit", "layernorm", "ln", "head") and not num:
        return {"bitfit": "bias", "ln": "layernorm"}.get(kind, kind), 0
    if kind in ("last", "lora"):
        try:
            n = int(num or (8 if kind == "lora" else 1))
        except ValueError:
            n = -1
        if n < 1:
            raise UserError(f"trainable {spec!r}: {kind} needs a whole number ≥ 1",
                            f"e.g. --trainable {kind}:{8 if kind == 'lora' else 2}")
        return kind, n
    raise UserError(f"unknown trainable set {spec!r}", f"choose one of: {SPECS}")


def layer_list(model: Any) -> tuple[str, int] | None:
    """(path of the layer ModuleList, number of layers) of the model's stack, e.g. ("encoder.layer", 12)."""
    import torch.nn as nn

    best = None
    for name, m in model.named_modules():
        if isinstance(m, nn.ModuleList) and len(m) > 1 and all(type(x) is type(m[0]) for x in m):
            if best is None or len(m) > best[1]:
                best = (name, len(m))
    return best


def _base_prefix(model: Any) -> str:
    prefix = getattr(model, "base_model_prefix", "")
    return prefix if prefix and hasattr(model, prefix) and getattr(model, prefix) is not model else ""


def select(model: Any, spec: str | None, extra: dict[str, Any] | None = None) -> list[str]:
    """Names (as in ``model.named_parameters()``, plus ``extra`` such as a fresh head) that train under ``spec``."""
    import torch.nn as nn

    kind, n = parse(spec)
    names = [name for name, _ in model.named_parameters()]
    extra_names = list(extra or {})
    if kind == "all":
        out = names + extra_names
    elif kind == "bias":
        out = [x for x in names + extra_names if x.rsplit(".", 1)[-1] == "bias"]
    elif kind == "layernorm":
        lns = {name for name, m in model.named_modules() if isinstance(m, nn.LayerNorm)}
        out = [x for x in names if x.rsplit(".", 1)[0] in lns]
    elif kind == "head":
        prefix = _base_prefix(model)
        out = ([x for x in names if not x.startswith(prefix + ".")] if prefix else []) + extra_names
    elif kind == "last":
        stack = layer_list(model)
        if stack is None:
            raise UserError("this model has no stack of layers to pick the last ones from",
                            f"choose another trainable set: {SPECS}")
        path, total = stack
        keep = {f"{path}.{i}." for i in range(max(0, total - n), total)}
        out = [x for x in names if any(x.startswith(k) for k in keep)]
    else:  # lora: the adapters are chosen by peft on its own copy (lora_model)
        out = []
    if not out and kind != "lora":
        raise UserError(f"trainable {spec!r} selects no parameter of this model",
                        f"choose another trainable set ({SPECS}); 'head' needs a task head or --objective classify")
    return out


def lora_targets(model: Any) -> list[str]:
    """Full names of the attention's query/key/value Linears (what LoRA adapts)."""
    import torch.nn as nn

    out = []
    for name, m in model.named_modules():
        leaf = name.rsplit(".", 1)[-1]
        if isinstance(m, nn.Linear) and ("attention" in name or "attn" in name) and leaf in (
                "query", "key", "value", "q_lin", "k_lin", "v_lin", "q_proj", "k_proj", "v_proj"):
            out.append(name)
    return out


def lora_model(model: Any, rank: int) -> Any:
    """A peft LoRA model of rank ``rank`` over a COPY of ``model`` (the shown model is never changed)."""
    from peft import LoraConfig, get_peft_model

    targets = lora_targets(model)
    if not targets:
        raise UserError("no attention query/key/value Linears found for LoRA", f"choose another trainable set: {SPECS}")
    cfg = LoraConfig(r=rank, lora_alpha=rank, lora_dropout=0.0, target_modules=targets, bias="none")
    return get_peft_model(copy.deepcopy(model), cfg)


def counts(model: Any, trainable: list[str] | set[str], extra: dict[str, Any] | None = None) -> Counts:
    """Numbers and tensors that train (``trainable``) and in all, counted over ``named_parameters()``."""
    params = dict(model.named_parameters())
    params.update(extra or {})
    chosen = set(trainable)
    t = [p for name, p in params.items() if name in chosen]
    return Counts(trainable=sum(p.numel() for p in t), trainable_tensors=len(t),
                  total=sum(p.numel() for p in params.values()), total_tensors=len(params))
