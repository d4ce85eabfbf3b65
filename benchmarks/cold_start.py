"""Cold first picture and big models, each as a whole process (imports included), side by side.

    python benchmarks/cold_start.py [--runs 3] [--skip-big] [--parts 1 2 3] [--no-whole]

1. ``bertviz-graph export bert-base-uncased -o x.svg`` with an empty trace cache, against torchview
   ``draw_graph`` + graphviz SVG of the same model (BertForMaskedLM on the meta device) in its own process;
   interleaved, medians, ratio ours / torchview (goal ≤ 1.2). The same export with the fast path switched off
   (BERTVIZ_GRAPH_NO_FAST=1: the whole model through torch.export) is the before-column.
2. ``export bert-xl-48 --ops primitive --depth 9 --unfold`` cold (goal ≤ 10 s), fast path vs whole export.
3. A Llama-70B-shaped config (80 layers, hidden 8192, 64 heads, 8 KV heads, FFN 28672, vocab 128256) on the
   meta device: traced and drawn folded, whole process, wall time and peak RSS (goals ≤ 30 s, ≤ 1 GB),
   against the same process with the fast path off (torch.export of all 80 layers).
4. ``serve`` -> the first graph painted in headless Chromium (``serve_bench.time_serve``): the canvas' first
   draw, and the picture first on screen (the index page's plain SVG, or the canvas if it came first): bert-base
   on a cached trace, served once before (goal ≤ 1.5 s) and the first-ever start of all-MiniLM-L6-v2 with an empty trace cache (goal
   ≤ 5 s), interleaved with the cached MiniLM start, medians (``--parts 4``); in the same rounds, ``info`` and
   ``export -o x.svg`` of bert-base on the cached trace, whole process (goal ≤ 1 s).
Wall time from the parent, peak RSS of each child from /usr/bin/time.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
PY = sys.executable

TORCHVIEW = """
import torch
from torchview import draw_graph
from transformers import BertConfig, BertForMaskedLM
with torch.device("meta"):
    m = BertForMaskedLM(BertConfig(attn_implementation="eager")).eval()
ids = torch.zeros(1, 16, dtype=torch.long, device="meta")
g = draw_graph(m, input_data=[ids], device="meta", depth=3, hide_inner_tensors=True)
open(__import__("sys").argv[1], "w").write(g.visual_graph.pipe(format="svg").decode())
"""

LLAMA = {"model_type": "llama", "vocab_size": 128256, "hidden_size": 8192, "intermediate_size": 28672,
         "num_hidden_layers": 80, "num_attention_heads": 64, "num_key_value_heads": 8,
         "max_position_embeddings": 131072, "rms_norm_eps": 1e-5, "rope_theta": 500000.0,
         "use_cache": False, "tie_word_embeddings": False, "architectures": ["LlamaModel"]}


def peak_rss(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall time and this child's own peak RSS (via /usr/bin/time, as ru_maxrss is a running maximum)."""
    t = time.perf_counter()
    proc = subprocess.run(["/usr/bin/time", "-f", "%M", *cmd], env=env, cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - t
    if proc.returncode != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}\n{proc.stderr[-2000:]}")
    return wall, int(proc.stderr.strip().splitlines()[-1]) / 1024


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--skip-big", action="store_true")
    ap.add_argument("--parts", type=int, nargs="+", default=[1, 2, 3], help="which parts to run (1-4)")
    ap.add_argument("--no-whole", action="store_true", help="skip the whole-model export rows of parts 2 and 3")
    ap.add_argument("--before", help="part 4: also time the cached bert-base start of this checkout (e.g. main), "
                                     "interleaved")
    ap.add_argument("--no-first-ever", action="store_true", help="part 4: skip the first-ever MiniLM start")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bvg-cold-"))
    base = {**os.environ, "PYTHONPATH": str(ROOT)}
    cli = [PY, "-m", "bertviz_graph"]

    def env(fast: bool) -> dict[str, str]:
        cache = tempfile.mkdtemp(dir=tmp)  # a fresh, empty trace cache every run: cold
        e = {**base, "BERTVIZ_GRAPH_CACHE": cache}
        if not fast:
            e["BERTVIZ_GRAPH_NO_FAST"] = "1"
        return e

    if 4 in args.parts:
        part4(args, cli, base, tmp)
        if args.parts == [4]:
            return
    tv_script = tmp / "tv.py"
    tv_script.write_text(TORCHVIEW)
    subprocess.run([PY, "-c", "import torch, transformers, torchview"], check=True)  # warm the OS file cache
    if 1 in args.parts:
        part1(args, cli, env, base, tv_script, tmp)
    if args.skip_big:
        return
    variants = (("fast path", True),) if args.no_whole else (("fast path", True), ("whole-model export", False))
    if 2 in args.parts:
        print("2. bert-xl-48 --ops primitive --depth 9 --unfold, cold, whole process")
        big = [*cli, "export", "bert-xl-48", "--ops", "primitive", "--depth", "9", "--unfold", "-o",
               str(tmp / "x.svg")]
        for label, fast in variants:
            wall, rss = peak_rss(big, env(fast))
            print(f"   {label:28s} {wall:6.2f} s   peak RSS {rss:5.0f} MB", flush=True)
    if 3 in args.parts:
        part3(cli, env, tmp, variants)


