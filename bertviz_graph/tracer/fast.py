"""Fast path for configs with a stack of identical layers: export ONE layer, replicate it N times.

``torch.export`` costs about 0.1 s per BERT layer on this machine, so a 12-layer model spends most of its
first picture there and a 48- or 80-layer one far more. A transformers layer stack is N instances of one
class built from one config, so the ops of layer k are those of layer 0 with the layer index changed. This
module exports the model with ``num_hidden_layers=1`` (on the meta device, like the full trace) and
rebuilds the N-layer OpGraph from it: layer-0 nodes copied per layer with their module paths, parameter
names and op names renumbered exactly as torch.export's FX namespace would, layer k fed by layer k-1.

It refuses (returns None, and the caller exports the whole model) whenever the layers might differ: a
config field that varies per layer, GPT-2's layer-indexed attention scaling, an unknown layer container,
or a one-layer graph whose layer block is not one contiguous run with one output. tests/test_fast_trace.py
proves the result equal, node by node and edge by edge, to a full torch.export for BERT, ALBERT, GPT-2
and Llama configs.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import networkx as nx

from bertviz_graph.graph import ModuleInfo, OpGraph
from bertviz_graph.sources.build import build_model, make_config
from bertviz_graph.tracer.export_tracer import export_trace

# Model types whose layers are built identically from the config (checked by the equality test).
REPLICABLE = {"bert", "roberta", "albert", "gpt2", "llama", "electra", "xlm-roberta", "camembert",
              "mistral", "qwen2"}
_SUFFIX = re.compile(r"^(.*)_(\d+)$")


def _layer_key(config: Any) -> str:
    amap = getattr(type(config), "attribute_map", {}) or {}
    return amap.get("num_hidden_layers", "num_hidden_layers")


def eligible(cfg: dict[str, Any] | None) -> tuple[int, str] | None:
    """(layer count, config key) when the fast path may be tried for this config, else None."""
    if not cfg or cfg.get("model_type") not in REPLICABLE:
        return None

    config = make_config(cfg)
    n = getattr(config, "num_hidden_layers", None)
    if not isinstance(n, int) or n < 2:
        return None
    if getattr(config, "scale_attn_by_inverse_layer_idx", False):
        return None  # GPT-2 option: attention scaled by 1/(layer+1), layers differ
    for value in config.to_dict().values():
        if isinstance(value, list) and len(value) == n and len({repr(v) for v in value}) > 1:
            return None  # e.g. layer_types with sliding and full attention
    if cfg.get("model_type") == "albert" and (config.num_hidden_groups != 1 or config.inner_group_num != 1):
        return None
    return n, _layer_key(config)


def fast_trace(source: Any, make_meta: Callable[[Any], dict[str, Any]], ops: str, attention: str,
               seq_len: int) -> OpGraph | None:
    """The N-layer graph from a one-layer export, or None when the fast path does not apply.

    ``make_meta(model)`` gives the graph's meta for the model class (the full config stays in it)."""

    if os.environ.get("BERTVIZ_GRAPH_NO_FAST"):  # benchmarks: the whole-model export, for comparison
        return None
    ok = eligible(source.config)
    if ok is None:
        return None
    n, key = ok
    small = replace(source, config={**source.config, key: 1}, model=None, example_inputs=(), notes=[])
    build_model(small, attention=attention, seq_len=seq_len)
    shared = source.config.get("model_type") == "albert"
    unit = unit_path(small.model, shared)
    if unit is None:
        return None
    try:
        one = export_trace(small.model, small.example_inputs, small.example_kwargs, make_meta(small.model), ops)
    except Exception:  # torch.export refused: the caller's full path has the dispatch-tracer fallback
        return None
    graph = replicate(one, unit, n, shared)
    if graph is not None:
        graph.meta["tracer"] = "torch.export"
    return graph


