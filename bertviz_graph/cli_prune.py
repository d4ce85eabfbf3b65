"""bertviz-graph prune | diff: the pruning what-if and the side-by-side comparison of two models.

    bertviz-graph prune MODEL --method magnitude --amount 0.3 -o pruned/     # a save_pretrained folder
    bertviz-graph prune MODEL --method magnitude --sweep 0:0.9:0.1 -o curve.html   # or .csv
    bertviz-graph diff A B -o diff.html                                       # or .svg
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

import bertviz_graph as bg
from bertviz_graph import format as fmt
from bertviz_graph.errors import UserError

CURVE_FORMATS = (".html", ".csv", ".svg", ".png")
DIFF_FORMATS = (".html", ".svg")


def add_parsers(sub, model_args: Callable[[argparse.ArgumentParser], None]) -> None:
    from bertviz_graph.pruning.methods import METHODS  # lazy: start-up (bertviz_graph.cli loads this module)

    p = sub.add_parser("prune", help="prune a trained model (weights, heads, neurons) and measure the effect")
    p.add_argument("model", help="a trained model: local save_pretrained folder, all-MiniLM-L6-v2, ...")
    p.add_argument("--head", default="auto", choices=["auto", "base", "mlm", "cls", "qa"])
    p.add_argument("--method", default="magnitude", help=f"one of: {', '.join(METHODS)} "
                   "(for --sweep, a comma-separated list)")
    p.add_argument("--amount", type=float, default=0.3, help="fraction to prune, in [0, 1) (default 0.3)")
    p.add_argument("--sweep", metavar="START:STOP:STEP", help="prune at each amount (e.g. 0:0.9:0.1) and "
                   "write the curve (-o .html .csv .svg .png), each method beside its random baseline")
    p.add_argument("--sentences", type=Path, help="text file, one sentence per line, to score heads and "
                   "neurons and measure agreement on (default: a built-in set of 48)")
    p.add_argument("--task", choices=["lee", "probe"], help="also measure a task metric: lee = "
                   "human-similarity Spearman on the Lee corpus (gensim's test data); probe = held-out "
                   "accuracy of a logistic-regression probe on the sentence embeddings (--labelled)")
    p.add_argument("--labelled", type=Path, help="for --task probe: one 'LABEL sentence' per line "
                   "(default: gensim's 200 Pang & Lee sentences, else 48 built-in opinions)")
    p.add_argument("--seed", type=int, default=0, help="for the random methods")
    p.add_argument("-o", "--output", type=Path, required=True, help="folder to write (or the curve file)")
    p.add_argument("--force", action="store_true", help="replace the output folder if it exists")

    p = sub.add_parser("diff", help="compare two models side by side, aligned by structure and role")
    p.add_argument("model_a")
    p.add_argument("model_b")
    p.add_argument("--head", default="auto", choices=["auto", "base", "mlm", "cls", "qa"])
    p.add_argument("--attention", default="eager", choices=["eager", "sdpa"])
    p.add_argument("--seq-len", type=int, default=16)
    p.add_argument("--no-cache", action="store_true")
    p.add_argument("--depth", type=int, default=None, help="open both views down to this depth")
    p.add_argument("-o", "--output", type=Path, required=True, help="diff.html (views, table, heatmaps) "
                   "or diff.svg (both views with the differences marked)")


def _quiet_transformers() -> None:
    from transformers.utils import logging

    logging.disable_progress_bar()  # "Loading weights" bars would bury the one-line messages


def cmd_prune(args: argparse.Namespace) -> None:
    from bertviz_graph.pruning.methods import (  # lazy: start-up (bertviz_graph.cli loads this module)
        check_method,  # lazy: start-up (bertviz_graph.cli loads this module)
    )

    methods = [m.strip() for m in args.method.split(",") if m.strip()]
    if args.sweep is None:
        if len(methods) != 1:
            raise UserError("give one --method to prune (a list is for --sweep)", "e.g. --method magnitude")
        check_method(methods[0], args.amount)
        from bertviz_graph.pruning.save import check_output_folder  # lazy: start-up (numpy, torch)

        out = check_output_folder(args.output, args.force)  # before any work
        _quiet_transformers()
        import bertviz_graph.pruning as P  # lazy: start-up (bertviz_graph.cli loads this module)

        p = P.prune(args.model, methods[0], args.amount, sentences=args.sentences, head=args.head,
                    seed=args.seed)
        p.save(out, force=args.force)
        m = p.metrics(task=args.task, labelled=args.labelled)
        print(f"wrote {out} ({_summary(p.record)})", file=sys.stderr)
        print("agreement with the unpruned model: " + ", ".join(f"{k} {v:.4f}" for k, v in m.items()))
        return
    from bertviz_graph.io import check_writable  # lazy: start-up (bertviz_graph.cli loads this module)
    from bertviz_graph.pruning.sweep import parse_range, sweep, write_curve  # lazy: start-up (numpy, torch)

    amounts = parse_range(args.sweep)
    for m in methods:
        check_method(m, 0.0)
    if args.output.suffix.lower() not in CURVE_FORMATS:
        raise UserError(f"unknown curve format '{args.output.suffix or args.output.name}'",
                        f"use -o curve{' or curve'.join(CURVE_FORMATS)}")
    check_writable(args.output)
    _quiet_transformers()
    import bertviz_graph.pruning as P  # lazy: start-up (bertviz_graph.cli loads this module)

    run = P.load_trained(args.model, head=args.head)
    from bertviz_graph.pruning.data import batches  # lazy: start-up (numpy)
    from bertviz_graph.pruning.holdout import split  # lazy: start-up (bertviz_graph.cli loads this module)

    texts, _bats = P.sentence_batches(run.tokenizer, args.sentences)
    sets = split(list(texts), str(args.sentences) if args.sentences else "the 48 built-in sentences")
    print(f"{sets.scoring_name}; {sets.measuring_name}", file=sys.stderr)
    rows = sweep(run.model, run.tokenizer, methods, amounts, batches(run.tokenizer, sets.scoring),
                 task=args.task, seed=args.seed, labelled=args.labelled,
                 measure=batches(run.tokenizer, sets.measuring),
                 progress=lambda s: print(s, file=sys.stderr))
    write_curve(rows, args.output, title=f"Pruning what-if: {run.name} (held out)")
    if args.task in ("lee", "probe"):
        from bertviz_graph.presenters.pruning import held_out_sentences  # lazy: start-up (networkx, numpy)

        for line in held_out_sentences(rows, "lee_spearman" if args.task == "lee" else "probe_accuracy"):
            print(line)
    print(f"wrote {args.output} ({len(rows)} points)", file=sys.stderr)


def _summary(rec) -> str:
    if rec.heads:
        n = sum(len(v) for v in rec.heads.values())
        return f"{rec.method}: {n} of {rec.n_layers * rec.n_heads} heads pruned"
    if rec.neurons:
        n = sum(len(v) for v in rec.neurons.values())
        return f"{rec.method}: {n} of {rec.n_layers * rec.ffn} feed-forward neurons pruned"
    from bertviz_graph.pruning.arch import layer_of  # lazy: start-up (torch)

    inside = [v for k, v in rec.sparsity.items() if layer_of(k) != k]  # the layers' matrices, not embeddings
    z = sum(v[0] for v in inside)
    t = sum(v[1] for v in inside)
    return f"{rec.method}: {fmt.count(z)} of {fmt.count(t)} weights of the layers' matrices are zero ({fmt.percent(z / max(t, 1), 1)})"


def cmd_diff(args: argparse.Namespace) -> None:
    from bertviz_graph.comparison import diff_graphs  # lazy: start-up (networkx, numpy)
    from bertviz_graph.io import check_writable  # lazy: start-up (bertviz_graph.cli loads this module)
    from bertviz_graph.render.diff_export import write_diff  # lazy: start-up (networkx, numpy)

    suffix = args.output.suffix.lower()
    if suffix not in DIFF_FORMATS:
        raise UserError(f"unknown diff format '{suffix or args.output.name}'", "use -o diff.html or diff.svg")
    check_writable(args.output)
    graphs = [bg.trace(m, head=args.head, attention=args.attention, seq_len=args.seq_len,
                       cache=not args.no_cache) for m in (args.model_a, args.model_b)]
    d = diff_graphs(*graphs)
    write_diff(d, args.output, depth=args.depth)
    for line in d.summary_lines():
        print(line)
    print(f"wrote {args.output}", file=sys.stderr)


COMMANDS = {"prune": cmd_prune, "diff": cmd_diff}
