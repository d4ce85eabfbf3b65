"""Capture during the model's own eager forward pass: no export, so the first sentence costs about a forward.

How: the real model runs once, eagerly, with a dispatch mode on PyTorch's *pre-dispatch* key (the level
``torch.export`` records, so ``aten.linear``, ``aten.layer_norm`` and ``aten.softmax`` arrive whole, as in
the traced graph) and with the process's "exporting" flags set, so transformers takes the very Python path
the export took (e.g. it builds the attention mask instead of skipping it). Every op's output is handed to
the recorder under the graph id it matches: (ATen target, module instance, the graph ids of its inputs) in
execution order, the rule ``run.capture.match`` applies to an exported program. The matching of one model and
graph is remembered as a plan (the op sequence with its ids), so later sentences only check each op against
the plan. The ATen calls and tensors are the export's, so values are bit-identical to the program route
(tests/test_eager_capture.py compares every op). A length this process has not run yet first tries the
program recorded at trace time (run/stored.py: this very pass, run on the meta device), so the eager pass
runs only when no stored program applies.

When it does not apply (``--ops primitive`` graphs, a module traced by the user, any op left unmatched), the
caller uses the exported program instead (``run.capture``). The flags and the pre-dispatch mode are process
state: the whole pass holds ``torch_exclusive`` and the module hooks ignore other threads.
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from typing import Any

from bertviz_graph.graph import OpGraph
from bertviz_graph.run.replay import ReplayBuilder, replay
from bertviz_graph.torch_lock import torch_exclusive

REPLAY_LENGTHS = 8  # replay programs kept per model (one per sentence length)


class _Known:
    """What one model and graph taught: the plan, module names and replay programs by length."""

    def __init__(self, model: Any, graph: OpGraph, seq: list, names: dict[int, str]):
        self.model, self.graph = weakref.ref(model), weakref.ref(graph)
        self.seq, self.names = seq, names
        self.replays: OrderedDict[int, Any] = OrderedDict()


# (id(model), id(graph)) -> _Known (weak references: an id alone is reused once its object is gone)
_PLANS: dict[tuple[int, int], _Known] = {}
_PLAN_LOCK = threading.Lock()


class _Plan(Exception):
    """The op sequence left the remembered plan (another code path): match this pass afresh."""


def applies(graph: OpGraph) -> bool:
    """Eager capture fits graphs of transformers models traced at the export's own op level."""
    return (graph.module is None and graph.meta.get("ops", "aten") == "aten"
            and graph.meta.get("tracer", "torch.export") == "torch.export")


class _Matcher:
    """Online version of ``run.capture.match``: graph ops by (target, module), taken in execution order."""

    def __init__(self, graph: OpGraph):
        g = graph.g
        pending: dict[tuple[str, str], list[str]] = {}
        for n, d in sorted(((n, d) for n, d in g.nodes(data=True) if d["kind"] == "op"),
                           key=lambda x: x[1]["order"]):
            pending.setdefault((d["target"], d["module"]), []).append(n)
        self.pending = pending
        self.preds = {n: set(g.predecessors(n)) for n in g.nodes}

    def take(self, target: str, module: str, ins: set[str]) -> str | None:
        cands = self.pending.get((target, module))
        if not cands:
            return None
        for i, c in enumerate(cands):
            if self.preds[c] == ins:
                del cands[i]
                return c
        return None

    def unmatched(self) -> list[str]:
        return [c for cs in self.pending.values() for c in cs]


def _state_ids(graph: OpGraph, model: Any) -> dict[int, tuple[str, Any]]:
    """id(tensor) -> (graph id, tensor) for the model's parameters and buffers (tied names folded)."""
    g = graph.g
    param_id = {d["name"]: n for n, d in g.nodes(data=True) if d["kind"] in ("param", "buffer")}
    tied = {t: d["name"] for _, d in g.nodes(data=True) if d["kind"] == "param" for t in d.get("tied") or []}
    out: dict[int, tuple[str, Any]] = {}
    named = [*model.named_parameters(remove_duplicate=False), *model.named_buffers(remove_duplicate=False)]
    for name, t in named:
        gid = param_id.get(tied.get(name, name))
        if gid is not None:
            out.setdefault(id(t), (gid, t))
    return out


