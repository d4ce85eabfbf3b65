"""Pruning what-if on the packaged all-MiniLM-L6-v2 (trained), CPU, warm (model loaded once per process).

1. Head importance (Michel et al.) for the 72 heads over 200 sentences (gensim's pang_lee_polarity.cor):
   ours (one backward per batch, one mask per example) vs the same quantity with one backward per sentence.
   Goal: ours ≤ 30 s.
2. A 10-point global magnitude sweep (0 .. 0.9) with its metrics (embedding cosine on the 48 built-in
   sentences + Lee human-similarity Spearman, 50 documents): ours vs the prune step done with
   torch.nn.utils.prune.global_unstructured + prune.remove. Goal: ≤ 60 s.
3. Memory: peak RSS above the loaded model while pruning 30% (global magnitude), in fresh subprocesses:
   ours vs torch.nn.utils.prune, and a whole sweep; as multiples of the model's parameter bytes.
   Goal: ours never holds more than one extra copy.
4. Probe accuracy (task metric): held-out accuracy of a logistic-regression probe on the mean-pooled
   embeddings of the 200 labelled Pang & Lee sentences (5-fold × 4 repeats), at 0/30/60/90 % global
   magnitude pruning, beside random unstructured pruning of the same amounts; chance is 0.50.
   `--probe-only` runs just this part.

    PYTHONPATH=$PWD .venv/bin/python benchmarks/prune_bench.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

MODEL = "all-MiniLM-L6-v2"


def _vm(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field):
                return int(line.split()[1]) * 1024
    return 0


def memory_child(kind: str) -> None:
    """Run in a fresh process: load, then prune one way; print JSON with RSS numbers."""
    import torch

    from bertviz_graph.pruning.api import load_trained
    from bertviz_graph.pruning.data import BUILTIN_SENTENCES, batches

    torch.set_num_threads(1)
    run = load_trained(MODEL)
    model = run.model
    bats = batches(run.tokenizer, BUILTIN_SENTENCES)
    with torch.no_grad():
        model(**bats[0])  # first forward outside the measurement (allocator warm)
    model_bytes = sum(p.numel() * p.element_size() for p in model.parameters())
    # reset the high-water mark so it measures from here on (Linux: write 5 to clear_refs)
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    base = _vm("VmRSS:")
    t0 = time.perf_counter()
    if kind == "ours":
        from bertviz_graph.pruning.magnitude import magnitude_prune

        magnitude_prune(model, 0.3, "global")
    elif kind == "torch":
        import torch.nn.utils.prune as tprune

        from bertviz_graph.pruning.arch import linear_weights

        params = [(m, "weight") for _, m in linear_weights(model)]
        tprune.global_unstructured(params, pruning_method=tprune.L1Unstructured, amount=0.3)
        for m, n in params:
            tprune.remove(m, n)
    elif kind == "sweep":
        from bertviz_graph.pruning.sweep import sweep

        sweep(model, run.tokenizer, ["magnitude"], [i / 10 for i in range(10)], bats, baseline=False)
    secs = time.perf_counter() - t0
    peak = _vm("VmHWM:")
    print(json.dumps({"kind": kind, "model_bytes": model_bytes, "base_rss": base, "peak_rss": peak,
                      "extra": peak - base, "copies": (peak - base) / model_bytes, "seconds": secs}))


def memory(kind: str) -> dict:
    env = dict(os.environ, PYTHONPATH=os.getcwd())
    out = subprocess.run([sys.executable, __file__, "--memory-child", kind], capture_output=True, text=True,
                         env=env, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3, help="interleaved repeats of [1] (medians)")
    ap.add_argument("--memory-child")
    ap.add_argument("--probe-only", action="store_true", help="only [4], the probe-accuracy sweep")
    args = ap.parse_args()
    if args.memory_child:
        memory_child(args.memory_child)
        return
    import torch

    from bertviz_graph.pruning.api import load_trained
    from bertviz_graph.pruning.arch import find_layers
    from bertviz_graph.pruning.data import BUILTIN_SENTENCES, batches, pang_lee_sentences
    from bertviz_graph.pruning.heads import head_importance, head_mask
    from bertviz_graph.pruning.metrics import loss_for, reference
    from bertviz_graph.pruning.sweep import sweep

    print("date: 2026-12-01; warm unless said (model loaded once)")
    print(f"machine: {os.cpu_count()} cores, torch {torch.__version__}, threads {torch.get_num_threads()}; "
          f"load average {os.getloadavg()[0]:.1f} (shared machine)")
    t0 = time.perf_counter()
    run = load_trained(MODEL)
    print(f"load {MODEL}: {time.perf_counter() - t0:.1f} s (cold)")
    model, tok = run.model, run.tokenizer
    if args.probe_only:
        probe(model, tok)
        return
    texts, _labels = pang_lee_sentences()
    assert len(texts) == 200
    bats = batches(tok, texts, batch_size=32)
    layers = find_layers(model)

    cpu: dict[int, list[float]] = {}

    def ours(bats=bats) -> tuple[float, torch.Tensor]:
        t, c = time.perf_counter(), time.process_time()
        ref = reference(model, bats, tok)
        imp = head_importance(model, layers, bats, loss_for(model, ref, bats, tok))
        cpu.setdefault(len(bats), []).append(time.process_time() - c)
        return time.perf_counter() - t, imp

    def per_sentence(bats) -> tuple[float, torch.Tensor]:
        """Same quantity, one backward per sentence (each sentence's own gradient, then |·|)."""
        t = time.perf_counter()
        ref = reference(model, bats, tok)
        loss = loss_for(model, ref, bats, tok)
        count = sum(b["input_ids"].shape[0] for b in bats)
        total = torch.zeros(len(layers), layers[0].heads)
        for p in model.parameters():
            p.requires_grad_(False)
        for b in bats:
            n = b["input_ids"].shape[0]
            for i in range(n):
                xi = torch.ones(n, len(layers), layers[0].heads)
                xi_i = torch.ones(len(layers), layers[0].heads, requires_grad=True)
                mask = xi.clone()
                mask[i] = 0
                full = mask + (1 - mask) * xi_i  # only sentence i's mask is a variable
                with head_mask(layers, full):
                    li = loss(model, b)[i]
                (g,) = torch.autograd.grad(li, xi_i)
                total += g.abs()
        return time.perf_counter() - t, total / count

    t_ours, t_sub, t_base = [], [], []
    imp_o = imp_b = None
    # the per-sentence baseline is slow: its ratio is measured on 8 sentences (one batch of 8)
    sub = batches(tok, texts[:8], batch_size=8)
    for _ in range(args.rounds):  # interleaved
        s, _imp = ours()
        t_ours.append(s)
        s, imp_o = ours(sub)
        t_sub.append(s)
        s, imp_b = per_sentence(sub)
        t_base.append(s)
    err = float((imp_o - imp_b).abs().max() / imp_b.abs().max())
    mo, ms, mb = (statistics.median(x) for x in (t_ours, t_sub, t_base))
    print(f"[1] head importance, 72 heads × 200 sentences: ours {mo:.1f} s (median of {len(t_ours)}: "
          f"{', '.join(f'{x:.1f}' for x in t_ours)}; CPU time {statistics.median(cpu[len(bats)]):.1f} s "
          f"over {torch.get_num_threads()} threads); goal ≤ 30 s: {'met' if mo <= 30 else 'MISSED'}")
    print(f"    on 8 sentences: ours {ms:.2f} s, one backward per sentence {mb:.2f} s -> {mb / ms:.1f}× faster; "
          f"same importances to {err:.1e} (max relative difference)")

    sbats = batches(tok, BUILTIN_SENTENCES)
    amounts = [i / 10 for i in range(10)]
    t, c = time.perf_counter(), time.process_time()
    rows = sweep(model, tok, ["magnitude"], amounts, sbats, task="lee", baseline=False)
    t_sweep, c_sweep = time.perf_counter() - t, time.process_time() - c
    print(f"[2] 10-point global magnitude sweep with embedding cosine (48 sentences) + Lee Spearman "
          f"(50 documents): {t_sweep:.1f} s (CPU time {c_sweep:.1f} s); goal ≤ 60 s: "
          f"{'met' if t_sweep <= 60 else 'MISSED'}")
    for r in rows:
        print(f"      {r['amount']:.0%}: cosine {r['embedding_cosine']:.3f}, Lee ρ {r['lee_spearman']:.3f}, "
              f"{r['seconds']:.1f} s")
    # the prune step alone: ours (thresholds once, in-place) vs torch.nn.utils.prune per point
    import torch.nn.utils.prune as tprune

    from bertviz_graph.pruning import magnitude as M
    from bertviz_graph.pruning.arch import linear_weights

    lins = [m for _, m in linear_weights(model)]
    backup = [m.weight.detach().clone() for m in lins]
    t = time.perf_counter()
    plan = M.magnitude_thresholds(model, amounts)
    for i in range(len(amounts)):
        with torch.no_grad():
            for m, b in zip(lins, backup):
                m.weight.copy_(b)
        M.apply_thresholds(model, plan[i])
    t_ours_prune = time.perf_counter() - t
    t = time.perf_counter()
    for a in amounts:
        with torch.no_grad():
            for m, b in zip(lins, backup):
                m.weight.copy_(b)
        if a > 0:
            params = [(m, "weight") for m in lins]
            tprune.global_unstructured(params, pruning_method=tprune.L1Unstructured, amount=a)
            for m, n in params:
                tprune.remove(m, n)
    t_torch_prune = time.perf_counter() - t
    with torch.no_grad():
        for m, b in zip(lins, backup):
            m.weight.copy_(b)
    print(f"    prune step only, 10 points: ours {t_ours_prune:.2f} s, torch.nn.utils.prune "
          f"{t_torch_prune:.2f} s -> {t_torch_prune / max(t_ours_prune, 1e-9):.1f}×")
    del backup
    print("[3] memory above the loaded model (peak RSS, fresh process each, model parameters = 1 copy):")
    for kind in ("ours", "torch", "sweep"):
        m = memory(kind)
        what = {"ours": "ours, prune 30% global", "torch": "torch.nn.utils.prune 30% global + remove",
                "sweep": "ours, 10-point sweep (no metric)"}[kind]
        print(f"    {what}: +{m['extra'] / 1e6:.0f} MB = {m['copies']:.2f} copies of the "
              f"{m['model_bytes'] / 1e6:.0f} MB model")
    probe(model, tok)


def probe(model, tok) -> None:
    from bertviz_graph.pruning.data import BUILTIN_SENTENCES, batches
    from bertviz_graph.pruning.sweep import sweep

    t = time.perf_counter()
    rows = sweep(model, tok, ["magnitude"], [0.0, 0.3, 0.6, 0.9], batches(tok, BUILTIN_SENTENCES),
                 task="probe")
    secs = time.perf_counter() - t
    print(f"[4] probe accuracy (logistic regression on mean-pooled embeddings, 200 Pang & Lee sentences, "
          f"5-fold × 4 held out; chance 0.50), 4 amounts × 2 methods: {secs:.1f} s")
    for r in rows:
        print(f"      {r['method']:<16} {r['amount']:.0%}: probe accuracy {r['probe_accuracy']:.3f}, "
              f"embedding cosine {r['embedding_cosine']:.3f}")


if __name__ == "__main__":
    main()
