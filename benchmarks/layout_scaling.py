"""How layout time grows with the view: synthetic BERT-like models, every group opened.

    python benchmarks/layout_scaling.py                 # 1, 2, 4, 8, 12, 24, 48 layers
    python benchmarks/layout_scaling.py --layers 1 12 --baseline-timeout 30
    python benchmarks/layout_scaling.py --layers --peer --real   # only the real-model rows

For each size it prints: visible nodes, expanded containers, cold layout (empty cache, dot processes
already started), cold with nothing shared (every layer made different, so no two layers share a cache
entry), warm (same view again), opening one more group with a warm cache, and a single ``dot`` run over
the same graph with nested clusters (the old way; killed after --baseline-timeout s) with the ratio.

``--peer`` adds the comparison with a peer tool on a real model: torchview 0.2.7's ``draw_graph`` of
bert-xl-48 (48 layers, meta device, depth 6, expand_nested: every module a nested cluster) is laid out by
one ``dot`` run over its whole graph; ours lays out our fully open, unfolded view of the same model (the
trace comes from the disk cache; the layout cache is empty, dot processes started: "cold layout").
Both are timed on the layout alone (dot -Tjson0 for torchview's DOT source), best of --reps.
"""

from __future__ import annotations

import argparse
import math
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bertviz_graph.layout import DotRunner, LayoutCache, layout_view  # noqa: E402
from bertviz_graph.render.export import to_dot  # noqa: E402
from bertviz_graph.view_types import VEdge, ViewData, VNode  # noqa: E402


@dataclass
class Model:
    """A module tree with primitive ops and params as leaves (what tracing + hierarchy would give)."""

    nodes: dict[str, VNode] = field(default_factory=dict)
    edges: list[tuple[str, str, str, str]] = field(default_factory=list)  # source, target, kind, label
    suffix: str = ""  # appended to every sublabel: makes otherwise identical layers all different

    def add(self, nid: str, kind: str, label: str, sub: str, role: str, parent: str | None) -> str:
        self.nodes[nid] = VNode(nid, kind, label, sub + self.suffix, role, parent)
        return nid

    def edge(self, s: str, t: str, kind: str = "data", label: str = "") -> None:
        self.edges.append((s, t, kind, label))


H = "[1, 16, 768]"


def linear(m: Model, p: str, parent: str, name: str, src: str, out_dim: int = 768, in_dim: int = 768) -> str:
    mod = m.add(f"{p}.{name}", "group", name, f"Linear {in_dim}→{out_dim}", "linear", parent)
    w = m.add(f"{mod}.weight", "param", "weight", f"[{out_dim}, {in_dim}]", "param", mod)
    b = m.add(f"{mod}.bias", "param", "bias", f"[{out_dim}]", "param", mod)
    t = m.add(f"{mod}.t", "op", "t", f"[{in_dim}, {out_dim}]", "shape", mod)
    mm = m.add(f"{mod}.addmm", "op", "addmm", f"[16, {out_dim}]", "linear", mod)
    v = m.add(f"{mod}.view", "op", "view", f"[1, 16, {out_dim}]", "shape", mod)
    m.edge(w, t, "param")
    m.edge(b, mm, "param")
    m.edge(src, mm, label=H)
    m.edge(t, mm)
    m.edge(mm, v)
    return v


def layernorm(m: Model, p: str, parent: str, src: str) -> str:
    mod = m.add(f"{p}.LayerNorm", "group", "LayerNorm", "768", "layernorm", parent)
    w = m.add(f"{mod}.weight", "param", "weight", "[768]", "param", mod)
    b = m.add(f"{mod}.bias", "param", "bias", "[768]", "param", mod)
    op = m.add(f"{mod}.layer_norm", "op", "layer_norm", H, "layernorm", mod)
    m.edge(w, op, "param")
    m.edge(b, op, "param")
    m.edge(src, op, label=H)
    return op


def dropout(m: Model, p: str, parent: str, src: str) -> str:
    mod = m.add(f"{p}.dropout", "group", "Dropout", "p=0.1", "dropout", parent)
    op = m.add(f"{mod}.dropout", "op", "dropout", "", "dropout", mod)
    m.edge(src, op)
    return op


def bert_layer(m: Model, p: str, parent: str, src: str, mask: str, tag: str = "") -> str:
    """~60 leaves (ops + params), 18 modules: what one BertLayer is at primitive-op level."""
    m.suffix = tag
    out = _bert_layer(m, p, parent, src, mask)
    m.suffix = ""
    return out


