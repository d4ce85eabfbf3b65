"""The 48-layer structure-only trace: wall time and peak memory, ours against torch.export alone.

Each measurement runs in a fresh Python process (peak RSS is per process: VmHWM from /proc, which unlike
ru_maxrss is not inherited across fork+exec), with an empty trace cache, so every run is cold. "ours" is
``bertviz_graph.trace`` (build on the meta device + torch.export + OpGraph + hierarchy + folding);
"torch.export" exports the same meta-device model and nothing else. Runs are interleaved; medians.
Imports are excluded from the times (both sides import torch and transformers first) but included in the
peak memory, which is what the user's process holds.

    python benchmarks/big_trace_bench.py [--model bert-xl-48] [--runs 2]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

_CHILD = r"""
import json, re, sys, time
kind, name = sys.argv[1], sys.argv[2]
import torch, transformers  # noqa: F401  (imports outside the timed part, for both sides)
import bertviz_graph as bg
from bertviz_graph.sources.build import build_model
from bertviz_graph.sources.resolve import resolve
t = time.perf_counter()
if kind == "ours":
    g = bg.trace(name, cache=False)
    extra = {"params": g.param_count(), "ops": len(g.ops()), "layers": max(len(s.members) for s in g.hierarchy.series())}
else:
    src = build_model(resolve(name))
    ep = torch.export.export(src.model, src.example_inputs, strict=False)
    extra = {"nodes": len(ep.graph.nodes)}
secs = time.perf_counter() - t
hwm = int(re.search(r"VmHWM:\s+(\d+) kB", open("/proc/self/status").read()).group(1))
print(json.dumps({"secs": secs, "peak_mb": hwm / 1024, **extra}))
"""


def run(kind: str, model: str) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "BERTVIZ_GRAPH_CACHE": tempfile.mkdtemp(prefix="bvg-big-")}
    out = subprocess.run([sys.executable, "-c", _CHILD, kind, model], capture_output=True, text=True, env=env,
                         check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="bert-xl-48")
    ap.add_argument("--runs", type=int, default=2)
    args = ap.parse_args()
    rows: dict[str, list[dict]] = {"ours": [], "torch.export": []}
    for _ in range(args.runs):  # interleaved, so machine noise hits both alike
        for kind in rows:
            rows[kind].append(run("ours" if kind == "ours" else "export", args.model))
    print(f"model {args.model}, {args.runs} fresh processes each, cold (no trace cache), medians")
    for kind, rs in rows.items():
        secs = statistics.median(r["secs"] for r in rs)
        peak = statistics.median(r["peak_mb"] for r in rs)
        extra = {k: v for k, v in rs[0].items() if k not in ("secs", "peak_mb")}
        print(f"  {kind:13s} {secs:7.2f} s   peak RSS {peak:6.0f} MB   {extra}")
    o = statistics.median(r["secs"] for r in rows["ours"])
    e = statistics.median(r["secs"] for r in rows["torch.export"])
    po = statistics.median(r["peak_mb"] for r in rows["ours"])
    pe = statistics.median(r["peak_mb"] for r in rows["torch.export"])
    print(f"  ratio ours / torch.export: time {o / e:.2f}x, peak memory {po / pe:.2f}x (goal: peak < 600 MB)")


if __name__ == "__main__":
    main()
