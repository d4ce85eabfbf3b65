"""Running a sentence: capture every op (ours) vs the plain forward pass (baseline), side by side.

    PYTHONPATH=$PWD python benchmarks/run_bench.py [--rounds 5] [--warm 7] [--no-memory] [--no-browser]

1. 16-token sentence through bert-base-uncased (preset: random weights) and all-MiniLM-L6-v2 (trained).
   Every round starts one FRESH process per model and mode (rounds interleave the models and modes;
   modes: "ours" = graph.run/the app, any length; "fixed" = the CLI's one-sentence program; "whole"):
   it traces the graph (from the disk cache), loads the model, then times the COLD first capture (the
   program built: one layer exported and replicated, or, mode "whole", the whole model exported as before)
   and then ``--warm`` interleaved pairs of a plain ``model(input_ids)`` and a WARM capture. Medians over all
   rounds; ratios printed.
2. Memory: a 512-token sentence on bert-base with the default budget (fresh process): bytes kept (tensor
   storages counted once), tensors kept in float16, tensors left for on-demand recomputation, the RSS the
   capture leaves behind (``/proc/self/statm`` after the pass, minus before) and the peak RSS growth
   (``ru_maxrss``); and what keeping everything in float32 would take. torch's CPU allocator bypasses
   Python's, so tracemalloc would not see these tensors: RSS it is.
3. The 6×12 attention grid (MiniLM, 16 tokens) and a 12×12 grid at 512 tokens drawn in headless Chromium
   (plotly.js from the installed plotly package, no network): time of Plotly.newPlot, median of 5.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time

os.environ.setdefault("BERTVIZ_GRAPH_CACHE", "/tmp/bvg-cache-bench")

SENTENCE = "The quick brown fox jumps over the lazy dog while the cat watches from the warm window."
MODELS = ("bert-base-uncased", "all-MiniLM-L6-v2")


def _ids(run, n: int) -> list[int]:
    toks = run.tokenize(SENTENCE * 64)
    ids = toks.input_ids[: n - 1] + [toks.input_ids[-1]]
    assert len(ids) == n
    return ids


def child_capture(name: str, mode: str, warm: int) -> dict:
    """In a fresh process: the cold first capture, then ``warm`` interleaved plain/capture pairs."""
    import torch

    import bertviz_graph as bg
    from bertviz_graph.run.capture import capture, export_program, program_for
    from bertviz_graph.run.load import load_runnable

    graph = bg.trace(name)
    t0 = time.perf_counter()
    run = load_runnable(graph)
    load_s = time.perf_counter() - t0
    tokens = run.tokenize(ids=_ids(run, 16))
    t0 = time.perf_counter()
    if mode == "whole":  # the path before the one-layer program: torch.export of the whole model
        prog = export_program(graph, run, len(tokens), dynamic=True, layered=False)
    else:  # "ours": graph.run / the app (any length); "fixed": the CLI's one-sentence program
        prog = program_for(graph, run, len(tokens), any_length=mode != "fixed")
    acts = capture(graph, run, tokens, program=prog)
    cold = time.perf_counter() - t0
    x = torch.tensor([tokens.input_ids])
    plain, ours = [], []
    for _ in range(warm):  # interleaved: both see the same machine load
        t0 = time.perf_counter()
        with torch.no_grad():
            run.model(x)
        plain.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        acts = capture(graph, run, tokens, program=prog)
        ours.append(time.perf_counter() - t0)
    return {"model": name, "mode": mode, "how": prog.how, "trained": run.trained, "ops": len(graph.ops()),
            "captured": len(acts.values), "unmatched": len(acts.unmatched), "load_s": load_s,
            "cold_s": cold, "export_s": prog.export_s, "plain_s": plain, "warm_s": ours,
            "load_average": os.getloadavg()[0]}


def _child(args: list[str]) -> dict:
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    out = subprocess.run([sys.executable, os.path.abspath(__file__), *args], capture_output=True, text=True,
                         env=env, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def bench_capture(rounds: int, warm: int) -> list[dict]:
    for name in MODELS:  # discarded: fills the trace's disk cache and the OS page cache
        _child(["--child", name, "ours", "--warm", "1"])
    results: dict[tuple[str, str], list[dict]] = {}
    loads = []
    for r in range(rounds):
        order = [(m, mode) for m in MODELS for mode in ("ours", "fixed", "whole")]
        for name, mode in order if r % 2 == 0 else order[::-1]:
            res = _child(["--child", name, mode, "--warm", str(warm)])
            results.setdefault((name, mode), []).append(res)
            loads.append(res["load_average"])
    med = statistics.median
    rows = []
    for name in MODELS:
        ours, whole, fixed = results[(name, "ours")], results[(name, "whole")], results[(name, "fixed")]
        plain = med([t for res in ours + whole + fixed for t in res["plain_s"]])
        warm_c = med([t for res in ours for t in res["warm_s"]])
        cold = med([res["cold_s"] for res in ours])
        cold_whole = med([res["cold_s"] for res in whole])
        rows.append({"model": name, "how": ours[0]["how"], "trained": ours[0]["trained"], "tokens": 16,
                     "ops": ours[0]["ops"], "captured": ours[0]["captured"], "unmatched": ours[0]["unmatched"],
                     "rounds": rounds, "plain_ms": round(plain * 1e3, 1), "warm_capture_ms": round(warm_c * 1e3, 1),
                     "warm_ratio": round(warm_c / plain, 2),
                     "cold_capture_s": round(cold, 3), "cold_export_s": round(med([x["export_s"] for x in ours]), 3),
                     "cold_ratio_to_plain": round(cold / plain, 1),
                     "cold_whole_export_s": round(cold_whole, 3), "cold_speedup": round(cold_whole / cold, 2),
                     "cold_fixed_length_s": round(med([x["cold_s"] for x in fixed]), 3),
                     "cold_fixed_s_all": [round(x["cold_s"], 2) for x in fixed],
                     "cold_s_all": [round(x["cold_s"], 2) for x in ours],
                     "cold_whole_s_all": [round(x["cold_s"], 2) for x in whole]})
    rows.append({"load_average_min": min(loads), "load_average_max": max(loads)})
    return rows


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def child_memory() -> dict:
    """In a fresh process: a 512-token bert-base capture with the default budget."""
    import gc

    import torch

    import bertviz_graph as bg
    from bertviz_graph.run.attention import attention_maps
    from bertviz_graph.run.capture import DEFAULT_BUDGET_MB, capture
    from bertviz_graph.run.load import load_runnable

    graph = bg.trace("bert-base-uncased")
    run = load_runnable(graph)
    tokens = run.tokenize(ids=_ids(run, 512))
    capture(graph, run, run.tokenize(ids=_ids(run, 16)))  # the program built once, its memory settled
    gc.collect()
    rss0, peak0 = _rss_mb(), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t0 = time.perf_counter()
    acts = capture(graph, run, tokens)
    secs = time.perf_counter() - t0
    gc.collect()
    rss1, peak1 = _rss_mb(), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    full = 0
    for v in acts.values.values():
        if isinstance(v, torch.Tensor):
            full += v.numel() * 4
    # what the on-demand ones would have cost too (shapes from the graph, batch 1, 512 tokens)
    for n in acts.on_demand:
        shape = [512 if s == 16 else s for s in graph.g.nodes[n].get("shape") or []]
        numel = 1
        for s in shape:
            numel *= s
        full += numel * 4
    maps = attention_maps(graph, acts)
    maps_mb = sum(acts.values[op].untyped_storage().nbytes() for op in maps.ops) / 2**20
    t0 = time.perf_counter()
    some = sorted(acts.on_demand)[:1]
    if some:
        acts.array(some[0])
    od = time.perf_counter() - t0
    return {"model": "bert-base-uncased", "tokens": 512, "budget_mb": DEFAULT_BUDGET_MB,
            "kept_mb": round(acts.stored_bytes / 2**20, 1), "attention_maps_kept_mb": round(maps_mb, 1),
            "bound_mb": round(DEFAULT_BUDGET_MB + maps_mb, 1), "float16": len(acts.float16),
            "on_demand": len(acts.on_demand), "all_float32_mb_est": round(full / 2**20, 1),
            "capture_s": round(secs, 2), "rss_retained_mb": round(rss1 - rss0, 1),
            "peak_rss_growth_mb": round(peak1 - peak0, 1), "on_demand_fetch_s": round(od, 2),
            "load_average": os.getloadavg()[0]}


def bench_grid(repeat: int = 5) -> list[dict]:
    import plotly
    from playwright.sync_api import sync_playwright

    import bertviz_graph as bg
    from bertviz_graph.presenters.attention import grid_figure
    from bertviz_graph.run.attention import AttentionMaps, attention_maps

    g = bg.trace("all-MiniLM-L6-v2")
    am = attention_maps(g, g.run(SENTENCE))
    import numpy as np

    rng = np.random.default_rng(0)
    big = rng.random((12, 12, 512, 512), dtype=np.float32)
    big /= big.sum(-1, keepdims=True)
    cases = [(f"MiniLM 6×12, {len(am.tokens)} tokens", grid_figure(am)),
             ("12×12, 512 tokens", grid_figure(AttentionMaps(big, ["t"] * 512, [], [], True)))]
    js = open(os.path.join(os.path.dirname(plotly.__file__), "package_data", "plotly.min.js")).read()
    out = []
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path="/usr/bin/chromium", args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--no-first-run"])
        page = b.new_page(viewport={"width": 1200, "height": 900})
        page.set_content("<html><body><div id=g style='width:1100px;height:600px'></div></body></html>")
        page.add_script_tag(content=js)
        for label, fig in cases:
            spec = json.loads(fig.to_json())
            times = []
            for _ in range(repeat):
                ms = page.evaluate("""async (spec) => {
                    const el = document.getElementById('g'); Plotly.purge(el);
                    const t0 = performance.now();
                    await Plotly.newPlot(el, spec.data, spec.layout);
                    await new Promise(r => requestAnimationFrame(() => r()));
                    return performance.now() - t0; }""", spec)
                times.append(ms)
            out.append({"grid": label, "draw_ms_median": round(statistics.median(times), 1),
                        "draw_ms_max": round(max(times), 1)})
        b.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5, help="fresh processes per model and mode")
    ap.add_argument("--warm", type=int, default=7, help="warm plain/capture pairs per process")
    ap.add_argument("--threads", type=int, default=0,
                    help="torch threads in every child (0: torch's default, one per core). On a shared machine "
                         "1 thread is far less sensitive to the other jobs (a 2-thread op waits for its slower half)")
    ap.add_argument("--no-memory", action="store_true")
    ap.add_argument("--no-browser", action="store_true")
    ap.add_argument("--child", nargs="*", help=argparse.SUPPRESS)  # internal: MODEL MODE | memory
    args = ap.parse_args()
    if args.threads:
        os.environ["BVG_BENCH_THREADS"] = str(args.threads)  # the children read it
    if args.child is not None:
        if os.environ.get("BVG_BENCH_THREADS"):
            import torch

            torch.set_num_threads(int(os.environ["BVG_BENCH_THREADS"]))
        res = child_memory() if args.child == ["memory"] else child_capture(args.child[0], args.child[1], args.warm)
        print(json.dumps(res))
        return
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}, "
          f"load average {os.getloadavg()[0]:.1f} at start (other jobs share the cores), "
          f"torch threads: {args.threads or 'default'}")
    for r in bench_capture(args.rounds, args.warm):
        print(json.dumps(r))
    if not args.no_memory:
        print(json.dumps(_child(["--child", "memory"])))
    if not args.no_browser:
        for r in bench_grid():
            print(json.dumps(r))
    print(f"load average at the end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
