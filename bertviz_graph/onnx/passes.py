"""Passes over the importer's ops that decide where each op sits and in which order, so layers read alike.

- ``fold_identities``: Identity no-ops leave the graph (their readers read the input);
- ``hoist_shared``: values computed once for several modules (a de-duplicated attention mask) go up to the
  module holding all their users;
- ``qdq_with_users``: a static-quantized file's activation Q/DQ pair sits with the ops that read it;
- ``canonical_order``: a topological order that does not depend on where the exporter wrote each node.
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING

from bertviz_graph.onnx.scopes import common_ancestor, is_within

if TYPE_CHECKING:
    from bertviz_graph.onnx.importer import OpRec, Work


def fold_identities(w: Work) -> int:
    """Identity ops compute nothing: their readers read the Identity's input instead (unless the value is a
    graph output, whose name must stay). Returns how many were folded."""
    outputs = {o.name for o in w.f.model.graph.output}
    alias: dict[str, str] = {}
    keep: list[OpRec] = []
    for r in w.ops:
        r.inputs = [alias.get(v, v) for v in r.inputs]
        if r.op_type == "Identity" and len(r.inputs) == 1 and r.inputs[0] and len(r.outputs) == 1 \
                and r.outputs[0] not in outputs:
            alias[r.outputs[0]] = r.inputs[0]
            continue
        keep.append(r)
    if not alias:
        return 0
    w.ops = keep
    w.by_id = {r.id: r for r in keep}
    for v in alias:
        w.producer.pop(v, None)
    consumers: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for r in keep:
        for i, v in enumerate(r.inputs):
            if v:
                consumers[v].append((r.id, i))
    w.consumers = consumers
    return len(alias)


def qdq_with_users(w: Work) -> None:
    """A static-quantized file quantizes each activation where it is made (QuantizeLinear ->
    DequantizeLinear named after the producer); the pair belongs to the ops that read it, so a layer's
    output quantized for the next layer sits in that layer, and every layer starts alike."""

    for q in w.ops:
        if q.op_type != "QuantizeLinear" or not q.outputs or w.kind.get(q.inputs[0]) == "param":
            continue
        dqs = [w.op(o) for o, _ in w.consumers.get(q.outputs[0], [])]
        if not dqs or any(d.op_type != "DequantizeLinear" for d in dqs):
            continue
        users = [w.op(o).module for d in dqs for o, _ in w.consumers.get(d.outputs[0], [])]
        if users:
            home = common_ancestor(users, w.modules)
            for r in (q, *dqs):
                r.module = home


def canonical_order(w: Work) -> None:
    """A topological order that does not depend on where the exporter wrote each node: tf2onnx writes the
    einsum pieces of each layer in a different order, and the layers must read alike to fold. Among the
    ops ready to run, the one first by (module, depth, op type, attributes) runs first."""
    import heapq

    pos = {r.id: i for i, r in enumerate(w.ops)}
    preds: dict[str, set[str]] = {r.id: {w.producer[v] for v in r.inputs if w.producer.get(v) in pos}
                                  for r in w.ops}
    succs: dict[str, list[str]] = defaultdict(list)
    depth: dict[str, int] = {}
    for r in w.ops:
        depth[r.id] = 1 + max((depth[p] for p in preds[r.id]), default=0)
        for p in preds[r.id]:
            succs[p].append(r.id)

    def key(oid: str) -> tuple:
        r = w.by_id[oid]
        # what an op is and what reads it, before where the file wrote it (weights' DequantizeLinear nodes
        # come in a different order for each layer)
        readers = sorted(w.op(o).op_type for out in r.outputs for o, _ in w.consumers.get(out, []))
        return (r.module, depth[oid], r.op_type, str(sorted(r.attrs.items())),
                str(w.shape(r.outputs[0]) if r.outputs else None), str(readers), pos[oid])

    waiting = {oid: len(p) for oid, p in preds.items()}
    ready = [key(oid) for oid, n in waiting.items() if n == 0]
    heapq.heapify(ready)
    order: list[OpRec] = []
    while ready:
        oid = w.ops[ready[0][-1]].id
        heapq.heappop(ready)
        order.append(w.by_id[oid])
        for nxt in succs[oid]:
            waiting[nxt] -= 1
            if waiting[nxt] == 0:
                heapq.heappush(ready, key(nxt))
    w.ops = order


def hoist_shared(w: Work) -> None:
    """An op whose users sit in several modules and whose inputs come from outside its own module's
    branch was computed once for all of them (common-subexpression elimination): it belongs to the
    module holding all its users, as in the model's own code."""

    users: dict[str, set[str]] = defaultdict(set)
    for r in w.ops:
        for v in r.inputs:
            if v in w.producer:
                users[w.producer[v]].add(r.id)
    # Computed from the inputs alone (an attention mask): no trained value or hidden state goes in.
    pure: set[str] = set()
    for r in w.ops:
        if not w.param_inputs(r) and all(v in w.inputs or v in w.tensors or w.producer.get(v) in pure
                                         for v in r.inputs if v):
            pure.add(r.id)
    hoisted: set[str] = set()
    for r in reversed(w.ops):
        mods = {w.op(u).module for u in users.get(r.id, ())}
        if not mods or (len(mods) < 2 and r.id not in pure):
            continue
        top = common_ancestor([r.module, *mods], w.modules)
        if top == r.module:
            continue
        branch = _child_towards(top, r.module)
        inside = [v for v in r.inputs if v in w.producer and is_within(w.op(w.producer[v]).module, branch)]
        if not inside or r.id in pure:
            r.module = top
            hoisted.add(r.id)
    if not hoisted:
        return
    # A hoisted op runs before the branch it came from: right after the last op it reads.
    kept = [r for r in w.ops if r.id not in hoisted]
    after: dict[str, list[OpRec]] = defaultdict(list)
    first: list[OpRec] = []
    pos = {r.id: i for i, r in enumerate(w.ops)}
    for r in w.ops:
        if r.id not in hoisted:
            continue
        prods = [w.producer[v] for v in r.inputs if v in w.producer and w.producer[v] in pos]
        if prods:
            after[max(prods, key=pos.__getitem__)].append(r)
        else:
            first.append(r)
    out = list(first)

    def place(x: OpRec) -> None:
        out.append(x)
        for y in after.pop(x.id, []):
            place(y)

    for r in kept:
        place(r)
    w.ops = out


def _child_towards(top: str, path: str) -> str:
    rest = path[len(top) + 1:] if top else path
    first = rest.split(".")[0]
    # keep an index with its list ("layer.0"), as module paths do
    parts = rest.split(".")
    if len(parts) > 1 and parts[1].isdigit():
        first = f"{parts[0]}.{parts[1]}"
    return f"{top}.{first}" if top else first
