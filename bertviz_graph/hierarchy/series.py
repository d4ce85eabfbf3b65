"""Series folding: consecutive sibling groups with the same structure become one "BertLayer ×12" group.

The structural signature of a group is its op sequence (op, output shape, shapes of the parameters read),
its internal edges (as positions in that sequence) and the nesting of its sub-groups; names are left out,
so layer 0 and layer 11 match, and so do the 12 calls of ALBERT's one shared layer.
No peer tool folds repeated blocks (TensorBoard only folds same-op siblings named foo_1..foo_N).
"""

from __future__ import annotations

import hashlib
import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bertviz_graph.hierarchy.tree import Group, Hierarchy

MIN_SERIES = 2


def signature(h: Hierarchy, gid: str) -> str:
    g = h.graph.g
    leaves = h.leaves(gid)
    ops = [n for n in leaves if g.nodes[n]["kind"] == "op"]
    index = {n: i for i, n in enumerate(ops)}
    parts: list[str] = []
    for n in ops:
        d = g.nodes[n]
        pshapes = sorted(str(g.nodes[p].get("shape")) for p in g.predecessors(n) if g.nodes[p]["kind"] == "param")
        inner = sorted(index[p] - index[n] for p in g.predecessors(n) if p in index)
        parts.append(f"{d['op']}|{d.get('shape')}|{','.join(pshapes)}|{inner}|{h.depth(n) - h.depth(gid)}")
    nest = _nesting(h, gid)
    return hashlib.sha1(("\n".join(parts) + "#" + nest).encode()).hexdigest()


def _nesting(h: Hierarchy, gid: str) -> str:
    grp = h.groups[gid]
    inner = ",".join(_nesting(h, c) if c in h.groups else "." for c in grp.children if c in h.groups
                     or h.graph.g.nodes[c]["kind"] == "op")
    return f"{grp.cls}({inner})"


def fold_series(h: Hierarchy) -> None:
    """Fold runs bottom-up is not needed: layers are folded where they sit; members keep their insides."""
    sigs: dict[str, str] = {}
    for gid in list(h.groups):
        parent = h.groups.get(gid)
        if parent is None or parent.kind != "module":
            continue
        kids = parent.children
        group_kids = [c for c in kids if c in h.groups]
        if len(group_kids) < MIN_SERIES:
            continue
        for c in group_kids:
            if c not in sigs:
                sigs[c] = signature(h, c)
        runs: list[list[str]] = []
        run: list[str] = []
        for c in kids:
            if c in h.groups and h.groups[c].kind == "module" and h.groups[c].cls != "(ops)" and run \
                    and sigs[run[-1]] == sigs[c] \
                    and h.groups[c].cls == h.groups[run[-1]].cls:
                run.append(c)
                continue
            if len(run) >= MIN_SERIES:
                runs.append(run)
            run = [c] if c in h.groups else []
        if len(run) >= MIN_SERIES:
            runs.append(run)
        for members in runs:
            _make_series(h, gid, members)


def series_id(members: list[str]) -> str:
    first, last = members[0], members[-1]
    m1, m2 = re.match(r"^(.*\.)(\d+)$", first), re.match(r"^(.*\.)(\d+)$", last)
    if m1 and m2 and m1.group(1) == m2.group(1):
        return f"{m1.group(1)[:-1]}[{m1.group(2)}-{m2.group(2)}]"
    return f"{first.split('@')[0]}[×{len(members)}]"


def _make_series(h: Hierarchy, parent_id: str, members: list[str]) -> Group:
    import dataclasses

    g = h.graph.g
    parent = h.groups[parent_id]
    first = h.groups[members[0]]
    sid = series_id(members)
    params_sets = []
    for m in members:
        ps = set()
        for n in h.leaves(m):
            if g.nodes[n]["kind"] == "op":
                ps.update(p for p in g.predecessors(n) if g.nodes[p]["kind"] == "param")
        params_sets.append(ps)
    shared = len(params_sets) > 1 and all(s == params_sets[0] for s in params_sets) and bool(params_sets[0])
    n = len(members)
    each = f"{first.params / 1e6:.1f}M params each" if first.params >= 1e5 else f"{first.params:,} params each"
    sub = f"{n} identical layers, shared weights" if shared else f"{n} identical blocks · {each}"
    # a Group like the first member's (dataclasses.replace: no import of tree.py, which imports this module)
    series = dataclasses.replace(
        first, id=sid, kind="series", cls=first.cls, label=f"{first.label} ×{n}", sublabel=sub, role=first.role,
        parent=parent_id, children=list(members), members=list(members), shared_weights=shared,
        attrs=dict(first.attrs))
    # Aggregates: parameters once if shared, else summed; flops and ops always summed.
    series.params = first.params if shared else sum(h.groups[m].params for m in members)
    series.flops = sum(h.groups[m].flops for m in members)
    series.n_ops = sum(h.groups[m].n_ops for m in members)
    series.inputs = list(first.inputs)
    series.outputs = list(h.groups[members[-1]].outputs)
    pos = parent.children.index(members[0])
    parent.children = [c for c in parent.children if c not in set(members)]
    parent.children.insert(pos, sid)
    h.groups[sid] = series
    h.parent_of[sid] = parent_id
    for m in members:
        h.groups[m].parent = sid
        h.parent_of[m] = sid
    return series