def _bert_layer(m: Model, p: str, parent: str, src: str, mask: str) -> str:
    m.add(p, "group", "BertLayer", "", "layer", parent)
    att = m.add(f"{p}.attention", "group", "BertAttention", "", "attention", p)
    sa = m.add(f"{att}.self", "group", "BertSelfAttention", "12 heads", "attention", att)
    heads = {}
    for x in ("query", "key", "value"):
        v = linear(m, sa, sa, x, src)
        vv = m.add(f"{sa}.{x}_view", "op", "view", "[1, 16, 12, 64]", "shape", sa)
        pp = m.add(f"{sa}.{x}_permute", "op", "permute", "[1, 12, 16, 64]", "shape", sa)
        m.edge(v, vv)
        m.edge(vv, pp, label="[1, 16, 12, 64]")
        heads[x] = pp
    kt = m.add(f"{sa}.key_t", "op", "transpose", "[1, 12, 64, 16]", "shape", sa)
    m.edge(heads["key"], kt)
    s = m.add(f"{sa}.scores", "op", "matmul", "Q·Kᵀ", "matmul", sa)
    m.edge(heads["query"], s)
    m.edge(kt, s)
    d = m.add(f"{sa}.div", "op", "div", "/ √64", "elementwise", sa)
    m.edge(s, d, label="[1, 12, 16, 16]")
    am = m.add(f"{sa}.add_mask", "op", "add", "+ mask", "elementwise", sa)
    m.edge(d, am)
    m.edge(mask, am, label="[1, 1, 1, 16]")
    sm = m.add(f"{sa}.softmax", "op", "softmax", "dim=-1", "softmax", sa)
    m.edge(am, sm)
    dr = dropout(m, sa, sa, sm)
    ctx = m.add(f"{sa}.context", "op", "matmul", "A·V", "matmul", sa)
    m.edge(dr, ctx)
    m.edge(heads["value"], ctx)
    pm = m.add(f"{sa}.ctx_permute", "op", "permute", "[1, 16, 12, 64]", "shape", sa)
    cg = m.add(f"{sa}.ctx_contig", "op", "contiguous", "", "shape", sa)
    cv = m.add(f"{sa}.ctx_view", "op", "view", H, "shape", sa)
    m.edge(ctx, pm)
    m.edge(pm, cg)
    m.edge(cg, cv)
    ao = m.add(f"{att}.output", "group", "BertSelfOutput", "", "attention_output", att)
    x = linear(m, ao, ao, "dense", cv)
    x = dropout(m, ao, ao, x)
    add1 = m.add(f"{ao}.add", "op", "add", "residual", "elementwise", ao)
    m.edge(x, add1)
    m.edge(src, add1, "residual")
    ln1 = layernorm(m, ao, ao, add1)
    im = m.add(f"{p}.intermediate", "group", "BertIntermediate", "", "ffn", p)
    x = linear(m, im, im, "dense", ln1, 3072, 768)
    act = m.add(f"{im}.act", "group", "GELUActivation", "", "activation", im)
    g = m.add(f"{act}.gelu", "op", "gelu", "[1, 16, 3072]", "activation", act)
    m.edge(x, g, label="[1, 16, 3072]")
    out = m.add(f"{p}.output", "group", "BertOutput", "", "ffn_output", p)
    x = linear(m, out, out, "dense", g, 768, 3072)
    x = dropout(m, out, out, x)
    add2 = m.add(f"{out}.add", "op", "add", "residual", "elementwise", out)
    m.edge(x, add2)
    m.edge(ln1, add2, "residual")
    return layernorm(m, out, out, add2)


