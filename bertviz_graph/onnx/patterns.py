"""What small ONNX patterns are, in PyTorch's words, so labels, per-head splits and the neuron view work.

- MatMul (or Gemm, MatMulInteger, DequantizeLinear -> MatMul) reading a 2-D initializer, with an Add of a
  1-D initializer after it: a Linear (in_features, out_features from the weight);
- LayerNormalization, or its primitive form ReduceMean -> Sub -> ... -> Mul(gamma) -> Add(beta): a LayerNorm;
- Gather whose data is a 2-D initializer: an Embedding;
- Gelu, or the Erf form 0.5·x·(1 + erf(x/√2)): an activation; Softmax: the attention softmax.
Each pattern lives in a module of that class: the scope module when it holds nothing else (the exporter
named it, e.g. ".../query"), else a new child module. Its weights get PyTorch-style names
("<module>.weight", ".bias") unless the file already names them so.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from typing import TYPE_CHECKING, Any

import numpy as np

from bertviz_graph.graph import ModuleInfo
from bertviz_graph.onnx.attention_roles import linear_stems
from bertviz_graph.onnx.scopes import common_ancestor

if TYPE_CHECKING:
    from bertviz_graph.onnx.importer import OpRec, Work

_PATHLIKE = re.compile(r"^[A-Za-z_][\w]*(\.[\w]+)*\.(weight|bias|gamma|beta|kernel)$")
_PASS = {"Reshape", "Transpose", "Cast", "Identity", "Squeeze", "Unsqueeze", "DequantizeLinear", "Flatten"}

# roles of ONNX ops that need no pattern (the importer's tables, here where they are applied)
SHAPE_ROLE = {
    "Reshape", "Transpose", "Squeeze", "Unsqueeze", "Flatten", "Expand", "Slice", "Concat", "Split",
    "Identity", "Cast", "CastLike", "Shape", "Size", "Tile", "Pad", "GatherND", "GatherElements", "Range",
    "ConstantOfShape", "QuantizeLinear", "DequantizeLinear", "DynamicQuantizeLinear",
}
OP_ROLE = {"Softmax": "softmax", "LogSoftmax": "softmax", "Gelu": "activation", "FastGelu": "activation",
           "Tanh": "activation", "Relu": "activation", "Sigmoid": "activation", "Erf": "activation",
           "Dropout": "dropout", "LayerNormalization": "layernorm", "SkipLayerNormalization": "layernorm"}


_NAMED = {"query", "key", "value", "attention_output", "intermediate", "output"}


class _Ctx:
    def __init__(self, w: Work):

        self.w = w
        # flat names say nothing of a Linear's role: read it off the attention's data flow
        self.stems = linear_stems(w, lambda v: weight_source(w, v)[0] is not None) \
            if w.tier.startswith("repeated blocks") else {}
        self.count: Counter[tuple[str, str]] = Counter()
        self.parents = {m.parent for m in w.modules.values() if m.parent is not None}
        self.by_module: dict[str, list[OpRec]] = defaultdict(list)
        for r in w.ops:
            self.by_module[r.module].append(r)
        self.claimed: set[str] = set()  # op ids already in a pattern


def weight_source(w: Work, value: str) -> tuple[str | None, list[OpRec]]:
    """The parameter behind an op input, through DequantizeLinear / Transpose / Cast: (name, those ops)."""
    via: list[OpRec] = []
    for _ in range(5):
        if w.kind.get(value) == "param":
            return value, via
        oid = w.producer.get(value)
        if oid is None or oid not in w.by_id:
            return None, via
        r = w.by_id[oid]
        if r.op_type not in ("DequantizeLinear", "QuantizeLinear", "Transpose", "Cast", "Reshape", "Identity",
                             "Squeeze", "Unsqueeze") or not r.inputs:
            return None, via
        via.append(r)
        value = r.inputs[0]
    return None, via


def _sole_user(w: Work, value: str) -> OpRec | None:
    uses = w.consumers.get(value, [])
    if len(uses) != 1:
        return None
    return w.by_id.get(uses[0][0])


def _place(c: _Ctx, ops: list[OpRec], cls: str, attrs: dict[str, Any], stem: str) -> str:
    """Put ``ops`` into a module of class ``cls`` and return its path."""

    w = c.w
    home = common_ancestor([r.module for r in ops], w.modules)  # TF puts LayerNorm's means in ".../moments"
    info = w.modules.get(home)
    ids = {r.id for r in ops}
    if info is not None and home and (info.cls == cls or info.qualname.endswith("." + cls)):
        info.attrs.update(attrs)
        info.cls = cls
        for r in ops:
            r.module = home
        return home
    alone = all(r.id in ids or r.op_type in _PASS for r in c.by_module.get(home, []))
    # tf2onnx's flatly named ops were put with the ops they feed: those feeding a Linear from before it
    # (the attention's ·V product feeding attention_output) are its parent's, not the Linear's
    flat = [r for r in c.by_module.get(home, []) if r.id not in ids and "/" not in r.name.strip("/")]
    if not alone and info is not None and info.parent is not None and w.tier.startswith("name") and all(
            r.id in ids or r.op_type in _PASS or r in flat for r in c.by_module.get(home, [])):
        for r in flat:
            r.module = info.parent
            c.by_module[info.parent].append(r)
        c.by_module[home] = [r for r in c.by_module[home] if r not in flat]
        alone = True
    below = {r.module for r in ops} - {home}
    if info is not None and home and alone and (home not in c.parents or below) and w.tier.startswith("name"):
        for r in ops:
            r.module = home
        info.cls, info.attrs = cls, {**info.attrs, **attrs}
        return home
    c.count[(home, stem)] += 1
    k = c.count[(home, stem)] - 1
    path = f"{home}.{stem}{k}" if home else f"{stem}{k}"
    if stem in _NAMED and k == 0:  # a role read off the data flow (attention_roles): named, not numbered
        path = f"{home}.{stem}" if home else stem
    w.modules[path] = ModuleInfo(path=path, cls=cls, qualname="", attrs=dict(attrs), parent=home)
    c.parents.add(home)
    for r in ops:
        r.module = path
    return path


def _name_param(w: Work, tensor: str, module: str, leaf: str, note: str = "") -> None:
    if tensor in w.param_names:
        return
    taken = set(w.param_names.values())
    if _PATHLIKE.match(tensor) and tensor not in taken:
        name = tensor
    else:
        name = f"{module}.{leaf}" if module else leaf
        k = 1
        while name in taken:
            k += 1
            name = f"{module}.{leaf}_{k}" if module else f"{leaf}_{k}"
    w.param_names[tensor] = name
    owner = name.rsplit(".", 1)[0] if "." in name else ""
    w.param_owner[tensor] = owner if owner in w.modules else module
    if note:
        w.param_note[tensor] = note


def _linears(c: _Ctx) -> None:
    w = c.w
    for r in list(w.ops):
        if r.id in c.claimed or r.op_type not in ("MatMul", "Gemm", "MatMulInteger", "QLinearMatMul"):
            continue
        widx = 3 if r.op_type == "QLinearMatMul" else 1
        if len(r.inputs) <= widx:
            continue
        weight, via = weight_source(w, r.inputs[widx])
        if weight is None:
            continue
        fed = w.fixed.get(r.inputs[widx]) if via else None  # a kernel reshaped on its way ([h, d, out])
        if len(w.tensors[weight].shape) != 2 and not (fed and len(fed) == 2):
            continue
        rows, cols = w.tensors[weight].shape if len(w.tensors[weight].shape) == 2 else fed
        transposed_op = any(v.op_type == "Transpose" for v in via)
        stored_in_out = not (r.op_type == "Gemm" and r.attrs.get("transB")) and not transposed_op \
            and len(w.tensors[weight].shape) == 2
        fan_in, fan_out = (rows, cols) if stored_in_out else (cols, rows)
        members = [*via, r]
        bias = None
        if r.op_type == "Gemm" and len(r.inputs) > 2 and w.kind.get(r.inputs[2]) == "param":
            bias = r.inputs[2]
        else:  # the bias Add, after the reshapes tf2onnx puts around an einsum's Gemm
            cur, passed = r, []
            for _ in range(4):
                nxt = _sole_user(w, cur.outputs[0]) if cur.outputs else None
                if nxt is None:
                    break
                if nxt.op_type == "Add":
                    for v in nxt.inputs:
                        src, carried = weight_source(w, v)
                        t = w.tensors.get(src) if src else None
                        if t is not None and int(np.prod(t.shape)) == fan_out and len(t.shape) <= 2:
                            bias, members = src, [*members, *passed, *carried, nxt]
                    break
                if nxt.op_type not in ("Reshape", "Squeeze", "Unsqueeze", "Identity"):
                    break
                passed.append(nxt)
                cur = nxt
        stem = c.stems.get(r.id) or ("linear" if not c.stems else "intermediate" if fan_out > fan_in else
                                     "output" if fan_in > fan_out else "linear")
        path = _place(c, members, "Linear", {"in_features": int(fan_in), "out_features": int(fan_out)}, stem)
        for m in members:
            c.claimed.add(m.id)
            m.role = "shape" if m.op_type in _PASS else "linear"
        if stored_in_out:
            w.transposed.add(weight)
        note = (f"stored [in, out] = [{fan_in}, {fan_out}] in the ONNX file (x·W); shown transposed as "
                "[out, in] like PyTorch's Linear") if stored_in_out else ""
        if weight in w.quant:
            note = (note + "; " if note else "") + "quantized: shown dequantized as (q - zero_point) · scale"
        _name_param(w, weight, path, "weight", note)
        if bias is not None:
            _name_param(w, bias, path, "bias")


def _param_1d(w: Work, r: OpRec) -> str | None:
    """A vector parameter read by ``r``, directly or through a reshape (tf2onnx's gamma [1, 1, h])."""
    for v in r.inputs:
        src, _ = weight_source(w, v)
        t = w.tensors.get(src) if src else None
        if t is not None and (len(t.shape) == 1 or sum(1 for d in t.shape if d > 1) == 1):
            return src
    return None


def _layernorms(c: _Ctx) -> None:
    w = c.w
    for r in list(w.ops):
        if r.id in c.claimed:
            continue
        if r.op_type in ("LayerNormalization", "SkipLayerNormalization"):
            scale_idx = 1 if r.op_type == "LayerNormalization" else 2
            scale = r.inputs[scale_idx] if len(r.inputs) > scale_idx else ""
            width = w.tensors[scale].shape[-1] if scale in w.tensors and w.tensors[scale].shape else None
            attrs = {"normalized_shape": [int(width)]} if width else {}
            if "epsilon" in r.attrs:
                attrs["eps"] = r.attrs["epsilon"]
            path = _place(c, [r], "LayerNorm", attrs, "layernorm")
            c.claimed.add(r.id)
            r.role = "layernorm"
            if scale in w.tensors and w.kind.get(scale) == "param":
                _name_param(w, scale, path, "weight")
            bias = r.inputs[scale_idx + 1] if len(r.inputs) > scale_idx + 1 else ""
            if w.kind.get(bias) == "param":
                _name_param(w, bias, path, "bias")
        elif r.op_type in ("ReduceMean", "GlobalAveragePool"):  # tf2onnx rewrites the mean
            span = _primitive_layernorm(c, r)
            if span is None:
                continue
            ops, gamma, beta = span
            attrs = {"normalized_shape": [int(np.prod(w.tensors[gamma].shape))]}
            path = _place(c, ops, "LayerNorm", attrs, "layernorm")
            for m in ops:
                c.claimed.add(m.id)
                m.role = "layernorm"
            _name_param(w, gamma, path, "weight")
            _name_param(w, beta, path, "bias")


def _readers(w: Work, value: str) -> list[OpRec]:
    """Ops reading ``value``, looking through a QDQ pair (QuantizeLinear -> DequantizeLinear)."""
    out = []
    for o, _ in w.consumers.get(value, []):
        r = w.by_id.get(o)
        if r is not None and r.op_type in ("QuantizeLinear", "DequantizeLinear") and r.outputs:
            out += _readers(w, r.outputs[0])
        elif r is not None:
            out.append(r)
    return out


def _dequantized_from(w: Work, values: list[str], x: str) -> bool:
    """Is one of ``values`` ``x`` after a QDQ pair?"""
    for v in values:
        dq = w.by_id.get(w.producer.get(v, ""))
        q = w.by_id.get(w.producer.get(dq.inputs[0], "")) if dq is not None and dq.op_type == "DequantizeLinear" else None
        if q is not None and q.op_type == "QuantizeLinear" and q.inputs[0] == x:
            return True
    return False


def _primitive_layernorm(c: _Ctx, start: OpRec) -> tuple[list[OpRec], str, str] | None:
    """ReduceMean(x) -> Sub(x, mean) -> ... -> Mul(gamma) -> Add(beta), within a few ops."""
    w = c.w
    x = start.inputs[0] if start.inputs else ""
    subs = _readers(w, start.outputs[0])
    if not any(s.op_type == "Sub" and (x in s.inputs or _dequantized_from(w, s.inputs, x)) for s in subs):
        return None
    pos = {r.id: i for i, r in enumerate(w.ops)}
    i0 = pos[start.id]
    qdq = any(r.op_type == "QuantizeLinear" for r in w.ops)  # a QDQ file puts a Q/DQ pair after every op
    window = w.ops[i0: i0 + (42 if qdq else 14)]
    inside = {start.id}
    gamma = beta = None
    for r in window[1:]:
        if not any(w.producer.get(v) in inside for v in r.inputs):
            continue
        inside.add(r.id)
        p = _param_1d(w, r)
        if r.op_type == "Mul" and p is not None and gamma is None:
            gamma = p
        elif r.op_type == "Add" and p is not None and gamma is not None:
            beta = p
            break
    if gamma is None or beta is None:
        return None
    # TensorFlow's form ends x·s + (β - mean·s): the Add joining the two branches is the LayerNorm's output
    for r in window:
        if r.id not in inside and r.op_type == "Add" and all(w.producer.get(v) in inside for v in r.inputs):
            inside.add(r.id)
            break
    ops = [r for r in window if r.id in inside]
    # keep only ops that lead to the final Add (drop stray users of the intermediate values)
    return ops, gamma, beta


def _embeddings(c: _Ctx) -> None:
    w = c.w
    for r in list(w.ops):
        if r.id in c.claimed or r.op_type not in ("Gather", "Slice") or not r.inputs:
            continue
        table, via = weight_source(w, r.inputs[0])
        if table is None or len(w.tensors[table].shape) != 2:
            continue
        n, d = w.tensors[table].shape
        path = _place(c, [*via, r], "Embedding", {"num_embeddings": int(n), "embedding_dim": int(d)}, "embedding")
        c.claimed.add(r.id)
        r.role = "embedding"
        _name_param(w, table, path, "weight")


def _activations(c: _Ctx) -> None:
    """Gelu as one op, or its Erf form: the ops around an Erf that compute 0.5·x·(1 + erf(x/√2))."""
    w = c.w
    for r in w.ops:
        if r.op_type == "Erf":
            r.role = "activation"
            before = w.by_id.get(w.producer.get(r.inputs[0], ""))
            if before is not None and before.op_type in ("Div", "Mul") and before.role is None:
                before.role = "activation"
            cur = r
            for _ in range(3):
                nxt = _sole_user(w, cur.outputs[0]) if cur.outputs else None
                if nxt is None or nxt.op_type not in ("Add", "Mul"):
                    break
                nxt.role = "activation"
                cur = nxt


def apply(w: Work) -> None:

    c = _Ctx(w)
    _linears(c)
    _layernorms(c)
    _embeddings(c)
    _activations(c)
    for r in w.ops:
        if r.role is None:
            if r.op_type in OP_ROLE:
                r.role = OP_ROLE[r.op_type]
            elif r.op_type in SHAPE_ROLE or r.op_type == "Gather":
                r.role = "shape"
            elif r.op_type in ("MatMul", "Gemm"):
                r.role = "matmul"
            else:
                r.role = "elementwise"
    # Parameters no pattern named (a scale vector, a conv kernel): named after the module reading them.
    for r in w.ops:
        for _, v in w.param_inputs(r):
            _name_param(w, v, r.module, _leaf_name(v))
    for name in w.tensors:
        if w.kind.get(name) == "buffer" and name not in w.param_names:
            users = [w.by_id[o].module for o, _ in w.consumers.get(name, []) if o in w.by_id]
            _name_param(w, name, users[0] if users else "", _leaf_name(name))


def _leaf_name(tensor: str) -> str:
    leaf = re.split(r"[./:]", tensor)[-1] or tensor
    return re.sub(r"\W+", "_", leaf)
