"""heads-redundant on the packaged all-MiniLM-L6-v2 (trained), held out: heads scored on the odd built-in
sentences (24), the Lee human-similarity ρ (bootstrap 95% interval over the 1,225 document pairs) measured on
documents no scoring saw. Four head orders side by side at the same amounts:

- redundant (now): closest Jensen-Shannon pair first, the less important (Michel) head of the pair goes;
- redundant (before): closest pair first, the head closer on average to all others goes (importance ignored);
- heads-importance (lowest Michel importance first) and heads-random (seed 0).

Prints the first heads each order removes and the Lee ρ per amount; deterministic (no timing).

    PYTHONPATH=$PWD /work/venv/bin/python benchmarks/redundant_bench.py [--amounts 0,0.1,0.2,0.3,0.5]
"""

from __future__ import annotations

import argparse


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--amounts", default="0,0.1,0.2,0.3,0.5")
    args = ap.parse_args()
    amounts = [float(a) for a in args.amounts.split(",")]
    import torch

    from bertviz_graph.pruning.api import load_trained
    from bertviz_graph.pruning.core import apply_choice, head_scores
    from bertviz_graph.pruning.data import BUILTIN_SENTENCES, batches
    from bertviz_graph.pruning.heads import pick_lowest
    from bertviz_graph.pruning.intervals import lee_with_interval
    from bertviz_graph.pruning.redundant import redundancy_scores

    torch.set_num_threads(1)
    run = load_trained("all-MiniLM-L6-v2")
    score = batches(run.tokenizer, BUILTIN_SENTENCES[0::2])
    orders = {"redundant (now)": head_scores(run.model, "heads-redundant", score, run.tokenizer)[0],
              "redundant (before)": redundancy_scores(run.model, score, use_importance=False),
              "heads-importance": head_scores(run.model, "heads-importance", score, run.tokenizer)[0],
              "heads-random": head_scores(run.model, "heads-random", score, run.tokenizer)[0]}
    lee = lee_with_interval(run.tokenizer)
    backup = {k: v.detach().clone() for k, v in run.model.state_dict().items()}
    heads = orders["heads-random"].shape[1]
    for name, s in orders.items():
        first = sorted(((float(v), i) for i, v in enumerate(s.reshape(-1))))[:4]
        picked = pick_lowest(s, amounts[1] if len(amounts) > 1 else 0.1)
        print(f"{name}: first removed " + ", ".join(f"L{i // heads}.H{i % heads}" for _, i in first)
              + f"; at {amounts[1]:.0%}: {sum(len(v) for v in picked.values())} heads")
        cells = []
        for a in amounts:
            run.model.load_state_dict(backup)
            if a > 0:
                apply_choice(run.model, "heads-importance", a, s)  # any heads method: zero the lowest scores
            m = lee(run.model)
            cells.append(f"{a:.0%} {m['lee_spearman']:.3f} [{m['lee_spearman_lo']:.3f}, {m['lee_spearman_hi']:.3f}]")
        print("   Lee ρ: " + " · ".join(cells))
    run.model.load_state_dict(backup)


if __name__ == "__main__":
    main()