def bert_model(n_layers: int, distinct: bool = False) -> Model:
    m = Model()
    ids = m.add("input_ids", "input", "input_ids", "[1, 16]", "input", None)
    am = m.add("attention_mask", "input", "attention_mask", "[1, 16]", "input", None)
    bert = m.add("bert", "group", "BertModel", "", "model", None)
    ext = m.add("bert.ext_mask", "op", "extended mask", "[1, 1, 1, 16]", "elementwise", bert)
    m.edge(am, ext, label="[1, 16]")
    emb = m.add("bert.embeddings", "group", "BertEmbeddings", "", "embeddings", bert)
    sums = []
    for name in ("word_embeddings", "position_embeddings", "token_type_embeddings"):
        mod = m.add(f"{emb}.{name}", "group", name, "Embedding", "embedding", emb)
        w = m.add(f"{mod}.weight", "param", "weight", "[30522, 768]", "param", mod)
        op = m.add(f"{mod}.embedding", "op", "embedding", H, "embedding", mod)
        m.edge(w, op, "param")
        m.edge(ids, op, label="[1, 16]")
        sums.append(op)
    a1 = m.add(f"{emb}.add1", "op", "add", "", "elementwise", emb)
    a2 = m.add(f"{emb}.add2", "op", "add", "", "elementwise", emb)
    m.edge(sums[0], a1)
    m.edge(sums[1], a1)
    m.edge(a1, a2)
    m.edge(sums[2], a2)
    x = layernorm(m, emb, emb, a2)
    x = dropout(m, emb, emb, x)
    enc = m.add("bert.encoder", "group", "BertEncoder", f"{n_layers} layers", "encoder", bert)
    for i in range(n_layers):
        x = bert_layer(m, f"{enc}.layer.{i}", enc, x, ext, tag=(" " + "|" * (i + 1)) if distinct else "")
    pool = m.add("bert.pooler", "group", "BertPooler", "", "pooler", bert)
    sel = m.add(f"{pool}.select", "op", "select", "[:, 0]", "shape", pool)
    m.edge(x, sel, label=H)
    x = linear(m, pool, pool, "dense", sel)
    act = m.add(f"{pool}.activation", "group", "Tanh", "", "activation", pool)
    t = m.add(f"{act}.tanh", "op", "tanh", "[1, 768]", "activation", act)
    m.edge(x, t)
    out = m.add("pooler_output", "output", "pooler_output", "[1, 768]", "output", None)
    m.edge(t, out, label="[1, 768]")
    return m


def cut(m: Model, collapsed: set[str], title: str = "synthetic BERT") -> ViewData:
    """The view with every group open except ``collapsed`` (a stand-in for the team's View)."""
    kids: dict[str, list[str]] = {}
    for n in m.nodes.values():
        if n.parent is not None:
            kids.setdefault(n.parent, []).append(n.id)

    def rep(nid: str) -> str:
        best, cur = nid, m.nodes[nid].parent
        while cur is not None:
            if cur in collapsed:
                best = cur
            cur = m.nodes[cur].parent
        return best

    nodes = []
    for n in m.nodes.values():
        if rep(n.id) != n.id:
            continue
        has = n.id in kids
        nodes.append(
            VNode(
                n.id,
                n.kind,
                n.label,
                n.sublabel,
                n.role,
                n.parent,
                expanded=has and n.id not in collapsed,
                expandable=has,
            )
        )
    edges, seen = [], set()
    for s, t, kind, label in m.edges:
        rs, rt = rep(s), rep(t)
        if rs == rt or (rs, rt, kind) in seen:
            continue
        seen.add((rs, rt, kind))
        edges.append(VEdge(f"e{len(edges)}", rs, rt, None, kind, 1, [], label))
    return ViewData(title, f"{len(nodes)} visible nodes", nodes, edges)


def best_of(reps: int, fn, *args, **kw) -> float:
    """Least wall time of ``reps`` calls (noise only ever adds time)."""
    best = math.inf
    for _ in range(reps):
        t = time.perf_counter()
        fn(*args, **kw)
        best = min(best, time.perf_counter() - t)
    return best


def cold_layout(view: ViewData, runner: DotRunner) -> None:
    layout_view(view, cache=LayoutCache(), runner=runner)


def open_one_more(before: ViewData, after: ViewData, runner: DotRunner) -> float:
    cache = LayoutCache()
    layout_view(before, cache=cache, runner=runner)
    t = time.perf_counter()
    layout_view(after, cache=cache, runner=runner)
    return time.perf_counter() - t


def baseline(view: ViewData, timeout: float) -> float | None:
    """One dot run over the whole view with nested clusters; None if it did not finish in time."""
    src = to_dot(view)
    t = time.perf_counter()
    try:
        subprocess.run(
            ["dot", "-Tjson0", "-o", "/dev/null"],
            input=src.encode(),
            capture_output=True,
            timeout=timeout,
            check=True,
        )
    except subprocess.TimeoutExpired:
        return None
    return time.perf_counter() - t