def eager_capture(graph: OpGraph, run: Any, input_ids: list[int], token_types: list[int] | None,
                  keep: Any, stored: Any = None) -> tuple[Any, list[str]]:
    """Run the model on ``input_ids``, calling ``keep(graph_id, value)`` for every op; returns the model's
    output (as a tuple) and the graph ops left unmatched (empty when every op found its value).

    ``stored(length)``: a replay program recorded at trace time (run/stored.py) or None; used for a length
    this process has not run yet, so a first capture is a replay too."""

    key = (id(run.model), id(graph))
    with _PLAN_LOCK:
        known = _PLANS.get(key)
        if known is not None and (known.model() is not run.model or known.graph() is not graph):
            known = None
        gm = known.replays.get(len(input_ids)) if known is not None else None
    if gm is None and stored is not None:
        gm = stored(len(input_ids))

    def keep_out(gid: str, value: Any) -> None:
        _keep_out(keep, gid, value)

    if gm is not None:  # this length ran before, or the trace stored its program: replay it
        ins, tt = _replay_inputs(graph, run, input_ids, token_types)
        with torch_exclusive():  # like every forward pass: never beside an export in another thread (torch_lock.py)
            return replay(gm, keep_out, ins, tt), []
    names = known.names if known is not None else {id(m): n for n, m in run.model.named_modules()}
    built: list[Any] = []
    with torch_exclusive():
        out = None
        if known is not None:
            try:
                out, unmatched = _pass(graph, run, names, input_ids, token_types, keep, known.seq, built), []
            except _Plan:
                built.clear()
        if out is None:
            out, unmatched, seq = _pass_matching(graph, run, names, input_ids, token_types, keep, built)
            if not unmatched:
                known = _Known(run.model, graph, seq, names)
                with _PLAN_LOCK:
                    _PLANS[key] = known
                    while len(_PLANS) > 8:
                        _PLANS.pop(next(iter(_PLANS)))
    if built and built[0] is not None and known is not None and not unmatched:
        with _PLAN_LOCK:
            known.replays[len(input_ids)] = built[0]
            while len(known.replays) > REPLAY_LENGTHS:
                known.replays.popitem(last=False)
    return out, unmatched


def _replay_inputs(graph: OpGraph, run: Any, input_ids: list[int],
                   token_types: list[int] | None) -> tuple[list[Any], Any]:
    import torch

    ins = [torch.tensor([input_ids], dtype=torch.long) for _ in _inputs(graph)]
    buf, typed = _token_buffer(run.model, token_types)
    return ins, typed if typed is not None else buf


def _token_buffer(model: Any, token_types: list[int] | None) -> tuple[Any, Any]:
    """The model's token-type buffer (the export reads types from it) and a copy holding this pair's types."""
    import torch

    buf = next((b for n, b in model.named_buffers() if n.endswith("token_type_ids")), None)
    if buf is None or token_types is None:
        return buf, None
    typed = buf.clone()
    typed[..., : len(token_types)] = torch.tensor(token_types, dtype=buf.dtype)
    return buf, typed


def _pass(graph: OpGraph, run: Any, names: dict[int, str], input_ids: list[int], token_types: list[int] | None, keep: Any,
          plan: list[tuple[Any, str, str | None]], built: list[Any]) -> Any:
    """A pass along a known plan: each op only checked against it (its target and module)."""
    pos = [0]
    stack: list[str] = []

    def on_op(func: Any, out: Any) -> None:
        i = pos[0]
        if i >= len(plan):
            raise _Plan
        func0, module, gid = plan[i]
        if func0 is not func or module != (stack[-1] if stack else ""):
            raise _Plan
        pos[0] = i + 1
        if gid is not None:
            _keep_out(keep, gid, out)
        return gid

    out = _run(run, names, _inputs(graph), input_ids, token_types, on_op, stack, lambda args: None, keep, built)
    if pos[0] != len(plan):
        raise _Plan
    return out


