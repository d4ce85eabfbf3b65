"""The eager capture's op sequence as a replayable program: later sentences of the same length run at the
speed of a plain forward pass.

How: while ``run.eager`` records a pass, every ATen call (the pre-dispatch op with its arguments) is written
down as a step: the op, its arguments with each tensor replaced by a reference (the variable of the step that
made it, or an entry of a constant table holding the model's parameters and buffers: the very tensors, not
copies; the ids and the token-type buffer are parameters), and the graph id to keep its value under. A replay
runs the steps in one tight loop: fill in the tensor arguments, call the op, ``keep(id, value)`` (the
recorder's budget decides there, as in the eager pass), and drop each variable after its last use, so what the
budget does not keep is freed as in the eager pass. Its constant arguments (view sizes, slice ends) are those
of this length, so a program serves one length only; shapes are all it depends on, since the pass ran on the
export's path (no data-dependent Python branches). Anything it cannot express (a tensor of unknown origin, an
op returning a non-tensor) abandons the build, and the eager pass stays the route. Values are the same ATen
calls on the same tensors: bit-identical (tests/test_eager_capture.py).

Why a loop and not generated code: the steps used to be written as Python lines and compiled; ``compile()`` of
MiniLM's 210-op function took 4-5 ms, half a plain forward, paid by every first sentence of a length, while
the loop's own work is about a microsecond per op (benchmarks/capture_bench.py, RESULTS.md). Why not
``torch.fx``: building an fx.Graph node by node and running it through ``torch.fx.Interpreter`` cost about as
much as the eager pass itself (~0.2 ms per op: names, pytree walks, code generation).
"""

from __future__ import annotations

import math
import weakref
from typing import Any

_LITERALS = (int, bool, str, type(None))


class Unreplayable(Exception):
    """The pass did something a replay would not repeat exactly."""


class Var:
    """A tensor argument made by an earlier step (its variable number; ``k``: the k-th of a tuple output)."""

    __slots__ = ("n", "k")

    def __init__(self, n: int, k: int | None):
        self.n, self.k = n, k


class Const:
    """An entry of the constant table K (functions, parameters, buffers, dtypes, odd floats)."""

    __slots__ = ("ix",)

    def __init__(self, ix: int):
        self.ix = ix


class ReplayBuilder:
    """Accumulates one pass's ops as steps (see the module docstring)."""

    def __init__(self, inputs: dict[str, Any], token_buffers: tuple[Any, ...], state: list[Any]):
        self.refs: dict[int, tuple[Var | Const, Any]] = {}  # id(tensor) -> (reference, weakref)
        self.consts: list[Any] = []
        self._const_ix: dict[int, int] = {}
        # steps: (variable, K index of the op or -1, args, kwargs, graph id, variables read)
        self.steps: list[tuple[int, int, Any, Any, str | None, set[int]]] = []
        self.params: list[int] = []
        self._uses: set[int] = set()
        self._nvar = 0
        for gid, x in inputs.items():  # graph input id -> the tensor fed; kept like the eager pass keeps it
            v = self._new_var()
            self.params.append(v)
            self._ref(x, Var(v, None))
            self.steps.append((v, -1, None, None, gid, {v}))
        tt = self._new_var()
        self.params.append(tt)
        for b in token_buffers:
            self._ref(b, Var(tt, None))
        self.state = {id(t): t for t in state}
        self.ok = True

    def _new_var(self) -> int:
        self._nvar += 1
        return self._nvar - 1

    def _ref(self, t: Any, ref: Var | Const) -> None:
        self.refs[id(t)] = (ref, weakref.ref(t))

    def _const(self, obj: Any) -> Const:
        ix = self._const_ix.get(id(obj))
        if ix is None or self.consts[ix] is not obj:
            ix = self._const_ix[id(obj)] = len(self.consts)
            self.consts.append(obj)
        return Const(ix)

    def _arg(self, a: Any, tensor: type) -> Any:
        """``a`` with tensors replaced by references (literals stay as they are)."""
        t = type(a)
        if t is int or t is bool or t is str or a is None:
            return a
        if isinstance(a, tensor):
            hit = self.refs.get(id(a))
            if hit is not None and hit[1]() is a:
                if type(hit[0]) is Var:
                    self._uses.add(hit[0].n)
                return hit[0]
            if self.state.get(id(a)) is a:
                ref = self._const(a)
                self._ref(a, ref)
                return ref
            raise Unreplayable("a tensor of unknown origin")
        if t is float:
            return a if math.isfinite(a) else self._const(a)
        if t is list or t is tuple:
            return t([self._arg(x, tensor) for x in a])
        if isinstance(a, _LITERALS):  # subclasses of int/str (enums): written as they are in the eager pass
            return self._const(a)
        import torch

        if isinstance(a, (torch.dtype, torch.device, torch.layout, torch.memory_format)):
            return self._const(a)
        raise Unreplayable(f"an argument of type {type(a).__name__}")

    def add(self, func: Any, args: tuple, kwargs: dict | None, out: Any, gid: str | None) -> None:
        import torch

        if not self.ok:
            return
        self._uses = set()
        tensor = torch.Tensor
        try:
            a = self._arg(args, tensor)
            kw = {k: self._arg(v, tensor) for k, v in kwargs.items()} if kwargs else None
        except Unreplayable:
            self.ok = False
            return
        v = self._new_var()
        if isinstance(out, tensor):
            self._ref(out, Var(v, None))
        elif isinstance(out, (tuple, list)) and all(isinstance(t, tensor) for t in out):
            for k, t in enumerate(out):
                self._ref(t, Var(v, k))
        else:
            self.ok = False
            return
        self._uses.add(v)
        self.steps.append((v, self._const(func).ix, a, kw, gid, self._uses))

    def finish(self, out: Any) -> Program | None:
        """The program: ``program(keep, *inputs, token_types)`` returns the model's output tuple; None when
        the pass cannot be replayed."""
        import torch

        if not self.ok:
            return None
        self._uses = set()
        try:
            ret = self._arg(tuple(out), torch.Tensor)
        except Unreplayable:
            return None
        return Program(self.steps, self.params, ret, set(self._uses), self.consts)


