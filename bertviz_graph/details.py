"""What the details panel says about one node or group; shared by the Dash app and the notebook widget.

Returns plain data (title, rows, explanation, weight names), so each front end only formats it.
"""

from __future__ import annotations

import threading
import weakref
from typing import Any

from bertviz_graph import format as fmt
from bertviz_graph.format import flops_text
from bertviz_graph.hierarchy.roles import tied_outside
from bertviz_graph.hierarchy.tree import ROOT, Hierarchy
from bertviz_graph.neurons.explain import explain_role
from bertviz_graph.onnx.weights import OnnxWeights  # onnx is imported only for ONNX graphs
from bertviz_graph.sources.status import WeightsStatus, weights_status
from bertviz_graph.sources.weights import RandomWeights, WeightStore, with_transposed

__all__ = ["WeightsStatus", "weights_status", "weights_for", "node_details", "ModuleWeights"]


def _shape(s: list[int] | None) -> str:
    return "[" + ", ".join(map(str, s)) + "]" if s else "-"


def dims_for(h: Hierarchy, attrs: dict[str, Any] | None = None, grp: Any = None) -> dict[str, Any]:
    """Facts the explanations quote: the model's (hidden, heads, kv_heads, d_head, ffn, act, norm, seq,
    vocab, ...), a module's own (in/out features, embedding parts) and a group's (its real parameter
    count, its label, whether a series shares its weights)."""
    # the hierarchy's facts under their own names (ffn = intermediate size): explain.py reads the same keys
    d = {k: v for k, v in h.ctx.items() if v is not None and k not in ("tied", "tied_pairs")}
    for key in ("in_features", "out_features", "num_embeddings", "embedding_dim", "parts"):
        if attrs and key in attrs:
            d[key] = attrs[key]
    if grp is not None:
        d["params"] = grp.params
        d["label"] = grp.label
        if grp.kind == "series":
            d["members"] = len(grp.members)
            d["shared_weights"] = grp.shared_weights
        d["tied_to"] = _tied_to(h, grp.id)
    return d


def _tied_to(h: Hierarchy, gid: str) -> str:
    return tied_outside(h.ctx, gid)


def explain(role: str, dims: dict[str, Any]) -> str:
    return explain_role(role, dims)


def weight_names(h: Hierarchy, node_id: str) -> list[str]:
    """Parameter names whose matrices can be shown for this node: its own, or those its op reads,
    or (for a small module such as a Linear or LayerNorm) the ones it owns."""
    g = h.graph.g
    if node_id in h.groups:
        grp = h.groups[node_id]
        if grp.kind == "series" and grp.members:
            return weight_names(h, grp.members[0])
        leaves = [c for c in grp.children if c not in h.groups]
        owned = [g.nodes[c]["name"] for c in leaves if g.nodes[c]["kind"] == "param"]
        if owned:
            return owned
        # A container (Embeddings, a block): the trained matrices of its direct sub-modules first;
        # buffers such as position_ids only when there is nothing trained to show.
        below = [g.nodes[x]["name"] for c in grp.children if c in h.groups for x in h.groups[c].children
                 if x not in h.groups and g.nodes[x]["kind"] == "param"]
        return below or [g.nodes[c]["name"] for c in leaves if g.nodes[c]["kind"] == "buffer"]
    if node_id not in g:
        return []
    d = g.nodes[node_id]
    if d["kind"] == "param":
        return [d["name"]]
    if d["kind"] == "op":
        return [g.nodes[p]["name"] for p in g.predecessors(node_id) if g.nodes[p]["kind"] == "param"]
    return []


