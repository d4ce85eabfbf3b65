"""The eager capture's replay program, recorded at TRACE time and kept beside the trace cache as plain JSON,
so that even the first capture of a process is a replay (about a plain forward) instead of an eager pass under
PyTorch's pre-dispatch mode (about 2x one, plus our recording; benchmarks/capture_bench.py, RESULTS.md).

How: right after a trace (a cache miss, torch already imported), the model is built on the ``meta`` device
and run through ``run.eager``'s recording pass at three sequence lengths. The three step lists must agree in
everything but integers; an integer that differs is written as ``a * length + b`` (fitted on two lengths,
verified on the third), so one program serves every length. Tensors are written as references: a step's
variable, or a parameter/buffer by its name (with shape and dtype). Ops by their ATen name. Nothing else.

Loading trusts nothing: the schema, every op (``aten.<name>.<overload>`` only, resolved through
``torch.ops.aten``), every reference, parameter name, shape and dtype, graph id and integer is checked; any
mismatch and the file is ignored (the eager pass stays the route). Never a pickle, never code.
Values are the same ATen calls on the same tensors as the eager pass: bit-identical
(tests/test_stored_program.py compares every op at lengths the recording never saw).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import threading
import weakref
from collections import OrderedDict
from pathlib import Path
from typing import Any

from bertviz_graph.graph import OpGraph
from bertviz_graph.io import write_atomic
from bertviz_graph.run import eager
from bertviz_graph.run.replay import Const, Program, Var
from bertviz_graph.tracer import cache_dir
from bertviz_graph.version import __version__

SCHEMA = "bertviz_graph.replay-program"
REVISION = 1
LENGTHS = (5, 8, 13)  # recorded at these; any other length is verified by tests, not by the file
_OP_NAME = re.compile(r"aten\.[A-Za-z0-9_]+\.[A-Za-z0-9_]+")
_MAX_INT = 2**63 - 1


class Refused(ValueError):
    """The stored program is not one this version wrote for this graph and model."""


def path_for(graph: OpGraph) -> Path | None:
    """The program's file in the trace cache: keyed by what fixes the graph (config, options, versions)."""
    meta = graph.meta
    if not meta.get("config") or meta.get("origin") == "module":
        return None
    blob = json.dumps([meta.get("config"), meta.get("head"), meta.get("attention"), meta.get("ops"),
                       meta.get("seq_len"), meta.get("versions"), __version__, REVISION], sort_keys=True,
                      default=str)
    return cache_dir() / f"{hashlib.sha256(blob.encode()).hexdigest()[:24]}.replay.json"


def write_for(graph: OpGraph) -> Path | None:
    """Record and store the program of a just-traced graph (no-op when it exists or does not apply)."""
    path = path_for(graph)
    if path is None or path.is_file() or not eager.applies(graph):
        return None
    if not os.access(path.parent, os.W_OK):  # a read-only cache: spare the recording it could not keep
        return None
    try:
        doc = record(graph)
    except Exception:  # noqa: BLE001 - a model the meta pass cannot run keeps the eager route; never fail a trace
        return None
    if doc is None:
        return None
    try:
        write_atomic(path, json.dumps(doc, separators=(",", ":")))
    except OSError:
        return None  # a read-only cache folder must not stop the user
    return path


def record(graph: OpGraph, lengths: tuple[int, ...] = LENGTHS) -> dict | None:
    """The program of ``graph``'s model as plain data (None when a pass cannot be replayed or merged)."""
    import torch
    import transformers

    from bertviz_graph.sources.build import make_config  # lazy: transformers
    from bertviz_graph.sources.heads import auto_class  # lazy: transformers
    from bertviz_graph.torch_lock import torch_exclusive  # lazy: only here

    meta = graph.meta
    attention = meta.get("attention", "eager")
    config = make_config(meta["config"], attention)
    head = meta.get("head", "base")
    auto = getattr(transformers, auto_class(head) if head != "custom" else "AutoModel")
    with torch.device("meta"):
        model = auto.from_config(config, attn_implementation=attention)
    model.eval()
    names = {id(m): n for n, m in model.named_modules()}
    holder = _Model(model)
    docs = []
    for n in lengths:
        built: list[Any] = []
        with torch_exclusive():
            _out, unmatched, _seq = eager.record_pass(graph, holder, names, [0] * n, built)
        if unmatched or not built or built[0] is None:
            return None
        docs.append(_encode(built[0].raw, model))
    merged = _merge(docs, list(lengths))
    return {"schema": SCHEMA, "revision": REVISION, "torch": torch.__version__, "lengths": list(lengths),
            **merged}