def part1(args, cli, env, base, tv_script, tmp) -> None:
    rows: dict[str, list[float]] = {"ours": [], "torchview": [], "ours, whole-model export": []}
    for _ in range(args.runs):
        rows["ours"].append(peak_rss([*cli, "export", "bert-base-uncased", "-o", str(tmp / "a.svg")], env(True))[0])
        rows["torchview"].append(peak_rss([PY, str(tv_script), str(tmp / "b.svg")], base)[0])
        rows["ours, whole-model export"].append(
            peak_rss([*cli, "export", "bert-base-uncased", "-o", str(tmp / "c.svg")], env(False))[0])
    tv = statistics.median(rows["torchview"])
    print("1. cold first picture, bert-base-uncased, whole process, medians of", args.runs)
    for k, v in rows.items():
        print(f"   {k:28s} {statistics.median(v):6.2f} s   ratio to torchview {statistics.median(v) / tv:.2f}"
              f"   runs {', '.join(f'{x:.2f}' for x in v)}")


def part3(cli, env, tmp, variants) -> None:
    print("3. Llama-70B-shaped config (80 layers, hidden 8192, GQA 64/8), meta device, traced + drawn folded")
    from bertviz_graph.sources.presets import preset_config

    if preset_config("llama-70b-shape") is not None:  # the preset (LlamaForCausalLM) where it exists
        cmd = [*cli, "export", "llama-70b-shape", "-o", str(tmp / "l.svg")]
    else:
        folder = tmp / "llama-70b-shape"
        folder.mkdir()
        (folder / "config.json").write_text(json.dumps(LLAMA))
        cmd = [*cli, "export", str(folder), "--head", "base", "-o", str(tmp / "l.svg")]
    for label, fast in variants:
        wall, rss = peak_rss(cmd, env(fast))
        print(f"   {label:28s} {wall:6.2f} s   peak RSS {rss:5.0f} MB", flush=True)


def part4(args, cli, base, tmp) -> None:
    import shutil

    from playwright.sync_api import sync_playwright

    sys.path.insert(0, str(ROOT / "benchmarks"))
    from serve_bench import time_serve

    # as an installed package runs: bytecode cached (a shell with PYTHONDONTWRITEBYTECODE recompiles every start)
    base = {k: v for k, v in base.items() if k != "PYTHONDONTWRITEBYTECODE"}
    cached = {**base, "BERTVIZ_GRAPH_CACHE": tempfile.mkdtemp(dir=tmp)}
    for m in ("bert-base-uncased", "all-MiniLM-L6-v2"):  # fills the cached runs' trace cache (and bytecode)
        subprocess.run([*cli, "info", m], env=cached, check=True, capture_output=True)
    rows: dict[str, list[float]] = {}
    cpus: dict[str, list[float]] = {}  # the server's CPU seconds until the first paint
    shown: dict[str, list[float]] = {}  # until the picture is on screen (index page's plain SVG or the canvas)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium"), headless=True,
                                    args=["--no-sandbox", "--disable-gpu"])
        try:
            # a model served before: its start-up page is recorded next to the trace (app/early_page.py), as
            # at every start after the first; not timed
            for m in ("bert-base-uncased", "all-MiniLM-L6-v2"):
                time_serve(browser, m, False, cached, cwd=str(ROOT))
            for r in range(args.runs):
                order = [("bert-base-uncased, cached trace", "bert-base-uncased", cached),
                         ("all-MiniLM-L6-v2, cached trace", "all-MiniLM-L6-v2", cached)]
                if not args.no_first_ever:
                    order.append(("all-MiniLM-L6-v2, first-ever (empty cache)", "all-MiniLM-L6-v2", None))
                if args.before:
                    order.insert(1, (f"bert-base-uncased, cached trace, {args.before}", "bert-base-uncased",
                                     {**cached, "PYTHONPATH": args.before}))
                    if not args.no_first_ever:  # an empty trace cache of its own every run
                        order.append((f"all-MiniLM-L6-v2, first-ever (empty cache), {args.before}",
                                      "all-MiniLM-L6-v2", {"PYTHONPATH": args.before}))
                for label, model, env in order if r % 2 == 0 else order[::-1]:
                    e = env if env is not None and "BERTVIZ_GRAPH_CACHE" in env else {
                        **base, "BERTVIZ_GRAPH_CACHE": tempfile.mkdtemp(dir=tmp), **(env or {})}
                    where = args.before if args.before and label.endswith(args.before) else str(ROOT)
                    rows.setdefault(label, []).append(time_serve(browser, model, False, e, cwd=where,
                                                                 cpu=cpus.setdefault(label, []),
                                                                 shown=shown.setdefault(label, [])))
                    if env is cached and model == "bert-base-uncased":  # whole-process info/export, same rounds
                        for what, extra in (("info", []), ("export", ["-o", str(tmp / "e.svg")])):
                            t = time.perf_counter()
                            subprocess.run([*cli, what, model, *extra], env=cached, check=True, capture_output=True)
                            rows.setdefault(f"{what} {model}, cached trace", []).append(time.perf_counter() - t)
        finally:
            browser.close()
    print(f"4. serve -> first graph painted, whole process, medians of {args.runs}, "
          f"load average {os.getloadavg()[0]:.1f}")
    for label, v in rows.items():
        goal = 5.0 if "first-ever" in label else 1.0 if label.startswith(("info", "export")) else 1.5
        cpu = f"   server CPU {statistics.median(cpus[label]):.2f} s" if cpus.get(label) else ""
        seen = (f"   picture on screen {statistics.median(shown[label]):.2f} s "
                f"({', '.join(f'{x:.2f}' for x in shown[label])})" if shown.get(label) else "")
        print(f"   {label:44s} canvas {statistics.median(v):6.2f} s   ratio to the goal ({goal:g} s) "
              f"{statistics.median(v) / goal:.2f}{cpu}   runs {', '.join(f'{x:.2f}' for x in v)}{seen}", flush=True)


if __name__ == "__main__":
    main()