def peer_torchview(model: str, runner: DotRunner, reps: int) -> None:
    """Our cold layout of the real model, fully open, against torchview's one dot run over its graph."""
    import torch
    from torchview import draw_graph

    import bertviz_graph as bg
    from bertviz_graph.sources.build import build_model
    from bertviz_graph.sources.resolve import resolve

    view = bg.trace(model).view(depth=99, unfold=True).data()
    ours = best_of(reps, cold_layout, view, runner)
    src = build_model(resolve(model))
    ids = torch.zeros(1, 16, dtype=torch.long, device="meta")
    tv = draw_graph(src.model, input_data=[ids], device="meta", depth=6, expand_nested=True,
                    hide_inner_tensors=True)
    dot_src = tv.visual_graph.source
    n_tv = dot_src.count("label=<") or dot_src.count("[label")

    def one_dot() -> None:
        subprocess.run(["dot", "-Tjson0", "-o", "/dev/null"], input=dot_src.encode(), capture_output=True,
                       check=True)

    theirs = best_of(reps, one_dot)
    print(f"peer, {model}: ours cold layout {ours:.3f} s ({len(view.nodes)} visible nodes, fully open and "
          f"unfolded)   torchview one dot run {theirs:.3f} s (about {n_tv} nodes, depth 6, expand_nested)   "
          f"speed-up {theirs / ours:.1f}×", flush=True)


def real_traces(runner: DotRunner, reps: int) -> None:
    """Cold layouts (empty layout cache, dot started) of real traces, fully open and unfolded."""
    import bertviz_graph as bg

    for model, ops in (("bert-base-uncased", "aten"), ("bert-xl-48", "primitive")):
        g = bg.trace(model, ops=ops)  # from the disk trace cache after the first run
        view = g.view(depth=99, unfold=True).data()
        cold = best_of(reps, cold_layout, view, runner)
        print(f"real, {model} --ops {ops}: {len(g.ops())} ops, {len(view.nodes)} visible nodes, "
              f"{len(view.edges)} edges, fully open and unfolded: cold layout {cold:.3f} s", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--layers", type=int, nargs="*", default=[1, 2, 4, 8, 12, 24, 48])
    ap.add_argument("--baseline-timeout", type=float, default=60.0)
    ap.add_argument("--no-baseline", action="store_true")
    ap.add_argument("--reps", type=int, default=3, help="repetitions; the best time is shown")
    ap.add_argument("--peer", action="store_true", help="also compare with torchview on a real 48-layer model")
    ap.add_argument("--peer-model", default="bert-xl-48")
    ap.add_argument("--real", action="store_true", help="also lay out real traces (bert-base, bert-xl-48 primitive)")
    args = ap.parse_args()
    runner = DotRunner()
    runner.layout(["digraph{a}"] * 2)  # start dot processes: cold = empty cache, not process start-up
    if args.peer:
        peer_torchview(args.peer_model, runner, args.reps)
    if args.real:
        real_traces(runner, args.reps)
    print(
        f"{'layers':>6} {'nodes':>6} {'conts':>6} {'cold s':>8} {'dot graphs':>10} {'unshared s':>10} "
        f"{'warm s':>8} {'open+1 s':>9} {'1-dot s':>9} {'ratio':>7}"
    )
    for n in args.layers:
        m = bert_model(n)
        last = f"bert.encoder.layer.{n - 1}.intermediate.act"
        before = cut(m, {last})
        view = cut(m, set())
        n_nodes = len(view.nodes)
        n_conts = sum(1 for v in view.nodes if v.expanded) + 1
        g0 = runner.graphs
        cold_layout(view, runner)
        graphs = runner.graphs - g0
        cold = best_of(args.reps, cold_layout, view, runner)
        cache = LayoutCache()
        layout_view(view, cache=cache, runner=runner)
        warm = best_of(args.reps, layout_view, view, cache=cache, runner=runner)
        unshared = best_of(args.reps, cold_layout, cut(bert_model(n, distinct=True), set()), runner)
        open1 = min(open_one_more(before, view, runner) for _ in range(args.reps))
        base = None if args.no_baseline else baseline(view, args.baseline_timeout)
        if args.no_baseline:
            bs, ratio = "-", "-"
        elif base is None:
            bs, ratio = f">{args.baseline_timeout:.0f}", f">{args.baseline_timeout / cold:.0f}×"
        else:
            bs, ratio = f"{base:.2f}", f"{base / cold:.1f}×"
        print(
            f"{n:>6} {n_nodes:>6} {n_conts:>6} {cold:>8.3f} {graphs:>10} {unshared:>10.3f} {warm:>8.3f} "
            f"{open1:>9.3f} {bs:>9} {ratio:>7}",
            flush=True,
        )
    runner.close()


if __name__ == "__main__":
    main()
