"""Our SVG export against torchview's draw_graph + SVG render, bert-base and bert-large, in one run.

Both start from the model name and end with SVG text, so both include tracing. torchview runs the model
forward on the meta device (structure only, like us) and renders with graphviz; "module depth" is
torchview depth=3 (one box per BertLayer) against our default overview, "fully open" is torchview at
depth 6 with expand_nested (every module as a cluster, every function) against ours with everything open
and unfolded. Medians of --runs runs; our trace cache is off for "ours" so nothing is reused between runs;
"from the trace cache" is a second export of the same model (the graph traced once, as the CLI does).

    pip install torchview==0.2.7   # benchmark-only dependency
    python benchmarks/export_vs_torchview.py [--runs 3]
"""

from __future__ import annotations

import argparse
import statistics
import time


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
            rows = {"ours": [], "torchview": [], "warm": []}
            info = {}
            bg.trace(name)  # fill the trace cache for the "warm" column (a second export of the same model)
            for _ in range(args.runs):  # interleaved: noise hits both alike
                for label, fn in (("ours", ours), ("torchview", theirs),
                                  ("warm", lambda n, f: ours(n, f, cache=True))):
                    secs, nodes, size = fn(name, full)
                    rows[label].append(secs)
                    info[label] = (nodes, size)
            m_o, m_t = statistics.median(rows["ours"]), statistics.median(rows["torchview"])
            m_w = statistics.median(rows["warm"])
            what = "fully open" if full else "module depth"
            print(f"{name:20s} {what:13s} ours {m_o:6.2f} s ({info['ours'][0]} nodes, {info['ours'][1] // 1024} KB)"
                  f"   torchview {m_t:6.2f} s ({info['torchview'][0]} nodes, {info['torchview'][1] // 1024} KB)"
                  f"   ratio ours/torchview {m_o / m_t:.2f}   ours from the trace cache {m_w:5.2f} s "
                  f"(ratio {m_w / m_t:.2f})")


if __name__ == "__main__":
    main()
