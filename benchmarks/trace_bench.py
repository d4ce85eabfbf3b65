"""Trace + hierarchy for bert-base, against torch.export alone, in one process.

Goal (issue 2): cold bertviz_graph.trace <= 1.25x torch.export of the same model; warm (disk cache) < 0.2 s.
Each timing is the median of --runs runs; torch.export runs on the same meta-device model.

    python benchmarks/trace_bench.py [--model bert-base-uncased] [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="bert-base-uncased")
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    os.environ["BERTVIZ_GRAPH_CACHE"] = tempfile.mkdtemp(prefix="bvg-bench-")

    import torch

    import bertviz_graph as bg
    from bertviz_graph.sources.build import build_model
    from bertviz_graph.sources.resolve import resolve

    bg.trace("bert-tiny", cache=False)  # warm imports and torch.export's own first-call setup

    def export_only() -> float:
        src = build_model(resolve(args.model))
        t = time.perf_counter()
        torch.export.export(src.model, src.example_inputs, strict=False)
        return time.perf_counter() - t

    def ours_cold() -> float:
        t = time.perf_counter()
        bg.trace(args.model, cache=False)
        return time.perf_counter() - t

    def ours_warm() -> float:
        t = time.perf_counter()
        g = bg.trace(args.model, cache=True)
        assert g.meta["cache"] == "hit"
        return time.perf_counter() - t

    bg.trace(args.model, cache=True)  # fill the cache for the warm runs
    exp, cold, warm = [], [], []
    for _ in range(args.runs):  # interleaved, so machine noise hits all three alike
        exp.append(export_only())
        cold.append(ours_cold())
        warm.append(ours_warm())
    m_exp, m_cold, m_warm = (statistics.median(x) for x in (exp, cold, warm))
    print(f"model {args.model}, {args.runs} runs, medians")
    print(f"  torch.export alone           {m_exp:7.3f} s")
    print(f"  bertviz_graph.trace (cold)   {m_cold:7.3f} s   ratio {m_cold / m_exp:.2f}x  (goal <= 1.25x)")
    print(f"  bertviz_graph.trace (warm)   {m_warm:7.3f} s   (goal < 0.2 s)")
    build_t = []
    for _ in range(args.runs):
        t = time.perf_counter()
        build_model(resolve(args.model))
        build_t.append(time.perf_counter() - t)
    print(f"  (building the meta model, in both cold numbers' setup: {statistics.median(build_t):.3f} s)")


if __name__ == "__main__":
    main()
