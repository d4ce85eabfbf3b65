"""Compare two models: aligned hierarchies, what was added or removed, shape / parameter / FLOP deltas, and
for weights of the same shape the difference itself (statistics and a heatmap).

    from bertviz_graph.comparison import diff_graphs
    d = diff_graphs(bg.trace("bert-base-uncased"), bg.trace("distilbert-base-uncased"))
    d.summary_lines()     # ["6 layers aligned: ...", "missing in B: bert.encoder.layer.1, ..."]
    d.partner("bert.encoder.layer.6")   # -> "distilbert.transformer.layer.3"
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bertviz_graph import format as fmt
from bertviz_graph.comparison.align import Alignment, Unit, align, layer_groups
from bertviz_graph.graph import OpGraph
from bertviz_graph.hierarchy.tree import build_hierarchy
from bertviz_graph.onnx.weights import OnnxWeights
from bertviz_graph.pruning.methods import RECORD_KEY
from bertviz_graph.sources.weights import WeightStore


@dataclass
class WeightDiff:
    name_a: str
    name_b: str
    shape: list[int]
    max_abs: float
    mean_abs: float
    rel_norm: float  # ‖B − A‖ / ‖A‖
    changed: float  # fraction of entries that differ
    zeros_a: int
    zeros_b: int


@dataclass
class UnitRow:
    status: str  # "same" | "changed" | "reshaped" | "removed" (only in A) | "added" (only in B)
    a: Unit | None
    b: Unit | None
    params_a: int
    params_b: int
    weights: list[WeightDiff] = field(default_factory=list)

    @property
    def tag(self) -> str:
        u = self.a or self.b
        return u.tag if u else ""


@dataclass
class GroupRow:
    a: str | None
    b: str | None
    role: str
    label: str
    params_a: int
    params_b: int
    flops_a: int
    flops_b: int
    status: str = "matched"  # "matched" | "removed" | "added" | "regrouped"


@dataclass
class GraphDiff:
    a: OpGraph
    b: OpGraph
    alignment: Alignment
    units: list[UnitRow]
    groups: list[GroupRow]
    removed_heads: dict[str, dict[str, list[int]]]  # "a"/"b" -> {attention group id: [heads pruned]}
    weights_compared: bool
    notes: list[str] = field(default_factory=list)

    def partner(self, gid: str, side: str = "a") -> str | None:
        """The aligned group on the other side (``side`` says which side ``gid`` is on)."""
        if side == "a":
            return self.alignment.groups.get(gid)
        inv = {}
        for ga, gb in self.alignment.groups.items():
            inv.setdefault(gb, ga)
        return inv.get(gid)

    @property
    def removed(self) -> list[str]:
        """Groups of A with no partner in B (not counting regrouped ones)."""
        return [r.a for r in self.groups if r.a is not None and r.b is None and r.status == "removed"]

    @property
    def added(self) -> list[str]:
        return [r.b for r in self.groups if r.b is not None and r.a is None and r.status == "added"]

    @property
    def regrouped(self) -> list[str]:
        """Groups whose parameter modules all have partners, but grouped differently on the other side
        (BERT's BertSelfOutput holds the attention output Linear and LayerNorm; DistilBERT has no such box)."""
        return [r.a if r.a is not None else r.b for r in self.groups if r.status == "regrouped"]

    def is_empty(self) -> bool:
        """Nothing differs: no group or unit added/removed/reshaped, no weight changed, no head removed."""
        return (not self.removed and not self.added
                and all(r.status == "same" for r in self.units)
                and not any(self.removed_heads.get(s) for s in ("a", "b")))

    def summary_lines(self) -> list[str]:
        al = self.alignment
        na, nb = self.a.name, self.b.name
        out = []
        if al.shares_nothing:
            out.append(f"{na} and {nb} share nothing: no unit of one has a counterpart in the other "
                       "(both are drawn, nothing is aligned)")
        n = len(al.layer_map)
        out.append(f"{n} layer{'s' * (n != 1)} aligned ({len(al.layers_a)} in {na}, {len(al.layers_b)} in {nb})"
                   + (": " + ", ".join(f"{al.layers_a[i]} ↔ {al.layers_b[j]}" for i, j in al.layer_map.items()
                                       )[:400] if n else ""))
        if al.unmatched_layers_a:
            out.append(f"{len(al.unmatched_layers_a)} layers of {na} missing in {nb}: "
                       + ", ".join(al.unmatched_layers_a))
        if al.unmatched_layers_b:
            out.append(f"{len(al.unmatched_layers_b)} layers of {nb} missing in {na}: "
                       + ", ".join(al.unmatched_layers_b))
        counts: dict[str, int] = {}
        for r in self.units:
            counts[r.status] = counts.get(r.status, 0) + 1
        out.append("parameter modules: " + ", ".join(f"{v} {k}" for k, v in sorted(counts.items())))
        pa, pb = self.a.param_count(), self.b.param_count()
        fa = self.a.hierarchy.groups[""].flops if "" in self.a.hierarchy.groups else 0
        fb = self.b.hierarchy.groups[""].flops if "" in self.b.hierarchy.groups else 0
        out.append(f"parameters {fmt.count(pa)} → {fmt.count(pb)} ({fmt.signed(pb - pa)}); FLOPs {fmt.count(fa)} → {fmt.count(fb)} ({fmt.signed(fb - fa)})")
        for side, name in (("a", na), ("b", nb)):
            heads = self.removed_heads.get(side) or {}
            if heads:
                k = sum(len(v) for v in heads.values())
                out.append(f"{k} attention heads removed in {name} (their weights are zero): "
                           + "; ".join(f"{layer} heads {', '.join(map(str, hs))}" for layer, hs in heads.items()))
        if not self.weights_compared:
            out.append("weights not compared: at least one side has no checkpoint (structure only)")
        if self.is_empty():
            out.append("no differences")
        out += self.notes
        return out


def weight_source(graph: OpGraph):
    """The checkpoint's tensors (safetensors or an ONNX file's initializers), or None without one."""
    if graph.meta.get("onnx_file"):

        return OnnxWeights.for_graph(graph)
    files = [Path(p) for p in graph.meta.get("weight_files") or []]
    if not files or not all(f.is_file() for f in files):
        return None

    return WeightStore.open(files)


def _param_name(graph: OpGraph, node: str) -> str:
    return graph.g.nodes[node].get("name", node.split(":", 1)[-1])


def _numel(shape: list[int]) -> int:
    return int(np.prod(shape)) if shape else 1


def _weight_diff(wa, wb, na: str, nb: str) -> WeightDiff | None:
    try:
        xa, xb = wa.get(na).astype(np.float64), wb.get(nb).astype(np.float64)
    except (KeyError, ValueError):
        return None
    if xa.shape != xb.shape:
        return None
    d = xb - xa
    norm = float(np.linalg.norm(xa))
    return WeightDiff(na, nb, list(xa.shape), float(np.abs(d).max()) if d.size else 0.0,
                      float(np.abs(d).mean()) if d.size else 0.0, float(np.linalg.norm(d)) / norm if norm else 0.0,
                      float((d != 0).mean()) if d.size else 0.0, int((xa == 0).sum()), int((xb == 0).sum()))


def _removed_heads(graph: OpGraph) -> dict[str, list[int]]:
    """Heads pruned in this model, from the record prune writes into config.json: {layer group: heads}."""

    rec = (graph.meta.get("config") or {}).get(RECORD_KEY) or {}
    heads = rec.get("heads") or {}
    if not heads or graph.hierarchy is None:
        return {}
    layers = layer_groups(graph.hierarchy)
    return {layers[int(k)]: sorted(v) for k, v in heads.items() if int(k) < len(layers) and v}


def diff_graphs(a: OpGraph, b: OpGraph, compare_weights: bool = True) -> GraphDiff:

    for g in (a, b):
        if g.hierarchy is None:
            g.hierarchy = build_hierarchy(g)
    ha, hb = a.hierarchy, b.hierarchy
    al = align(ha, hb)
    wa, wb = (weight_source(a), weight_source(b)) if compare_weights else (None, None)
    rows: list[UnitRow] = []
    for ua, ub in al.units:
        pa = sum(_numel(s) for s in ua.shapes) if ua else 0
        pb = sum(_numel(s) for s in ub.shapes) if ub else 0
        if ua is None or ub is None:
            rows.append(UnitRow("added" if ua is None else "removed", ua, ub, pa, pb))
            continue
        row = UnitRow("same", ua, ub, pa, pb)
        if sorted(map(tuple, ua.shapes)) != sorted(map(tuple, ub.shapes)):
            row.status = "reshaped"
        elif wa is not None and wb is not None:
            leaf = {p.rsplit(".", 1)[-1]: p for p in ub.params}
            for p in ua.params:
                q = leaf.get(p.rsplit(".", 1)[-1])
                if q is None:
                    continue
                wd = _weight_diff(wa, wb, _param_name(a, p), _param_name(b, q))
                if wd is not None:
                    row.weights.append(wd)
            if any(w.changed > 0 for w in row.weights):
                row.status = "changed"
        rows.append(row)
    groups: list[GroupRow] = []
    matched_b = set(al.groups.values())
    # per side: the two models may use the same module names for different things (B's layer.1 is A's layer.2)
    paired = {"a": {ua.module for ua, ub in al.units if ua and ub}, "b": {ub.module for ua, ub in al.units if ua and ub}}
    units_a = {u.module for u, _ in al.units if u is not None}
    units_b = {u.module for _, u in al.units if u is not None}

    def status(h, gid: str, side_units: set[str], missing: str) -> str:
        inside = [u for u in side_units if u == gid or gid in h.ancestors(u)]
        side = "a" if side_units is units_a else "b"
        return "regrouped" if inside and all(u in paired[side] for u in inside) else missing

    for gid, g in ha.groups.items():
        if g.kind != "module" and g.kind != "series":
            continue
        other = al.groups.get(gid)
        og = hb.groups.get(other) if other is not None else None
        groups.append(GroupRow(gid, other, g.role, g.label, g.params, og.params if og else 0, g.flops,
                               og.flops if og else 0,
                               "matched" if og else status(ha, gid, units_a, "removed")))
    for gid, g in hb.groups.items():
        if gid not in matched_b and g.kind in ("module", "series"):
            groups.append(GroupRow(None, gid, g.role, g.label, 0, g.params, 0, g.flops,
                                   status(hb, gid, units_b, "added")))
    groups = [r for r in groups if not _trivial(ha if r.a is not None else hb, r.a if r.a is not None else r.b)]
    removed = {"a": _removed_heads(a), "b": _removed_heads(b)}
    notes = []
    for g in (a, b):
        if g.meta.get("structure_only"):
            notes.append(f"{g.name} is structure only (no checkpoint): shapes, parameters and FLOPs compared, "
                         "not weights")
    return GraphDiff(a, b, al, rows, groups, removed, wa is not None and wb is not None, notes)


def _trivial(h, gid: str) -> bool:
    """Groups without parameters or FLOPs (dropout, activations) are not worth a row."""
    g = h.groups[gid]
    return g.params == 0 and g.flops == 0 and g.role in ("dropout", "activation", "module")


__all__ = ["diff_graphs", "GraphDiff", "UnitRow", "GroupRow", "WeightDiff"]