class _Model:
    """What ``run.eager`` reads of a Runnable: the model."""

    def __init__(self, model: Any):
        self.model = model


# ---- plain data <-> steps ------------------------------------------------------------------------------

def _encode(raw: tuple, model: Any) -> dict:
    import torch
    from torch._ops import OpOverload

    steps, params, ret, returned, consts = raw
    named = {}
    for name, t in [*model.named_parameters(remove_duplicate=False), *model.named_buffers(remove_duplicate=False)]:
        named.setdefault(id(t), (name, t))
    table = []
    for c in consts:
        if isinstance(c, OpOverload):
            name = str(c)
            if not _OP_NAME.fullmatch(name):
                raise Refused(f"op {name}")
            table.append({"op": name})
        elif isinstance(c, torch.Tensor):
            hit = named.get(id(c))
            if hit is None or hit[1] is not c:
                raise Refused("a tensor that is not a parameter or buffer")
            table.append({"param": hit[0], "shape": list(c.shape), "dtype": str(c.dtype).removeprefix("torch.")})
        elif isinstance(c, torch.dtype):
            table.append({"dtype": str(c).removeprefix("torch.")})
        elif isinstance(c, torch.device):
            table.append({"device": "model"})  # recorded on meta; replayed on the model's own device
        elif isinstance(c, (torch.layout, torch.memory_format)):
            table.append({type(c).__name__: str(c).removeprefix("torch.")})
        elif type(c) is float:
            table.append({"float": repr(c)})
        else:
            raise Refused(f"a constant of type {type(c).__name__}")
    out = [[v, fk, _enc(a), _enc_kw(kw), gid, sorted(uses)] for v, fk, a, kw, gid, uses in steps]
    return {"consts": table, "steps": out, "params": list(params), "ret": _enc(ret), "returned": sorted(returned)}


def _enc_kw(kw: dict | None) -> dict | None:
    return {k: _enc(x) for k, x in kw.items()} if kw else None


def _enc(a: Any) -> Any:
    t = type(a)
    if t is Var:
        return {"v": [a.n, a.k]}
    if t is Const:
        return {"c": a.ix}
    if t is tuple:
        return {"t": [_enc(x) for x in a]}
    if t is list:
        return [_enc(x) for x in a]
    if a is None or t in (int, bool, str) or (t is float and math.isfinite(a)):
        return a
    raise Refused(f"an argument of type {t.__name__}")


def _merge(docs: list[Any], lengths: list[int]) -> Any:
    """One value for all lengths: equal everywhere, or an integer affine in the length ({"n": [a, b]})."""
    first = docs[0]
    if all(_same(d, first) for d in docs[1:]):
        return first
    if all(type(d) is int for d in docs):
        (l0, l1), (x0, x1) = lengths[:2], docs[:2]
        a, rem = divmod(x1 - x0, l1 - l0)
        b = x0 - a * l0
        if rem or any(a * n + b != x for n, x in zip(lengths, docs)):
            raise Refused("an integer that is not affine in the length")
        return {"n": [a, b]}
    if all(type(d) is list for d in docs) and len({len(d) for d in docs}) == 1:
        return [_merge([d[i] for d in docs], lengths) for i in range(len(first))]
    if all(type(d) is dict for d in docs) and all(d.keys() == first.keys() for d in docs):
        if "v" in first or "c" in first:
            raise Refused("references differ between lengths")
        return {k: _merge([d[k] for d in docs], lengths) for k in first}
    raise Refused("the passes differ between lengths")


def _same(a: Any, b: Any) -> bool:
    return type(a) is type(b) and a == b


# ---- loading ------------------------------------------------------------------------------------------

class Bound:
    """A stored program bound to one model and graph; ``program(length)`` instantiates it (kept per length)."""

    def __init__(self, doc: dict, model: Any, graph: OpGraph, consts: list[Any] | None = None):
        self.consts = bind_consts(doc, model) if consts is None else consts
        self.doc = _checked(doc, self.consts, graph)
        self.programs: OrderedDict[int, Program] = OrderedDict()
        self.lock = threading.Lock()

    def program(self, length: int) -> Program:
        with self.lock:
            prog = self.programs.get(length)
            if prog is None:
                d = self.doc
                steps = [(v, fk, _dec(a, length), _dec_kw(kw, length), gid, set(uses))
                         for v, fk, a, kw, gid, uses in d["steps"]]
                prog = self.programs[length] = Program(steps, d["params"], _dec(d["ret"], length),
                                                       set(d["returned"]), self.consts)
                while len(self.programs) > 8:
                    self.programs.popitem(last=False)
            else:
                self.programs.move_to_end(length)
            return prog


