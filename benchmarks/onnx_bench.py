"""Import a bert-base ONNX export to a drawn overview, against plain ``onnx.load`` of the same file.

Goal (issue 13): <= 3 s and <= 1.2x the file size in memory, weights not loaded until shown.
The export is made once (torch.onnx.export(dynamo=True), BertModel with the bert-base-uncased config and
random weights, one self-contained .onnx file, ~440 MB) into --dir, plus a copy with external data
(graph .onnx + weights .onnx.data, torch.onnx's default layout). Each measurement runs in a fresh process
(imports done before the clock starts; the file is in the page cache), interleaved, medians of --runs:
  ours      bertviz_graph.trace(file) (read + shapes + hierarchy + folding) + view().to_svg() (the overview)
  baseline  onnx.load(file) (the whole model, weights included, as Netron-style tools read it)
Memory is the peak resident set of the process minus its size after the imports.

    python benchmarks/onnx_bench.py [--runs 3] [--dir /tmp/bvg-onnx-bench]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

_CHILD = r"""
import json, sys, time
def status(key):  # VmRSS now, VmHWM the peak (reset at exec, unlike ru_maxrss)
    with open("/proc/self/status") as f:
        return next(int(l.split()[1]) * 1024 for l in f if l.startswith(key + ":"))
def rss():
    return status("VmRSS")
import onnx
import bertviz_graph as bg
from bertviz_graph.onnx import import_onnx
what, path = sys.argv[1], sys.argv[2]
base = rss()
t = time.perf_counter()
if what == "ours":
    g = bg.trace(path)
    svg = g.view().to_svg()
    extra = {"params": g.param_count(), "series": [s.label for s in g.hierarchy.series()], "svg": len(svg)}
else:
    m = onnx.load(path)
    extra = {"nodes": len(m.graph.node)}
dt = time.perf_counter() - t
peak = status("VmHWM")
print(json.dumps({"time": dt, "mem": peak - base, **extra}))
"""


def export(folder: Path) -> tuple[Path, Path]:
    single, split = folder / "bert-base.onnx", folder / "split" / "bert-base.onnx"
    if single.is_file() and split.is_file():
        return single, split
    import onnx
    import torch
    import transformers

    from bertviz_graph.sources.presets import preset_config

    folder.mkdir(parents=True, exist_ok=True)
    cfg = {k: v for k, v in preset_config("bert-base-uncased").items() if k not in ("architectures",)}
    config = transformers.BertConfig(**{k: v for k, v in cfg.items() if k != "model_type"})
    torch.manual_seed(0)
    model = transformers.BertModel(config).eval()
    with torch.no_grad():  # distinct values, so the exporter's optimizer merges no initializers
        for p in model.parameters():
            p.normal_(0, 0.02)
    ids = torch.arange(16).unsqueeze(0)
    inputs = {"input_ids": ids, "attention_mask": torch.ones_like(ids), "token_type_ids": torch.zeros_like(ids)}
    batch, seq = torch.export.Dim("batch"), torch.export.Dim("seq", max=512)
    t = time.perf_counter()
    prog = torch.onnx.export(model, (), kwargs=inputs, dynamo=True, external_data=False,
                             dynamic_shapes={k: {0: batch, 1: seq} for k in inputs})
    prog.save(str(single), external_data=False)
    print(f"exported {single} ({single.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - t:.0f} s")
    split.parent.mkdir(exist_ok=True)
    m = onnx.load(str(single))
    onnx.save(m, str(split), save_as_external_data=True, all_tensors_to_one_file=True,
              location="bert-base.onnx.data", size_threshold=1024)
    return single, split


def run(what: str, path: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "BERTVIZ_GRAPH_CACHE": "/tmp/bvg-onnx-bench-cache"}
    out = subprocess.run([sys.executable, "-c", _CHILD, what, str(path)], capture_output=True, text=True, env=env)
    if out.returncode:
        raise SystemExit(f"{what} {path} failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--dir", type=Path, default=Path("/tmp/bvg-onnx-bench"))
    args = ap.parse_args()
    single, split = export(args.dir)
    sizes = {single: single.stat().st_size,
             split: split.stat().st_size + (split.parent / "bert-base.onnx.data").stat().st_size}
    cases = [("ours", single), ("baseline", single), ("ours", split), ("baseline", split)]
    for c in cases:  # warm the page cache and check that everything runs
        run(*c)
    results: dict[tuple[str, Path], list[dict]] = {c: [] for c in cases}
    for _ in range(args.runs):
        for c in cases:
            results[c].append(run(*c))
    # End to end, as a user runs it: the CLI in a new process, Python imports included.
    cli, imports = [], []
    for _ in range(args.runs):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-m", "bertviz_graph", "export", str(single), "-o",
                        str(args.dir / "overview.svg")], check=True, capture_output=True,
                       env={**os.environ, "PYTHONPATH": str(ROOT)})
        cli.append(time.perf_counter() - t)
        t = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import onnx"], check=True)
        imports.append(time.perf_counter() - t)
    first = results[("ours", single)][0]
    print(f"bert-base ONNX export: {first['params']:,} parameters, folded: {', '.join(first['series'])}; "
          f"{args.runs} runs, medians, fresh process each, warm page cache")
    for path, label in ((single, "one file, weights inside"), (split, "graph + external .data file")):
        size = sizes[path]
        ours_t = statistics.median(r["time"] for r in results[("ours", path)])
        ours_m = statistics.median(r["mem"] for r in results[("ours", path)])
        base_t = statistics.median(r["time"] for r in results[("baseline", path)])
        base_m = statistics.median(r["mem"] for r in results[("baseline", path)])
        print(f"  {label} ({size / 1e6:.0f} MB)")
        print(f"    ours: trace + overview SVG   {ours_t:6.2f} s  {ours_m / 1e6:7.0f} MB = {ours_m / size:.2f}x file"
              f"   (goal <= 3 s, <= 1.2x)")
        print(f"    onnx.load                    {base_t:6.2f} s  {base_m / 1e6:7.0f} MB = {base_m / size:.2f}x file"
              f"   ratio ours/onnx.load: time {ours_t / base_t:.2f}x, memory {ours_m / max(base_m, 1):.2f}x")
    print(f"  end to end: bertviz-graph export (one file) {statistics.median(cli):6.2f} s wall, of which a bare "
          f"'python -c \"import onnx\"' takes {statistics.median(imports):.2f} s")


if __name__ == "__main__":
    main()
