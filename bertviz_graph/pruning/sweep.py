"""A sweep of pruning amounts per method, each beside its random baseline, as rows, CSV and a plotly chart.

One model in memory plus one copy of the weights pruning touches (restored before each point); scores for
heads and neurons and the magnitude thresholds are computed once on the unpruned model (one-shot pruning).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn as nn

from bertviz_graph.errors import UserError
from bertviz_graph.format import to_csv  # one CSV writer (sweeps, analyses); re-exported here
from bertviz_graph.io import write_atomic
from bertviz_graph.pruning import magnitude as M
from bertviz_graph.pruning.arch import find_layers, linear_weights
from bertviz_graph.pruning.core import apply_choice, head_scores, neuron_scores
from bertviz_graph.pruning.data import batches, lee_corpus, probe_sentences
from bertviz_graph.pruning.intervals import lee_with_interval, probe_interval_metric
from bertviz_graph.pruning.methods import BASELINE, check_method, family
from bertviz_graph.pruning.metrics import (
    agreement,
    probe_accuracy,
    reference,
    sentence_embeddings,
    similarity_spearman,
)

_MAG_SCOPE = {"magnitude": "global", "magnitude-layer": "layer", "magnitude-matrix": "matrix"}


def parse_range(text: str) -> list[float]:
    """"0:0.9:0.1" -> [0.0, 0.1, ..., 0.9] (inclusive end); "0,0.3,0.5" -> those values."""
    try:
        if ":" in text:
            a, b, step = (float(x) for x in text.split(":"))
            if step <= 0:
                raise ValueError
            n = int(round((b - a) / step))
            vals = [round(a + i * step, 10) for i in range(n + 1)]
        else:
            vals = [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise UserError(f"cannot read the sweep '{text}'",
                        "write START:STOP:STEP (e.g. 0:0.9:0.1) or a list (0,0.3,0.5)") from None
    if not vals:
        raise UserError(f"the sweep '{text}' has no amounts", "e.g. --sweep 0:0.9:0.1")
    for v in vals:
        if not 0.0 <= v < 1.0:
            raise UserError(f"sweep amount {v} is outside [0, 1)", "e.g. --sweep 0:0.9:0.1")
    return vals


def lee_metric(tokenizer) -> Callable[[nn.Module], float]:
    docs, human = lee_corpus()
    order = sorted(range(len(docs)), key=lambda i: len(docs[i]))  # by length: little padding computed
    bats = batches(tokenizer, [docs[i] for i in order], batch_size=16, max_length=256, keep_order=True)
    upper = np.triu(human, 1)  # the file fills the upper triangle only: symmetrise before reordering
    sym = (upper + upper.T)[np.ix_(order, order)]
    return lambda m: similarity_spearman(m, bats, sym)


def probe_metric(tokenizer, labelled: str | Path | None = None, folds: int = 5,
                 seed: int = 0) -> Callable[[nn.Module], float]:
    """A function model -> held-out accuracy of a logistic-regression probe on its sentence embeddings
    (mean-pooled), cross-validated over labelled sentences: ``labelled`` (a 'LABEL sentence' file), else
    gensim's Pang & Lee polarity sentences, else the built-in opinions (prune.data.probe_sentences)."""
    texts, labels, _source = probe_sentences(labelled)
    bats = batches(tokenizer, texts, batch_size=32, keep_order=True)
    y = np.asarray(labels)
    return lambda m: probe_accuracy(sentence_embeddings(m, bats), y, folds=folds, seed=seed)


TASKS = {"lee": "lee_spearman", "probe": "probe_accuracy"}  # --task -> the column it adds


def task_metric(task: str | None, tokenizer, labelled: str | Path | None = None
                ) -> Callable[[nn.Module], float] | None:
    """The task metric's function for ``task`` (None: no task)."""
    if task is None:
        return None
    if task == "lee":
        return lee_metric(tokenizer)
    if task == "probe":
        return probe_metric(tokenizer, labelled)
    raise UserError(f"unknown task '{task}'", "use --task lee (gensim's Lee corpus), --task probe "
                    "(probe accuracy on labelled sentences) or no task")


def _touched(model: nn.Module) -> list[torch.Tensor]:
    """The tensors any method may zero: every Linear (weight, bias) inside the layers."""
    out = []
    for _, lin in linear_weights(model):
        out.append(lin.weight)
        if lin.bias is not None:
            out.append(lin.bias)
    return out


