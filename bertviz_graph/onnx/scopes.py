"""Which module ran each ONNX op, from whatever the file has (in this order):

1. torch.onnx (dynamo) metadata: ``pkg.torch.onnx.name_scopes`` and ``pkg.torch.onnx.class_hierarchy``
   give the exact PyTorch module path and class of every node;
2. name scopes in node names: "/bert/encoder/layer.0/attention/self/query/MatMul" (torch.onnx),
   "bert/encoder/layer_0/attention/self/MatMul__324" (tf2onnx), with TF2's "StatefulPartitionedCall/"
   wrappers stripped; classes are guessed from the scope names ("layer_3" -> Layer, "self" -> SelfAttention);
3. structure, for flat names (paddle2onnx "p2o.MatMul.12", dynamo without metadata): the repeated blocks.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING

from bertviz_graph.graph import ModuleInfo
from bertviz_graph.onnx.repeats import cut_costs, find_repeat

if TYPE_CHECKING:
    from bertviz_graph.onnx.importer import OpRec, Work

_WRAPPERS = ("StatefulPartitionedCall", "PartitionedCall")
_NAMES = {
    "embeddings": "Embeddings", "encoder": "Encoder", "layer": "Layer", "layers": "Layer", "block": "Block",
    "attention": "Attention", "self": "SelfAttention", "intermediate": "Intermediate", "pooler": "Pooler",
    "transformer": "Transformer", "ffn": "FFN", "mlp": "FeedForward",
}
_MODELS = ("bert", "roberta", "distilbert", "albert", "electra", "xlm_roberta", "ernie", "model", "auto_model")
_INDEX = re.compile(r"^(.*?)[._](\d+)$")
_TF_INDEX = re.compile(r"^([A-Za-z][A-Za-z0-9]*(?:_[A-Za-z][A-Za-z0-9]*)*)_(\d+)$")


def is_within(path: str, top: str) -> bool:
    return top == "" or path == top or path.startswith(top + ".")


def common_ancestor(paths: Iterable[str], modules: Iterable[str]) -> str:
    """The deepest module that holds all ``paths`` ("encoder.layer" is a list, not a module: "encoder")."""
    known = set(modules)
    parts = [p.split(".") if p else [] for p in paths]
    common: list[str] = []
    for level in zip(*parts):
        if all(x == level[0] for x in level):
            common.append(level[0])
        else:
            break
    while common and ".".join(common) not in known:
        common.pop()
    return ".".join(common)


def _guess_class(component: str, parent_component: str) -> str:
    if component.isdigit():
        return "Module"
    m = _INDEX.match(component)
    base = (m.group(1) if m else component).split(".")[-1]
    low = base.lower()
    if low == "output":
        return "SelfOutput" if parent_component.split(".")[0].lower().startswith("attention") else "Output"
    if low in _NAMES:
        return _NAMES[low]
    if low in _MODELS:
        return "".join(p.capitalize() for p in low.split("_")) + ("" if low.endswith("model") else "Model")
    camel = "".join(p[:1].upper() + p[1:] for p in re.split(r"[_\W]+", base) if p)
    return camel or "Module"


_CALL_SUFFIX = re.compile(r"^(.+?)_\d+$")


def keras_calls(names: Iterable[str]) -> bool:
    """Keras 3 names each layer call's scope "<layer>_<call>" ("bert_backbone_1/query_1/..."): most scope
    components end in a number. TF1/TF2 scopes number only list entries ("layer_3")."""
    comps = [c for n in names for c in n.strip("/").split("/")[:-1] if c and c not in _WRAPPERS]
    return len(comps) > 0 and sum(1 for c in comps if _CALL_SUFFIX.match(c)) >= 0.6 * len(comps)


def scope_chain(name: str, keras: bool = False) -> list[str]:
    """'/a/b/layer.0/Op' -> ['a', 'a.b', 'a.b.layer.0'] module paths, outermost first. ``keras``: strip
    Keras 3's call suffix ("transformer_layer_0_1" is call 1 of "transformer_layer_0"), not a list index."""
    parts = [p for p in name.strip("/").split("/")[:-1] if p]
    while parts and parts[0] in _WRAPPERS:
        parts = parts[1:]
    if keras:
        parts = [(_CALL_SUFFIX.match(p).group(1) if _CALL_SUFFIX.match(p) else p) for p in parts]
    chain: list[str] = []
    path = ""
    for comp in parts:
        comp = comp.replace(" ", "_")
        # TF and Keras number list entries "layer_3", "dense_1": written as PyTorch does ("layer.3"), so
        # they read as one list and fold as one
        m = _TF_INDEX.match(comp)
        if m:
            comp = f"{m.group(1)}.{m.group(2)}"
        if path and comp.startswith(path + "."):  # the old exporter repeats the full prefix ("model/model.0")
            path = comp
        elif path and comp.startswith(path.rsplit(".", 1)[-1] + "."):
            path = path.rsplit(".", 1)[0] + "." + comp if "." in path else comp
        else:
            path = f"{path}.{comp}" if path else comp
        chain.append(path)
    return chain


