"""Align two hierarchies by structure and role, not by name.

Units are the modules that own parameters (Linear, LayerNorm, Embedding, ...). Each gets a slot:
(section, layer, tag): the section is the role of its top-level part (embeddings, layer, pooler, head), the
layer its index in the layer stack, the tag what it does there (Q, K, V, attention output, FFN in/out,
LayerNorm 1/2, word/position/type embedding), from attribute names of the common families and otherwise its
kind and rank. Layer stacks of different depth are matched the way DistilBERT was initialised from BERT
(every other layer): layer i of the shorter meets layer ⌊i·m/n⌋ of the longer, so DistilBERT's
``transformer.layer.3`` meets BERT's ``encoder.layer.6``. Groups are then matched through their units.
Works on any two OpGraphs with hierarchies (PyTorch traces, ONNX imports).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from bertviz_graph.hierarchy.tree import Hierarchy

_TAGS = [  # (regex on the module path's last parts, tag), first match wins
    (r"(^|\.)(query|q_lin|q_proj|q)$", "Q"),
    (r"(^|\.)(key|k_lin|k_proj|k)$", "K"),
    (r"(^|\.)(value|v_lin|v_proj|v)$", "V"),
    (r"attention\.output\.dense$|(^|\.)(out_lin|o_proj|out_proj|attention\.dense)$", "attention output"),
    (r"(intermediate\.dense|lin1|fc1|ffn\.dense|ffn)$", "FFN in"),
    (r"(output\.dense|lin2|fc2|ffn_output)$", "FFN out"),
    (r"word_embeddings$", "word embeddings"),
    (r"position_embeddings$", "position embeddings"),
    (r"token_type_embeddings$", "token type embeddings"),
]
# the masked-LM head by role: BERT's cls.predictions.transform.dense / .LayerNorm / .decoder (+ the bias its
# BertLMPredictionHead owns), DistilBERT's vocab_transform / vocab_layer_norm / vocab_projector, RoBERTa's
# lm_head.dense / .layer_norm / .decoder, ALBERT's predictions.dense / .LayerNorm / .decoder
_HEAD_TAGS = [
    (r"(transform\.dense|vocab_transform|lm_head\.dense|predictions\.dense|generator_predictions\.dense)$",
     "MLM transform"),
    (r"(transform\.LayerNorm|vocab_layer_norm|lm_head\.layer_norm|predictions\.LayerNorm)$", "MLM layer norm"),
    (r"(transform\.transform_act_fn|^activation|lm_head\.gelu|predictions\.activation)$", "MLM activation"),
    (r"(predictions\.decoder|vocab_projector|lm_head\.decoder|generator_lm_head)$", "MLM decoder"),
]
_SECTIONS = ("embeddings", "layer", "pooler", "head")


@dataclass
class Unit:
    module: str  # the group id (module path) owning the parameters
    section: str
    layer: int | None
    tag: str
    params: list[str]  # param node ids, "param:...weight"
    shapes: list[list[int]]


@dataclass
class Alignment:
    """Matched units and groups of two hierarchies; None on one side means missing there."""

    units: list[tuple[Unit | None, Unit | None]]
    groups: dict[str, str]  # group id in A -> group id in B
    layers_a: list[str]
    layers_b: list[str]
    layer_map: dict[int, int]  # layer index in A -> in B
    unmatched_layers_a: list[str] = field(default_factory=list)
    unmatched_layers_b: list[str] = field(default_factory=list)
    shares_nothing: bool = False


def layer_groups(h: Hierarchy) -> list[str]:
    """The transformer layers in execution order (members of folded series included)."""
    out = [gid for gid, g in h.groups.items() if g.kind == "module" and g.role == "layer"]
    # keep only the outermost "layer" groups (a layer's sub-blocks may also be named *Layer)
    outer = [g for g in out if not any(a in out for a in h.ancestors(g))]
    order = {gid: i for i, gid in enumerate(h.groups)}
    return sorted(outer, key=lambda g: order[g])


def _section(h: Hierarchy, gid: str, layers: dict[str, int]) -> tuple[str, int | None]:
    for a in [gid, *h.ancestors(gid)]:
        if a in layers:
            return "layer", layers[a]
    for a in [gid, *h.ancestors(gid)]:
        g = h.groups.get(a)
        if g is not None and g.role in _SECTIONS:
            return g.role, None
    return "head", None  # outside embeddings, layers and pooler: the task head (DistilBERT's vocab_*)


def head_tag(path: str) -> str | None:
    """The role of a part of the task head, from its path ("MLM decoder"), or None."""
    for pat, tag in _HEAD_TAGS:
        if re.search(pat, path.split("@")[0]):
            return tag
    return None


def _tied_owner(h: Hierarchy, owner: str, params: list[str], owners: dict[str, list[str]]) -> str:
    """A decoder whose weight is tied to the word embeddings keeps only its bias, and BERT's
    BertLMPredictionHead (ALBERT's, RoBERTa's lm_head) owns that bias: the unit is the decoder Linear
    itself, a child without parameters of its own, so it meets DistilBERT's vocab_projector."""
    grp = h.groups.get(owner)
    if grp is None or not params or any(not p.endswith("bias") for p in params):
        return owner
    for c in grp.children:
        cg = h.groups.get(c)
        if cg is not None and cg.role == "linear" and c not in owners and head_tag(c) == "MLM decoder":
            return c
    return owner