def _pass_matching(graph: OpGraph, run: Any, names: dict[int, str], input_ids: list[int], token_types: list[int] | None,
                   keep: Any, built: list[Any]) -> tuple[Any, list[str], list[tuple[Any, str, str | None]]]:
    """A first pass: every op matched to the graph from its target, module and inputs."""
    import torch

    matcher = _Matcher(graph)
    producers: dict[int, tuple[str, Any]] = {k: (gid, weakref.ref(t)) for k, (gid, t)
                                             in _state_ids(graph, run.model).items()}
    inputs = _inputs(graph)
    stack: list[str] = []
    seq: list[tuple[Any, str, str | None]] = []
    pending_ins: list[set[str]] = [set()]

    tensor = torch.Tensor
    op_names: dict[Any, str] = {}  # str(OpOverload) is Python code: once per op kind, not once per call

    def see_args(args: Any) -> None:
        ins: set[str] = set()
        for a in _flat(args):
            if isinstance(a, tensor):
                hit = producers.get(id(a))
                if hit is not None and hit[1]() is a:
                    ins.add(hit[0])
        pending_ins[0] = ins

    def on_op(func: Any, out: Any) -> None:
        module = stack[-1] if stack else ""
        name = op_names.get(func)
        if name is None:
            name = op_names[func] = str(func)
        gid = matcher.take(name, module, pending_ins[0])
        seq.append((func, module, gid))
        if gid is None:
            return None
        if isinstance(out, tensor):
            producers[id(out)] = (gid, weakref.ref(out))
        else:
            for t in _tensors(out):
                producers[id(t)] = (gid, weakref.ref(t))
        _keep_out(keep, gid, out)
        return gid

    def on_input(gid: str, x: Any) -> None:
        producers[id(x)] = (gid, weakref.ref(x))
        keep(gid, x)

    out = _run(run, names, inputs, input_ids, token_types, on_op, stack, see_args, on_input, built)
    return out, matcher.unmatched(), seq


def record_pass(graph: OpGraph, run: Any, names: dict[int, str], input_ids: list[int],
                built: list[Any]) -> tuple[Any, list[str], list]:
    """A matching pass that keeps nothing, for its replay program (``built``): run/stored.py records the
    meta-device model with it at trace time."""
    return _pass_matching(graph, run, names, input_ids, None, lambda _gid, _v: None, built)


def _inputs(graph: OpGraph) -> list[str]:
    """The graph's input nodes ("input:input_ids", ...) in the order they were traced."""
    g = graph.g
    return sorted((n for n, d in g.nodes(data=True) if d["kind"] == "input"), key=lambda n: g.nodes[n]["order"])


def _flat(args: Any) -> list[Any]:
    """The arguments with lists and tuples flattened (most are flat already: no generator per call)."""
    out = []
    for a in args:
        if isinstance(a, (list, tuple)):
            out.extend(_flat(a))
        else:
            out.append(a)
    return out


def _tensors(out: Any) -> list[Any]:
    import torch

    if isinstance(out, torch.Tensor):
        return [out]
    if isinstance(out, (tuple, list)):
        return [t for t in out if isinstance(t, torch.Tensor)]
    return []


def _keep_out(keep: Any, gid: str, out: Any) -> None:
    """The op's value under its id; a tuple's first tensor under the id, the k-th under 'id#k'."""
    if not isinstance(out, (tuple, list)):
        keep(gid, out)
        return
    import torch

    ts = [(k, t) for k, t in enumerate(out) if isinstance(t, torch.Tensor)]
    if not ts:
        return
    keep(gid, ts[0][1])
    for k, t in ts:
        if k > 0:
            keep(f"{gid}#{k}", t)


