"""bertviz-graph analyze heads|ffn|rank: is all of BERT needed? Measured on a trained model.

    bertviz-graph analyze heads all-MiniLM-L6-v2 -o heads.html        # JS distances, clusters, MDS map
    bertviz-graph analyze ffn all-MiniLM-L6-v2 -o ffn.csv             # FFN/attention ablations: CKA, Lee ρ
    bertviz-graph analyze rank all-MiniLM-L6-v2 -o rank.svg           # spectra, effective and stable ranks
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bertviz_graph.errors import UserError
from bertviz_graph.format import to_csv

FORMATS = (".html", ".svg", ".csv")


def add_parsers(sub) -> None:
    p = sub.add_parser("analyze", help="is all of BERT needed? redundant heads, the FFN's role, weight ranks")
    p.add_argument("what", choices=["heads", "ffn", "rank"])
    p.add_argument("model", help="a model folder, all-MiniLM-L6-v2, or a preset (random weights)")
    p.add_argument("--sentences", type=Path, help="text file, one sentence per line (default: 48 built-in)")
    p.add_argument("--no-task", action="store_true", help="ffn: skip the Lee corpus task metric (CKA only)")
    p.add_argument("--threshold", type=float, default=None, help="heads: average JS divergence (nats) under "
                   "which heads count as near-duplicates (default 0.05)")
    p.add_argument("-o", "--output", type=Path, required=True, help="report.html, .svg or .csv")


def cmd_analyze(args: argparse.Namespace) -> None:
    from bertviz_graph.io import (  # lazy: start-up (bertviz_graph.cli loads this module)
        check_writable,
        write_atomic,
    )
    from bertviz_graph.presenters import analysis as P  # lazy: start-up (networkx, numpy)

    out: Path = args.output
    if out.suffix.lower() not in FORMATS:
        raise UserError(f"unknown report format '{out.suffix}'", "use -o report.html, report.svg or report.csv")
    check_writable(out)
    say = (lambda m: print(m, file=sys.stderr)) if sys.stderr.isatty() else None
    if args.what == "heads":
        from bertviz_graph.analyze.heads import NEAR_DUPLICATE, head_report  # lazy: start-up (numpy, torch)

        r = head_report(args.model, args.sentences, threshold=args.threshold or NEAR_DUPLICATE)
        rows, lines, fig = r.rows(), P.summary_heads(r), lambda: P.heads_figure(r)
    elif args.what == "ffn":
        from bertviz_graph.analyze.ablation import ablation_study  # lazy: start-up (numpy, torch)

        s = ablation_study(args.model, args.sentences, task=None if args.no_task else "lee", progress=say)
        rows, lines, fig = s.rows, P.summary_ablation(s), lambda: P.ablation_figure(s)
    else:
        from bertviz_graph.analyze.ranks import spectra  # lazy: start-up (numpy, torch)

        sp = spectra(args.model)
        rows, lines, fig = sp.rows(), P.summary_spectra(sp), lambda: P.spectra_figure(sp)
    suffix = out.suffix.lower()
    if suffix == ".csv":
        write_atomic(out, to_csv(rows))
    elif suffix == ".svg":
        write_atomic(out, fig().to_image(format="svg"))
    else:
        write_atomic(out, P.report_html(f"analyze {args.what}: {args.model}", lines, fig()))
    for line in lines:
        print(line)
    print(f"wrote {out}")


COMMANDS = {"analyze": cmd_analyze}