def _tag(path: str) -> str | None:
    for pat, tag in _TAGS:
        if re.search(pat, path.split("@")[0]):
            return tag
    return None


def units(h: Hierarchy) -> list[Unit]:
    layers = {gid: i for i, gid in enumerate(layer_groups(h))}
    graph = h.graph
    by_module: dict[str, list[str]] = {}
    for n, d in graph.g.nodes(data=True):
        if d.get("kind") == "param":
            owner = h.parent(n)
            if owner is not None:
                by_module.setdefault(owner, []).append(n)
    order = {gid: i for i, gid in enumerate(h.groups)}
    mods = sorted(by_module, key=lambda m: order.get(m, 1 << 30))
    out: list[Unit] = []
    rank: dict[tuple, int] = {}
    for owner in mods:
        m = _tied_owner(h, owner, by_module[owner], by_module)
        section, layer = _section(h, m, layers)
        grp = h.groups.get(m)
        kind = grp.role if grp is not None else "module"
        tag = head_tag(m) if section == "head" else None
        if tag is None:
            tag = _tag(m) if kind in ("linear", "embedding", "module") else None
        if tag is None:  # by kind and rank inside its section: "layernorm 1", "linear 2"
            key = (section, layer, kind)
            rank[key] = rank.get(key, 0) + 1
            tag = f"{kind} {rank[key]}"
        params = by_module[owner]
        out.append(Unit(m, section, layer, tag, params,
                        [list(graph.g.nodes[p].get("shape") or []) for p in params]))
    return out


