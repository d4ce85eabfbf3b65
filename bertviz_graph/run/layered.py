"""The capture program from ONE exported layer: export the real model cut to one layer, then rebuild the
N-layer FX graph by copying that layer's nodes N times (layer k reads layer k's parameters and layer k-1's
output).

Why: ``torch.export`` with a dynamic sequence length costs about 0.2 s per BERT layer on this machine (2-3 s
for bert-base, most of a cold first run). The layers of a transformers stack are N instances of one class
built from one config (``tracer.fast.eligible`` decides when that holds, as for the graph's own fast trace),
so their programs are the same up to which parameters they read. The rebuilt graph runs the very same ATen
calls on the very same tensors as a full export, so the captured values are identical (tests/test_run.py
compares them op by op, max difference 0).

The one-layer model is a copy of the real one that shares its parameter tensors (nothing is re-initialised
or copied): only the module objects are duplicated, the layer list cut to layer 0 (or, for ALBERT's shared
layer group, ``num_hidden_layers`` set to 1). It refuses (returns None; the caller exports the whole model)
whenever the one-layer program does not have the expected shape: the layer's ops not one contiguous run, more
than one of its values read after it, or no single hidden-state input.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from bertviz_graph.tracer.fast import eligible, unit_path


@dataclass
class LayeredProgram:
    """An N-layer FX graph built from a one-layer export, with what each placeholder must be fed."""

    gm: Any  # torch.fx.GraphModule
    inputs: list[tuple[str, str, str | None]]  # (placeholder, "input" | "state", state name) in order
    state: dict[str, Any]  # state name -> the real model's tensor
    layers: int
    unit: str  # the layer module that was replicated, e.g. "encoder.layer.0"


def one_layer_model(model: Any, unit: str, shared: bool) -> Any:
    """A copy of ``model`` with one layer that shares every parameter and buffer tensor with it."""
    memo: dict[int, Any] = {id(t): t for t in model.parameters()}
    memo.update({id(t): t for t in model.buffers()})
    container = unit.rsplit(".", 1)[0]
    if not shared:  # the other layers are dropped below: do not copy their module objects
        for layer in list(model.get_submodule(container))[1:]:
            memo[id(layer)] = layer
    small = copy.deepcopy(model, memo)
    small.config.num_hidden_layers = 1  # the copy's own config (deepcopy): the model's is untouched
    if not shared:
        import torch.nn as nn

        parent, _, name = container.rpartition(".")
        owner = small.get_submodule(parent) if parent else small
        setattr(owner, name, nn.ModuleList([small.get_submodule(unit)]))
    return small.eval()


def _under(path: str, unit: str) -> bool:
    return path == unit or path.startswith(unit + ".")


def _in_unit(node: Any, unit: str) -> bool:
    return any(_under(path, unit) for path, _cls in (node.meta.get("nn_module_stack") or {}).values())


def export_layered(model: Any, config: dict[str, Any] | None, example: Any, dynamic_shapes: Any,
                   decompositions: dict | None) -> LayeredProgram | None:
    """Export one layer of ``model`` (a transformers model in eval mode) and rebuild the N-layer program."""
    import torch

    ok = eligible(config)
    if ok is None:
        return None
    n, _key = ok
    shared = (config or {}).get("model_type") == "albert"
    unit = unit_path(model, shared, 1 if shared else n)
    if unit is None:
        return None
    small = one_layer_model(model, unit, shared)
    ep = torch.export.export(small, (example,), dynamic_shapes=dynamic_shapes, strict=False)
    if decompositions is not None:
        ep = ep.run_decompositions(decompositions)
    state = dict(model.named_parameters(remove_duplicate=False))
    state.update(dict(model.named_buffers(remove_duplicate=False)))
    return replicate_program(ep, unit, n, shared, state)


def _shape(node: Any) -> str | None:
    """A node's tensor shape as text (symbolic sizes by name: comparing SymInts would add guards)."""
    val = node.meta.get("val")
    return str(tuple(val.shape)) if hasattr(val, "shape") else None


def _rename(target: str, unit: str, k: int) -> str:
    prefix = unit.rsplit(".", 1)[0]
    return f"{prefix}.{k}{target[len(unit):]}"


