"""bertviz-graph train: one real training step (or N on a copy) — the CLI side of ``bertviz_graph.train``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from bertviz_graph.errors import UserError


def add_commands(sub, model_args) -> None:
    p = sub.add_parser("train", help="one real training step: trainable counts, gradients, the update")
    model_args(p)
    p.add_argument("--text", help="the sentence")
    p.add_argument("--pair", help="the second sentence (similarity)")
    p.add_argument("--target", type=float, default=None, help="target cosine similarity in [-1, 1] (default 1)")
    p.add_argument("--objective", choices=["similarity", "mlm", "classify"], default=None,
                   help="default: mlm for an MLM head, classify for a classifier, else similarity")
    p.add_argument("--label", type=int, default=None, help="the class (classify)")
    p.add_argument("--mask", default=None, help="the word to mask (mlm; default one content word)")
    p.add_argument("--trainable", default="all", help="all | last:N | bias | layernorm | head | lora:R")
    p.add_argument("--lr", type=float, default=1e-3, help="learning rate (default 1e-3)")
    p.add_argument("--optimizer", choices=["sgd", "adamw"], default="sgd", help="for the update shown")
    p.add_argument("--dropout", action="store_true", help="dropout on (the step is then random)")
    p.add_argument("--steps", type=int, default=1, help="N steps on a copy; with --save, write the trained copy")
    p.add_argument("--data", type=Path, default=None,
                   help="labelled lines for --steps: SCORE<TAB>sentence<TAB>sentence or LABEL<TAB>sentence; "
                        "'builtin': 4 scored pairs shipped with bertviz-graph")
    p.add_argument("--save", type=Path, default=None, help="write the trained copy as a save_pretrained folder")
    p.add_argument("--force", action="store_true", help="replace an existing --save folder")
    p.add_argument("--edge", default=None, metavar="MODULE:OUT:IN",
                   help="write out the textbook rule on one edge, e.g. encoder.layer.0.attention.self.query:3:5")
    p.add_argument("-o", "--output", type=Path, default=None, help="write the step as .json .html .svg or .png")
    p.add_argument("--graph", type=Path, default=None, metavar="FILE.svg",
                   help="also draw the graph coloured by the gradient (.svg)")
    p.add_argument("--color", choices=["grad", "update", "backward"], default="grad",
                   help="--graph colours: ‖∂L/∂W‖, ‖ΔW‖/‖W‖ or ‖∂L/∂x‖ on the edges (default grad)")
    p.add_argument("--depth", type=int, default=None, help="--graph: open groups down to this depth")


def _edge_arg(s: str) -> tuple[str, int, int]:
    try:
        module, out, inp = s.rsplit(":", 2)
        return module, int(out), int(inp)
    except ValueError:
        raise UserError(f"--edge {s!r} is not MODULE:OUT:IN", "e.g. --edge encoder.layer.0.attention.self.query:3:5") \
            from None


def cmd_train(args: argparse.Namespace, trace) -> None:
    from bertviz_graph.io import (  # lazy: start-up (bertviz_graph.cli loads this module)
        check_writable,
        write_atomic,
    )
    from bertviz_graph.presenters.training import (  # lazy: start-up (networkx, numpy)
        layer_strip,
        step_json,
        strip_figure,
    )
    from bertviz_graph.run.load import load_runnable  # lazy: start-up (bertviz_graph.cli loads this module)
    from bertviz_graph.train.data import read_examples  # lazy: start-up (bertviz_graph.cli loads this module)
    from bertviz_graph.train.step import train_step  # lazy: start-up (numpy)
    from bertviz_graph.train.update import (  # lazy: start-up (bertviz_graph.cli loads this module)
        save_trained,
        train_steps,
    )

    if not args.text and args.data is None:
        raise UserError("nothing to train on", 'pass --text "a sentence" (and --pair "another" for similarity)')
    suffix = args.output.suffix.lower() if args.output else ""
    if args.output is not None:
        if suffix not in (".json", ".html", ".svg", ".png"):
            raise UserError(f"unknown output format {args.output.suffix!r}", "use .json, .html, .svg or .png")
        check_writable(args.output)
    if args.graph is not None:
        if args.graph.suffix.lower() != ".svg":
            raise UserError(f"--graph {args.graph} must be an .svg file", "e.g. --graph grad.svg")
        check_writable(args.graph)
    if args.save is not None:
        from bertviz_graph.pruning.save import check_output_folder  # lazy: start-up (numpy, torch)

        check_output_folder(args.save, args.force)
    edge = _edge_arg(args.edge) if args.edge else None
    graph = trace(args)
    run = load_runnable(graph)
    from bertviz_graph.train.data import (  # lazy: start-up (bertviz_graph.cli loads this module)
        default_examples,  # lazy: start-up (bertviz_graph.cli loads this module)
    )

    ex = [] if args.data is None else default_examples() if str(args.data) == "builtin" else read_examples(args.data)
    text = args.text or ex[0].get("text")
    pair = args.pair if args.text else ex[0].get("pair")
    target = args.target if args.text else ex[0].get("target")  # the step shown is the data's first example
    label = args.label if args.text else ex[0].get("label")
    step = train_step(graph, run, text, pair, objective=args.objective, target=target, label=label,
                      mask=args.mask, lr=args.lr, trainable=args.trainable, dropout=args.dropout)
    for note in step.notes:
        print(f"note: {note}", file=sys.stderr)
    print(f"{run.name}: {step.objective} loss {step.loss:.6g} — {step.describe}")
    print(f"trainable: {step.counts.sentence()} [{args.trainable}]; dropout {'ON' if step.dropout else 'off'}")
    print(f"gradients: {len(step.grads)} parameter tensors, {sum(map(len, step.act_grads))} op outputs "
          f"({step.grad_bytes / 2**20:.1f} MB) in {step.seconds:.2f} s")
    for r in layer_strip(step, args.optimizer):
        state = "frozen" if r["frozen"] else f"‖∂L/∂W‖ {r['grad_norm']:.4g}  ‖ΔW‖/‖W‖ {r['rel_update']:.3g}"
        print(f"  {r['group']:>12}  {state}")
    rule = step.edge(*edge, args.optimizer) if edge else None
    if rule is not None:
        print("\n".join(rule.lines()))
    if args.graph is not None:
        _graph_picture(graph, step, args)
    losses = None
    if args.steps > 1 or args.save is not None:
        examples = ex or [{"text": args.text, "pair": args.pair, "target": args.target, "label": args.label,
                           "mask": args.mask}]

        def progress(k: int, n: int, loss: float) -> None:
            print(f"step {k}/{n}: loss {loss:.6g}", file=sys.stderr)

        model, losses = train_steps(run, examples, args.steps, args.lr, args.trainable, args.optimizer,
                                    args.objective, progress)
        if args.save is not None:
            save_trained(model, args.save, run, args.force)
            print(f"wrote {args.save} (the model after {args.steps} steps; compare: bertviz-graph diff "
                  f"{run.folder or run.name} {args.save})")
    if args.output is None:
        return
    if suffix == ".json":
        write_atomic(args.output, json.dumps(step_json(step, args.optimizer, losses, rule), indent=1))
    else:
        from bertviz_graph.neurons.charts import figure_image  # lazy: start-up (networkx)

        fig = strip_figure(step, args.optimizer, losses)
        fig.update_layout(width=720)
        data = fig.to_html(include_plotlyjs=True, full_html=True) if suffix == ".html" \
            else figure_image(fig, suffix[1:])
        write_atomic(args.output, data)
    print(f"wrote {args.output}")


def _graph_picture(graph, step, args: argparse.Namespace) -> None:
    """The graph view with every box coloured by its weights' gradient (grey frozen, white weightless)."""
    from bertviz_graph.api import make_view  # lazy: start-up (PIL, cachetools, networkx, numpy, plotly)
    from bertviz_graph.io import write_atomic  # lazy: start-up (bertviz_graph.cli loads this module)
    from bertviz_graph.layout import layout_of  # lazy: start-up (PIL, cachetools)
    from bertviz_graph.presenters.training_graph import picture  # lazy: start-up (networkx, numpy)
    from bertviz_graph.render.svg import to_svg  # lazy: start-up (PIL, cachetools)

    view = make_view(graph, args.depth if args.depth is not None else 3)
    lv = layout_of(view)
    pic = picture(step, view, lv, args.color, args.optimizer)  # what the app's and the widget's colour-by draw
    svg = to_svg(lv, legend=False, title=True, fills=pic["fills"], strokes=pic["strokes"], overlay=pic["overlay"])
    write_atomic(args.graph, svg)
    print(f"wrote {args.graph}")


COMMANDS = {"train": cmd_train}