def _add(w: Work, path: str, cls: str, qual: str, parent: str | None) -> None:
    if path not in w.modules:
        w.modules[path] = ModuleInfo(path=path, cls=cls, qualname=qual, attrs={}, parent=parent)


def assign_modules(w: Work) -> str:
    """Set ``module`` of every op and fill ``w.modules``; returns which source the hierarchy came from."""

    ops = [r for r in w.ops]
    with_meta = sum(1 for r in ops if "pkg.torch.onnx.name_scopes" in r.meta)
    with_scope = sum(1 for r in ops if "/" in r.name.strip("/"))
    if ops and with_meta >= len(ops) / 2:
        for r in ops:
            scopes = parse_list(r.meta.get("pkg.torch.onnx.name_scopes", ""))[:-1]
            classes = parse_list(r.meta.get("pkg.torch.onnx.class_hierarchy", ""))[:-1]
            if not scopes or scopes[0] != "":
                r.module = ""
                continue
            root_qual = classes[0] if classes else "OnnxModel"
            _add(w, "", root_qual.rsplit(".", 1)[-1], root_qual, None)
            parent = ""
            for path, qual in zip(scopes[1:], classes[1:]):
                _add(w, path, qual.rsplit(".", 1)[-1], qual, parent)
                parent = path
            r.module = parent
        return "torch.onnx metadata (pkg.torch.onnx.name_scopes)"
    _add(w, "", _root_class(w), "", None)
    if ops and with_scope >= len(ops) / 2:
        keras = keras_calls(r.name for r in ops)
        for r in ops:
            chain = scope_chain(r.name, keras)
            parent = ""
            prev_comp = ""
            for path in chain:
                comp = path[len(parent) + 1:] if parent else path
                _add(w, path, _guess_class(comp, prev_comp), "", parent)
                parent, prev_comp = path, comp
            r.module = parent
        _place_unscoped(w)
        return "name scopes in node names" + (" (Keras 3 call suffixes removed)" if keras else "")
    _structural(w)
    return "repeated blocks found by structure (flat node names)"


def _place_unscoped(w: Work) -> None:
    """Ops an exporter named flatly in a scoped graph (tf2onnx's "Gemm__803" inside an attention layer)
    belong with the ops they feed (the deepest module holding all their users), else with their inputs."""
    pos = {r.id: i for i, r in enumerate(w.ops)}
    users: dict[str, list[str]] = {}
    for r in w.ops:
        for v in r.inputs:
            if v in w.producer:
                users.setdefault(w.producer[v], []).append(r.id)
    flat = {r.id for r in w.ops if "/" not in r.name.strip("/")}
    for r in sorted((w.by_id[i] for i in flat), key=lambda x: -pos[x.id]):
        mods = [w.by_id[u].module for u in users.get(r.id, []) if w.by_id[u].module]
        if mods:
            r.module = common_ancestor(mods, w.modules)
    for r in w.ops:
        if r.id in flat and not r.module:
            mods = [w.by_id[w.producer[v]].module for v in r.inputs if v in w.producer]
            mods = [m for m in mods if m]
            if mods:
                r.module = common_ancestor(mods, w.modules)


def _root_class(w: Work) -> str:
    name = w.f.model.graph.name or ""
    return re.sub(r"\W+", "", name.title()) or "OnnxModel"