def replicate_program(ep: Any, unit: str, n: int, shared: bool, state: dict[str, Any]) -> LayeredProgram | None:
    """The N-layer FX graph of a one-layer ExportedProgram whose layer is the module instance ``unit``."""
    import torch.fx as fx

    src = ep.graph
    specs = {s.arg.name: s for s in ep.graph_signature.input_specs}
    nodes = list(src.nodes)
    if any(x.op not in ("placeholder", "call_function", "output") for x in nodes):
        return None
    places = [x for x in nodes if x.op == "placeholder"]
    ops = [x for x in nodes if x.op == "call_function"]
    inside = [x for x in ops if _in_unit(x, unit)]
    if not inside:
        return None
    i0 = ops.index(inside[0])
    if ops[i0:i0 + len(inside)] != inside:
        return None  # the layer is not one contiguous run of ops
    unit_set = set(inside)

    def per_layer_param(p: Any) -> bool:
        target = specs[p.name].target
        return not shared and target is not None and _under(target.rsplit(".", 1)[0], unit)

    layer_params = {p for p in places if per_layer_param(p)}
    outs = {x for x in inside if any(u not in unit_set for u in x.users)}
    if len(outs) != 1:
        return None
    out = next(iter(outs))
    out_shape = _shape(out)
    feeds = {a for x in inside for a in x.all_input_nodes if a not in unit_set and a not in layer_params
             and not (a.op == "placeholder" and specs[a.name].kind.name != "USER_INPUT")}
    hidden = [a for a in feeds if _shape(a) == out_shape]
    if out_shape is None or len(hidden) != 1:
        return None
    hidden_in = hidden[0]  # layer k > 0 reads layer k-1's output instead; other readers keep it

    g = fx.Graph()
    env: dict[tuple[Any, int], Any] = {}  # (source node, layer) -> new node; layer -1: outside the stack
    inputs: list[tuple[str, str, str | None]] = []
    for p in places:
        spec = specs[p.name]
        user = spec.kind.name == "USER_INPUT"
        for k in (range(n) if p in layer_params else (-1,)):
            new = g.placeholder(p.name if k < 0 else f"{p.name}__layer{k}")
            new.meta = copy.copy(p.meta)
            env[(p, k)] = new
            target = spec.target if k < 0 else _rename(spec.target, unit, k)
            inputs.append((new.name, "input" if user else "state", None if user else target))

    def outside(a: Any) -> Any:
        return env[(out, n - 1)] if a is out else env[(a, -1)]

    def in_layer(k: int):
        def look(a: Any) -> Any:
            if a in unit_set or a in layer_params:
                return env[(a, k)]
            if a is hidden_in and k > 0:
                return env[(out, k - 1)]
            return env[(a, -1)]
        return look

    for x in ops:
        if x in unit_set:
            if x is not inside[0]:
                continue
            for k in range(n):
                look = in_layer(k)
                for y in inside:
                    new = g.node_copy(y, look)
                    new.meta = copy.copy(y.meta)
                    new.meta["nn_module_stack"] = _stack(y.meta.get("nn_module_stack") or {}, unit, k, shared)
                    env[(y, k)] = new
            continue
        env[(x, -1)] = g.node_copy(x, outside)
    result = next(x for x in nodes if x.op == "output")
    g.node_copy(result, outside)
    g.lint()
    gm = fx.GraphModule({}, g)
    for _name, kind, target in inputs:
        if kind == "state" and target not in state:
            return None  # a lifted constant the real model does not hold: export the whole model instead
    return LayeredProgram(gm=gm, inputs=inputs, state=state, layers=n, unit=unit)


def _stack(stack: dict, unit: str, k: int, shared: bool) -> dict:
    """Layer 0's module stack as layer k's: the path renumbered, or (shared layer) the k-th call '@k'."""
    new = {}
    for key, (path, cls) in stack.items():
        if _under(path, unit) and k > 0:
            if shared:
                key = f"{key}@{k}"
            else:
                path = _rename(path, unit, k)
                key = f"{key}__layer{k}"
        new[key] = (path, cls)
    return new
