"""Shared by both tracers: turns recorded calls into an OpGraph the same way, whoever recorded them."""

from __future__ import annotations

import hashlib
import math
import os
from collections.abc import Callable
from typing import Any

import networkx as nx

from bertviz_graph.graph import ModuleInfo, OpGraph
from bertviz_graph.tracer.flops import op_flops

# Module attributes worth keeping (plain numbers) for labels like "Linear 768→3072".
_MODULE_ATTRS = (
    "in_features", "out_features", "num_embeddings", "embedding_dim", "normalized_shape", "eps", "p",
    "num_attention_heads", "attention_head_size", "all_head_size", "n_heads", "dim", "padding_idx",
    "nf", "nx",  # GPT-2's Conv1D: a Linear whose weight is stored [in, out]
)


def short_op(target: Any) -> str:
    """'aten.linear.default' -> 'linear'; built-ins keep their name."""
    name = getattr(target, "__name__", None) or str(target)
    text = str(target)
    if text.startswith("aten."):
        return text.split(".")[1]
    return name.split(".")[0]


def module_attrs(module: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in _MODULE_ATTRS:
        v = getattr(module, key, None)
        if isinstance(v, (int, float, str)) and not isinstance(v, bool):
            out[key] = v
        elif isinstance(v, tuple) and all(isinstance(x, int) for x in v):
            out[key] = list(v)
    return out


def user_frame(stack_trace: str | None) -> tuple[str, str]:
    """The innermost frame of the model's own code (not torch's): ('modeling_bert.py:84', code line)."""
    if not stack_trace:
        return "", ""
    lines = stack_trace.strip().splitlines()
    best = ("", "")
    for i, line in enumerate(lines):
        line = line.strip()
        if not line.startswith('File "'):
            continue
        path = line[6:line.index('"', 6)]
        if f"{os.sep}torch{os.sep}" in path or f"{os.sep}bertviz_graph{os.sep}" in path:
            continue
        try:
            lineno = line.split(", line ")[1].split(",")[0]
        except IndexError:
            continue
        code = lines[i + 1].strip() if i + 1 < len(lines) else ""
        best = (f"{os.path.basename(path)}:{lineno}", code)
    return best


def encode_arg(value: Any, slot_of: Callable[[Any], int | None]) -> Any:
    """An op argument as plain, JSON-safe data: a tensor becomes ``{"$": k}`` (k = the ``index`` of its
    edge into the op), scalars stay themselves (non-finite floats as strings), dtypes and devices become
    tagged strings. Recorded so that two ops with a different eps, GELU approximation or scale factor are
    told apart (series folding compares them)."""
    slot = slot_of(value)
    if slot is not None or _is_tensor_like(value):
        return {"$": slot}
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else {"float": str(value)}
    if isinstance(value, (list, tuple)):
        return [encode_arg(v, slot_of) for v in value]
    if isinstance(value, dict):
        return {str(k): encode_arg(v, slot_of) for k, v in value.items()}
    kind = type(value).__name__
    if kind in ("SymInt", "SymFloat", "SymBool"):
        return {"sym": str(value)}
    if kind in ("dtype", "device", "layout", "memory_format"):
        return {kind: str(value).replace("torch.", "")}
    return {"repr": kind}


def _is_tensor_like(value: Any) -> bool:
    return type(value).__name__ in ("Tensor", "Parameter", "Node", "FakeTensor", "FunctionalTensor")


def tensor_digest(t: Any, limit: int = 1 << 16) -> str | None:
    """A short hash of a small buffer's values (None on the meta device or for big tensors), so that two
    blocks holding different constants do not pass for identical."""
    try:
        if t is None or t.device.type == "meta" or t.numel() > limit:
            return None
        return hashlib.sha1(t.detach().contiguous().cpu().numpy().tobytes()).hexdigest()[:16]
    except (RuntimeError, TypeError, AttributeError):  # odd dtypes numpy cannot take
        return None


class GraphBuilder:
    """Accumulates nodes, edges and module instances; ``finish()`` returns the OpGraph."""

    def __init__(self, model: Any, meta: dict[str, Any]):
        self.g = nx.DiGraph()
        self.modules: dict[str, ModuleInfo] = {}
        self.meta = meta
        self.model = model
        self._order = 0
        # Tied parameters: every name maps to all names of its tensor; the first one is canonical.
        by_tensor: dict[int, list[str]] = {}
        if model is not None:
            for name, p in model.named_parameters(remove_duplicate=False):
                by_tensor.setdefault(id(p), []).append(name)
        self.names_of: dict[str, list[str]] = {n: names for names in by_tensor.values() for n in names}

    def add_module(self, instance: str, cls_qualname: str, parent: str | None = None) -> None:
        if instance in self.modules:
            return
        path = instance.split("@")[0]
        attrs: dict[str, Any] = {}
        if self.model is not None:
            try:
                attrs = module_attrs(self.model.get_submodule(path))
            except AttributeError:
                attrs = {}
        cls = cls_qualname.rsplit(".", 1)[-1]
        self.modules[instance] = ModuleInfo(path=instance, cls=cls, qualname=cls_qualname, attrs=attrs,
                                            parent=parent)

    def add_param(self, name: str, shape: list[int], dtype: str, kind: str = "param",
                  digest: str | None = None) -> str:
        names = self.names_of.get(name, [name])
        canon = names[0]
        node_id = f"{kind}:{canon}"
        if node_id not in self.g:
            tied = names[1:]
            owner = canon.rsplit(".", 1)[0] if "." in canon else ""
            numel = 1
            for s in shape:
                numel *= s
            self.g.add_node(node_id, kind=kind, name=canon, module=owner, shape=shape, dtype=dtype,
                            numel=numel, tied=tied, order=self._next())
            if digest is not None:
                self.g.nodes[node_id]["digest"] = digest
        return node_id

    def add_input(self, name: str, shape: list[int] | None, dtype: str) -> str:
        node_id = f"input:{name}"
        self.g.add_node(node_id, kind="input", name=name, module="", shape=shape, dtype=dtype,
                        order=self._next())
        return node_id

    def add_output(self, index: int, src: str, shape: list[int] | None, dtype: str) -> str:
        node_id = f"output:{index}"
        self.g.add_node(node_id, kind="output", name=f"output {index}", module="", shape=shape, dtype=dtype,
                        order=self._next())
        self.g.add_edge(src, node_id, shape=shape, dtype=dtype, index=0)
        return node_id

    def add_op(self, node_id: str, target: Any, module: str, inputs: list[tuple[str, list[int] | None, str]],
               shape: list[int] | None, dtype: str, stack_trace: str | None, args: list | None = None,
               kwargs: dict | None = None) -> str:
        op = short_op(target)
        params = [self.g.nodes[src]["name"] for src, _, _ in inputs
                  if src in self.g and self.g.nodes[src]["kind"] == "param"]
        source, code = user_frame(stack_trace)
        self.g.add_node(node_id, kind="op", name=node_id, op=op, target=str(target), module=module,
                        shape=shape, dtype=dtype, params=params,
                        flops=op_flops(op, [s for _, s, _ in inputs], shape),
                        source=source, code=code, order=self._next())
        if args is not None:
            self.g.nodes[node_id]["args"] = args
            self.g.nodes[node_id]["kwargs"] = kwargs or {}
        for index, (src, s, dt) in enumerate(inputs):
            if self.g.has_edge(src, node_id):  # same tensor twice (x * x): one edge, remember both slots
                continue
            self.g.add_edge(src, node_id, shape=s, dtype=dt, index=index)
        return node_id

    def _next(self) -> int:
        self._order += 1
        return self._order

    def finish(self) -> OpGraph:
        # Modules that own parameters but ran no op of their own still belong in the tree.
        for _, d in list(self.g.nodes(data=True)):
            if d["kind"] in ("param", "buffer") and d["module"] and d["module"] not in self.modules:
                self._add_static_module(d["module"])
        # Op ids are the tracer's names ("dropout"); a top-level module can have the very same name (the
        # classifier's `dropout`). Groups and nodes share one id space, so such ops are renamed.
        clash = {n: f"{n}_op" for n, d in self.g.nodes(data=True) if d["kind"] == "op" and n in self.modules}
        if clash:
            nx.relabel_nodes(self.g, clash, copy=False)
            for new in clash.values():
                self.g.nodes[new]["name"] = new
        return OpGraph(g=self.g, modules=self.modules, meta=self.meta)

    def _add_static_module(self, path: str) -> None:
        parent = path.rsplit(".", 1)[0] if "." in path else ""
        if parent not in self.modules:
            self._add_static_module(parent) if parent else self.add_module("", "Module")
        try:
            mod = self.model.get_submodule(path) if self.model is not None else None
        except AttributeError:
            mod = None
        qual = f"{type(mod).__module__}.{type(mod).__qualname__}" if mod is not None else "Module"
        self.add_module(path, qual, parent)
