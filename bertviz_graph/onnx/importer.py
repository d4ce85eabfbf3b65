"""An .onnx file -> the same OpGraph the PyTorch tracer makes: ops, parameters, inputs, outputs, modules.

The adapter knows ONNX; nothing after it does. What it recovers, in order of trust:
  1. the module path of every op (``scopes``): torch.onnx metadata, name scopes in node names, or the
     repeated blocks of a flat graph (``repeats``);
  2. what small patterns are (``patterns``): MatMul + Add with an initializer is a Linear, LayerNormalization
     or its primitive form a LayerNorm, a Gather on a table an Embedding; their weights get PyTorch-style
     names ("...query.weight") so labels, per-head splits and the neuron view work unchanged.
Shape arithmetic (Shape -> Gather -> Unsqueeze -> Concat feeding a Reshape) is not drawn: PyTorch's graph
has those numbers as arguments of the op, and exporters share them between layers, which would hide that
the layers are identical. Values computed once and shared by several layers (an attention mask the
optimizer de-duplicated) are placed in the module that holds all their users.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np

from bertviz_graph.errors import UserError
from bertviz_graph.graph import ModuleInfo, OpGraph
from bertviz_graph.onnx import passes, patterns, scopes
from bertviz_graph.onnx.dims import resolve_dims
from bertviz_graph.onnx.flops import concrete, onnx_flops
from bertviz_graph.onnx.reader import OnnxFile, TensorInfo, read_onnx
from bertviz_graph.tracer.builder import user_frame

_FLOAT = {"float16", "float32", "float64", "bfloat16"}
_QUANT = {"int8", "uint8", "int4", "uint4", "int16", "uint16", "int32"}
_INT = {"int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64", "bool"}
# Inputs through which an op reads trained values (op type -> input positions)
_WEIGHT_INPUTS = {
    "MatMul": (0, 1), "Gemm": (0, 1, 2), "Gather": (0,), "Add": (0, 1), "Sub": (0, 1), "Mul": (0, 1),
    "Div": (0, 1), "LayerNormalization": (1, 2), "SkipLayerNormalization": (2, 3, 4),
    "BatchNormalization": (1, 2), "InstanceNormalization": (1, 2), "Conv": (1, 2), "ConvTranspose": (1, 2),
    "DequantizeLinear": (0,), "MatMulInteger": (1,), "QLinearMatMul": (3,), "ConvInteger": (1,),
    "PRelu": (1,), "Attention": (1, 2), "EmbedLayerNormalization": (2, 3, 4, 5, 6),
    "Slice": (0,),  # tf2onnx reads the position table by Slice
}
# Ops a weight passes through unchanged in value on its way to the op that uses it
_CARRY = ("Reshape", "Transpose", "Cast", "Identity", "Squeeze", "Unsqueeze", "DequantizeLinear", "QuantizeLinear")
_FIX = "export the model again, or check the file with onnx.checker.check_model"


@dataclass
class OpRec:
    """One ONNX node while the importer works on it."""

    id: str
    op_type: str
    domain: str
    name: str
    inputs: list[str]
    outputs: list[str]
    attrs: dict[str, Any]
    meta: dict[str, str]
    module: str = ""
    role: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Work:
    """Everything the passes share: ops in topological order, tensors, who produces and reads what."""

    f: OnnxFile
    ops: list[OpRec]
    tensors: dict[str, TensorInfo]  # initializers and Constant-node values
    kind: dict[str, str]  # tensor name -> "param" | "buffer" | "const"
    producer: dict[str, str]  # value -> op id
    consumers: dict[str, list[tuple[str, int]]]  # value -> [(op id, input index)]
    inputs: list[str]
    modules: dict[str, ModuleInfo]
    by_id: dict[str, OpRec] = field(default_factory=dict)
    param_names: dict[str, str] = field(default_factory=dict)  # tensor name -> display name
    param_owner: dict[str, str] = field(default_factory=dict)  # tensor name -> module path
    param_note: dict[str, str] = field(default_factory=dict)  # tensor name -> layout / quantization note
    transposed: set[str] = field(default_factory=set)  # tensor names stored [in, out]
    quant: dict[str, dict[str, str]] = field(default_factory=dict)  # tensor -> {scale, zero_point}
    tier: str = ""
    fixed: dict[str, list[int]] = field(default_factory=dict)  # value -> shape at batch 1, seq = seq_len

    def op(self, oid: str) -> OpRec:
        return self.by_id[oid]

    def shape(self, value: str) -> list[Any] | None:
        return self.f.value_shapes.get(value, (None, ""))[0]

    def dtype(self, value: str) -> str:
        return self.f.value_shapes.get(value, (None, ""))[1]

    def param_inputs(self, rec: OpRec) -> list[tuple[int, str]]:
        return [(i, v) for i, v in enumerate(rec.inputs) if self.kind.get(v) == "param"]


def _plain(v: Any) -> Any:
    """An attribute value as JSON-able plain data."""
    import onnx

    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    if isinstance(v, onnx.TensorProto):
        return f"tensor{list(v.dims)}"
    if isinstance(v, onnx.GraphProto):
        return f"<subgraph {v.name or ''} with {len(v.node)} nodes>"
    if isinstance(v, float):
        return float(np.float32(v)) if np.isfinite(v) else str(v)
    if isinstance(v, (int, str)):
        return v
    return str(v)


def _constant_value(node: Any) -> np.ndarray | None:
    import onnx
    import onnx.numpy_helper as nh

    for a in node.attribute:
        v = onnx.helper.get_attribute_value(a)
        try:
            if a.name in ("value", "sparse_value") and isinstance(v, onnx.TensorProto):
                return nh.to_array(v)
            if a.name in ("value_float", "value_int"):
                return np.asarray(v)
            if a.name in ("value_floats", "value_ints"):
                return np.asarray(list(v))
        except Exception:  # noqa: BLE001 - a malformed constant is kept without a value
            return None
    return None


def _collect(f: OnnxFile) -> Work:
    import onnx

    g = f.model.graph
    tensors = dict(f.tensors)
    ops: list[OpRec] = []
    producer: dict[str, str] = {}
    used_ids: set[str] = set()
    init_names = set(tensors)
    inputs = [i.name for i in g.input if i.name not in init_names]
    for idx, node in enumerate(g.node):
        if node.op_type == "Constant" and node.domain in ("", "ai.onnx") and len(node.output) == 1:
            val = _constant_value(node)
            shape = list(val.shape) if val is not None else list(f.value_shapes.get(node.output[0], ([], ""))[0] or [])
            tensors[node.output[0]] = TensorInfo(name=node.output[0], shape=[int(s) for s in shape],
                                                 dtype=str(val.dtype) if val is not None else "",
                                                 value=val if val is None or val.size <= 1 << 16 else None)
            continue
        base = node.name or f"{node.op_type}_{idx}"
        oid, k = base, 1
        while oid in used_ids:
            k += 1
            oid = f"{base}~{k}"
        used_ids.add(oid)
        attrs = {}
        for a in node.attribute:
            try:
                attrs[a.name] = _plain(onnx.helper.get_attribute_value(a))
            except Exception:  # noqa: BLE001 - an unreadable attribute is named, not fatal
                attrs[a.name] = "<unreadable>"
        rec = OpRec(id=oid, op_type=node.op_type, domain=node.domain or "", name=node.name,
                    inputs=list(node.input), outputs=list(node.output), attrs=attrs,
                    meta={p.key: p.value for p in node.metadata_props})
        for out in rec.outputs:
            if not out:
                continue
            if out in producer or out in init_names or out in inputs:
                raise UserError(f"{f.path}: value {out!r} is produced twice (by {producer.get(out, 'an input')} "
                                f"and {oid}); an ONNX graph assigns each name once", _FIX)
            producer[out] = oid
        ops.append(rec)
    for out in producer:  # Constant outputs are tensors, not op outputs
        tensors.pop(out, None)
    known = set(producer) | set(tensors) | set(inputs)
    for rec in ops:
        for v in rec.inputs:
            if v and v not in known:
                raise UserError(f"{f.path}: node {rec.id!r} ({rec.op_type}) reads {v!r}, which no node, graph "
                                "input or initializer defines (a dangling name)", _FIX)
    for o in g.output:
        if o.name not in known:
            raise UserError(f"{f.path}: graph output {o.name!r} is not produced by any node (a dangling name)",
                            _FIX)
    consumers: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for rec in ops:
        for i, v in enumerate(rec.inputs):
            if v:
                consumers[v].append((rec.id, i))
    w = Work(f=f, ops=ops, tensors=tensors, kind={}, producer=producer, consumers=consumers, inputs=inputs,
             modules={})
    w.by_id = {r.id: r for r in ops}
    _toposort(w)
    return w


def _toposort(w: Work) -> None:
    """ONNX requires topological order; files that break it are reordered, cycles are refused."""
    dg = nx.DiGraph()
    dg.add_nodes_from(r.id for r in w.ops)
    for r in w.ops:
        for v in r.inputs:
            if v in w.producer:
                dg.add_edge(w.producer[v], r.id)
    if not nx.is_directed_acyclic_graph(dg):
        cycle = nx.find_cycle(dg)
        path = " -> ".join(u for u, _ in cycle[:6])
        raise UserError(f"{w.f.path}: the graph has a cycle ({path} -> ...); an ONNX graph must be acyclic", _FIX)
    position = {r.id: i for i, r in enumerate(w.ops)}
    order = list(nx.lexicographical_topological_sort(dg, key=lambda n: position[n]))
    w.ops = [w.by_id[i] for i in order]






def _shape_only(w: Work) -> set[str]:
    """Ops that only compute shapes: Shape/Size, and ops on small integer tensors made from those."""
    out: set[str] = set()
    small: set[str] = set()  # values known to be shape arithmetic
    for name, t in w.tensors.items():
        if t.dtype in _INT and len(t.shape) <= 1:
            small.add(name)
    for r in w.ops:
        outs = [o for o in r.outputs if o]
        is_int = all((w.dtype(o) in _INT) and (w.shape(o) is not None and len(w.shape(o)) <= 1) for o in outs)
        if r.op_type in ("Shape", "Size") or (
                outs and is_int and all((not v) or v in small for v in r.inputs) and r.op_type != "Range"):
            out.add(r.id)
            small.update(outs)
    return out


def _classify(w: Work) -> None:
    """Initializers are parameters when an op reads trained values through them; integer tables
    (position ids) are buffers; the rest (shapes, scalars) are constants folded into their ops."""
    for name, t in w.tensors.items():
        numel = int(np.prod(t.shape)) if t.shape else 1
        uses = w.consumers.get(name, [])
        weighty = _reaches_weight_input(w, name)
        if t.dtype in _FLOAT and numel > 1 and weighty:
            w.kind[name] = "param"
        elif t.dtype in _QUANT and numel > 1 and (any(
                w.op(oid).op_type in ("DequantizeLinear", "MatMulInteger", "QLinearMatMul", "ConvInteger")
                and i in _WEIGHT_INPUTS[w.op(oid).op_type] for oid, i in uses) or any(
                w.op(oid).op_type == "Gather" and i == 0 and _dequantized(w, w.op(oid)) for oid, i in uses)):
            w.kind[name] = "param"
        elif t.dtype in _INT and len(t.shape) >= 2 and numel > 16:
            w.kind[name] = "buffer"
        else:
            w.kind[name] = "const"
    for r in w.ops:  # quantized weights: remember scale and zero point for dequantizing on demand
        if r.op_type == "Gather" and w.kind.get(r.inputs[0]) == "param" and w.tensors[r.inputs[0]].dtype in _QUANT:
            deq = next(w.op(o) for o, i in w.consumers[r.outputs[0]] if w.op(o).op_type == "DequantizeLinear")
            w.quant[r.inputs[0]] = {"scale": deq.inputs[1] if len(deq.inputs) > 1 else "",
                                    "zero_point": deq.inputs[2] if len(deq.inputs) > 2 else "", "axis": 1}
        if r.op_type == "DequantizeLinear" and w.kind.get(r.inputs[0]) == "param":
            w.quant[r.inputs[0]] = {"scale": r.inputs[1] if len(r.inputs) > 1 else "",
                                    "zero_point": r.inputs[2] if len(r.inputs) > 2 else "",
                                    "axis": int(r.attrs.get("axis", 1)) if isinstance(r.attrs.get("axis", 1), int) else 1}
        if r.op_type == "MatMulInteger" and len(r.inputs) > 1 and w.kind.get(r.inputs[1]) == "param":
            w.quant[r.inputs[1]] = {"scale": "", "zero_point": r.inputs[3] if len(r.inputs) > 3 else ""}


def _dequantized(w: Work, gather: OpRec) -> bool:
    """A Gather of an int8 table whose rows are then dequantized: a quantized embedding."""
    return any(w.op(o).op_type == "DequantizeLinear" and i == 0
               for o, i in w.consumers.get(gather.outputs[0] if gather.outputs else "", []))


def _reaches_weight_input(w: Work, value: str, depth: int = 4) -> bool:
    """Does ``value`` reach an input through which an op reads trained values, directly or through a
    chain of value-preserving ops (tf2onnx reshapes an einsum kernel before its Gemm)?"""
    for oid, i in w.consumers.get(value, []):
        r = w.op(oid)
        if i in _WEIGHT_INPUTS.get(r.op_type, ()):
            return True
        if depth and r.op_type in _CARRY and i == 0 and r.outputs and _reaches_weight_input(w, r.outputs[0], depth - 1):
            return True
    return False






def import_onnx(path: str | Path, seq_len: int = 16) -> OpGraph:
    """Read an ONNX file into an OpGraph (weights stay in the file; see ``bertviz_graph.onnx.weights``)."""
    import dataclasses


    f = read_onnx(path)
    fixed, named = resolve_dims(f.path, f.value_shapes, seq_len)
    f = dataclasses.replace(f, value_shapes=named)
    w = _collect(f)
    w.fixed = fixed
    n_identity = passes.fold_identities(w)
    dropped = _shape_only(w)
    w.ops = [r for r in w.ops if r.id not in dropped]
    shape_values = {o for oid in dropped for o in w.by_id[oid].outputs}
    _classify(w)
    w.tier = scopes.assign_modules(w)
    passes.hoist_shared(w)
    passes.qdq_with_users(w)
    if not w.tier.startswith("torch.onnx metadata"):
        passes.canonical_order(w)
    patterns.apply(w)
    scopes.ensure_parents(w)
    graph = _build(w, shape_values, seq_len, len(dropped))
    if n_identity:
        graph.meta["notes"].append(f"{n_identity} Identity ops (no-ops paddle2onnx and tf2onnx leave) are folded "
                                   "into their neighbours: an edge runs straight past them")
    return graph


def _dims_sizes(w: Work, seq_len: int) -> dict[str, int]:
    """Symbolic dims -> sizes for FLOPs: batch-like names 1, the rest the sequence length."""
    sizes: dict[str, int] = {}
    for shape, _ in w.f.value_shapes.values():
        for d in shape or []:
            if isinstance(d, str) and d not in sizes:
                sizes[d] = seq_len if "·" in d else 1 if "batch" in d.lower() or d.lower() in ("n", "b", "bs") else seq_len
    return sizes


def _stack_source(meta: dict[str, str]) -> tuple[str, str]:

    trace = meta.get("pkg.torch.onnx.stack_trace")
    if not trace:
        return "", ""
    return user_frame(trace)


def _quant_arg(r: OpRec, i: int, v: str) -> str | None:
    if v.endswith("_zero_point") or (r.op_type in ("QuantizeLinear", "DequantizeLinear") and i == 2):
        return "zero point"
    if v.endswith("_scale") or (r.op_type in ("QuantizeLinear", "DequantizeLinear") and i == 1):
        return "scale"
    return None


def _small_repr(t: TensorInfo) -> Any:
    if t.value is not None and t.value.size <= 8:
        v = t.value.reshape(-1).tolist()
        return v[0] if t.value.ndim == 0 else v
    return f"{t.dtype}{list(t.shape)}"


def _build(w: Work, shape_values: set[str], seq_len: int, n_dropped: int) -> OpGraph:
    import onnx.defs

    g = nx.DiGraph()
    order = 0
    f = w.f

    def nxt() -> int:
        nonlocal order
        order += 1
        return order

    node_of: dict[str, str] = {}  # value -> OpGraph node id
    for name in w.inputs:
        shape, dtype = f.value_shapes.get(name, (None, ""))
        nid = f"input:{name}"
        g.add_node(nid, kind="input", name=name, module="", shape=shape, dtype=dtype, order=nxt())
        node_of[name] = nid
    sizes = _dims_sizes(w, seq_len)
    for name, t in w.tensors.items():
        kind = w.kind.get(name)
        if kind not in ("param", "buffer") or not w.consumers.get(name):
            continue
        shown = w.param_names.get(name, name)
        nid = f"{kind}:{shown}"
        numel = int(np.prod(t.shape)) if t.shape else 1
        # A MatMul weight stored [in, out] is presented [out, in], as PyTorch's Linear (rows = output
        # neurons), everywhere after this adapter; its stored shape and a note say so.
        flip = name in w.transposed and len(t.shape) == 2
        attrs: dict[str, Any] = dict(kind=kind, name=shown, module=w.param_owner.get(name, ""),
                                     shape=list(t.shape[::-1]) if flip else list(t.shape), dtype=t.dtype,
                                     numel=numel, tied=[], order=nxt(), onnx_name=name)
        if flip:
            attrs["stored_shape"] = list(t.shape)
        if name in w.param_note:
            attrs["note"] = w.param_note[name]
        if name in w.transposed:
            attrs["layout"] = "in,out"
        if name in w.quant:
            attrs["quant"] = dict(w.quant[name])
        if t.embedded is not None:
            attrs["file_offset"] = list(t.embedded)  # where its bytes are in the .onnx file
        elif t.external:
            attrs["external"] = dict(t.external)
        g.add_node(nid, **attrs)
        node_of[name] = nid
    for r in w.ops:
        out = r.outputs[0] if r.outputs else ""
        shape, dtype = f.value_shapes.get(out, (None, ""))
        in_shapes = [(w.fixed.get(v) or concrete(w.shape(v), sizes, seq_len)) if v else None for v in r.inputs]
        consts = []
        for i, v in enumerate(r.inputs):
            if v and w.kind.get(v) == "const":
                consts.append([i, _small_repr(w.tensors[v])])
            elif v in shape_values:
                consts.append([i, "shape"])
        source, code = _stack_source(r.meta)
        known = onnx.defs.has(r.op_type, r.domain) if r.domain in ("", "ai.onnx", "ai.onnx.ml") else False
        params = [w.param_names.get(v, v) for _, v in w.param_inputs(r)]
        # Arguments in the form the series signature reads (as the PyTorch tracer records them): tensor
        # inputs by slot {"$": i}, constants by value, ONNX attributes as keywords.
        # A quantizer's scales and zero points differ per layer: named by what they are, so layers still fold.
        args = [{"$": i} if v and w.kind.get(v) != "const" and v not in shape_values else
                (_quant_arg(r, i, v) or _small_repr(w.tensors[v]) if v in w.tensors else
                 "shape" if v in shape_values else None)
                for i, v in enumerate(r.inputs)]
        attrs = dict(kind="op", name=r.id, op=r.op_type, target=f"{r.domain or 'onnx'}::{r.op_type}",
                     module=r.module, shape=shape, dtype=dtype, params=params,
                     flops=onnx_flops(r.op_type, r.attrs, in_shapes,
                                      w.fixed.get(out) or concrete(shape, sizes, seq_len)),
                     source=source or (f"ONNX node {r.name}" if r.name else ""), code=code, order=nxt(),
                     attrs=r.attrs, consts=consts, args=args, kwargs=dict(r.attrs))
        if out:
            attrs["onnx_output"] = out  # the value onnxruntime hands back for this op (run/onnx_run.py)
        if r.role:
            attrs["role_hint"] = r.role
        if not known:
            attrs["unknown"] = True
        g.add_node(r.id, **attrs)
        for o in r.outputs:
            if o:
                node_of[o] = r.id
        for i, v in enumerate(r.inputs):
            src = node_of.get(v)
            if src is None or g.has_edge(src, r.id):
                continue
            s, dt = f.value_shapes.get(v, (None, ""))
            g.add_edge(src, r.id, shape=s, dtype=dt, index=i)
    for i, o in enumerate(f.model.graph.output):
        src = node_of.get(o.name)
        shape, dtype = f.value_shapes.get(o.name, (None, ""))
        nid = f"output:{i}"
        g.add_node(nid, kind="output", name=o.name or f"output {i}", module="", shape=shape, dtype=dtype,
                   order=nxt())
        if src is not None:
            g.add_edge(src, nid, shape=shape, dtype=dtype, index=0)
    # Groups and nodes share one id space: an op named like a module is renamed (as the tracer does).
    clash = {n: f"{n}_op" for n, d in g.nodes(data=True) if d["kind"] == "op" and n in w.modules}
    if clash:
        nx.relabel_nodes(g, clash, copy=False)
    meta = _meta(w, seq_len, n_dropped, sizes)
    graph = OpGraph(g=g, modules=dict(w.modules), meta=meta)
    graph.meta["params"] = graph.param_count()
    return graph


def _meta(w: Work, seq_len: int, n_dropped: int, sizes: dict[str, int]) -> dict[str, Any]:
    import onnx

    m = w.f.model
    notes = list(w.f.notes)
    if n_dropped:
        notes.append(f"{n_dropped} shape-arithmetic ops (Shape, Gather, Unsqueeze, Concat on integer shapes) "
                     "are folded into the ops they configure")
    if w.fixed:
        notes.append(f"FLOPs are counted at batch 1 and {seq_len} tokens, with the shapes one onnxruntime pass "
                     "of the file gives every value")
    elif sizes:
        notes.append("FLOPs count symbolic dimensions as " + ", ".join(f"{k}={v}" for k, v in sizes.items()))
    extras = _quant_extras(w)
    if extras:
        notes.append(f"{len(w.quant)} weights are stored quantized (int8/uint8), counted as parameters; their "
                     f"scales and zero points add {extras} values, not counted")
    if w.transposed:
        notes.append("MatMul weights are stored [in, out] in the file and shown transposed as [out, in], "
                     "the way PyTorch stores a Linear")
    return {
        "name": w.f.path.stem,
        "origin": "onnx",
        "head": "custom",
        "config": _inferred_config(w),
        "config_inferred": True,
        "attention": None,
        "ops": "onnx",
        "seq_len": seq_len,
        "model_class": w.modules[""].cls if "" in w.modules else "OnnxModel",
        "weight_files": [str(w.f.path)],
        "onnx_file": str(w.f.path.resolve()),
        "structure_only": False,
        "hierarchy_from": w.tier,
        "ops_note": f"ONNX opset {w.f.opsets.get('ai.onnx', '?')} ops, grouped by {w.tier.split(' (')[0]}",
        "notes": notes,
        "tracer": "onnx",
        "producer": f"{m.producer_name} {m.producer_version}".strip(),
        "opsets": w.f.opsets,
        "versions": {"onnx": onnx.__version__},
        "quant_extras": _quant_extras(w),
    }


def _quant_extras(w: Work) -> int:
    """Values the quantizer added beside the quantized weights (scales, zero points), each counted once."""
    seen = {q[k] for q in w.quant.values() for k in ("scale", "zero_point") if q.get(k)}
    return sum(int(np.prod(w.tensors[n].shape)) if w.tensors[n].shape else 1 for n in seen if n in w.tensors)


def _inferred_config(w: Work) -> dict[str, Any]:
    """Model-wide sizes read from the graph: hidden size (LayerNorm width), heads (attention reshapes),
    feed-forward size (the widest Linear output)."""
    ln = Counter(m.attrs["normalized_shape"][0] for m in w.modules.values()
                 if isinstance(m.attrs.get("normalized_shape"), list) and m.attrs["normalized_shape"])
    hidden = ln.most_common(1)[0][0] if ln else None
    cfg: dict[str, Any] = {}
    if hidden:
        cfg["hidden_size"] = int(hidden)
        heads = Counter()
        for r in w.ops:
            if r.op_type != "Reshape" or not r.outputs:
                continue
            s = w.shape(r.outputs[0])
            if s and len(s) == 4 and isinstance(s[2], int) and isinstance(s[3], int) and s[2] * s[3] == hidden \
                    and s[2] > 1:
                heads[s[2]] += 1
        if heads:
            cfg["num_attention_heads"] = int(heads.most_common(1)[0][0])
        outs = [m.attrs["out_features"] for m in w.modules.values()
                if m.attrs.get("in_features") == hidden and isinstance(m.attrs.get("out_features"), int)
                and m.attrs["out_features"] > hidden]
        if outs:
            cfg["intermediate_size"] = int(Counter(outs).most_common(1)[0][0])
    vocab = [m.attrs["num_embeddings"] for m in w.modules.values() if "num_embeddings" in m.attrs]
    if vocab:
        cfg["vocab_size"] = int(max(vocab))
    return cfg