def load(path: Path, model: Any, graph: OpGraph) -> Bound:
    """Read and check a stored program; ``Refused`` when anything is not as this version writes it."""
    try:
        doc = json.loads(Path(path).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise Refused(f"unreadable: {e}") from e
    return Bound(doc, model, graph)


# (id(model), id(graph)) -> (weakref model, weakref graph, Bound or None when refused / absent)
_BOUND: dict[tuple[int, int], tuple[Any, Any, Bound | None]] = {}
_BLOCK = threading.Lock()


def program_for(graph: OpGraph, model: Any, length: int) -> Program | None:
    """The stored program for one length, or None (absent, refused): what ``eager_capture`` replays."""
    bound = bound_for(graph, model)
    if bound is None:
        return None
    try:
        return bound.program(length)
    except Refused:
        return None


def bound_for(graph: OpGraph, model: Any) -> Bound | None:
    """The stored program of ``graph`` bound to ``model``, or None (absent, refused): kept per pair."""
    key = (id(model), id(graph))
    with _BLOCK:
        hit = _BOUND.get(key)
        if hit is not None and hit[0]() is model and hit[1]() is graph:
            return hit[2]
    path = path_for(graph)
    if path is None or not path.is_file():
        return None  # not remembered: the app records it in the background after its first sentence
    try:
        bound = load(path, model, graph)
    except Refused:
        bound = None
    with _BLOCK:
        _BOUND[key] = (weakref.ref(model), weakref.ref(graph), bound)
        while len(_BOUND) > 8:
            _BOUND.pop(next(iter(_BOUND)))
    return bound


def bind_consts(doc: Any, model: Any) -> list[Any]:
    """The file's constant table as objects: ops, this model's parameters by name (shape, dtype checked), dtypes."""
    import torch

    if not isinstance(doc, dict) or doc.get("schema") != SCHEMA or doc.get("revision") != REVISION:
        raise Refused("not a replay program of this version")
    if doc.get("torch") != torch.__version__:
        raise Refused("written by another torch")
    table = doc.get("consts")
    if not isinstance(table, list):
        raise Refused("no constant table")
    first = next(iter(model.parameters()), None)
    device = first.device if first is not None else torch.device("cpu")
    named = dict([*model.named_parameters(remove_duplicate=False), *model.named_buffers(remove_duplicate=False)])
    out: list[Any] = []
    for c in table:
        if not isinstance(c, dict) or len(c) not in (1, 3):
            raise Refused("a malformed constant")
        if "op" in c:
            out.append(_op(c["op"]))
        elif "param" in c:
            t = named.get(c["param"]) if isinstance(c["param"], str) else None
            if t is None or list(t.shape) != c.get("shape") or str(t.dtype).removeprefix("torch.") != c.get("dtype"):
                raise Refused(f"parameter {c['param']!r} missing or of another shape or dtype")
            out.append(t)
        elif "device" in c and c["device"] == "model":
            out.append(device)
        elif len(c) == 1 and next(iter(c)) in ("dtype", "layout", "memory_format"):
            kind, name = next(iter(c.items()))
            obj = getattr(torch, name, None) if isinstance(name, str) and name.isidentifier() else None
            want = {"dtype": torch.dtype, "layout": torch.layout, "memory_format": torch.memory_format}[kind]
            if not isinstance(obj, want):
                raise Refused(f"unknown {kind} {name!r}")
            out.append(obj)
        elif "float" in c and c["float"] in ("inf", "-inf", "nan"):
            out.append(float(c["float"]))
        else:
            raise Refused("an unknown constant")
    return out


def _op(name: Any) -> Any:
    import torch
    from torch._ops import OpOverload

    if not isinstance(name, str) or not _OP_NAME.fullmatch(name):
        raise Refused(f"not an ATen op: {name!r}")
    _ns, packet, overload = name.split(".")
    try:
        op = getattr(getattr(torch.ops.aten, packet), overload)
    except (AttributeError, RuntimeError) as e:
        raise Refused(f"unknown op {name}") from e
    if not isinstance(op, OpOverload):
        raise Refused(f"not an op overload: {name}")
    return op


def _checked(doc: dict, consts: list[Any], graph: OpGraph) -> dict:
    """The steps' structure, references and graph ids checked (the values are checked as they decode)."""
    from torch._ops import OpOverload

    steps, params, returned = doc.get("steps"), doc.get("params"), doc.get("returned")
    if not isinstance(steps, list) or not steps or not _ints(params) or not _ints(returned):
        raise Refused("malformed steps")
    returns = dict.fromkeys(params, 1)  # variable made so far -> how many tensors its op returns
    counts: dict[int, int] = {}  # op index -> its _returns (the schema read once per op)
    nconsts = len(consts)
    g = graph.g
    kept = set()
    for step in steps:
        if not isinstance(step, list) or len(step) != 6:
            raise Refused("a malformed step")
        v, fk, args, kw, gid, uses = step
        if type(v) is not int or type(fk) is not int or not _ints(uses):
            raise Refused("a malformed step")
        if fk == -1:
            if v not in params or args is not None or kw is not None:
                raise Refused("a malformed input step")
        elif not (0 <= fk < nconsts) or not isinstance(consts[fk], OpOverload):
            raise Refused("a step whose op is not an op")
        else:
            if not (isinstance(args, dict) and list(args) == ["t"]) or not (kw is None or isinstance(kw, dict)):
                raise Refused("malformed arguments")
            refs: list[tuple[int, int | None]] = []
            _refs(args, nconsts, refs)
            if kw:
                _refs(list(kw.values()), nconsts, refs)
            _check_refs(refs, returns)
            if v in returns or not set(uses) <= {r[0] for r in refs} | {v}:
                raise Refused("a variable made twice, or uses that are not its arguments")
            count = counts.get(fk)
            if count is None:
                count = counts[fk] = _returns(consts[fk])
            returns[v] = count
        if gid is not None:
            if not isinstance(gid, str) or gid not in g or gid in kept:
                raise Refused(f"graph id {gid!r} not in this graph")
            kept.add(gid)
    refs = []
    _refs([doc.get("ret")], nconsts, refs)
    _check_refs(refs, returns)
    ops = {n for n, d in g.nodes(data=True) if d["kind"] == "op"}
    if not ops <= kept:
        raise Refused("ops of the graph the program does not compute")
    return doc


def _check_refs(refs: list[tuple[int, int | None]], returns: dict[int, int]) -> None:
    """Each reference names a variable made before, and a tuple index only into an op's several outputs."""
    for n, k in refs:
        count = returns.get(n)
        if count is None:
            raise Refused("a reference to a variable not made yet")
        if (k is None) != (count == 1) or (k is not None and not (0 <= k < count or (count == -1 and k >= 0))):
            raise Refused("a reference into an output that is not there")


def _returns(op: Any) -> int:
    """How many tensors an op returns: -1 for a list of them (split), else the schema's count."""
    import torch

    rets = op._schema.returns  # (torch's way to an op's signature: OpOverload has no public one)
    return -1 if len(rets) == 1 and isinstance(rets[0].type, torch.ListType) else len(rets)


def _ints(xs: Any) -> bool:
    return isinstance(xs, list) and all(type(x) is int and x >= 0 for x in xs)


def _refs(a: Any, nconsts: int, out: list[tuple[int, int | None]]) -> None:
    """Append every (variable, tuple index) an encoded argument reads; check constants and affine integers."""
    t = type(a)
    if t is list:
        for x in a:
            _refs(x, nconsts, out)
        return
    if t is dict:
        if len(a) != 1:
            raise Refused("a malformed reference")
        kind, val = next(iter(a.items()))
        if kind == "v" and type(val) is list and len(val) == 2 and type(val[0]) is int and \
                (val[1] is None or type(val[1]) is int):
            out.append((val[0], val[1]))
        elif kind == "t" and type(val) is list:
            _refs(val, nconsts, out)
        elif not ((kind == "c" and type(val) is int and 0 <= val < nconsts) or
                  (kind == "n" and type(val) is list and len(val) == 2 and all(type(x) is int for x in val))):
            raise Refused("a malformed reference")
        return
    if not (a is None or t in (int, bool, str) or (t is float and math.isfinite(a))):
        raise Refused(f"an argument of type {t.__name__}")


def _dec_kw(kw: dict | None, length: int) -> dict | None:
    return {k: _dec(x, length) for k, x in kw.items()} if kw else None


def _dec(a: Any, length: int) -> Any:
    t = type(a)
    if t is list:
        return [_dec(x, length) for x in a]
    if t is dict:
        kind, val = next(iter(a.items()))
        if kind == "v":
            return Var(val[0], val[1])
        if kind == "c":
            return Const(val)
        if kind == "t":
            return tuple(_dec(x, length) for x in val)
        n = val[0] * length + val[1]  # "n": its two integers checked by _refs
        if not -_MAX_INT <= n <= _MAX_INT:
            raise Refused("an integer out of range")
        return n
    return a