def _token(w: Work, r: OpRec) -> str:
    pshapes = [str(w.tensors[v].shape) for _, v in w.param_inputs(r)]
    attrs = sorted((k, str(v)) for k, v in r.attrs.items())
    return f"{r.op_type}|{attrs}|{w.shape(r.outputs[0]) if r.outputs else None}|{pshapes}"


def _structural(w: Work) -> None:

    # Only ops downstream of a trained weight are searched: what is computed from the inputs alone (the
    # attention mask, made once and shared by all layers) would break the repeat; it stays at the top.
    data: set[str] = set()
    for r in w.ops:
        if w.param_inputs(r) or any(w.producer.get(v) in data for v in r.inputs):
            data.add(r.id)
    ops = [r for r in w.ops if r.id in data]
    ids: dict[str, int] = {}
    tokens = [ids.setdefault(_token(w, r), len(ids)) for r in ops]
    pos = {r.id: i for i, r in enumerate(ops)}
    uses: dict[str, list[int]] = {}
    for i, r in enumerate(ops):
        for v in r.inputs:
            if v in w.producer and w.producer[v] in pos:
                uses.setdefault(w.producer[v], []).append(i)
    costs = cut_costs(len(ops), [(pos[p], qs) for p, qs in uses.items()])
    rep = find_repeat(tokens, costs.__getitem__)
    if rep is None:
        return
    block_ops = ops[rep.start: rep.start + rep.period]
    attention = any(r.op_type == "Softmax" for r in block_ops)
    container, cls = ("encoder", "Encoder") if attention else ("blocks", "Blocks")
    _add(w, container, cls, "", "")
    for k in range(rep.copies):
        path = f"{container}.layer.{k}" if attention else f"{container}.{k}"
        _add(w, path, "Layer" if attention else "Block", "", container)
        for r in ops[rep.start + k * rep.period: rep.start + (k + 1) * rep.period]:
            r.module = path
    end = rep.start + rep.copies * rep.period
    # Before the blocks: what grows out of an embedding-table lookup is the embeddings block.
    emb: set[str] = set()
    for r in ops[: rep.start]:
        table = r.op_type == "Gather" and w.kind.get(r.inputs[0]) == "param" and \
            len(w.tensors[r.inputs[0]].shape) == 2
        from_emb = any(w.producer.get(v) in emb for v in r.inputs)
        if table or from_emb:
            emb.add(r.id)
    if emb:
        _add(w, "embeddings", "Embeddings", "", "")
        for r in ops[: rep.start]:
            if r.id in emb:
                r.module = "embeddings"
    # After them: a Linear followed by tanh on one token is BERT's pooler.
    tail = ops[end:]
    if any(r.op_type == "Tanh" for r in tail) and any(w.param_inputs(r) for r in tail):
        _add(w, "pooler", "Pooler", "", "")
        for r in tail:
            r.module = "pooler"
    # Ops on weights alone (an int8 kernel's DequantizeLinear) run where the weight is used.
    users: dict[str, list[str]] = {}
    for r in w.ops:
        for v in r.inputs:
            if v in w.producer:
                users.setdefault(w.producer[v], []).append(r.id)
    for r in reversed(w.ops):
        if r.module or any(v in w.producer for v in r.inputs if v):
            continue
        mods = [w.by_id[u].module for u in users.get(r.id, []) if u in w.by_id and w.by_id[u].module]
        if mods:
            r.module = common_ancestor(mods, w.modules)


def ensure_parents(w: Work) -> None:
    """Every module's parent exists (the root last of all), so the tree is connected."""
    if "" not in w.modules:
        w.modules[""] = ModuleInfo(path="", cls=_root_class(w), qualname="", attrs={}, parent=None)
    for path, info in list(w.modules.items()):
        if path == "":
            continue
        if info.parent is None or info.parent not in w.modules:
            info.parent = ""


def parse_list(text: str) -> list[str]:
    """The string lists torch.onnx writes into metadata ("['', 'encoder', ...]")."""
    try:
        v = ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return []
    return [str(x) for x in v] if isinstance(v, (list, tuple)) else []
