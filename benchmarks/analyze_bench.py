"""Analyses of heads and ranks, CPU, warm (each model loaded once before timing), torch on 1 thread (the
machine is shared; 2 threads under load made torch's forward several times slower).

1. All heads' Jensen-Shannon distances on the 48 built-in sentences: the trained all-MiniLM-L6-v2 (72 heads)
   and the bert-base-uncased structure (144 heads, random weights): ours (bertviz_graph.analyze.
   head_distances: one forward of the encoder, sentences sorted by length, numpy float32 H(m) − (H(p)+H(q))/2
   in blocks over the upper triangle) vs the same attention rows through
   scipy's jensenshannon, vectorised over the second head (axis=-1), squared. Goals: ≤ 5 s and ≤ 20 s.
2. Singular values of every Linear weight of bert-base (74 matrices): ours (exact, torch.linalg.svdvals
   batched by shape, float32, wide matrices transposed) vs numpy.linalg.svd(compute_uv=False) one by one,
   and scipy's sgesvd per matrix (tried as a replacement: faster on a quiet core, far slower under load).
   Goal ≤ 10 s. Also the largest difference from float64 SVD (numpy, computed once, untimed).

Rounds are interleaved (ours, baseline, ours, ...); medians and the ratio are printed.

    PYTHONPATH=$PWD /work/venv/bin/python benchmarks/analyze_bench.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import time


def _scipy_distances(run, texts):
    import numpy as np
    from scipy.spatial.distance import jensenshannon

    from bertviz_graph.analyze.heads import attention_rows
    from bertviz_graph.analyze.inputs import encode

    total, rows = None, 0
    for p, _ids in attention_rows(run.model, encode(run.tokenizer, texts)):
        n = p.shape[0]
        s = np.empty((n, n))
        for a in range(n):
            s[a] = (jensenshannon(p[a][None], p, axis=-1) ** 2).sum(-1)
        total = s if total is None else total + s
        rows += p.shape[1]
    return total / rows


def _numpy_spectra(model):
    import numpy as np

    from bertviz_graph.pruning.arch import linear_weights

    return [np.linalg.svd(lin.weight.detach().numpy(), compute_uv=False) for _, lin in
            linear_weights(model, False)]


def _scipy_spectra(model):
    import numpy as np
    from scipy.linalg import svd

    from bertviz_graph.pruning.arch import linear_weights

    out = []
    for _, lin in linear_weights(model, False):
        a = lin.weight.detach().float().numpy()
        a = np.array(a.T if a.shape[1] > a.shape[0] else a, dtype=np.float32, order="F")
        out.append(svd(a, compute_uv=False, lapack_driver="gesvd", check_finite=False, overwrite_a=True))
    return out


def _time(fn) -> tuple[float, object]:
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    import numpy as np
    import torch

    from bertviz_graph.analyze.heads import head_distances
    from bertviz_graph.analyze.inputs import read_sentences, runnable
    from bertviz_graph.analyze.ranks import matrix_spectra

    torch.set_num_threads(1)
    texts = read_sentences(None)
    for name, goal in (("all-MiniLM-L6-v2", 5.0), ("bert-base-uncased", 20.0)):
        run = runnable(name)
        ours, base, diff = [], [], 0.0
        for _ in range(args.rounds):
            t, d = _time(lambda run=run: head_distances(run, texts))
            ours.append(t)
            t, ref = _time(lambda run=run: _scipy_distances(run, texts))
            base.append(t)
            diff = max(diff, float(np.abs(d - (ref + ref.T) / 2 * (1 - np.eye(len(ref)))).max()))
        mo, mb = statistics.median(ours), statistics.median(base)
        print(f"head distances {name} ({d.shape[0]} heads, {len(texts)} sentences): ours {mo:.2f} s, "
              f"scipy jensenshannon {mb:.2f} s, ratio {mb / mo:.1f}x, goal <= {goal:.0f} s "
              f"{'met' if mo <= goal else 'NOT met'}; max |ours - scipy| {diff:.1e}")
    run = runnable("bert-base-uncased")
    ours, base, before = [], [], []
    for _ in range(args.rounds):
        t, sp = _time(lambda: matrix_spectra(run.model))
        ours.append(t)
        t, ref = _time(lambda: _numpy_spectra(run.model))
        base.append(t)
        t, _old = _time(lambda: _scipy_spectra(run.model))
        before.append(t)
    err = max(float(np.abs(m.values - r).max() / r[0]) for m, r in zip(sp, ref))
    from bertviz_graph.pruning.arch import linear_weights

    exact = [np.linalg.svd(lin.weight.detach().double().numpy(), compute_uv=False)
             for _, lin in linear_weights(run.model, False)]
    err64 = max(float(np.abs(m.values - r).max() / r[0]) for m, r in zip(sp, exact))
    mo, mb, mt = statistics.median(ours), statistics.median(base), statistics.median(before)
    print(f"spectra bert-base ({len(sp)} matrices): ours {mo:.2f} s, numpy svd one by one {mb:.2f} s, ratio "
          f"{mb / mo:.1f}x; scipy sgesvd per matrix {mt:.2f} s, ratio {mt / mo:.2f}x; "
          f"goal <= 10 s {'met' if mo <= 10 else 'NOT met'}; max |σ_ours − σ_numpy32| / σ_max {err:.1e}, "
          f"max |σ_ours − σ_float64| / σ_max {err64:.1e}")

if __name__ == "__main__":
    main()
