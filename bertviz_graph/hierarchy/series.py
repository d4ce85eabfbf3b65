"""Series folding: repeated sibling blocks become one "BertLayer ×12" group.

Two blocks fold only when their structural signature is equal. The signature is a function of OpGraph
node attributes alone (so ONNX graphs get the same rule): for every op, in execution order, its full
target with overload (``aten.gelu.default``), output shape and dtype, its scalar and keyword arguments
(eps, GELU ``approximate``, scale factors, dropout p), and for each tensor argument, in argument order,
where it comes from: an earlier op of the block (relative position), a parameter or buffer (shape,
dtype, a buffer's value digest when known) or the k-th distinct tensor entering the block from outside.
It also records which ops feed something outside the block and how sub-groups nest. Names are left out,
so layer 0 and layer 11 match, and so do the 12 calls of ALBERT's one shared layer.

A loop such as ``for blk in self.blocks: x = x + blk(x)`` leaves a parent-level op (the add) between the
blocks. The repeating unit is then the block plus its in-between ops (or the ops plus the block); each
unit becomes one "step" group holding both, so the add is drawn where it runs, next to its block, and
the steps fold into one series. No peer tool folds repeated blocks (TensorBoard only folds same-op
siblings named foo_1..foo_N).
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import TYPE_CHECKING, Any

from bertviz_graph import format as fmt
from bertviz_graph.hierarchy.types import Group

if TYPE_CHECKING:
    from bertviz_graph.hierarchy.types import Hierarchy

MIN_SERIES = 2
STEP = "<step>"  # id suffix of the group that holds one block plus its in-between ops


def signature(h: Hierarchy, gid: str) -> str:
    """The structural signature of one group (see the module docstring)."""
    return unit_signature(h, [gid])


def unit_signature(h: Hierarchy, items: list[str]) -> str:
    """Signature of a run of sibling items (groups and loose ops) taken together as one block."""
    leaves: list[str] = []
    for x in items:
        leaves.extend(h.leaves(x) if x in h.groups else [x])
    base = h.depth(items[0]) if items else 0
    nest = "|".join(_nesting(h, x) if x in h.groups else "." for x in items)
    text = json.dumps([op_structure(h.graph.g, leaves, lambda n: h.depth(n) - base), nest],
                      sort_keys=True, default=str)
    return hashlib.sha1(text.encode()).hexdigest()


def op_structure(g: Any, leaves: list[str], depth_of: Any = None) -> list[list[Any]]:
    """Per op of ``leaves`` (a networkx graph's node ids): the plain-data facts two identical blocks share."""
    ops = sorted((n for n in leaves if g.nodes[n].get("kind") == "op"), key=lambda n: g.nodes[n]["order"])
    index = {n: i for i, n in enumerate(ops)}
    outside: dict[str, int] = {}  # tensors from outside the block, numbered by first use

    def source(p: str, here: int) -> list[Any]:
        d = g.nodes[p]
        if p in index:
            return ["op", index[p] - here]
        if d.get("kind") in ("param", "buffer"):
            return [d["kind"], d.get("shape"), d.get("dtype"), d.get("digest")]
        return ["in", outside.setdefault(p, len(outside))]

    out: list[list[Any]] = []
    for n in ops:
        d = g.nodes[n]
        here = index[n]
        by_slot = {e.get("index", 0): u for u, _, e in g.in_edges(n, data=True)}
        slots = [source(by_slot[k], here) for k in sorted(by_slot)]

        def fill(v: Any, by_slot: dict = by_slot, here: int = here) -> Any:
            if isinstance(v, dict) and set(v) == {"$"}:
                k = v["$"]
                return source(by_slot[k], here) if k in by_slot else ["?"]
            if isinstance(v, list):
                return [fill(x) for x in v]
            if isinstance(v, dict):
                return {k: fill(x) for k, x in v.items()}
            return v

        if "args" in d:
            args: Any = [fill(d["args"]), fill(d.get("kwargs") or {})]
        else:  # graphs without recorded arguments: tensor inputs in argument order
            args = slots
        feeds_out = any(v not in index for v in g.successors(n))
        depth = depth_of(n) if depth_of else 0
        out.append([d.get("target") or d.get("op"), d.get("shape"), d.get("dtype"), args, feeds_out, depth])
    return out


def _nesting(h: Hierarchy, gid: str) -> str:
    grp = h.groups[gid]
    inner = ",".join(_nesting(h, c) if c in h.groups else "." for c in grp.children if c in h.groups
                     or h.graph.g.nodes[c]["kind"] == "op")
    return f"{grp.cls}({inner})"


_INDEXED = re.compile(r"^(.*)\.(\d+)$")


def _next_of(a: str, b: str) -> bool:
    """b can follow a in a series: the next entry of the same ModuleList (blocks.3 -> blocks.4) or another
    call of the very same module (ALBERT's layer, layer@1). Differently named siblings (k_proj, v_proj)
    never fold, however alike."""
    base_a, base_b = a.split("@")[0], b.split("@")[0]
    if base_a == base_b:
        return True
    ma, mb = _INDEXED.match(base_a), _INDEXED.match(base_b)
    return bool(ma and mb and ma.group(1) == mb.group(1) and int(mb.group(2)) == int(ma.group(2)) + 1)


def fold_series(h: Hierarchy) -> None:
    """Fold every run of repeated blocks where it sits; members keep their insides."""
    for gid in list(h.groups):
        parent = h.groups.get(gid)
        if parent is None or parent.kind != "module":
            continue
        if sum(1 for c in parent.children if c in h.groups) < MIN_SERIES:
            continue
        for start, period, count in _find_runs(h, parent.children):
            kids = parent.children
            units = [kids[start + k * period: start + (k + 1) * period] for k in range(count)]
            _make_series(h, gid, units)


def _find_runs(h: Hierarchy, kids: list[str]) -> list[tuple[int, int, int]]:
    """(start, period, count) of each run of repeating units among ``kids``, last run first (so the
    earlier positions stay valid while the runs are replaced)."""
    g = h.graph.g
    groups = h.groups
    sig_cache: dict[tuple[str, ...], str] = {}

    def sig(items: list[str]) -> str:
        key = tuple(items)
        if key not in sig_cache:
            sig_cache[key] = unit_signature(h, items)
        return sig_cache[key]

    def anchor_ok(x: str) -> bool:
        return x in groups and groups[x].kind == "module" and groups[x].cls != "(ops)"

    def loose(x: str) -> bool:
        return x not in groups and g.nodes[x].get("kind") == "op"

    runs: list[tuple[int, int, int]] = []
    i = 0
    while i < len(kids):
        a = kids[i]
        if not anchor_ok(a):
            i += 1
            continue
        # The next sibling of the same class that may follow `a` sets the period.
        j = i + 1
        while j < len(kids) and not (anchor_ok(kids[j]) and groups[kids[j]].cls == groups[a].cls):
            j += 1
        if j >= len(kids) or not _next_of(a, kids[j]) or not all(loose(x) or x in groups for x in kids[i:j]):
            i += 1
            continue
        period = j - i
        best = (i, 0)
        # The unit may start with the block (x = x + blk(x)) or with the ops before it (x = blk(norm(x))).
        lead_max = 0
        while lead_max < period - 1 and i - lead_max - 1 >= 0 and loose(kids[i - lead_max - 1]) \
                and (not runs or i - lead_max - 1 >= runs[-1][0] + runs[-1][1] * runs[-1][2]):
            lead_max += 1
        for lead in range(lead_max + 1):
            s = i - lead
            count = _count_units(kids, s, period, lead, sig, groups, a)
            if count > best[1]:
                best = (s, count)
        s, count = best
        if count >= MIN_SERIES:
            runs.append((s, period, count))
            i = s + period * count
        else:
            i += 1
    return runs[::-1]


def _count_units(kids: list[str], s: int, period: int, lead: int, sig: Any, groups: dict, a: str) -> int:
    first = kids[s: s + period]
    if len(first) < period:
        return 0
    ref = sig(first)
    count, prev = 1, kids[s + lead]
    while True:
        unit = kids[s + count * period: s + (count + 1) * period]
        if len(unit) < period:
            break
        anchor = unit[lead]
        if anchor not in groups or groups[anchor].cls != groups[a].cls or not _next_of(prev, anchor):
            break
        if sig(unit) != ref:
            break
        count, prev = count + 1, anchor
    return count


def series_id(members: list[str]) -> str:
    first, last = members[0], members[-1]
    m1, m2 = re.match(r"^(.*\.)(\d+)$", first), re.match(r"^(.*\.)(\d+)$", last)
    if m1 and m2 and m1.group(1) == m2.group(1):
        return f"{m1.group(1)[:-1]}[{m1.group(2)}-{m2.group(2)}]"
    return f"{first.split('@')[0]}[×{len(members)}]"


def _anchor(h: Hierarchy, unit: list[str]) -> str:
    return next(x for x in unit if x in h.groups)


def _make_series(h: Hierarchy, parent_id: str, units: list[list[str]]) -> Group:

    parent = h.groups[parent_id]
    anchors = [_anchor(h, u) for u in units]
    if all(len(u) == 1 for u in units):
        members = anchors
    else:
        members = [_make_step(h, parent_id, u, a) for u, a in zip(units, anchors, strict=True)]
    first = h.groups[members[0]]
    sid = series_id(anchors)
    series = Group(id=sid, kind="series", cls=first.cls, label="", sublabel="", role=first.role,
                    parent=parent_id, children=list(members), members=list(members),
                    attrs=dict(first.attrs))
    pos = parent.children.index(units[0][0])
    gone = {x for u in units for x in u}
    parent.children = [c for c in parent.children if c not in gone]
    parent.children.insert(pos, sid)
    h.groups[sid] = series
    h.parent_of[sid] = parent_id
    for m in members:
        h.groups[m].parent = sid
        h.parent_of[m] = sid
    return series


def _make_step(h: Hierarchy, parent_id: str, unit: list[str], anchor: str) -> str:
    """One block plus the parent-level ops that run with it, as a group of their own."""

    g = h.graph.g
    a = h.groups[anchor]
    ops = sorted({g.nodes[x]["op"] for x in unit if x not in h.groups})
    others = [h.groups[x].label for x in unit if x in h.groups and x != anchor]
    extra = " + ".join(others + ops)
    sid = f"{anchor}.{STEP}"
    h.groups[sid] = Group(id=sid, kind="module", cls=a.cls, label=a.label,
                          sublabel=f"{a.sublabel} · with {extra}" if a.sublabel else f"with {extra}",
                          role=a.role, parent=parent_id, children=list(unit), attrs=dict(a.attrs))
    h.parent_of[sid] = parent_id
    for x in unit:
        h.parent_of[x] = sid
        if x in h.groups:
            h.groups[x].parent = sid
    return sid


def label_series(h: Hierarchy) -> None:
    """Labels that need the aggregates: "BertLayer ×12", "12 identical blocks · 7.1M params each"."""
    g = h.graph.g
    for series in h.series():
        members = series.members
        first = h.groups[members[0]]
        params_sets = []
        for m in members:
            ps = set()
            for n in h.leaves(m):
                if g.nodes[n]["kind"] == "op":
                    ps.update(p for p in g.predecessors(n) if g.nodes[p]["kind"] == "param")
            params_sets.append(ps)
        shared = len(params_sets) > 1 and all(s == params_sets[0] for s in params_sets) and bool(params_sets[0])
        n = len(members)
        each = f"{fmt.human(first.params)} params each" if first.params >= 1e5 else f"{fmt.count(first.params)} params each"
        series.shared_weights = shared
        base = re.sub(r"\.\d+$", "", first.label)  # "blocks.0" stands for all: "blocks ×4"
        series.label = f"{base} ×{n}"
        series.sublabel = f"{n} identical layers, shared weights" if shared else f"{n} identical blocks · {each}"