def unit_path(model: Any, shared: bool, layers: int = 1) -> str | None:
    """The first layer's module path ("encoder.layer.0") in a model whose stack has ``layers`` layers."""
    import torch.nn as nn

    if shared:  # ALBERT: one layer group, called once per layer
        hits = [n for n, m in model.named_modules() if n.endswith("albert_layer_groups.0")]
        return hits[0] if len(hits) == 1 else None
    lists = [n for n, m in model.named_modules() if isinstance(m, nn.ModuleList) and len(m) == layers]
    # the layer stack is the ModuleList of that length whose element is not itself a leaf container
    lists = [n for n in lists if any(True for _ in model.get_submodule(n)[0].children())]
    return f"{lists[0]}.0" if len(lists) == 1 else None


def _fx_name(node_id: str, modules: dict) -> str:
    """The FX name of an op node (the builder renames ops that clash with a module name to 'name_op')."""
    if node_id.endswith("_op") and node_id[:-3] in modules:
        return node_id[:-3]
    return node_id


def replicate(one: OpGraph, unit: str, n: int, shared: bool) -> OpGraph | None:
    """Rebuild the n-layer graph from a one-layer graph whose layer is the module instance ``unit``."""
    g1 = one.g
    prefix = unit[: -len(".0")] if unit.endswith(".0") else unit

    def under(path: str) -> bool:
        return path == unit or path.startswith(unit + ".")

    def rename_path(path: str, k: int) -> str:
        if shared:  # instance k of every module of the shared layer: "path@k"
            return path if k == 0 else f"{path}@{k}"
        return f"{prefix}.{k}{path[len(unit):]}"

    order = sorted(g1.nodes, key=lambda x: g1.nodes[x]["order"])
    kind = {x: g1.nodes[x]["kind"] for x in order}
    in_ops = [x for x in order if kind[x] == "op" and under(g1.nodes[x]["module"])]
    in_params = [] if shared else [x for x in order if kind[x] in ("param", "buffer")
                                   and under(g1.nodes[x]["module"])]
    if not in_ops:
        return None
    unit_set = set(in_ops) | set(in_params)
    # The layer must be one contiguous run of ops (and of parameters) in execution order.
    ops_order = [x for x in order if kind[x] == "op"]
    i0 = ops_order.index(in_ops[0])
    if ops_order[i0:i0 + len(in_ops)] != in_ops:
        return None
    if in_params:
        pars = [x for x in order if kind[x] in ("param", "buffer")]
        j0 = pars.index(in_params[0])
        if pars[j0:j0 + len(in_params)] != in_params:
            return None
    # Exactly one layer node feeds the rest of the model: the layer's output (hidden states).
    outs = {u for u in in_ops for v in g1.successors(u) if v not in unit_set}
    if len(outs) != 1:
        return None
    out = next(iter(outs))
    out_shape = g1.nodes[out]["shape"]
    # The layer's hidden-state input: the one outside node of the same shape feeding the layer's ops.
    feeds = {u for v in in_ops for u in g1.predecessors(v) if u not in unit_set and kind[u] != "param"
             and kind[u] != "buffer"}
    hidden = [u for u in feeds if g1.nodes[u]["shape"] == out_shape]
    if len(hidden) != 1:
        return None
    hidden_in = hidden[0]

    # 1. the node sequence: layer nodes copied n times where the layer block stood
    new_id: dict[tuple[str, int], str] = {}
    seq: list[tuple[str, int]] = []
    for x in order:
        if x in unit_set:
            if x == in_ops[0] or (in_params and x == in_params[0]):
                block = in_ops if x == in_ops[0] else in_params
                seq.extend((y, k) for k in range(n) for y in block)
            continue
        seq.append((x, 0))

    def rename_param(name: str, k: int) -> str:
        owner = name.rsplit(".", 1)[0] if "." in name else ""
        if not shared and under(owner):
            return f"{prefix}.{k}{name[len(unit):]}"
        return name

    # 2. op names renumbered as FX numbers them: the i-th op of a base name is "base_i" ("base" for i = 0).
    # Layer copy k shifts layer-0 indices by k × (ops of that base in a layer), the ops after the stack by
    # (n-1) × that; ops before the stack keep their names (skipped FX nodes there keep their numbers too).
    def index(name: str) -> tuple[str, int]:
        m = _SUFFIX.match(name)
        return (m.group(1), int(m.group(2))) if m else (name, 0)

    per_layer: dict[str, int] = {}
    for x in in_ops:
        base = index(_fx_name(x, one.modules))[0]
        per_layer[base] = per_layer.get(base, 0) + 1
    seen_layer = False
    for x, k in seq:
        d = g1.nodes[x]
        if d["kind"] == "op":
            base, i = index(_fx_name(x, one.modules))
            if x in unit_set:
                seen_layer = True
                i += k * per_layer[base]
            elif seen_layer:
                i += (n - 1) * per_layer.get(base, 0)
            new_id[(x, k)] = base if i == 0 else f"{base}_{i}"
        elif d["kind"] in ("param", "buffer") and x in unit_set:
            new_id[(x, k)] = f"{d['kind']}:{rename_param(d['name'], k)}"
        else:
            new_id[(x, k)] = x

    def source_of(u: str, k: int, v: str) -> str:
        """The node an edge u -> (v, layer k) comes from in the n-layer graph."""
        if u in unit_set:
            return new_id[(u, k)] if u in in_ops or not shared else new_id[(u, 0)]
        if u == hidden_in and k > 0:
            return new_id[(out, k - 1)]
        return new_id[(u, 0)]

    g = nx.DiGraph()
    for pos, (x, k) in enumerate(seq, start=1):
        d = dict(g1.nodes[x])
        d["order"] = pos
        nid = new_id[(x, k)]
        if x in unit_set:
            if d["kind"] == "op":
                d["module"] = rename_path(d["module"], k)
                d["name"] = nid
                if not shared:
                    d["params"] = [rename_param(p, k) for p in d["params"]]
            else:
                d["name"] = rename_param(d["name"], k)
                d["module"] = rename_path(d["module"], k)
                d["tied"] = [rename_param(t, k) for t in d.get("tied", [])]
        elif d["kind"] == "op":
            d["name"] = nid
        g.add_node(nid, **d)
    for x, k in seq:
        v = new_id[(x, k)]
        for u in g1.predecessors(x):
            if x not in unit_set:
                # outside the layer: what read the layer's output now reads the last layer's
                src = new_id[(u, n - 1)] if u == out else source_of(u, 0, x)
            else:
                src = source_of(u, k, x)
            g.add_edge(src, v, **g1.edges[u, x])

    # 3. module instances, layer k after layer k-1, where layer 0 stood
    modules: dict[str, ModuleInfo] = {}
    in_mods = [p for p in one.modules if under(p)]
    for path, info in one.modules.items():
        if under(path):
            if path == in_mods[0]:
                for k in range(n):
                    for p in in_mods:
                        m = one.modules[p]
                        parent = rename_path(m.parent, k) if m.parent is not None and under(m.parent) else m.parent
                        modules[rename_path(p, k)] = ModuleInfo(path=rename_path(p, k), cls=m.cls,
                                                                qualname=m.qualname, attrs=dict(m.attrs),
                                                                parent=parent)
            continue
        modules[path] = info
    # ops whose FX name equals a module path are renamed, as the builder does
    clash = {x: f"{x}_op" for x, d in g.nodes(data=True) if d["kind"] == "op" and x in modules}
    if clash:
        nx.relabel_nodes(g, clash, copy=False)
        for x in clash.values():
            g.nodes[x]["name"] = x
    meta = dict(one.meta)
    meta["replicated"] = {"unit": unit, "layers": n}
    return OpGraph(g=g, modules=modules, meta=meta)