class Program:
    """A recorded pass, run step by step by one tight loop (see the module docstring)."""

    def __init__(self, steps: list, params: list[int], ret: Any, returned: set[int], consts: list[Any]):
        # the steps as recorded (Var/Const references): run/stored.py writes them down at trace time
        self.raw = (steps, params, ret, returned, consts)
        # prepared now (~0.6 ms for MiniLM's 210 ops), not at the first replay: that one stays <= 1.2x a forward
        self._ready = self._prepare(steps, params, ret, returned, consts)

    @staticmethod
    def _prepare(steps: list, params: list[int], ret: Any, returned: set[int], consts: list[Any]) -> tuple:
        last: dict[int, int] = {}
        for i, step in enumerate(steps):
            for u in step[5]:
                last[u] = i
        for u in returned:
            last.pop(u, None)  # returned: never freed
        dead: dict[int, list[int]] = {}
        for u, i in last.items():
            dead.setdefault(i, []).append(u)
        size = max([s[0] for s in steps] + params) + 1
        # per step: (op or None for an input, args (a list to fill, or the args as they are), the slots to
        # fill (position, variable, tuple index), nested (args holding references inside lists: resolved
        # recursively), kwargs, graph id, variable, variables freed after it)
        prepared = []
        for i, (v, fk, args, kwargs, gid, _uses) in enumerate(steps):
            free = tuple(dead.get(i, ()))
            if fk < 0:
                prepared.append((None, None, (), False, None, gid, v, free))
                continue
            slots = tuple((p, a.n, a.k) for p, a in enumerate(args) if type(a) is Var)
            consts_at = [(p, consts[a.ix]) for p, a in enumerate(args) if type(a) is Const]
            nested = any(type(a) in (list, tuple) and _has_ref(a) for a in args) or \
                any(_has_ref(x) for x in (kwargs or {}).values())
            flat = list(args)
            for p, c in consts_at:
                flat[p] = c
            if nested:
                flat = [_resolve_consts(a, consts) for a in flat]
            kw = {k: _resolve_consts(x, consts) for k, x in kwargs.items()} if kwargs else None
            prepared.append((consts[fk], flat if slots or nested else tuple(flat), slots, nested, kw, gid, v,
                               free))
        return params, _resolve_consts(ret, consts), size, prepared

    def __call__(self, keep: Any, *inputs: Any) -> Any:
        params, ret, size, steps = self._ready
        reg: list[Any] = [None] * size
        for p, x in zip(params, inputs):
            reg[p] = x
        for f, args, slots, nested, kw, gid, v, free in steps:
            if f is not None:
                if nested:
                    args = [_resolve(a, reg) for a in args]
                    kw = {k: _resolve(x, reg) for k, x in kw.items()} if kw else None
                elif slots:
                    args = args.copy()
                    for p, n, k in slots:
                        args[p] = reg[n] if k is None else reg[n][k]
                reg[v] = out = f(*args, **kw) if kw else f(*args)
            else:
                out = reg[v]
            if gid is not None:
                keep(gid, out)
            for u in free:
                reg[u] = None
        return _resolve(ret, reg)


def _has_ref(a: Any) -> bool:
    t = type(a)
    if t is Var:
        return True
    return (t is list or t is tuple) and any(_has_ref(x) for x in a)


def _resolve_consts(a: Any, consts: list[Any]) -> Any:
    t = type(a)
    if t is Const:
        return consts[a.ix]
    if t is list or t is tuple:
        return t([_resolve_consts(x, consts) for x in a])
    return a


def _resolve(a: Any, reg: list[Any]) -> Any:
    t = type(a)
    if t is Var:
        return reg[a.n] if a.k is None else reg[a.n][a.k]
    if t is list or t is tuple:
        return t([_resolve(x, reg) for x in a])
    return a


def replay(program: Any, keep: Any, inputs: list[Any], token_types: Any) -> Any:
    """Run a built program: ``keep(id, value)`` is called as the eager pass would, the output returned."""
    import torch

    with torch.no_grad():
        return program(keep, *inputs, token_types)