def map_layers(n: int, m: int) -> dict[int, int]:
    """Layer i of a stack of n -> layer of a stack of m (identity when equal; spread evenly otherwise)."""
    if n == m:
        return {i: i for i in range(n)}
    if n < m:
        return {i: (i * m) // n for i in range(n)}
    inv = {j: (j * n) // m for j in range(m)}
    return {a: b for b, a in inv.items()}


def align(ha: Hierarchy, hb: Hierarchy) -> Alignment:
    la, lb = layer_groups(ha), layer_groups(hb)
    lmap = map_layers(len(la), len(lb))
    ua, ub = units(ha), units(hb)
    slot_b = {(u.section, u.layer, u.tag): u for u in ub}
    pairs: list[tuple[Unit | None, Unit | None]] = []
    used: set[str] = set()
    for u in ua:
        layer = lmap.get(u.layer) if u.layer is not None else None
        v = slot_b.get((u.section, layer, u.tag))
        if v is not None and v.module not in used:
            used.add(v.module)
            pairs.append((u, v))
        else:
            pairs.append((u, None))
    pairs += [(None, v) for v in ub if v.module not in used]
    groups = _match_groups(ha, hb, pairs, la, lb, lmap)
    matched = any(a is not None and b is not None for a, b in pairs)
    return Alignment(pairs, groups, la, lb, lmap,
                     [g for i, g in enumerate(la) if i not in lmap],
                     [g for j, g in enumerate(lb) if j not in set(lmap.values())],
                     shares_nothing=not matched)


def _match_groups(ha: Hierarchy, hb: Hierarchy, pairs, la, lb, lmap) -> dict[str, str]:
    """A group of A meets the group of B with the same role that holds most of its units' partners."""
    out: dict[str, str] = {"": ""} if "" in ha.groups and "" in hb.groups else {}
    for i, j in lmap.items():
        out[la[i]] = lb[j]
    partner = {a.module: b.module for a, b in pairs if a is not None and b is not None}
    for a_mod, b_mod in partner.items():
        out[a_mod] = b_mod
    # a layer without a partner (and what it holds) never meets a namesake: A's layer.1 is not B's layer.1
    # when B's layer.1 is A's layer.2
    lonely = {g for i, g in enumerate(la) if i not in lmap}
    taken = set(out.values())
    for gid, g in ha.groups.items():
        if gid in out or g.kind != "module":
            continue
        if gid in lonely or any(x in lonely for x in ha.ancestors(gid)):
            continue
        if gid in hb.groups and gid not in taken and hb.groups[gid].role == g.role and hb.groups[gid].cls == g.cls:
            out[gid] = gid  # the same name, role and class: the obvious partner
            continue
        mine = [partner[u] for u in partner if u == gid or gid in ha.ancestors(u)]
        if not mine:
            continue
        votes: dict[str, int] = {}  # candidate -> how many of the units' partners it holds
        for b_mod in mine:
            for cand in [b_mod, *hb.ancestors(b_mod)]:
                cg = hb.groups.get(cand)
                if cg is not None and cg.role == g.role and cg.kind == "module":
                    votes[cand] = votes.get(cand, 0) + 1
        if votes:
            out[gid] = max(votes.items(), key=lambda kv: (kv[1], hb.depth(kv[0])))[0]
    _match_head_parts(ha, hb, out)
    _match_by_rank(ha, hb, out)
    # series (×N stacks) meet series
    for gid, g in ha.groups.items():
        if g.kind == "series" and g.members and g.members[0] in out:
            target = hb.parent(out[g.members[0]])
            if target is not None and hb.groups.get(target) is not None and hb.groups[target].kind == "series":
                out[gid] = target
    return out


def _match_head_parts(ha: Hierarchy, hb: Hierarchy, out: dict[str, str]) -> None:
    """Parts of the task head without parameters (BERT's transform_act_fn, DistilBERT's activation) meet by
    their role in the head, whatever boxes hold them."""
    used = set(out.values())
    theirs: dict[str, str] = {}
    for gid, g in hb.groups.items():
        t = head_tag(gid) if g.kind == "module" else None
        if t is not None and gid not in used:
            theirs.setdefault(t, gid)
    for gid, g in ha.groups.items():
        t = head_tag(gid) if g.kind == "module" and gid not in out else None
        if t is not None and t in theirs and theirs[t] not in used:
            out[gid] = theirs[t]
            used.add(theirs[t])


def _descendants(h: Hierarchy, gid: str) -> list[str]:
    out, stack = [], [gid]
    while stack:
        cur = stack.pop()
        for c in reversed(h.groups[cur].children if cur in h.groups else []):
            if c in h.groups:
                out.append(c)
                stack.append(c)
    return out


def _match_by_rank(ha: Hierarchy, hb: Hierarchy, out: dict[str, str]) -> None:
    """Groups without parameters (activations, mask plumbing) meet the group of the same role and rank
    under their nearest matched ancestor's partner."""
    used = set(out.values())
    for gid, g in ha.groups.items():
        if gid in out or g.kind != "module":
            continue
        anc = next((a for a in ha.ancestors(gid) if ha.groups[a].kind == "module"), None)
        if anc is None or anc not in out:
            continue
        mine = [d for d in _descendants(ha, anc) if ha.groups[d].role == g.role and ha.groups[d].kind == "module"]
        theirs = [d for d in _descendants(hb, out[anc])
                  if hb.groups[d].role == g.role and hb.groups[d].kind == "module"]
        k = mine.index(gid)
        if k < len(theirs) and theirs[k] not in used:
            out[gid] = theirs[k]
            used.add(theirs[k])
            continue
        # an importer may give the same part another role (the ONNX import calls MiniLM's
        # intermediate_act_fn "ffn"): the same attribute name under the partner ancestor
        leaf = gid.rsplit(".", 1)[-1]
        same = [d for d in _descendants(hb, out[anc]) if d.rsplit(".", 1)[-1] == leaf and d not in used
                and hb.parent(d) == out.get(ha.parent(gid))]
        if len(same) == 1:
            out[gid] = same[0]
            used.add(same[0])
