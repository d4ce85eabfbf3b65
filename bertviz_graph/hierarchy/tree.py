"""Hierarchy: the module tree over the OpGraph, with roles, labels, aggregates and folded series.

Every op sits in the module instance that ran it; every parameter sits in the module that owns it (not in
a global "inputs" bin); model inputs and outputs sit at the top. Consecutive sibling groups with the same
structure are folded into one series group ("BertLayer ×12"), whose members stay reachable.
"""

from __future__ import annotations

from bertviz_graph.graph import OpGraph
from bertviz_graph.hierarchy.aggregates import compute_aggregates
from bertviz_graph.hierarchy.op_names import op_names
from bertviz_graph.hierarchy.pruned import annotate as annotate_pruned
from bertviz_graph.hierarchy.roles import model_context, module_label, module_role, op_role, param_label
from bertviz_graph.hierarchy.series import fold_series, label_series
from bertviz_graph.hierarchy.types import ROOT, Group, Hierarchy

__all__ = ["ROOT", "Group", "Hierarchy", "build_hierarchy"]  # the types live in types.py; importers use either

def build_hierarchy(graph: OpGraph, fold: bool = True) -> Hierarchy:
    g = graph.g
    tied_pairs = [(d["name"], t) for _, d in graph.nodes("param") for t in d.get("tied") or []]
    ctx = model_context(graph.meta.get("config"), graph.modules, graph.meta.get("head"), tied_pairs)
    ctx["tied"] = bool(tied_pairs)
    ctx["seq"] = graph.meta.get("seq_len")
    groups: dict[str, Group] = {}
    parent_of: dict[str, str] = {}

    # Groups: one per module instance; the root module is the tree's root.
    root_info = graph.modules.get(ROOT)
    roles: dict[str, str] = {}
    kids: dict[str, list[str]] = {}
    for path, info in graph.modules.items():
        depth = 0 if path == ROOT else 1 + path.split("@")[0].count(".")
        roles[path] = module_role(info.cls, path, depth)
        parent = None if path == ROOT else (info.parent if info.parent in graph.modules else ROOT)
        if parent is not None:
            kids.setdefault(parent, []).append(path)
    for path, info in graph.modules.items():
        role = roles[path]
        attrs = dict(info.attrs)
        if role == "embeddings":
            attrs["parts"] = _embedding_parts(kids.get(path, []), graph)
        label, sub = module_label(info.cls, path, role, attrs, ctx,
                                  frozenset(roles[k] for k in kids.get(path, [])))
        parent = None if path == ROOT else (info.parent if info.parent in graph.modules else ROOT)
        groups[path] = Group(id=path, kind="module", cls=info.cls, label=label, sublabel=sub, role=role,
                             parent=parent, attrs=attrs)
    if ROOT not in groups:
        groups[ROOT] = Group(id=ROOT, kind="module", cls=root_info.cls if root_info else "Model",
                             label=graph.name, sublabel="", role="model", parent=None)
    for gid, grp in groups.items():
        if grp.parent is not None:
            parent_of[gid] = grp.parent

    # Leaves: ops in their instance, params/buffers in their owner, inputs/outputs at the top.
    node_role: dict[str, str] = {}
    node_label: dict[str, tuple[str, str]] = {}
    names = op_names(graph)  # what each op does ("Q·Kᵀ"); the ATen name stays in "target"
    for n, d in g.nodes(data=True):
        kind = d["kind"]
        if kind == "op":
            home = d["module"] if d["module"] in groups else ROOT
            node_role[n] = d.get("role_hint") or op_role(d["op"])  # an importer may know better (ONNX)
            node_label[n] = (names.get(n, d["op"]), _shape_text(d.get("shape")))
        elif kind in ("param", "buffer"):
            home = d["module"] if d["module"] in groups else ROOT
            node_role[n] = kind
            node_label[n] = param_label(d["name"], d.get("shape") or [])
        else:
            home = ROOT
            node_role[n] = kind
            node_label[n] = (d["name"].replace("input:", ""), _shape_text(d.get("shape")))
        parent_of[n] = home

    # Order children by first execution: ops by order, params just before their first consumer.
    key: dict[str, float] = {}
    for n, d in g.nodes(data=True):
        if d["kind"] in ("param", "buffer"):
            consumers = [g.nodes[v]["order"] for v in g.successors(n)]
            key[n] = (min(consumers) - 0.5) if consumers else d["order"]
        elif d["kind"] == "output":
            key[n] = 1e12 + d["order"]
        else:
            key[n] = d["order"]
    children: dict[str, list[str]] = {gid: [] for gid in groups}
    for x, p in parent_of.items():
        children[p].append(x)

    def first_key(x: str) -> float:
        if x in key:
            return key[x]
        ks = [first_key(c) for c in children[x]]
        key[x] = min(ks) if ks else 1e13
        return key[x]

    for gid in groups:
        groups[gid].children = sorted(children[gid], key=first_key)
    # Modules that ran nothing and own nothing (e.g. unused) are dropped.
    for gid in [k for k, v in groups.items() if not v.children and k != ROOT]:
        _remove_group(groups, parent_of, gid)

    h = Hierarchy(graph=graph, groups=groups, parent_of=parent_of, ctx=ctx, node_role=node_role,
                  node_label=node_label, residual=frozenset(residual_edges(g)))
    # Fold before grouping loose ops: a loop's in-between ops (x = x + blk(x)) belong to its steps.
    if fold:
        fold_series(h)
    _group_loose_ops(h)
    compute_aggregates(h)
    label_series(h)
    annotate_pruned(groups, graph.meta.get("config"))  # pruned heads/neurons, from a pruned folder's record
    return h