def _run(run: Any, names: dict[int, str], inputs: list[str], input_ids: list[int], token_types: list[int] | None, on_op: Any,
         stack: list[str], see_args: Any, on_input: Any, built: list[Any]) -> Any:
    """One eager forward with the pre-dispatch mode, the exporting flags and thread-bound module hooks;
    its ops also written down as a program for this length (``built`` gets it, or None)."""
    import torch

    # private PyTorch API (2.13): the pre-dispatch mode stack is what torch.export itself uses; imported by
    # name so a torch without it fails here, in one place (capture then falls back to the exported program)
    from torch._C import DispatchKey, _DisablePythonDispatcher, _EnablePreDispatch
    from torch._dispatch.python import enable_python_dispatcher
    from torch._export.utils import _compiling_state_context
    from torch._ops import unset_mode_pre_dispatch
    from torch._subclasses.schema_check_mode import SchemaCheckMode
    from torch.compiler import _non_strict_tracing_context
    from torch.utils._python_dispatch import TorchDispatchMode, _push_mode


    model = run.model
    # every input of the traced graph gets the ids (T5: input_ids and decoder_input_ids), as the program route
    names_in = [n[len("input:"):] for n in inputs]
    # on the model's device: the CPU, or meta when run/stored.py records the program at trace time
    first = next(iter(model.parameters()), None)
    device = first.device if first is not None else None
    kwargs = {name: torch.tensor([input_ids], dtype=torch.long, device=device) for name in names_in}
    for gid, x in zip(inputs, kwargs.values()):
        on_input(gid, x)
    buf, typed = _token_buffer(model, token_types)
    swap = {id(buf): typed} if typed is not None else {}  # the export reads types from it: this pair's
    state = [*model.parameters(), *model.buffers()]
    builder = ReplayBuilder(dict(zip(inputs, kwargs.values())), tuple(b for b in (buf, typed) if b is not None),
                            state)
    calls: dict[str, int] = {}
    me = threading.get_ident()

    def pre_hook(mod: Any, _inputs: Any) -> None:
        path = names.get(id(mod))
        if path is None or threading.get_ident() != me:
            return
        count = calls.get(path, 0)
        calls[path] = count + 1
        stack.append(path if count == 0 else f"{path}@{count}")

    def post_hook(mod: Any, _inputs: Any, _out: Any) -> None:
        if threading.get_ident() == me and names.get(id(mod)) is not None and stack:
            stack.pop()

    # SchemaCheckMode is the one user mode PyTorch admits on the pre-dispatch key (it runs on real tensors);
    # our subclass records instead of checking schemas
    class _Record(SchemaCheckMode):
        def __init__(self) -> None:
            TorchDispatchMode.__init__(self, DispatchKey.PreDispatch)

        @classmethod
        def _should_skip_dynamo(cls) -> bool:
            return False  # nothing here is compiled: spare the per-op torch._dynamo.disable wrapper

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            # all of it outside the Python dispatcher: the op's kernels, and the recorder's own tensor calls
            # (detach, storage), which would otherwise each take the Python dispatcher's slow path
            with _DisablePythonDispatcher():
                see_args(args)  # before the swap: the typed copy stands for the buffer's graph node
                if swap and args and isinstance(args[0], torch.Tensor) and id(args[0]) in swap:
                    args = (swap[id(args[0])], *args[1:])
                out = func(*args, **(kwargs or {}))
                builder.add(func, args, kwargs, out, on_op(func, out))
            return out

    h1 = torch.nn.modules.module.register_module_forward_pre_hook(pre_hook)
    h2 = torch.nn.modules.module.register_module_forward_hook(post_hook)
    try:
        with torch.no_grad(), enable_python_dispatcher(), _EnablePreDispatch(), \
                _compiling_state_context(), _non_strict_tracing_context():
            _push_mode(_Record())
            try:
                out = model(**kwargs)
            finally:
                unset_mode_pre_dispatch(None, schema_check=True)
    finally:
        h1.remove()
        h2.remove()
    out = out.to_tuple() if hasattr(out, "to_tuple") else out
    built.append(builder.finish(out) if isinstance(out, tuple) else None)
    return out
