"""What the app's model registry counts against the process's real memory (issue 19, item 5).

    python benchmarks/registry_memory.py [--rounds 2] [--budget-mb 1024]

One process, the app built on bert-tiny; every round opens each model of load_bench (bert-tiny, bert-mini,
bert-small, all-MiniLM-L6-v2) through the registry, runs load_bench's four sentences (a new variant each
round), draws the default view and reads six weight tensors. After each model it prints the resident memory
(/proc VmRSS), the bytes the registry counts for all models (``Registry.held``, re-read from each model's
caches, runs and loaded model) and how many models it dropped. The first round is the warm-up (imports, first
loads); the growth over the later rounds is what a long-running server adds.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

MODELS = ["bert-tiny", "bert-mini", "bert-small", "all-MiniLM-L6-v2"]
SENTENCES = ["The cat sat on the mat.", "Paris is the capital of France.", "A dog barked at the mailman.",
             "Stocks fell sharply on Monday."]


def rss_mb() -> float:
    with open(f"/proc/{os.getpid()}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS")) / 1024


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--budget-mb", type=int, default=None, help="BERTVIZ_GRAPH_MODELS_MB for this run")
    args = ap.parse_args()
    if args.budget_mb:
        os.environ["BERTVIZ_GRAPH_MODELS_MB"] = str(args.budget_mb)
    import bertviz_graph as bg
    from bertviz_graph.app import make_app
    from bertviz_graph.app.registry import registry_of

    reg = registry_of(make_app(bg.trace(MODELS[0])))
    print(f"budget {reg.max_bytes / 2**20:.0f} MB; start: RSS {rss_mb():.0f} MB", flush=True)
    ends = []
    for r in range(args.rounds):
        for m in MODELS:
            C = reg.model_for(m)
            for s in SENTENCES:
                C.run_session.run(s + " Again." * r)
            C.render(C.default_state)
            for name in [d["name"] for _n, d in C.graph.g.nodes(data=True) if d["kind"] == "param"][:6]:
                C.weights.get(name)
            gc.collect()
            reg.trim()
            print(f"round {r + 1} {m:18s} RSS {rss_mb():6.0f} MB   registry counts {reg.held / 2**20:5.0f} MB "
                  f"({len(reg)} models besides the default, {reg.evicted} dropped so far)", flush=True)
        ends.append(rss_mb())
    for r in range(1, len(ends)):
        print(f"round {r + 1} vs round 1 (after warm-up): RSS {ends[0]:.0f} -> {ends[r]:.0f} MB "
              f"({100 * (ends[r] - ends[0]) / ends[0]:+.1f}%)", flush=True)


if __name__ == "__main__":
    main()
