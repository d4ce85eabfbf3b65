"""Run a sentence once and keep the output of every op, under the graph's own node ids.

How: the real model (``run.load``) is exported with ``torch.export`` (the same tracer that made the graph,
with a dynamic sequence length so one export serves every sentence) and its program is executed node by
node with ``torch.fx.Interpreter``, recording each node's value. For a stack of identical layers only ONE
layer is exported and its nodes are replicated N times (``run/layered.py``: the export cost no longer grows
with depth; the values are bit-identical to a whole-model export, tests/test_run.py); other models are
exported whole. The program is built once per model and kept in memory (never saved or unpickled).
Program nodes are matched to graph nodes structurally, not by guessing: parameters and inputs by name,
each op by (ATen target, module, already matched inputs) in execution order. Ops that find no partner are
listed in ``Activations.unmatched``.

Memory: a 512-token sentence on bert-base produces about 1.3 GB of float32 intermediate tensors. Tensors
are kept as they are (views share storage) until half of ``budget_mb`` is used, then in float16 until the
budget is spent; the rest are recomputed on demand (one more pass, all missing ones together) when asked
for. The attention maps are always kept (in float16 past half the budget: 6.3 MB per bert-base layer at
512 tokens), so the bound is ``budget_mb`` plus those.
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bertviz_graph.errors import UserError
from bertviz_graph.gc_pause import gc_paused
from bertviz_graph.graph import OpGraph
from bertviz_graph.run import eager, stored
from bertviz_graph.run.attention import attention_ops
from bertviz_graph.run.layered import export_layered
from bertviz_graph.run.load import Runnable, Tokens
from bertviz_graph.torch_lock import torch_exclusive
from bertviz_graph.tracer.export_tracer import instance_of, primitive_decompositions

DEFAULT_BUDGET_MB = 256


@dataclass
class Program:
    """The real model's program (an FX graph of ATen calls) plus its node -> graph id map."""

    gm: Any  # torch.fx.GraphModule
    inputs: list[tuple[str, str, str | None]]  # (placeholder, "input" | "state", state name), in order
    state: dict[str, Any]  # state name -> the real model's parameter or buffer
    to_graph: dict[str, str]  # fx node name -> graph node id (ops, inputs, params)
    unmatched: list[str]  # graph op ids without a partner in the program
    dynamic: bool
    token_type_buffer: str | None  # placeholder name of the token-type buffer (pairs write into it)
    how: str = "whole model"  # or "one layer ×N" (run/layered.py)
    export_s: float = 0.0  # seconds spent building it (export, decompositions, matching)


@dataclass
class Activations:
    """What one sentence did: every op's output (``[tokens × features]`` after the batch dim), by graph id."""

    tokens: Tokens
    values: dict[str, Any]  # graph node id -> torch.Tensor (float32, float16) or a python value
    outputs: Any  # the model's own output (ModelOutput-like tuple of tensors), from the same pass
    trained: bool
    model_name: str
    unmatched: list[str] = field(default_factory=list)
    on_demand: set[str] = field(default_factory=set)  # ids not kept (budget): recomputed when asked
    stored_bytes: int = 0
    float16: set[str] = field(default_factory=set)  # ids kept in float16
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    _recompute: Any = None  # callable(ids) -> {id: tensor}

    def __repr__(self) -> str:
        return (f"Activations({self.model_name}: {len(self.tokens)} tokens, {len(self.values)} op outputs kept, "
                f"{len(self.on_demand)} on demand, {self.stored_bytes / 2**20:.1f} MB"
                + ("" if self.trained else ", random weights") + ")")

    @property
    def labels(self) -> list[str]:
        return list(self.tokens.tokens)

    def __contains__(self, node_id: object) -> bool:
        return node_id in self.values or node_id in self.on_demand

    def tensor(self, node_id: str):
        """The op's output as a float32 torch tensor (recomputed if it was not kept)."""
        import torch

        if node_id in self.values:
            v = self.values[node_id]
        elif node_id in self.on_demand and self._recompute is not None:
            v = self._recompute([node_id])[node_id]
        else:
            raise UserError(f"no activation for {node_id!r}", "pick an op or edge of the traced graph")
        if isinstance(v, torch.Tensor):
            return v.float() if v.is_floating_point() else v
        raise UserError(f"{node_id!r} is not a tensor ({type(v).__name__})", "pick an op that makes a tensor")

    def array(self, node_id: str) -> np.ndarray:
        return self.tensor(node_id).detach().numpy()

    def arrays(self, node_ids: list[str]) -> list[np.ndarray]:
        """Several outputs as float32 arrays; those not kept are recomputed together in one pass."""
        missing = [n for n in node_ids if n not in self.values and n in self.on_demand]
        extra = self._recompute(missing) if missing and self._recompute is not None else {}
        out = []
        for n in node_ids:
            v = extra[n] if n in extra else self.tensor(n)
            out.append(v.detach().float().numpy())
        return out

    def output(self, index: int = 0):
        """The model's ``index``-th output tensor (logits, last hidden state) from the same pass."""
        outs = self.outputs if isinstance(self.outputs, (tuple, list)) else (self.outputs,)
        return outs[index]

    def ids(self) -> list[str]:
        return [*self.values, *sorted(self.on_demand)]