def sweep(model: nn.Module, tokenizer, methods: list[str], amounts: list[float], batches: list[dict],
          task: str | None = None, seed: int = 0, baseline: bool = True,
          progress: Callable[[str], None] | None = None,
          labelled: str | Path | None = None, measure: list[dict] | None = None) -> list[dict[str, Any]]:
    """Rows {method, baseline_of, amount, embedding_cosine, ..., lee_spearman | probe_accuracy (+ _lo, _hi:
    bootstrap 95%), seconds}. Heads and neurons are scored on ``batches``; agreement is measured on
    ``measure`` (held-out sentences; default ``batches``, in-sample). ``task`` "lee" or "probe" (on
    ``labelled``, see probe_metric). ``model`` is changed during the sweep and restored at the end."""
    say = progress or (lambda _m: None)
    for m in methods:
        check_method(m, 0.0)
    todo = list(dict.fromkeys(methods))
    base_of: dict[str, str] = {}
    if baseline:
        for m in methods:
            b = BASELINE[m]
            if b not in todo:
                todo.append(b)
                base_of[b] = m
    if task == "lee":
        task_fn: Any = lee_with_interval(tokenizer)
    elif task == "probe":  # with its bootstrap interval, like lee
        task_fn = probe_interval_metric(tokenizer, labelled)
    else:
        task_fn = task_metric(task, tokenizer, labelled)
    measure = measure or batches
    ref = reference(model, measure, tokenizer)
    scores: dict[str, Any] = {}
    for m in todo:  # on the unpruned weights: one-shot pruning
        fam = family(m)
        if fam == "heads":
            scores[m] = head_scores(model, m, batches, tokenizer, seed=seed)[0]
        elif fam == "neurons":
            scores[m] = neuron_scores(model, m, batches, seed)
        elif m in _MAG_SCOPE:
            scores[m] = M.magnitude_thresholds(model, amounts, _MAG_SCOPE[m])
        if fam != "weights":
            find_layers(model, fam)
    tensors = _touched(model)
    backup = [t.detach().clone() for t in tensors]  # the one copy
    rows: list[dict[str, Any]] = []
    try:
        for m in todo:
            for i, a in enumerate(amounts):
                t0 = time.perf_counter()
                with torch.no_grad():
                    for t, b in zip(tensors, backup):
                        t.copy_(b)
                    if m in _MAG_SCOPE:
                        M.apply_thresholds(model, scores[m][i])
                    elif a > 0:
                        apply_choice(model, m, a, scores.get(m), seed)
                row: dict[str, Any] = {"method": m, "baseline_of": base_of.get(m, ""), "amount": a}
                row.update(agreement(model, ref, measure, tokenizer))
                if task_fn is not None:
                    value = task_fn(model)
                    row.update(value if isinstance(value, dict) else {TASKS[task]: value})
                row["seconds"] = round(time.perf_counter() - t0, 3)
                rows.append(row)
                say(f"{m} {a:.2f}: " + ", ".join(f"{k} {v:.3f}" for k, v in row.items() if isinstance(v, float)
                                                  and k not in ("amount", "seconds") and k[-3:] not in ("_lo", "_hi")))
    finally:
        with torch.no_grad():
            for t, b in zip(tensors, backup):
                t.copy_(b)
    return rows


METRIC_LABELS = {"embedding_cosine": "embedding cosine to unpruned", "lee_spearman": "Lee human-similarity ρ",
                 "probe_accuracy": "probe accuracy (held out)",
                 "fill_mask_top1_agreement": "fill-mask top-1 agreement",
                 "logits_top1_agreement": "logits top-1 agreement"}


def figure(rows: list[dict[str, Any]], title: str = ""):
    """A plotly figure: one panel per metric, a line per method, random baselines dashed."""
    import plotly.graph_objects as go
    from plotly.colors import qualitative
    from plotly.subplots import make_subplots

    metrics = [k for k in METRIC_LABELS if any(k in r for r in rows)]
    fig = make_subplots(rows=1, cols=len(metrics), subplot_titles=[METRIC_LABELS[k] for k in metrics])
    methods = list(dict.fromkeys(r["method"] for r in rows))
    colours = {m: qualitative.Plotly[i % len(qualitative.Plotly)] for i, m in enumerate(methods)}
    for c, k in enumerate(metrics, start=1):
        for m in methods:
            pts = [r for r in rows if r["method"] == m and k in r]
            base = bool(pts and pts[0].get("baseline_of"))
            band = {}  # the bootstrap 95% interval, when measured: noise must look like noise
            if pts and f"{k}_lo" in pts[0]:
                band = {"error_y": {"type": "data", "symmetric": False,
                                    "array": [r[f"{k}_hi"] - r[k] for r in pts],
                                    "arrayminus": [r[k] - r[f"{k}_lo"] for r in pts], "thickness": 1}}
            fig.add_trace(go.Scatter(x=[r["amount"] for r in pts], y=[r[k] for r in pts], mode="lines+markers",
                                     **band,
                                     name=m + (" (baseline)" if base else ""), legendgroup=m,
                                     showlegend=c == 1, line={"color": colours[m], "dash": "dash" if base else
                                                              "solid"}), row=1, col=c)
        fig.update_xaxes(title_text="amount pruned", tickformat=".0%", row=1, col=c)
    fig.update_layout(title=title or "Pruning what-if", template="plotly_white", height=420,
                      width=max(520, 460 * len(metrics)))
    return fig


def write_curve(rows: list[dict[str, Any]], out: Path, title: str = "") -> None:

    suffix = out.suffix.lower()
    if suffix == ".csv":
        write_atomic(out, to_csv(rows))
    elif suffix == ".html":
        write_atomic(out, figure(rows, title).to_html(include_plotlyjs=True, full_html=True))
    elif suffix in (".svg", ".png"):
        write_atomic(out, figure(rows, title).to_image(format=suffix[1:]))
    else:
        raise UserError(f"unknown curve format '{suffix}'", "use -o curve.html, curve.csv, .svg or .png")
