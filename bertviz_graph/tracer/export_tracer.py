"""The main tracer: ``torch.export`` (non-strict) gives one ATen op per node with shapes and module stacks."""

from __future__ import annotations

import contextlib
import io
import operator
from typing import Any

from bertviz_graph.graph import OpGraph
from bertviz_graph.tracer.builder import GraphBuilder, encode_arg, tensor_digest


def _shape_dtype(val: Any) -> tuple[list[int] | None, str]:
    if isinstance(val, (list, tuple)):
        val = next((v for v in val if hasattr(v, "shape")), None)
    if val is None or not hasattr(val, "shape"):
        return None, ""
    try:
        shape = [int(s) for s in val.shape]
    except TypeError:  # symbolic sizes
        shape = [int(s) if str(s).isdigit() else -1 for s in val.shape]
    return shape, str(val.dtype).replace("torch.", "")


def primitive_decompositions() -> dict:
    """Core ATen plus LayerNorm, GELU and softmax broken into elementary math, like a TensorFlow graph."""
    import torch
    from torch._decomp import get_decompositions

    table = torch.export.default_decompositions()
    aten = torch.ops.aten
    table.update(get_decompositions([aten.native_layer_norm, aten.gelu, aten._softmax, aten.addmm]))
    return table


def instance_of(key: str, path: str) -> str:
    """nn_module_stack key 'L__self__encoder.layer.0@2' -> instance path 'encoder.layer.0@2'."""
    if "@" in key:
        suffix = key.rsplit("@", 1)[1]
        if suffix.isdigit():
            return f"{path}@{suffix}"
    return path


def export_trace(model: Any, args: tuple, kwargs: dict, meta: dict[str, Any], ops_level: str = "aten") -> OpGraph:
    import torch

    # On a data-dependent failure torch prints the whole traced program; the caller reports one line.
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        ep = torch.export.export(model, args, kwargs=kwargs or None, strict=False)
    if ops_level == "primitive":
        ep = ep.run_decompositions(primitive_decompositions())
    sig = ep.graph_signature
    state = {**ep.state_dict, **getattr(ep, "constants", {})}
    b = GraphBuilder(model, meta)
    ids: dict[str, str] = {}  # fx node name -> OpGraph node id
    shapes: dict[str, tuple[list[int] | None, str]] = {}
    alias: dict[str, str] = {}  # getitem node -> producer

    for n in ep.graph.nodes:
        shape, dtype = _shape_dtype(n.meta.get("val"))
        shapes[n.name] = (shape, dtype)
        if n.op == "placeholder":
            if n.name in sig.inputs_to_parameters:
                ids[n.name] = b.add_param(sig.inputs_to_parameters[n.name], shape or [], dtype)
            elif n.name in sig.inputs_to_buffers:
                name = sig.inputs_to_buffers[n.name]
                ids[n.name] = b.add_param(name, shape or [], dtype, kind="buffer",
                                          digest=tensor_digest(state.get(name)))
            elif n.name in getattr(sig, "inputs_to_lifted_tensor_constants", {}):
                name = sig.inputs_to_lifted_tensor_constants[n.name]
                ids[n.name] = b.add_param(name, shape or [], dtype, kind="buffer",
                                          digest=tensor_digest(state.get(name)))
            else:
                ids[n.name] = b.add_input(n.name, shape, dtype)
        elif n.op == "call_function":
            if n.target is operator.getitem:
                alias[n.name] = ids[n.args[0].name]
                ids[n.name] = alias[n.name]
                continue
            stack = n.meta.get("nn_module_stack") or {}
            module = None
            for key, (path, cls) in stack.items():
                inst = instance_of(key, path)
                b.add_module(inst, cls if isinstance(cls, str) else f"{cls.__module__}.{cls.__qualname__}",
                             module)
                module = inst
            if module is None:
                b.add_module("", f"{type(model).__module__}.{type(model).__qualname__}")
                module = ""
            if shape is None and not n.users:
                continue  # assertions and other side-effect-only calls carry no tensor
            known = [a for a in n.all_input_nodes if a.name in ids]
            inputs = [(ids[a.name], *shapes[a.name]) for a in known]
            slots = {a.name: i for i, a in enumerate(known)}

            def slot_of(x: Any, slots: dict = slots) -> int | None:
                return slots.get(x.name) if hasattr(x, "name") and hasattr(x, "op") else None

            ids[n.name] = b.add_op(n.name, n.target, module, inputs, shape, dtype, n.meta.get("stack_trace"),
                                   args=encode_arg(list(n.args), slot_of), kwargs=encode_arg(dict(n.kwargs), slot_of))
        elif n.op == "output":
            outs = n.args[0] if isinstance(n.args[0], (list, tuple)) else [n.args[0]]
            for i, a in enumerate(outs):
                if hasattr(a, "name") and a.name in ids:
                    b.add_output(i, ids[a.name], *shapes[a.name])
    return b.finish()
