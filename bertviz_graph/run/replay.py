"""The eager capture's op sequence as generated Python code: later sentences of the same length run at the
speed of a plain forward pass.

How: while ``run.eager`` records a pass, every ATen call (the pre-dispatch op with its arguments) is
appended to a ``torch.fx.Graph``: tensors become references to the node that made them, the model's
parameters and buffers ``get_attr`` nodes (the very tensors, not copies), the ids and the token-type buffer
placeholders, and after each op that has a graph id a call ``keep(id, value)`` (the recorder's budget
decides there, as in the eager pass). ``GraphModule`` turns that into one Python function. Its constant
arguments (view sizes, slice ends) are those of this length, so a program serves one length only; shapes are
all it depends on, since the pass ran on the export's path (no data-dependent Python branches). Anything
it cannot express (a tensor of unknown origin, an op returning a non-tensor) abandons the build, and the
eager pass stays the route. Values are the same ATen calls on the same tensors: bit-identical
(tests/test_eager_capture.py).
"""

from __future__ import annotations

import operator
import weakref
from typing import Any


class Unreplayable(Exception):
    """The pass did something generated code would not repeat exactly."""


class ReplayBuilder:
    """Accumulates one pass's ops into an FX graph (see the module docstring)."""

    def __init__(self, inputs: dict[str, Any], token_buffers: tuple[Any, ...], state: list[Any]):
        import torch.fx as fx

        self.g = fx.Graph()
        self.keep = self.g.placeholder("keep")
        self.refs: dict[int, tuple[Any, Any]] = {}  # id(tensor) -> (fx node, weakref to the tensor)
        self.root: dict[str, Any] = {}
        self.inputs = list(inputs)
        for gid, x in inputs.items():  # graph input id -> the tensor fed; kept like the eager pass keeps it
            node = self.g.placeholder(gid.replace(":", "_"))
            self._ref(x, node)
            self.g.call_method("__call__", (self.keep, gid, node))
        self.tt = self.g.placeholder("token_types")
        for b in token_buffers:
            self._ref(b, self.tt)
        self.state = {id(t): t for t in state}
        self.ok = True

    def _ref(self, t: Any, node: Any) -> None:
        self.refs[id(t)] = (node, weakref.ref(t))

    def _arg(self, a: Any) -> Any:
        import torch

        if isinstance(a, torch.Tensor):
            hit = self.refs.get(id(a))
            if hit is not None and hit[1]() is a:
                return hit[0]
            if id(a) in self.state and self.state[id(a)] is a:
                name = f"s{len(self.root)}"
                self.root[name] = a
                node = self.g.get_attr(name)
                self._ref(a, node)
                return node
            raise Unreplayable("a tensor of unknown origin")
        if isinstance(a, (list, tuple)):
            return type(a)(self._arg(x) for x in a)
        if isinstance(a, dict):
            return {k: self._arg(v) for k, v in a.items()}
        if isinstance(a, (int, float, bool, str, type(None), torch.dtype, torch.device, torch.layout,
                          torch.memory_format)):
            return a
        raise Unreplayable(f"an argument of type {type(a).__name__}")

    def add(self, func: Any, args: tuple, kwargs: dict | None, out: Any, gid: str | None) -> None:
        import torch

        if not self.ok:
            return
        try:
            node = self.g.call_function(func, self._arg(tuple(args)), self._arg(dict(kwargs or {})))
        except Unreplayable:
            self.ok = False
            return
        if isinstance(out, torch.Tensor):
            self._ref(out, node)
        elif isinstance(out, (tuple, list)) and all(isinstance(t, torch.Tensor) for t in out):
            for k, t in enumerate(out):
                self._ref(t, self.g.call_function(operator.getitem, (node, k)))
        else:
            self.ok = False
            return
        if gid is not None:
            self.g.call_method("__call__", (self.keep, gid, node))

    def finish(self, out: Any) -> Any | None:
        """The GraphModule returning the model's output tuple, or None when the pass cannot be replayed."""
        import torch.fx as fx

        if not self.ok:
            return None
        try:
            self.g.output(self._arg(tuple(out)))
        except Unreplayable:
            return None
        return fx.GraphModule(self.root, self.g)


def replay(gm: Any, keep: Any, inputs: list[Any], token_types: Any) -> Any:
    """Run a built program: ``keep(id, value)`` is called as the eager pass would, the output returned."""
    import torch

    with torch.no_grad():
        return gm(keep, *inputs, token_types)
