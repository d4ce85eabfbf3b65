"""Running a sentence: capture every op (ours) vs the plain forward pass (baseline), side by side.

    PYTHONPATH=$PWD python benchmarks/run_bench.py [--repeat 7] [--no-browser]

1. 16-token sentence through bert-base-uncased (preset: random weights) and all-MiniLM-L6-v2 (trained):
   plain ``model(input_ids)`` vs ``capture`` (every op of the traced graph recorded), interleaved, medians,
   warm (the model loaded and its program exported once; the cold first capture is printed too).
2. Memory: a 512-token sentence on bert-base with the default budget: bytes kept, tensors kept in float16,
   tensors left for on-demand recomputation, the process's peak RSS growth; and what keeping everything
   in float32 would take.
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
import time

os.environ.setdefault("BERTVIZ_GRAPH_CACHE", "/tmp/bvg-cache-bench")

SENTENCE = "The quick brown fox jumps over the lazy dog while the cat watches from the warm window."


def _ids(run, n: int) -> list[int]:
    toks = run.tokenize(SENTENCE * 64)
    ids = toks.input_ids[: n - 1] + [toks.input_ids[-1]]
    assert len(ids) == n
    return ids


def bench_capture(name: str, repeat: int) -> dict:
    import torch

    import bertviz_graph as bg
    from bertviz_graph.run.capture import capture
    from bertviz_graph.run.load import load_runnable

    graph = bg.trace(name)
    t0 = time.perf_counter()
    run = load_runnable(graph)
    load_s = time.perf_counter() - t0
    tokens = run.tokenize(ids=_ids(run, 16))
    t0 = time.perf_counter()
    capture(graph, run, tokens)
    cold = time.perf_counter() - t0
    x = torch.tensor([tokens.input_ids])
    plain, ours = [], []
    with torch.no_grad():
        run.model(x)
    for _ in range(repeat):  # interleaved: both see the same machine load
        t0 = time.perf_counter()
        with torch.no_grad():
            run.model(x)
        plain.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        acts = capture(graph, run, tokens)
        ours.append(time.perf_counter() - t0)
    p, o = statistics.median(plain), statistics.median(ours)
    return {"model": name, "trained": run.trained, "tokens": 16, "ops": len(graph.ops()),
            "captured": len(acts.values), "load_s": round(load_s, 2), "cold_capture_s": round(cold, 2),
            "plain_ms": round(p * 1e3, 1), "capture_ms": round(o * 1e3, 1), "ratio": round(o / p, 2)}


def bench_memory() -> dict:
    import torch

    import bertviz_graph as bg
    from bertviz_graph.run.capture import DEFAULT_BUDGET_MB, capture
    from bertviz_graph.run.load import load_runnable

    graph = bg.trace("bert-base-uncased")
    run = load_runnable(graph)
    tokens = run.tokenize(ids=_ids(run, 512))
    capture(graph, run, run.tokenize(ids=_ids(run, 16)))  # export once
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    acts = capture(graph, run, tokens)
    secs = time.perf_counter() - t0
    rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
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
    t0 = time.perf_counter()
    some = sorted(acts.on_demand)[:1]
    if some:
        acts.array(some[0])
    od = time.perf_counter() - t0
    return {"model": "bert-base-uncased", "tokens": 512, "budget_mb": DEFAULT_BUDGET_MB,
            "kept_mb": round(acts.stored_bytes / 2**20, 1), "float16": len(acts.float16),
            "on_demand": len(acts.on_demand), "all_float32_mb_est": round(full / 2**20, 1),
            "capture_s": round(secs, 2), "peak_rss_growth_mb": round((rss1 - rss0) / 1024, 1),
            "on_demand_fetch_s": round(od, 2)}


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
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--no-browser", action="store_true")
    args = ap.parse_args()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}, "
          f"load average {os.getloadavg()[0]:.1f} (other jobs share the cores)")
    for name in ("bert-base-uncased", "all-MiniLM-L6-v2"):
        r = bench_capture(name, args.repeat)
        print(json.dumps(r))
    print(json.dumps(bench_memory()))
    if not args.no_browser:
        for r in bench_grid():
            print(json.dumps(r))


if __name__ == "__main__":
    main()