_PART_NAMES = {"word_embeddings": "token", "wte": "token", "embed_tokens": "token", "tok_embeddings": "token",
               "position_embeddings": "position", "wpe": "position", "embed_positions": "position",
               "token_type_embeddings": "type"}


def _embedding_parts(children: list[str], graph: OpGraph) -> str:
    """'token + position + type': the lookups an Embeddings module really holds (RoBERTa has a type table
    of one row, DistilBERT none, DeBERTa-v3 no position table)."""
    parts = []
    for c in children:
        if graph.modules[c].cls == "Embedding":
            leaf = c.split("@")[0].rsplit(".", 1)[-1]
            parts.append(_PART_NAMES.get(leaf, leaf))
    return " + ".join(dict.fromkeys(parts)) or "lookups"


def _remove_group(groups: dict[str, Group], parent_of: dict[str, str], gid: str) -> None:
    parent = groups[gid].parent
    if parent in groups and gid in groups[parent].children:
        groups[parent].children.remove(gid)
    del groups[gid]
    parent_of.pop(gid, None)
    if parent and parent in groups and not groups[parent].children:
        _remove_group(groups, parent_of, parent)


def _shape_text(shape: list[int] | None) -> str:
    return "[" + ", ".join(str(s) for s in shape) + "]" if shape else ""


def residual_edges(g) -> list[tuple[str, str]]:
    """Skip connections: an add whose input ``a`` also feeds, through other ops, its other input ``b``.
    The edge a -> add is then the skip (the residual). Same shape as the sum, so a broadcast such as the
    attention mask added to the scores is never taken for one."""
    out: list[tuple[str, str]] = []
    for v, dv in g.nodes(data=True):
        if dv.get("kind") != "op" or dv.get("op") != "add":
            continue
        ins = [u for u in g.predecessors(v) if g.nodes[u].get("kind") == "op"]
        if len(ins) != 2:
            continue
        for a, b in (ins, ins[::-1]):
            d = g.edges[a, v]
            if d.get("shape") == dv.get("shape") and g.out_degree(a) >= 2 and _reaches(g, a, b):
                out.append((a, v))
    return out


def _reaches(g, a: str, b: str) -> bool:
    """Is there a path a -> ... -> b through at least one op with trained parameters? (A residual branch
    holds a Linear or LayerNorm; GELU's inner ``x + 0.044715·x³`` holds none and is no skip connection.)
    Searched only among ops that ran between a and b (orders are topological)."""
    limit = g.nodes[b]["order"]
    start = (a, False)
    stack, seen = [start], {start}
    while stack:
        x, weighted = stack.pop()
        for y in g.successors(x):
            if y == b:
                if weighted:
                    return True
                continue
            if g.nodes[y]["order"] >= limit:
                continue
            state = (y, weighted or _uses_weights(g, y))
            if state not in seen:
                seen.add(state)
                stack.append(state)
    return False


def _uses_weights(g, y: str) -> bool:
    """y reads a trained parameter, directly or through a pure re-view of it (primitive graphs feed
    addmm with permute(weight))."""
    if g.nodes[y].get("params"):
        return True
    for p in g.predecessors(y):
        d = g.nodes[p]
        if d.get("kind") == "op" and d.get("params") and all(
                g.nodes[q].get("kind") in ("param", "buffer") for q in g.predecessors(p)):
            return True
    return False


_MASK_OPS = {"where", "ge", "gt", "lt", "le", "eq", "masked_fill", "logical_not", "bitwise_not"}


def _group_loose_ops(h: Hierarchy, min_ops: int = 3) -> None:
    """Ops a model runs outside any submodule (BertModel building its attention mask: arange, unsqueeze,
    where, ...) would scatter over the overview; each unbroken run of them becomes one group, at the
    place where it runs."""
    g = h.graph.g
    for gid in list(h.groups):
        grp = h.groups[gid]
        # Only model wrappers and stacks (T5Stack builds its mask inside): inside a block (self-attention)
        # the loose ops ARE the computation.
        if grp.role not in ("model", "encoder", "decoder") or not any(c in h.groups for c in grp.children):
            continue
        runs: list[list[str]] = [[]]
        for c in grp.children:
            if c not in h.groups and g.nodes[c]["kind"] == "op":
                runs[-1].append(c)
            elif c in h.groups and runs[-1]:
                runs.append([])
        taken: set[str] = set()
        for ops in (r for r in runs if len(r) >= min_ops):
            names = {g.nodes[x]["op"] for x in ops}
            is_mask = bool(names & _MASK_OPS)
            tag = "<mask>" if is_mask else "<ops>"
            new_id = f"{gid}.{tag}" if gid else tag
            k = 2
            while new_id in h.groups or new_id in taken:
                new_id = (f"{gid}.{tag[:-1]}:{k}>" if gid else f"{tag[:-1]}:{k}>")
                k += 1
            taken.add(new_id)
            label = "Attention mask" if is_mask else "Other ops"
            sub_label = f"{len(ops)} ops · " + ", ".join(sorted(names)[:4]) + (" …" if len(names) > 4 else "")
            pos = grp.children.index(ops[0])
            grp.children = [c for c in grp.children if c not in set(ops)]
            grp.children.insert(pos, new_id)
            h.groups[new_id] = Group(id=new_id, kind="module", cls="(ops)", label=label, sublabel=sub_label,
                                     role="shape", parent=gid, children=ops)
            h.parent_of[new_id] = gid
            for x in ops:
                h.parent_of[x] = new_id