def node_details(h: Hierarchy, node_id: str) -> dict[str, Any]:
    """{'title', 'subtitle', 'role', 'rows': [(key, value)], 'explanation', 'weights': [param names]}."""
    g = h.graph.g
    if node_id in h.groups:
        grp = h.groups[node_id]
        rows: list[tuple[str, str]] = [
            ("kind", "folded series" if grp.kind == "series" else "module"),
            ("class", grp.cls),
            ("module path", grp.id or "(model)"),
            ("parameters", f"{fmt.count(grp.params)}" + (" (shared by all members)" if grp.shared_weights else "")),
            ("FLOPs", flops_text(grp.flops, grp.flops_unknown)),
            ("ops", str(grp.n_ops)),
            ("inputs", ", ".join(_shape(s) for s in grp.inputs) or "-"),
            ("outputs", ", ".join(_shape(s) for s in grp.outputs) or "-"),
        ]
        if grp.reads_elsewhere:
            rows.insert(4, ("also reads (counted once, elsewhere)", "; ".join(
                f"{name} ({fmt.count(h.graph.g.nodes.get('param:' + name, {}).get('numel', 0))}, tied or shared; counted "
                f"in {gid or '(model)'})" for name, gid in grp.reads_elsewhere.items())))
        if grp.kind == "series":
            rows.insert(1, ("members", f"{len(grp.members)}: " + ", ".join(m.rsplit('.', 1)[-1] for m in grp.members)))
        for k, v in grp.attrs.items():
            rows.append((k.replace("_", " "), str(v)))
        if grp.parent is not None:
            total = h.groups[ROOT].params
            if total:
                rows.append(("share of model parameters", fmt.percent(grp.params / total, 1)))
        return {"id": node_id, "title": grp.label, "subtitle": grp.sublabel, "role": grp.role, "rows": rows,
                "explanation": explain(grp.role, dims_for(h, grp.attrs, grp)), "weights": weight_names(h, node_id)}
    if node_id not in g:
        return {"id": node_id, "title": "not found", "subtitle": "", "role": "other",
                "rows": [("error", f"no node '{node_id}' in this model")], "explanation": "", "weights": []}
    d = g.nodes[node_id]
    rows = [("kind", d["kind"]), ("module", d.get("module") or "(model)")]
    if d["kind"] == "op":
        ins = [(u, ed) for u, _, ed in g.in_edges(node_id, data=True)]
        rows += [
            ("op", d.get("target", d.get("op", ""))),
            ("output", f"{_shape(d.get('shape'))} {d.get('dtype', '')}"),
            ("inputs", "; ".join(f"{g.nodes[u].get('label', u)} {_shape(ed.get('shape'))}" for u, ed in ins) or "-"),
            ("FLOPs", flops_text(d.get("flops"), 1 if d.get("flops") is None else 0)),
        ]
        if d.get("params"):
            rows.append(("parameters read", ", ".join(d["params"])))
        if d.get("attrs"):
            rows.append(("attributes", ", ".join(f"{k}={v}" for k, v in d["attrs"].items())))
        if d.get("consts"):
            rows.append(("constant inputs", ", ".join(f"#{i}: {v}" for i, v in d["consts"])))
        if d.get("unknown"):
            rows.append(("note", f"{d.get('target', d['op'])} is an op this importer does not know; drawn as is"))
        if d.get("source"):
            rows.append(("source", d["source"] + (f"  {d['code']}" if d.get("code") else "")))
    elif d["kind"] in ("param", "buffer"):
        rows += [("name", d["name"]), ("shape", f"{_shape(d.get('shape'))} {d.get('dtype', '')}"),
                 ("elements", f"{fmt.count(d.get('numel', 0))}"),
                 ("used by", ", ".join(sorted(g.successors(node_id))) or "-")]
        if d.get("tied"):
            rows.append(("tied with", ", ".join(d["tied"])))
        if d.get("onnx_name") and d["onnx_name"] != d["name"]:
            rows.append(("name in the file", d["onnx_name"]))
        if d.get("note"):
            rows.append(("note", d["note"]))
    else:
        rows.append(("shape", f"{_shape(d.get('shape'))} {d.get('dtype', '')}"))
    mod = h.groups.get(h.parent(node_id) or "")
    attrs = mod.attrs if mod is not None else {}
    return {"id": node_id, "title": h.label_of(node_id), "subtitle": h.sublabel_of(node_id),
            "role": h.role_of(node_id), "rows": rows,
            "explanation": explain(h.role_of(node_id), dims_for(h, attrs)),
            "weights": weight_names(h, node_id)}


_STORES: dict[int, tuple[weakref.ref, Any]] = {}  # id(graph) -> (weak ref to it, its one store)
_STORES_LOCK = threading.Lock()


def weights_for(graph: Any):
    """The weight source of a traced graph, one per graph (the app's panels, the widget and the neuron
    views share it, so random weights are generated and cached once): the in-memory module, its
    safetensors files, else deterministic random weights (said plainly by ``.trained`` / ``.description``).
    Read-only values of that graph, dropped with it."""
    key = id(graph)
    with _STORES_LOCK:
        hit = _STORES.get(key)
        if hit is not None and hit[0]() is graph:
            return hit[1]
        store = open_weights(graph)
        try:
            ref = weakref.ref(graph, lambda _r, k=key: _STORES.pop(k, None))
        except TypeError:  # not weak-referenceable: not cached
            return store
        _STORES[key] = (ref, store)
        return store


def open_weights(graph: Any):
    """A new weight source for ``graph`` (``weights_for`` keeps one per graph)."""
    from pathlib import Path

    if graph.meta.get("onnx_file"):

        return OnnxWeights.for_graph(graph)
    status = weights_status(graph)
    if status.trained and getattr(graph, "module", None) is not None:
        return conv1d_shown_as_linear(graph, ModuleWeights(graph.module))
    if status.trained:
        return conv1d_shown_as_linear(graph, WeightStore.open([Path(p) for p in graph.meta["weight_files"]]))
    shapes = {d["name"]: tuple(d.get("shape") or ()) for _, d in graph.nodes() if d["kind"] in ("param", "buffer")}
    store = RandomWeights(shapes, seed=0)
    store.description = status.text
    return conv1d_shown_as_linear(graph, store)


def conv1d_shown_as_linear(graph: Any, store: Any):
    """``store`` with GPT-2's Conv1D weights (stored [in, out]) shown as [out, in], like every Linear."""
    names = sorted({f"{p.split('@')[0]}.weight" for p, m in getattr(graph, "modules", {}).items()
                    if m.cls == "Conv1D"})
    return with_transposed(store, names)


class ModuleWeights:
    """Weights of an in-memory nn.Module the user traced (same API as WeightStore)."""

    trained = True

    def __init__(self, module: Any):
        self._tensors = dict(module.named_parameters(remove_duplicate=False))
        self._tensors.update(dict(module.named_buffers()))
        on_meta = any(t.is_meta for t in self._tensors.values())
        self.trained = not on_meta
        self.description = ("the module is on the meta device: no values" if on_meta
                            else f"weights of the in-memory {type(module).__name__}")

    def names(self) -> list[str]:
        return list(self._tensors)

    def resolve(self, name: str) -> str | None:
        return name if name in self._tensors else None

    def shape(self, name: str) -> tuple[int, ...]:
        return tuple(self._tensors[name].shape)

    def dtype(self, name: str) -> str:
        return str(self._tensors[name].dtype).replace("torch.", "")

    def get(self, name: str):
        return self._tensors[name].detach().float().cpu().numpy()

    def get_slice(self, name: str, rows: slice, cols: slice | None = None):
        t = self._tensors[name].detach()
        t = t[rows] if t.dim() >= 1 else t
        if cols is not None and t.dim() >= 2:
            t = t[:, cols]
        return t.float().cpu().numpy()