class _Recorder:
    """Runs an exported program, keeping values of the nodes that map to graph ids, within a budget."""

    def __init__(self, prog: Program | None, budget_bytes: int | None, only: set[str] | None = None,
                 priority: set[str] | None = None):
        self.prog, self.budget, self.only = prog, budget_bytes, only
        self.priority = priority or set()
        self.values: dict[str, Any] = {}
        self.float16: set[str] = set()
        self.skipped: set[str] = set()
        self.storages: dict[int, int] = {}  # data_ptr -> bytes, counted once
        self.used = 0  # sum of self.storages, kept as it grows (re-summing per op was O(n²))

    def keep(self, name: str, val: Any) -> None:
        gid = self.prog.to_graph.get(name)
        if gid is None or gid.startswith("param:") or gid.startswith("buffer:"):
            return
        self.keep_id(gid, val)

    def keep_id(self, gid: str, val: Any) -> None:
        """Keep one op's value under its graph id (or note it for recomputation: budget)."""
        import torch

        if self.only is not None and gid not in self.only:
            return
        if isinstance(val, (tuple, list)):
            val = next((v for v in val if isinstance(v, torch.Tensor)), None)
            if val is None:
                return
        if not isinstance(val, torch.Tensor):
            self.values[gid] = val
            return
        val = val.detach()  # (the very output object breaks the eager pass's matching of arange + 0)
        storage = val.untyped_storage()
        ptr = storage.data_ptr()
        if ptr in self.storages:  # a view of a tensor already kept: free
            self.values[gid] = val
            return
        nbytes = storage.nbytes()
        used = self.used
        if self.budget is None or self.only is not None or used + nbytes <= self.budget // 2:
            self.storages[ptr] = nbytes
            self.used += nbytes
            self.values[gid] = val
        elif gid in self.priority or (val.is_floating_point() and used + nbytes // 2 <= self.budget):
            # float16 beyond half the budget; attention maps always kept (the Attention tab shows them all)
            half = val.to(torch.float16)
            self.storages[half.untyped_storage().data_ptr()] = half.untyped_storage().nbytes()
            self.used += half.untyped_storage().nbytes()
            self.values[gid] = half
            self.float16.add(gid)
        else:
            self.skipped.add(gid)

    def run(self, args: list[Any]) -> Any:
        import torch
        from torch.fx import Interpreter

        rec = self

        class _Interp(Interpreter):
            def run_node(self, n):
                val = super().run_node(n)
                rec.keep(n.name, val)
                return val

        with torch.no_grad():
            return _Interp(self.prog.gm, garbage_collect_values=True).run(*args)


# key (id of the model, id of the graph, length) -> (weakref to the model, weakref to the graph, program):
# an id alone is reused once its object is gone, and would hand a new model a dead model's program
_PROGRAMS: OrderedDict[tuple, tuple[Any, Any, Program]] = OrderedDict()
_PLOCK = threading.Lock()


def program_for(graph: OpGraph, run: Runnable, seq_len: int, any_length: bool = True) -> Program:
    """The exported program of ``run.model`` matched to ``graph`` (one dynamic export per model, kept).

    ``any_length=False``: a caller that runs one sentence only (the CLI) gets a fixed-length program,
    about 0.4 s cheaper to export (a call with another length builds another program)."""
    key_dyn = (id(run.model), id(graph), "dyn")
    key_static = (id(run.model), id(graph), seq_len)
    with _PLOCK:
        for key in (key_dyn, key_static):
            hit = _PROGRAMS.get(key)
            if hit is not None and hit[0]() is run.model and hit[1]() is graph:
                _PROGRAMS.move_to_end(key)
                return hit[2]
        prog = None
        if not any_length:
            try:
                prog = export_program(graph, run, seq_len, dynamic=False, layered=True)
            except Exception:  # noqa: BLE001 - the paths below still apply
                prog = None
            if prog is not None and prog.unmatched:
                prog = None
        if prog is None and seq_len >= 2:  # one layer exported and replicated, else the whole model
            for layered in (True, False):
                try:
                    cand = export_program(graph, run, seq_len, dynamic=True, layered=layered)
                except Exception:  # noqa: BLE001 - torch.export's errors vary; a static export still works
                    cand = None
                if cand is not None and (prog is None or len(cand.unmatched) < len(prog.unmatched)):
                    prog = cand
                if prog is not None and not prog.unmatched:
                    break
        if prog is None or prog.unmatched:
            static = export_program(graph, run, seq_len, dynamic=False)
            if prog is None or len(static.unmatched) < len(prog.unmatched):
                prog = static
        _PROGRAMS[key_dyn if prog.dynamic else key_static] = (weakref.ref(run.model), weakref.ref(graph), prog)
        while len(_PROGRAMS) > 4:
            _PROGRAMS.popitem(last=False)
        return prog


def export_program(graph: OpGraph, run: Runnable, seq_len: int, dynamic: bool, layered: bool = False) -> Program | None:
    """torch.export of the real model (``layered``: of one layer, replicated; None if that does not apply)."""

    with torch_exclusive():  # torch.export's state is process-global: never beside another trace or run
        return _export_program(graph, run, seq_len, dynamic, layered)


def _export_program(graph: OpGraph, run: Runnable, seq_len: int, dynamic: bool, layered: bool) -> Program | None:
    import time

    import torch


    t0 = time.perf_counter()
    n = min(max(seq_len, 2), run.max_positions) if dynamic else seq_len
    if dynamic and n == run.max_positions:  # a full-length example specialises the position slice
        n = max(2, n - 1)
    ids = torch.zeros((1, n), dtype=torch.long)
    shapes = ({1: torch.export.Dim("seq", min=2, max=run.max_positions)},) if dynamic else None
    # the graph's op level, whatever the model was loaded for
    decomp = primitive_decompositions() if graph.meta.get("ops", run.ops) == "primitive" else None
    if layered:
        lp = export_layered(run.model, run.config, ids, shapes, decomp) if graph.module is None else None
        if lp is None:
            return None
        gm, inputs, state, how = lp.gm, lp.inputs, lp.state, f"one layer ×{lp.layers}"
    else:
        ep = torch.export.export(run.model, (ids,), dynamic_shapes=shapes, strict=False)
        if decomp is not None:
            ep = ep.run_decompositions(decomp)
        gm, how = ep.graph_module, "whole model"
        inputs = [(s.arg.name, "input" if s.kind.name == "USER_INPUT" else "state", s.target)
                  for s in ep.graph_signature.input_specs]
        state = {**ep.state_dict, **getattr(ep, "constants", {})}
    targets = {name: target for name, kind, target in inputs if kind == "state"}
    to_graph, unmatched = match(graph, gm.graph, targets)
    tt = next((name for name, target in targets.items() if target.endswith("token_type_ids")), None)
    return Program(gm=gm, inputs=inputs, state=state, to_graph=to_graph, unmatched=unmatched, dynamic=dynamic,
                   token_type_buffer=tt, how=how, export_s=time.perf_counter() - t0)


def _instance(n: Any) -> str:

    stack = n.meta.get("nn_module_stack") or {}
    module = ""
    for key, (path, _cls) in stack.items():
        module = instance_of(key, path)
    return module


def match(graph: OpGraph, fx_graph: Any, targets: dict[str, str]) -> tuple[dict[str, str], list[str]]:
    """fx node name -> graph id, by names for params/inputs and by (target, module, inputs) for ops.

    ``targets``: placeholder name -> the parameter, buffer or constant it stands for."""
    import operator

    g = graph.g
    param_id = {d["name"]: n for n, d in g.nodes(data=True) if d["kind"] in ("param", "buffer")}
    tied = {t: d["name"] for _, d in g.nodes(data=True) if d["kind"] == "param" for t in d.get("tied") or []}
    # unmatched graph ops by (target, module), in execution order
    pending: dict[tuple[str, str], list[str]] = {}
    for n, d in sorted(((n, d) for n, d in g.nodes(data=True) if d["kind"] == "op"), key=lambda x: x[1]["order"]):
        pending.setdefault((d["target"], d["module"]), []).append(n)
    preds = {n: set(g.predecessors(n)) for n in g.nodes}
    to_graph: dict[str, str] = {}
    for n in fx_graph.nodes:
        if n.op == "placeholder":
            target = targets.get(n.name)
            if target is not None:
                target = tied.get(target, target)
                if target in param_id:
                    to_graph[n.name] = param_id[target]
            elif f"input:{n.name}" in g:
                to_graph[n.name] = f"input:{n.name}"
            continue
        if n.op != "call_function":
            continue
        if n.target is operator.getitem:
            src = n.args[0]
            if getattr(src, "name", None) in to_graph:
                to_graph[n.name] = to_graph[src.name] + f"#{n.args[1]}"
            continue
        cands = pending.get((str(n.target), _instance(n)))
        if not cands:
            continue
        ins = {to_graph[a.name].split("#")[0] for a in n.all_input_nodes if a.name in to_graph}
        for i, c in enumerate(cands):
            if preds[c] == ins:
                to_graph[n.name] = c
                del cands[i]
                break
    unmatched = [c for cs in pending.values() for c in cs]
    # getitem results: the first output is the op's own value; others are kept under "op#k"
    return {k: (v[:-2] if v.endswith("#0") else v) for k, v in to_graph.items()}, unmatched


def capture(graph: OpGraph, run: Runnable, tokens: Tokens, budget_mb: float | None = DEFAULT_BUDGET_MB,
            program: Program | None = None, any_length: bool = True) -> Activations:
    """Run ``tokens`` through ``run.model`` once, recording every op of ``graph`` (with ``program``, if given,
    instead of the cached one: tests compare the one-layer and whole-model programs). ``any_length=False``
    for a caller that runs this one sentence only (see ``program_for``)."""
    import time


    t0 = time.perf_counter()
    budget = None if budget_mb is None else int(budget_mb * 2**20)
    priority = {op for op, _ in attention_ops(graph)}
    rec = out = None
    if program is None and eager.applies(graph):  # no export: the model's own forward, recorded
        rec = _Recorder(None, budget, priority=priority)
        try:
            # the collector paused: the pass makes no reference cycles, and the collections its ~10^3 small
            # objects trigger walk the whole heap (the traced graph's ~4x10^5 objects: 270-320 ms for one
            # full collection, more than the capture itself; benchmarks/capture_bench.py)
            with gc_paused():
                out, left = eager.eager_capture(graph, run, tokens.input_ids, tokens.token_type_ids, rec.keep_id,
                                                _stored(graph, run))
        except (ImportError, AttributeError):  # a torch without the private pre-dispatch API it uses
            left = ["(eager capture unavailable)"]
        if left:  # an op without its value: the exported program below matches more
            rec = None
    if rec is None:
        prog = program if program is not None else program_for(graph, run, len(tokens), any_length)
        rec = _Recorder(prog, budget, priority=priority)
        out = rec.run(_args(prog, run, tokens))
        unmatched = list(prog.unmatched)

        def recompute(ids: list[str]) -> dict[str, Any]:
            r = _Recorder(prog, None, only=set(ids))
            r.run(_args(prog, run, tokens))
            return _floats(r.values)
    else:
        unmatched = []

        def recompute(ids: list[str]) -> dict[str, Any]:
            r = _Recorder(None, None, only=set(ids))
            eager.eager_capture(graph, run, tokens.input_ids, tokens.token_type_ids, r.keep_id, _stored(graph, run))
            return _floats(r.values)

    acts = Activations(tokens=tokens, values=rec.values, outputs=out, trained=run.trained, model_name=run.name,
                       unmatched=unmatched, on_demand=rec.skipped,
                       stored_bytes=sum(rec.storages.values()), float16=rec.float16,
                       notes=list(tokens.notes) + list(run.notes), _recompute=recompute)
    if rec.float16 or rec.skipped:
        acts.notes.append(f"memory budget {budget_mb:g} MB: {len(rec.float16)} large tensors kept in float16, "
                          f"{len(rec.skipped)} recomputed when shown")
    acts.seconds = time.perf_counter() - t0
    return acts


def _stored(graph: OpGraph, run: Runnable) -> Any:
    """The trace-time replay program of ``graph`` for a length (run/stored.py), bound to this model."""
    return lambda length: stored.program_for(graph, run.model, length)


def _floats(values: dict[str, Any]) -> dict[str, Any]:
    import torch

    return {k: v.float() if isinstance(v, torch.Tensor) and v.is_floating_point() else v for k, v in values.items()}


def _args(prog: Program, run: Runnable, tokens: Tokens) -> list[Any]:
    """Placeholder values in program order: parameters, buffers (token types written in), input ids."""
    import torch

    ids = torch.tensor([tokens.input_ids], dtype=torch.long)
    out: list[Any] = []
    for name, kind, target in prog.inputs:
        if kind == "input":
            out.append(ids)
        elif name == prog.token_type_buffer and tokens.token_type_ids is not None:
            buf = prog.state[target].clone()
            buf[..., : len(tokens.token_type_ids)] = torch.tensor(tokens.token_type_ids, dtype=buf.dtype)
            out.append(buf)
        else:
            out.append(prog.state[target])
    return out


def program_args(prog: Program, run: Runnable, tokens: Tokens) -> list[Any]:
    """The placeholder values of ``prog`` for ``tokens`` (train/ runs the same program with gradients on)."""
    return _args(prog, run, tokens)
