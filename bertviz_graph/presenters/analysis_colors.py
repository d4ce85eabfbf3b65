"""Colour-by from the analyses, one implementation for the app and the widget: each weight gets a value, and
a box is coloured by the mean over the weights beneath it that have one (a layer, a ×N stack, one Linear).

- ``ffn_cka``: what removing that layer's feed-forward block changes: 1 − linear CKA of the last layer's
  output with the original's (the Analysis tab's ablation study, ``analyze.ablation``), on its FFN weights;
- ``ffn_task``: the same ablation's drop of the held-out Lee ρ (unablated − ablated; a rise is no colour);
- ``rank``: effective rank / full rank of every Linear weight (``analyze.ranks``).
"""

from __future__ import annotations

from typing import Any

from bertviz_graph.analyze.inputs import runnable

COLOR_MODES = {"ffn_cka": "FFN removed: 1 − CKA of the last layer (per layer)",
               "ffn_task": "FFN removed: drop of held-out Lee ρ (per layer)",
               "rank": "Effective rank / full rank (per weight)"}
FFN_MODES = ("ffn_cka", "ffn_task")


def param_names_under(graph: Any, h: Any, node_id: str, kind: str) -> list[str]:
    """Parameter names beneath a visible box (a group or ×N stack), or its own name (a weight)."""
    g = graph.g
    if kind in ("group", "series") and node_id in h.groups:
        return [g.nodes[x]["name"] for x in h.leaves(node_id) if x in g and g.nodes[x]["kind"] == "param"]
    if kind == "param" and node_id in g:
        return [g.nodes[node_id]["name"]]
    return []


def box_value(names: list[str], values: dict[str, float]) -> float | None:
    """Mean of the values of ``names`` that have one (None when none has)."""
    got = [values[n] for n in names if n in values]
    return sum(got) / len(got) if got else None


def rank_values(sp: Any) -> dict[str, float]:
    """{weight name: effective rank / full rank} from ``analyze.ranks.spectra``."""
    return {m.name: m.effective_rank / m.full_rank for m in sp.matrices}


def ffn_values(study: Any, ffn_names: dict[int, list[str]], mode: str) -> dict[str, float]:
    """{FFN weight name: value} from an ablation study's "remove ffn" rows; ``ffn_names``: layer -> the names
    of its feed-forward weights and biases."""
    rows = [r for r in study.rows if r["ablation"] == "remove ffn"]
    out: dict[str, float] = {}
    for r in rows:
        if mode == "ffn_cka":
            last = [k for k in r if k.startswith("cka_")][-1]
            v = 1.0 - float(r[last])
        elif study.base and "lee_spearman" in r:
            v = float(study.base["lee_spearman"]) - float(r["lee_spearman"])
        else:
            continue
        for n in ffn_names.get(int(r["layer"]), []):
            out[n] = v
    return out


def ffn_param_names(model: Any) -> dict[int, list[str]]:
    """layer -> its feed-forward block's parameter names (the Linear in and out, weights and biases)."""
    from bertviz_graph.pruning.arch import find_layers  # lazy: start-up (torch)

    names = {id(p): n for n, p in model.named_parameters()}
    out = {}
    for lp in find_layers(model, "neurons"):
        out[lp.index] = [names[id(p)] for m in (lp.ffn_in, lp.ffn_out) for p in m.parameters() if id(p) in names]
    return out


def align(values: dict[str, float], graph: Any) -> dict[str, float]:
    """Re-key model parameter names to the graph's (a head model's "bert." prefix may differ)."""
    graph_names = [d["name"] for _, d in graph.nodes("param")]
    have = set(graph_names)
    out = {}
    for n, v in values.items():
        if n in have:
            out[n] = v
            continue
        hit = next((g for g in graph_names if g.endswith("." + n) or n.endswith("." + g)), None)
        if hit:
            out[hit] = v
    return out


def param_values(graph: Any, mode: str, study: Any = None) -> tuple[dict[str, float], list[str]]:
    """({graph weight name: value}, notes) for one analysis colour-by. ``study``: an ablation study already
    computed (the app's Analysis tab caches one), else it is computed here (FFN modes)."""
    if mode == "rank":
        from bertviz_graph.analyze.ranks import spectra  # lazy: start-up (numpy, torch)

        sp = spectra(graph)
        return align(rank_values(sp), graph), list(sp.notes)
    if mode in FFN_MODES:
        if study is None:
            from bertviz_graph.analyze.ablation import ablation_study  # lazy: start-up (numpy, torch)

            study = ablation_study(graph)
        return align(ffn_values(study, ffn_param_names(runnable(graph).model), mode), graph), list(study.notes)
    raise ValueError(f"unknown analysis colour-by {mode!r}")


def tip(mode: str, v: float | None) -> str:
    """The tooltip line of one box."""
    title = COLOR_MODES[mode].split(" (")[0]
    return f"{title}: {v:.3f}" if v is not None else f"{title}: no value (not a weight it measures)"
