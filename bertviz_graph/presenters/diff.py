"""Plain data for the comparison panel (app, widget, export): the two views' marks, the tables, and the
difference heatmaps of same-shape weights. Renderers only draw what this returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bertviz_graph import format as fmt
from bertviz_graph.comparison import GraphDiff, UnitRow, weight_source
from bertviz_graph.format import human

MARK_STYLE = {  # status -> (stroke colour, dash); the legend uses the same words
    "removed": ("#d62728", "6,3"),
    "added": ("#2ca02c", "6,3"),
    "changed": ("#ff7f0e", ""),
    "reshaped": ("#9467bd", ""),
    "regrouped": ("#7f7f7f", "2,2"),
    "heads removed": ("#e377c2", "4,2"),
}
MARK_TEXT = {
    "removed": "only in A (missing in B)", "added": "only in B", "changed": "same shape, weights differ",
    "reshaped": "shapes differ", "regrouped": "same parts, grouped differently",
    "heads removed": "attention heads removed (zero weights)",
}


@dataclass
class DiffPanel:
    title: str
    summary: list[str]
    marks_a: dict[str, str]  # group id -> status, for the A view
    marks_b: dict[str, str]
    partners: dict[str, str]  # A group id -> B group id (both views open / highlight together)
    groups: list[dict[str, Any]]
    units: list[dict[str, Any]]
    heatmaps: list[dict[str, Any]] = field(default_factory=list)  # {title, z (2-D array), stats}
    notes_a: dict[str, str] = field(default_factory=dict)  # group id -> what it meets and what differs
    notes_b: dict[str, str] = field(default_factory=dict)


def _ancestors_chain(h, gid: str) -> list[str]:
    return [gid, *h.ancestors(gid)]


def marks(d: GraphDiff) -> tuple[dict[str, str], dict[str, str]]:
    """Status per group id on each side (what a view shows of them: ``visible_marks``)."""
    ma: dict[str, str] = {}
    mb: dict[str, str] = {}
    for r in d.groups:
        if r.status != "matched":
            (ma if r.a is not None else mb)[r.a if r.a is not None else r.b] = r.status
    for u in d.units:
        if u.status in ("changed", "reshaped"):
            ma.setdefault(u.a.module, u.status)
            mb.setdefault(u.b.module, u.status)
    for side, m in (("a", ma), ("b", mb)):
        for layer in (d.removed_heads.get(side) or {}):
            m[layer] = "heads removed"
    return ma, mb


def visible_marks(marks: dict[str, str], view) -> dict[str, str]:
    """The marks of the boxes drawn; a closed box that hides changed or reshaped weights is marked so too
    (its own mark, if any, wins): a folded layer of a pruned copy shows that something inside differs."""
    out = {g: m for g, m in marks.items() if _rep(view, g) == g}
    for g, m in marks.items():
        if m in ("changed", "reshaped"):
            r = _rep(view, g)
            if r is not None and r != g and r not in out:
                out[r] = m
    return out


def group_notes(d: GraphDiff) -> tuple[dict[str, str], dict[str, str]]:
    """One line per group on each side saying what it meets and what differs: "↔ distilbert.transformer.layer.3
    · params 7.09M → 7.09M · FLOPs 226M → 226M", "only in bert-base-uncased (missing in distilbert...)"."""

    def delta(x: int, y: int, what: str) -> str:
        return f"{what} {human(x)} → {human(y)}" + (f" ({'+' if y > x else '−'}{human(abs(y - x))})" if x != y else "")

    na, nb = {}, {}
    for r in d.groups:
        nums = f"{delta(r.params_a, r.params_b, 'params')} · {delta(r.flops_a, r.flops_b, 'FLOPs')}"
        if r.a is not None and r.b is not None:
            na[r.a] = f"↔ B {r.b or '(the model)'} · {nums}"
            nb[r.b] = f"↔ A {r.a or '(the model)'} · {nums}"
        elif r.a is not None:
            na[r.a] = (f"{MARK_TEXT[r.status]}: no box of {d.b.name} holds the same parts" if r.status == "regrouped"
                       else f"only in {d.a.name} (missing in {d.b.name}) · {nums}")
        elif r.b is not None:
            nb[r.b] = (f"{MARK_TEXT[r.status]}: no box of {d.a.name} holds the same parts" if r.status == "regrouped"
                       else f"only in {d.b.name} (missing in {d.a.name}) · {nums}")
    for u in d.units:
        if u.status in ("changed", "reshaped") and u.a is not None and u.b is not None:
            w = max(u.weights, key=lambda x: x.rel_norm, default=None)
            extra = (f" · weights differ: ‖Δ‖/‖A‖ {w.rel_norm:.3g}, {fmt.percent(w.changed, 0)} changed" if w is not None
                     else " · shapes " + " ".join("×".join(map(str, s)) for s in u.a.shapes) + " → "
                     + " ".join("×".join(map(str, s)) for s in u.b.shapes))
            na[u.a.module] = na.get(u.a.module, f"↔ B {u.b.module}") + extra
            nb[u.b.module] = nb.get(u.b.module, f"↔ A {u.a.module}") + extra
    return na, nb


