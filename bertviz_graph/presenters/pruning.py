"""Plain data for the pruning panel (app, widget): what was pruned in this graph's model, where, and what it
saves; sparsity per matrix as a colour-by value; the head-importance grid; a weight matrix's zeros.

Reads the record ``bertviz-graph prune`` writes into config.json (``graph.meta["config"]``) and the weights
themselves (a ``WeightStore``), so a pruned folder traced later shows its pruning without any other file.
Savings are said honestly: zeros left in a dense matrix save no FLOPs in dense kernels (they would with
sparse kernels or hardware support); heads and neurons that are pruned whole can be removed from the
matrices, and then their parameters and FLOPs are saved (computed here from the traced ops' FLOPs).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bertviz_graph import format as fmt
from bertviz_graph.comparison.align import layer_groups, units
from bertviz_graph.format import pct
from bertviz_graph.graph import OpGraph
from bertviz_graph.presenters.diff import block_mean
from bertviz_graph.pruning.methods import RECORD_KEY, family
from bertviz_graph.tracer.flops import ATTENTION_OPS, MATMUL_OPS

DENSE_NOTE = ("Unstructured zeros save no FLOPs in dense kernels: the matrix keeps its shape and every "
              "multiply still runs. Whole heads and neurons can be cut out of the matrices, and then their "
              "parameters and FLOPs are saved.")


@dataclass
class GroupSaving:
    group: str
    label: str
    heads: list[int] = field(default_factory=list)
    neurons: int = 0
    params_removable: int = 0  # parameters that disappear when the pruned heads / neurons are cut out
    flops_removable: int = 0  # every op's FLOPs (matrix products, bias adds, softmax ...) that go
    matmul_flops_removable: int = 0  # the matrix products alone: what torch's flop counter counts
    zeros: int = 0  # exact zeros in this group's weight matrices
    numel: int = 0


@dataclass
class PruningPanel:
    pruned: bool
    method: str
    amount: float
    summary: list[str]
    groups: list[GroupSaving]
    head_grid: dict[str, Any] | None  # {z: layers×heads scores, pruned: bool grid, score_name, layers}
    sparsity: dict[str, float]  # param name -> fraction of zeros
    notes: list[str]


def record_of(graph: OpGraph) -> dict[str, Any] | None:
    return (graph.meta.get("config") or {}).get(RECORD_KEY)


def sparsity(graph: OpGraph, weights) -> dict[str, float]:
    """Fraction of exact zeros of every 2-D parameter (read from the weights, not from the record)."""
    out = {}
    if weights is None or not getattr(weights, "trained", False):
        return out
    for _n, d in graph.nodes("param"):
        shape = d.get("shape") or []
        if len(shape) == 2:
            try:
                w = weights.get(d["name"])
            except KeyError:
                continue
            out[d["name"]] = float((w == 0).mean())
    return out


def group_sparsity(graph: OpGraph, values: dict[str, float]) -> dict[str, float]:
    """Colour-by value for groups: zeros / size over the 2-D weights under each group."""
    h = graph.hierarchy
    sizes = {d["name"]: int(np.prod(d.get("shape") or [0])) for _n, d in graph.nodes("param")}
    out: dict[str, float] = {}
    for gid in h.groups:
        z = t = 0
        for leaf in h.leaves(gid):
            d = graph.g.nodes[leaf] if leaf in graph.g else None
            if d is not None and d.get("kind") == "param" and d["name"] in values:
                t += sizes[d["name"]]
                z += values[d["name"]] * sizes[d["name"]]
        if t:
            out[gid] = z / t
    for n, d in graph.nodes("param"):
        if d["name"] in values:
            out[n] = values[d["name"]]
    return out


def _op_flops(graph: OpGraph, gid: str, matmul: bool = False) -> int:
    h = graph.hierarchy
    get = _matmul_part if matmul else (lambda d: int(d.get("flops") or 0))
    return sum(get(graph.g.nodes[x]) for x in h.leaves(gid)
               if x in graph.g and graph.g.nodes[x].get("kind") == "op")


def _matmul_part(d: dict[str, Any]) -> int:
    """The matrix-product FLOPs of one op (tracer.flops' formula without its bias add, scale, mask and
    softmax): the part ``torch.utils.flop_counter`` counts."""

    op, f = d.get("op"), int(d.get("flops") or 0)
    out = int(np.prod(d.get("shape") or [0]))
    if op in ("addmm", "baddbmm") or (op == "linear" and any(str(p).endswith("bias") for p in d.get("params") or [])):
        return f - out
    if op in MATMUL_OPS:
        return f
    if op in ATTENTION_OPS and d.get("shape"):
        dv = int(d["shape"][-1])  # scores · (2·d + 2·dv + 6 [+ 1 with a mask]), with d = dv
        scores = f // (4 * dv + 6) if f % (4 * dv + 6) == 0 else f // (4 * dv + 7)
        return 4 * dv * scores
    return 0


def _attention_core(h, q_module: str) -> str:
    """The innermost attention group holding the query projection: its ops all scale with the heads."""
    for a in h.ancestors(q_module):
        if h.groups[a].role == "attention":
            return a
    return h.parent(q_module)


def savings(graph: OpGraph, rec: dict[str, Any]) -> list[GroupSaving]:
    """Per layer: heads or neurons pruned and what cutting them out saves (parameters, FLOPs)."""
    h = graph.hierarchy
    layers = layer_groups(h)
    by_layer: dict[int, dict[str, Any]] = {}
    for u in units(h):
        if u.section == "layer" and u.layer is not None:
            by_layer.setdefault(u.layer, {})[u.tag] = u
    nparams = {n: int(np.prod(d.get("shape") or [1])) for n, d in graph.nodes("param")}
    out = []
    heads = {int(k): v for k, v in (rec.get("heads") or {}).items()}
    neurons = {int(k): v for k, v in (rec.get("neurons") or {}).items()}
    for i, lid in enumerate(layers):
        parts = by_layer.get(i, {})
        s = GroupSaving(lid, h.groups[lid].label)
        if heads.get(i) and all(t in parts for t in ("Q", "K", "V", "attention output")):
            frac = len(heads[i]) / max(rec.get("n_heads") or 1, 1)
            core = _attention_core(h, parts["Q"].module)
            out_unit = parts["attention output"]
            inside = core in h.ancestors(out_unit.module)
            f = _op_flops(graph, core) - (_op_flops(graph, out_unit.module) if inside else 0)
            f += _op_flops(graph, out_unit.module)
            fm = _op_flops(graph, core, True) - (_op_flops(graph, out_unit.module, True) if inside else 0)
            fm += _op_flops(graph, out_unit.module, True)
            s.matmul_flops_removable += fm * len(heads[i]) // max(rec.get("n_heads") or 1, 1)
            p = sum(nparams[x] for t in ("Q", "K", "V") for x in parts[t].params)
            p += sum(nparams[x] for x in out_unit.params if x.endswith("weight"))
            s.heads = list(heads[i])
            s.params_removable += int(round(p * frac))
            s.flops_removable += int(round(f * frac))
        if neurons.get(i) and all(t in parts for t in ("FFN in", "FFN out")):
            frac = len(neurons[i]) / max(rec.get("ffn") or 1, 1)
            fin, fout = parts["FFN in"], parts["FFN out"]
            act = [g for g in h.groups if h.parent(g) == h.parent(fin.module) and h.groups[g].role == "activation"]
            f = _op_flops(graph, fin.module) + _op_flops(graph, fout.module) + sum(_op_flops(graph, g) for g in act)
            fm = _op_flops(graph, fin.module, True) + _op_flops(graph, fout.module, True)
            s.matmul_flops_removable += fm * len(neurons[i]) // max(rec.get("ffn") or 1, 1)
            p = sum(nparams[x] for x in fin.params) + sum(nparams[x] for x in fout.params if x.endswith("weight"))
            s.neurons = len(neurons[i])
            s.params_removable += int(round(p * frac))
            s.flops_removable += int(round(f * frac))
        out.append(s)
    return out


def head_grid(rec: dict[str, Any], layer_ids: list[str]) -> dict[str, Any] | None:
    if not rec.get("scores"):
        return None
    z = np.asarray(rec["scores"], dtype=float)
    pruned = np.zeros_like(z, dtype=bool)
    for k, hs in (rec.get("heads") or {}).items():
        pruned[int(k), hs] = True
    return {"z": z, "pruned": pruned, "score_name": rec.get("score_name", "score"), "layers": layer_ids}


def head_grid_figure(grid: dict[str, Any]):
    """A layers × heads heatmap (a plotly Figure); pruned heads crossed out. Click a cell -> (layer, head)
    in ``customdata``, the same pair the attention maps take."""
    import plotly.graph_objects as go

    z, pruned = grid["z"], grid["pruned"]
    n_l, n_h = z.shape
    text = [["✕" if pruned[i, j] else "" for j in range(n_h)] for i in range(n_l)]
    fig = go.Figure(go.Heatmap(
        z=z, x=[f"h{j}" for j in range(n_h)], y=[f"L{i}" for i in range(n_l)], colorscale="Viridis",
        text=text, texttemplate="%{text}", customdata=[[[i, j] for j in range(n_h)] for i in range(n_l)],
        hovertemplate="layer %{y} head %{x}<br>" + grid["score_name"] + " %{z:.4g}<extra></extra>",
        colorbar={"title": {"text": grid["score_name"].split(" ")[0]}}))
    fig.update_layout(title={"text": "Heads, layers × heads (✕ = pruned)", "font": {"size": 13}},
                      yaxis={"autorange": "reversed"},
                      height=80 + 28 * n_l, width=120 + 34 * n_h, margin={"l": 40, "r": 10, "t": 40, "b": 30},
                      template="plotly_white")
    return fig


def zero_mask(weights, name: str, max_side: int = 256) -> np.ndarray:
    """Fraction of exact zeros per block of a matrix (1 = every weight in the block pruned), for a heatmap
    overlay that shows pruned weights as pruned rather than as small values."""

    w = np.atleast_2d(weights.get(name))
    return block_mean((w == 0).astype(np.float64), max_side)


def pruning_panel(graph: OpGraph, weights=None) -> PruningPanel:
    rec = record_of(graph)
    sp = sparsity(graph, weights)
    zeros = {k: v for k, v in sp.items() if v > 0}
    notes = [DENSE_NOTE]
    if rec is None:
        summary = ["this model carries no pruning record"]
        if zeros:
            top = pct(max(zeros.values()))
            summary.append(f"{len(zeros)} weight matrices hold exact zeros (up to {top} of a matrix)" if len(zeros) > 1
                           else f"1 weight matrix holds exact zeros ({top} of its weights)")
        return PruningPanel(False, "", 0.0, summary, [], None, sp, notes)
    groups = savings(graph, rec)
    layer_ids = [g.group for g in groups]
    sizes = {d["name"]: int(np.prod(d.get("shape") or [0])) for _n, d in graph.nodes("param")}
    h = graph.hierarchy
    for g in groups:  # zeros in each layer's matrices
        for leaf in h.leaves(g.group):
            d = graph.g.nodes.get(leaf) if leaf in graph.g else None
            if d is not None and d.get("kind") == "param" and d["name"] in sp:
                g.numel += sizes[d["name"]]
                g.zeros += int(round(sp[d["name"]] * sizes[d["name"]]))
    total_z = sum(g.zeros for g in groups)
    total_n = sum(g.numel for g in groups)
    summary = [f"pruned with {rec['method']} at {fmt.percent(rec['amount'], 0)}"
               + (f" from {rec['source']}" if rec.get("source") else "")
               + (f" (scored on {rec['sentences']} sentences)" if rec.get("sentences") else "")]
    if total_n:
        summary.append(f"{fmt.count(total_z)} of {fmt.count(total_n)} weights in the layers' matrices are zero ({fmt.percent(total_z / total_n, 1)})")
    nh = sum(len(g.heads) for g in groups)
    nn_ = sum(g.neurons for g in groups)
    if nh:
        summary.append(f"{nh} of {len(groups) * (rec.get('n_heads') or 0)} attention heads pruned")
    if nn_:
        summary.append(f"{fmt.count(nn_)} of {fmt.count(len(groups) * (rec.get('ffn') or 0))} feed-forward neurons pruned")
    p = sum(g.params_removable for g in groups)
    f = sum(g.flops_removable for g in groups)
    root = h.groups.get("")
    if nh or nn_:
        fm = sum(g.matmul_flops_removable for g in groups)
        summary.append(f"cutting them out saves {fmt.count(p)} parameters ({fmt.percent(p / max(graph.param_count(), 1), 1)}) and "
                       f"{fmt.count(f)} FLOPs per forward pass ({fmt.percent(f / max(root.flops if root else 1, 1), 1)}), "
                       f"{fmt.count(fm)} of them in matrix products (what torch's flop counter counts)")
    else:
        summary.append("FLOPs saved in dense kernels: 0 (the zeros stay in dense matrices)")
    summary += effect_lines(rec)
    return PruningPanel(True, rec["method"], float(rec["amount"]), summary, groups,
                        head_grid(rec, layer_ids), sp, notes)


EFFECT_LABELS = {"embedding_cosine": "embedding cosine to the unpruned model",
                 "fill_mask_top1_agreement": "fill-mask top-1 agreement with the unpruned model",
                 "logits_top1_agreement": "classifier top-1 agreement with the unpruned model",
                 "lee_spearman": "Lee corpus human-similarity Spearman"}


def effect_lines(rec: dict[str, Any]) -> list[str]:
    """The measured effect stored with the record (pruning from the app or widget measures it)."""
    eff = rec.get("effect") or {}
    n = int(eff.get("sentences") or rec.get("sentences") or 0)
    on = f" (on the {n} example sentences)" if n else " (on the example sentences)"
    if eff.get("measuring"):  # held out: name both sets
        on = f" (on the {eff['measuring']})"
    out = [f"effect: {EFFECT_LABELS.get(k, k)} {v:.3f}{on}" for k, v in eff.items()
           if k != "sentences" and not k.endswith(("_lo", "_hi")) and isinstance(v, (int, float))]
    if eff.get("scoring"):
        out.append(f"heads and neurons were chosen on the {eff['scoring']}")
    return out


def prune_controls_state(graph: OpGraph, trained: bool) -> tuple[bool, str]:
    """(can prune from the front end, why not): a structure-only model has no weights worth pruning."""
    if not trained:
        return False, (f"{graph.name} is structure only (no trained weights): pruning random weights shows "
                       "nothing. Open a trained model (e.g. all-MiniLM-L6-v2 or a model folder) to prune it.")
    if graph.meta.get("origin") == "onnx":
        return False, "an ONNX graph cannot be pruned here: prune the PyTorch model folder it came from"
    return True, ""


_UNIT = {"heads": "of the heads", "neurons": "of the feed-forward neurons"}


def held_out_sentences(rows: list[dict[str, Any]], metric: str = "lee_spearman") -> list[str]:
    """Per method of a sweep, the seed's question as a measured sentence: the largest amount up to which every
    measured point's held-out ``metric`` stays inside the unpruned model's bootstrap 95% interval, with the
    agreement beside it. Rows need ``metric`` and ``metric_lo``/``_hi`` (sweep with task="lee")."""

    out = []
    for m in dict.fromkeys(r["method"] for r in rows):
        pts = sorted((r for r in rows if r["method"] == m and metric in r), key=lambda r: r["amount"])
        if not pts or pts[0]["amount"] != 0:
            continue
        b = pts[0]
        lo, hi = b[f"{metric}_lo"], b[f"{metric}_hi"]
        best = b
        for r in pts[1:]:
            if not lo <= r[metric] <= hi:
                break
            best = r
        unit = "of each layer matrix's parameters (as rank-r factors)" if m == "low-rank" else _UNIT.get(
            family(m), "of the weights")
        agree = ", ".join(f"{k.replace('_', ' ')} {best[k]:.3f}" for k in ("embedding_cosine",
                          "fill_mask_top1_agreement", "logits_top1_agreement") if k in best)
        if best is b:
            out.append(f"{m}: even the smallest measured amount ({fmt.percent(pts[1]['amount'], 0)}) moves the held-out "
                       f"metric outside the unpruned model's interval ({b[metric]:.2f} [{lo:.2f}, {hi:.2f}] → "
                       f"{pts[1][metric]:.2f})" if len(pts) > 1 else f"{m}: only the unpruned point measured")
        else:
            out.append(f"{m}: up to {fmt.percent(best['amount'], 0)} {unit} removed with the held-out metric inside the "
                       f"unpruned model's interval ({b[metric]:.2f} [{lo:.2f}, {hi:.2f}] → {best[metric]:.2f})"
                       + (f"; agreement there: {agree}" if agree else ""))
    return out
