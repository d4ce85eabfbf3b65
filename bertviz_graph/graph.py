"""OpGraph: the flat, op-level computation graph every later stage reads.

Nodes are ops (one ATen call each), the model's inputs and outputs, and its parameters and buffers.
An edge is a tensor flowing from producer to consumer, carrying its shape and dtype.
The graph is a ``networkx.DiGraph`` with plain-data attributes, so it round-trips through JSON.

Node attributes (all plain data):
    kind        "op" | "input" | "output" | "param" | "buffer"
    name        readable name: "query (linear)", "encoder.layer.0.attention.self.query.weight"
    op          short op name: "linear", "softmax", "add" (ops only)
    target      full ATen target: "aten.linear.default" (ops only)
    module      instance path of the innermost module that ran the op, or that owns the parameter.
                Repeated calls of one module (ALBERT's shared layer) are told apart by "@k".
    order       execution order (topological)
    shape       output shape (list of ints) of the first tensor output, or None
    dtype       dtype string of that output
    params      parameter names the op reads (ops only)
    flops       floating-point operations (ops only; None for an op that cannot be counted: "unknown")
    source      "modeling_bert.py:123" of the model code that called the op (ops only)
    numel       element count (params/buffers)
    tied        other names of the same tensor (params only; e.g. BERT's MLM decoder weight)
Edge attributes:
    shape, dtype, index (argument position at the consumer)
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import networkx as nx

from bertviz_graph.io import write_atomic

FORMAT_VERSION = 1


@dataclass
class ModuleInfo:
    """One nn.Module instance call as seen during tracing."""

    path: str  # instance path, "" for the root, "encoder.layer.0", "...albert_layers.0@2"
    cls: str  # class name, "BertLayer"
    qualname: str = ""  # fully qualified class, "transformers.models.bert.modeling_bert.BertLayer"
    attrs: dict[str, Any] = field(default_factory=dict)  # in/out features, eps, heads ... (plain data)
    parent: str | None = None  # instance path of the module that called this one (None for the root)


@dataclass
class OpGraph:
    """The traced model: the op graph plus what we know about its modules and the model."""

    g: nx.DiGraph
    modules: dict[str, ModuleInfo]  # instance path -> info, in first-call order
    meta: dict[str, Any] = field(default_factory=dict)  # model name, config, options, versions
    hierarchy: Any = None  # set by bertviz_graph.trace() (the facade); see hierarchy.build_hierarchy
    module: Any = None  # the traced nn.Module when the user passed one (its weights are in memory)

    # --- queries -----------------------------------------------------------------------------
    def nodes(self, kind: str | None = None) -> Iterator[tuple[str, dict]]:
        for n, d in self.g.nodes(data=True):
            if kind is None or d["kind"] == kind:
                yield n, d

    def ops(self) -> list[str]:
        return [n for n, d in self.g.nodes(data=True) if d["kind"] == "op"]

    def param_count(self) -> int:
        """Trained parameters, tied tensors counted once (one node per tensor)."""
        return sum(d.get("numel", 0) for _, d in self.nodes("param"))

    @property
    def name(self) -> str:
        return self.meta.get("name", "model")

    # --- persistence ---------------------------------------------------------------------------
    def to_json_dict(self) -> dict[str, Any]:
        return {
            "format": "bertviz_graph.OpGraph",
            "version": FORMAT_VERSION,
            "meta": self.meta,
            "modules": [vars(m) for m in self.modules.values()],
            "nodes": [{"id": n, **d} for n, d in self.g.nodes(data=True)],
            "edges": [{"source": u, "target": v, **d} for u, v, d in self.g.edges(data=True)],
        }

    @classmethod
    def from_json_dict(cls, data: dict[str, Any]) -> OpGraph:
        if data.get("format") != "bertviz_graph.OpGraph":
            raise ValueError("not a bertviz_graph graph file (no 'format: bertviz_graph.OpGraph')")
        if data.get("version") != FORMAT_VERSION:
            raise ValueError(
                f"graph file version {data.get('version')} is not supported (this bertviz_graph reads "
                f"version {FORMAT_VERSION}); trace the model again"
            )
        g = nx.DiGraph()
        for node in data["nodes"]:
            node = dict(node)
            g.add_node(node.pop("id"), **node)
        for edge in data["edges"]:
            edge = dict(edge)
            g.add_edge(edge.pop("source"), edge.pop("target"), **edge)
        modules = {m["path"]: ModuleInfo(**m) for m in data["modules"]}
        return cls(g=g, modules=modules, meta=data["meta"])

    def save(self, path: str | Path) -> None:
        """Write JSON atomically (never a half-written file), without byte positions in the ONNX file
        (``file_offset``, ``external``): a graph file never names bytes on disk (graph_schema.py refuses
        them); the ONNX reader takes them from the .onnx file itself."""

        d = self.to_json_dict()
        d["nodes"] = [{k: v for k, v in n.items() if k not in ("file_offset", "external")} for n in d["nodes"]]
        write_atomic(path, json.dumps(d, separators=(",", ":")))

    @classmethod
    def load(cls, path: str | Path) -> OpGraph:
        return cls.from_json_dict(json.loads(Path(path).read_text()))

    def to_graphml(self) -> str:
        """GraphML text; list-valued attributes are written as JSON strings (GraphML has no lists)."""
        flat = nx.DiGraph()
        for n, d in self.g.nodes(data=True):
            flat.add_node(n, **{k: _graphml_value(v) for k, v in d.items() if v is not None})
        for u, v, d in self.g.edges(data=True):
            flat.add_edge(u, v, **{k: _graphml_value(x) for k, x in d.items() if x is not None})
        return "\n".join(nx.generate_graphml(flat))


def _graphml_value(v: Any) -> Any:
    if isinstance(v, (list, tuple, dict)):
        return json.dumps(v)
    return v