def _rep(view, x: str) -> str | None:
    try:
        return view.rep(x)
    except KeyError:
        return None


def _unit_row(u: UnitRow) -> dict[str, Any]:
    w = max(u.weights, key=lambda x: x.rel_norm, default=None)
    return {"tag": u.tag, "a": u.a.module if u.a else "", "b": u.b.module if u.b else "", "status": u.status,
            "shapes_a": " ".join("×".join(map(str, s)) for s in u.a.shapes) if u.a else "",
            "shapes_b": " ".join("×".join(map(str, s)) for s in u.b.shapes) if u.b else "",
            "params_a": u.params_a, "params_b": u.params_b, "params_delta": u.params_b - u.params_a,
            "max_abs": w.max_abs if w else None, "rel_norm": w.rel_norm if w else None,
            "changed": w.changed if w else None}


def block_mean(x: np.ndarray, max_side: int = 192) -> np.ndarray:
    """Downsample a matrix to at most ``max_side`` per side by block means (signed differences keep their
    sign; a vector becomes one row)."""
    x = np.atleast_2d(np.asarray(x, dtype=np.float64))
    r, c = x.shape
    br, bc = max(1, -(-r // max_side)), max(1, -(-c // max_side))
    pr, pc = (-r) % br, (-c) % bc
    xp = np.pad(x, ((0, pr), (0, pc)), constant_values=np.nan)
    return np.nanmean(xp.reshape(xp.shape[0] // br, br, xp.shape[1] // bc, bc), axis=(1, 3))


def heatmaps(d: GraphDiff, limit: int = 6, max_side: int = 192) -> list[dict[str, Any]]:
    """B − A for the ``limit`` same-shape weights that changed most (relative norm)."""

    if not d.weights_compared:
        return []
    cands = sorted((w for u in d.units for w in u.weights if w.changed > 0 and len(w.shape) == 2),
                   key=lambda w: -w.rel_norm)[:limit]
    if not cands:
        return []
    wa, wb = weight_source(d.a), weight_source(d.b)
    out = []
    for w in cands:
        delta = wb.get(w.name_b).astype(np.float64) - wa.get(w.name_a).astype(np.float64)
        out.append({"title": w.name_b if w.name_a == w.name_b else f"{w.name_a} → {w.name_b}",
                    "z": block_mean(delta, max_side), "shape": w.shape,
                    "stats": {"max |Δ|": w.max_abs, "mean |Δ|": w.mean_abs, "‖Δ‖/‖A‖": w.rel_norm,
                              "changed": w.changed, "zeros A": w.zeros_a, "zeros B": w.zeros_b}})
    return out


def diff_panel(d: GraphDiff, with_heatmaps: bool = True) -> DiffPanel:
    ma, mb = marks(d)
    groups = [{"a": r.a or "", "b": r.b or "", "role": r.role, "label": r.label, "status": r.status,
               "params_a": r.params_a, "params_b": r.params_b, "params_delta": r.params_b - r.params_a,
               "flops_a": r.flops_a, "flops_b": r.flops_b, "flops_delta": r.flops_b - r.flops_a}
              for r in d.groups if r.role not in ("linear", "layernorm", "embedding", "dropout", "activation")]
    notes_a, notes_b = group_notes(d)
    return DiffPanel(title=f"{d.a.name} ↔ {d.b.name}", summary=d.summary_lines(), marks_a=ma, marks_b=mb,
                     partners=dict(d.alignment.groups), notes_a=notes_a, notes_b=notes_b, groups=groups,
                     units=[_unit_row(u) for u in d.units],
                     heatmaps=heatmaps(d) if with_heatmaps else [])
