"""Our SVG export against torchview's draw_graph + SVG render, bert-base and bert-large, in one run.

Both start from the model name and end with SVG text, so both include tracing. torchview runs the model
forward on the meta device (structure only, like us) and renders with graphviz; "module depth" is
torchview depth=3 (one box per BertLayer) against our default overview, "fully open" is torchview at
depth 6 with expand_nested (every module as a cluster, every function) against ours with everything open
and unfolded. Medians of --runs runs, interleaved. Columns for ours:

- "cold": trace cache off, so nothing is reused between runs (build + torch.export + hierarchy + layout + SVG);
- "trace cached, warm process": a second export in the same process: the graph comes from the disk cache and
  every layout is already in the in-memory layout cache, with dot workers running (a notebook or the app);
- "trace cached, fresh process": the CLI case: a new Python process (imports not timed) whose graph comes
  from the disk cache, but whose layout cache is empty and whose dot workers start cold.

    pip install torchview==0.2.7   # benchmark-only dependency
    python benchmarks/export_vs_torchview.py [--runs 3]
"""

from __future__ import annotations

import argparse
import statistics
import time

_FRESH = r"""
import sys, time
import torch, transformers, networkx  # noqa: F401  (imports are not timed: torchview's side has them too)
import bertviz_graph as bg
import bertviz_graph.hierarchy.tree, bertviz_graph.layout, bertviz_graph.render.svg  # noqa: F401
name, full = sys.argv[1], sys.argv[2] == "1"
t = time.perf_counter()
g = bg.trace(name, cache=True)
assert g.meta["cache"] == "hit", "the parent fills the trace cache first"
v = g.view(depth=99, unfold=True) if full else g.view()
svg = v.to_svg()
print(time.perf_counter() - t, len(v.data().nodes), len(svg))
"""


def fresh_process(name: str, full: bool) -> tuple[float, int, int]:
    """Ours from the trace cache in a new process: cold layout cache, cold dot workers."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    out = subprocess.run([sys.executable, "-c", _FRESH, name, "1" if full else "0"], capture_output=True,
                         text=True, check=True, env=env)
    secs, nodes, size = out.stdout.split()[-3:]
    return float(secs), int(nodes), int(size)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--models", nargs="+", default=["bert-base-uncased", "bert-large-uncased"])
    args = ap.parse_args()

    import torch
    from torchview import draw_graph

    import bertviz_graph as bg
    from bertviz_graph.sources.build import build_model
    from bertviz_graph.sources.resolve import resolve

    def ours(name: str, full: bool, cache: bool = False) -> tuple[float, int, int]:
        t = time.perf_counter()
        g = bg.trace(name, cache=cache)
        v = g.view(depth=99, unfold=True) if full else g.view()
        svg = v.to_svg()
        return time.perf_counter() - t, len(v.data().nodes), len(svg)

    def theirs(name: str, full: bool) -> tuple[float, int, int]:
        t = time.perf_counter()
        src = build_model(resolve(name))
        ids = torch.zeros(1, 16, dtype=torch.long, device="meta")
        graph = draw_graph(src.model, input_data=[ids], device="meta", depth=6 if full else 3,
                           expand_nested=full, hide_inner_tensors=True)
        svg = graph.visual_graph.pipe(format="svg").decode()
        nodes = svg.count('class="node"')
        return time.perf_counter() - t, nodes, len(svg)

    bg.trace("bert-tiny", cache=False)  # warm imports for both sides
    for name in args.models:
        for full in (False, True):
            rows = {"ours": [], "torchview": [], "warm": [], "fresh": []}
            info = {}
            bg.trace(name)  # fill the trace cache for the "warm" column (a second export of the same model)
            for _ in range(args.runs):  # interleaved: noise hits both alike
                for label, fn in (("ours", ours), ("torchview", theirs),
                                  ("warm", lambda n, f: ours(n, f, cache=True)), ("fresh", fresh_process)):
                    secs, nodes, size = fn(name, full)
                    rows[label].append(secs)
                    info[label] = (nodes, size)
            m_o, m_t = statistics.median(rows["ours"]), statistics.median(rows["torchview"])
            m_w, m_f = statistics.median(rows["warm"]), statistics.median(rows["fresh"])
            what = "fully open" if full else "module depth"
            print(f"{name:20s} {what:13s} ours cold {m_o:6.2f} s ({info['ours'][0]} nodes, "
                  f"{info['ours'][1] // 1024} KB)   torchview {m_t:6.2f} s ({info['torchview'][0]} nodes, "
                  f"{info['torchview'][1] // 1024} KB)   ratio {m_o / m_t:.2f}\n"
                  f"{'':34s} ours trace cached, warm process {m_w:5.2f} s (ratio {m_w / m_t:.2f})   "
                  f"trace cached, fresh process, cold layout cache {m_f:5.2f} s (ratio {m_f / m_t:.2f})")


if __name__ == "__main__":
    main()
