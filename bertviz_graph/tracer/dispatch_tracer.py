"""Fallback tracer for models torch.export rejects (e.g. data-dependent Python control flow).

It runs the model once for real, records every ATen call that reaches the dispatcher
(``TorchDispatchMode``) and knows which module made it from global module hooks. It yields the same
OpGraph as the export tracer, for the path the given inputs actually took.
"""

from __future__ import annotations

import traceback
from typing import Any

from bertviz_graph.graph import OpGraph
from bertviz_graph.tracer.builder import GraphBuilder, encode_arg, tensor_digest


def dispatch_trace(model: Any, args: tuple, kwargs: dict, meta: dict[str, Any]) -> OpGraph:
    import torch
    from torch.utils._python_dispatch import TorchDispatchMode
    from torch.utils._pytree import tree_flatten

    b = GraphBuilder(model, meta)
    names = {id(m): n for n, m in model.named_modules()}
    stack: list[str] = []
    calls: dict[str, int] = {}
    producers: dict[int, tuple[str, Any]] = {}  # id(tensor) -> (node id, tensor kept alive)

    for name, p in model.named_parameters():
        producers[id(p)] = (b.add_param(name, list(p.shape), str(p.dtype).replace("torch.", "")), p)
    for name, buf in model.named_buffers():
        producers[id(buf)] = (b.add_param(name, list(buf.shape), str(buf.dtype).replace("torch.", ""),
                                          kind="buffer", digest=tensor_digest(buf)), buf)
    flat_in, _ = tree_flatten((args, kwargs))
    for i, t in enumerate(flat_in):
        if isinstance(t, torch.Tensor):
            producers[id(t)] = (b.add_input(f"input_{i}", list(t.shape), str(t.dtype).replace("torch.", "")), t)

    def pre_hook(mod, _inputs):
        path = names.get(id(mod))
        if path is None:
            return
        count = calls.get(path, 0)
        calls[path] = count + 1
        inst = path if count == 0 else f"{path}@{count}"
        b.add_module(inst, f"{type(mod).__module__}.{type(mod).__qualname__}", stack[-1] if stack else None)
        stack.append(inst)

    def post_hook(mod, _inputs, _out):
        if names.get(id(mod)) is not None and stack:
            stack.pop()

    counter: dict[str, int] = {}

    class Recorder(TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            out = func(*args, **(kwargs or {}))
            flat_args, _ = tree_flatten((args, kwargs or {}))
            inputs = []
            for a in flat_args:
                if isinstance(a, torch.Tensor) and id(a) in producers:
                    inputs.append((producers[id(a)][0], list(a.shape), str(a.dtype).replace("torch.", "")))
            flat_out, _ = tree_flatten(out)
            tensors = [t for t in flat_out if isinstance(t, torch.Tensor)]
            first_slot: dict[str, int] = {}
            for i, (src, _, _) in enumerate(inputs):
                first_slot.setdefault(src, i)

            def slot_of(x: Any) -> int | None:
                if isinstance(x, torch.Tensor) and id(x) in producers:
                    return first_slot.get(producers[id(x)][0])
                return None

            op = func.overloadpacket.__name__
            n = counter.get(op, 0)
            counter[op] = n + 1
            node_id = op if n == 0 else f"{op}_{n}"
            first = tensors[0] if tensors else None
            b.add_op(node_id, func, stack[-1] if stack else "", inputs,
                     list(first.shape) if first is not None else None,
                     str(first.dtype).replace("torch.", "") if first is not None else "",
                     "".join(traceback.format_stack(limit=40)),
                     args=encode_arg(list(args), slot_of), kwargs=encode_arg(dict(kwargs or {}), slot_of))
            for t in tensors:
                producers[id(t)] = (node_id, t)
            return out

    b.add_module("", f"{type(model).__module__}.{type(model).__qualname__}")
    stack.append("")
    h1 = torch.nn.modules.module.register_module_forward_pre_hook(pre_hook)
    h2 = torch.nn.modules.module.register_module_forward_hook(post_hook)
    try:
        with torch.no_grad(), Recorder():
            out = model(*args, **(kwargs or {}))
    finally:
        h1.remove()
        h2.remove()
    flat_out, _ = tree_flatten(out)
    index = 0
    for t in flat_out:
        if isinstance(t, torch.Tensor) and id(t) in producers:
            b.add_output(index, producers[id(t)][0], list(t.shape), str(t.dtype).replace("torch.", ""))
            index += 1
    return b.finish()
