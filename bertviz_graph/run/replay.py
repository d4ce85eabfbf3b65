"""The eager capture's op sequence as generated Python code: later sentences of the same length run at the
speed of a plain forward pass.

How: while ``run.eager`` records a pass, every ATen call (the pre-dispatch op with its arguments) becomes
one line of a Python function: tensors are the variables of the lines that made them, the model's parameters
and buffers entries of a constant table (the very tensors, not copies), the ids and the token-type buffer
parameters, and after each op that has a graph id a call ``keep(id, value)`` (the recorder's budget decides
there, as in the eager pass). A variable is deleted after its last use, so what the budget does not keep is
freed as in the eager pass. Its constant arguments (view sizes, slice ends) are those of this length, so a
program serves one length only; shapes are all it depends on, since the pass ran on the export's path (no
data-dependent Python branches). Anything it cannot express (a tensor of unknown origin, an op returning a
non-tensor) abandons the build, and the eager pass stays the route. Values are the same ATen calls on the
same tensors: bit-identical (tests/test_eager_capture.py).

Why not ``torch.fx``: building an fx.Graph node by node and a GraphModule's code cost about as much as the
eager pass itself (~0.2 ms per op: names, pytree walks, code generation); this writes each line once while
the op runs, and compiles one function (measured in benchmarks/capture_bench.py).
"""

from __future__ import annotations

import math
import weakref
from typing import Any

_LITERALS = (int, bool, str, type(None))


class Unreplayable(Exception):
    """The pass did something generated code would not repeat exactly."""


class ReplayBuilder:
    """Accumulates one pass's ops as lines of code (see the module docstring)."""

    def __init__(self, inputs: dict[str, Any], token_buffers: tuple[Any, ...], state: list[Any]):
        self.refs: dict[int, tuple[str, Any, int]] = {}  # id(tensor) -> (expression, weakref, variable number)
        self.consts: list[Any] = []  # K[i]: functions, parameters, buffers, dtypes, odd floats
        self._const_ix: dict[int, int] = {}
        self.lines: list[tuple[str, set[int]]] = []  # (code, variables it reads)
        self.params: list[str] = []
        self._uses: set[int] = set()
        self._nvar = 0
        for gid, x in inputs.items():  # graph input id -> the tensor fed; kept like the eager pass keeps it
            v = self._new_var()
            self.params.append(f"v{v}")
            self._ref(x, f"v{v}", v)
            self.lines.append((f"keep({gid!r}, v{v})", {v}))
        tt = self._new_var()
        self.params.append(f"v{tt}")
        for b in token_buffers:
            self._ref(b, f"v{tt}", tt)
        self.state = {id(t): t for t in state}
        self.ok = True

    def _new_var(self) -> int:
        self._nvar += 1
        return self._nvar - 1

    def _ref(self, t: Any, expr: str, var: int) -> None:
        self.refs[id(t)] = (expr, weakref.ref(t), var)

    def _const(self, obj: Any) -> str:
        ix = self._const_ix.get(id(obj))
        if ix is None or self.consts[ix] is not obj:
            ix = self._const_ix[id(obj)] = len(self.consts)
            self.consts.append(obj)
        return f"K[{ix}]"

    def _arg(self, a: Any) -> str:
        import torch

        if isinstance(a, torch.Tensor):
            hit = self.refs.get(id(a))
            if hit is not None and hit[1]() is a:
                if hit[2] >= 0:
                    self._uses.add(hit[2])
                return hit[0]
            if self.state.get(id(a)) is a:
                expr = self._const(a)
                self._ref(a, expr, -1)
                return expr
            raise Unreplayable("a tensor of unknown origin")
        if isinstance(a, _LITERALS):
            return repr(a)
        if isinstance(a, float):
            return repr(a) if math.isfinite(a) else self._const(a)
        if isinstance(a, (list, tuple)):
            inner = ", ".join(self._arg(x) for x in a)
            return f"[{inner}]" if isinstance(a, list) else f"({inner}{',' if len(a) == 1 else ''})"
        if isinstance(a, (torch.dtype, torch.device, torch.layout, torch.memory_format)):
            return self._const(a)
        raise Unreplayable(f"an argument of type {type(a).__name__}")

    def add(self, func: Any, args: tuple, kwargs: dict | None, out: Any, gid: str | None) -> None:
        import torch

        if not self.ok:
            return
        self._uses = set()
        try:
            call = ", ".join([*(self._arg(a) for a in args),
                              *(f"{k}={self._arg(v)}" for k, v in (kwargs or {}).items())])
        except Unreplayable:
            self.ok = False
            return
        v = self._new_var()
        if isinstance(out, torch.Tensor):
            self._ref(out, f"v{v}", v)
        elif isinstance(out, (tuple, list)) and all(isinstance(t, torch.Tensor) for t in out):
            for k, t in enumerate(out):
                self._ref(t, f"v{v}[{k}]", v)
        else:
            self.ok = False
            return
        code = f"v{v} = {self._const(func)}({call})"
        if gid is not None:
            code += f"; keep({gid!r}, v{v})"
        self.lines.append((code, self._uses | {v}))

    def finish(self, out: Any) -> Any | None:
        """The program: ``program(keep, *inputs, token_types)`` returns the model's output tuple; None when
        the pass cannot be replayed."""
        if not self.ok:
            return None
        self._uses = set()
        try:
            ret = self._arg(tuple(out))
        except Unreplayable:
            return None
        last: dict[int, int] = {}
        for i, (_, uses) in enumerate(self.lines):
            for u in uses:
                last[u] = i
        for u in self._uses:
            last.pop(u, None)  # returned: never deleted
        dead: dict[int, list[int]] = {}
        for u, i in last.items():
            dead.setdefault(i, []).append(u)
        body = [code + (f"; del {', '.join(f'v{u}' for u in sorted(dead[i]))}" if i in dead else "")
                for i, (code, _) in enumerate(self.lines)]
        src = f"def program(keep, {', '.join(self.params)}):\n    " + "\n    ".join([*body, f"return {ret}"])
        scope: dict[str, Any] = {"K": self.consts}
        exec(compile(src, "<bertviz_graph replay>", "exec"), scope)  # noqa: S102 - our own ops, not a file's
        return scope["program"]


def replay(program: Any, keep: Any, inputs: list[Any], token_types: Any) -> Any:
    """Run a built program: ``keep(id, value)`` is called as the eager pass would, the output returned."""
    import torch

    with torch.no_grad():
        return program(keep, *inputs, token_types)
