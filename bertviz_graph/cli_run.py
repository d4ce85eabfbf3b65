"""bertviz-graph run | attention: a real sentence through the model (the CLI side of ``bertviz_graph.run``)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bertviz_graph import format as fmt
from bertviz_graph.errors import UserError
from bertviz_graph.io import check_writable


def _input_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--text", help="the sentence to run")
    p.add_argument("--pair", help="a second sentence (models with token types get them)")
    p.add_argument("--ids", type=int, nargs="+", help="token ids instead of text (models without a tokenizer)")
    p.add_argument("--tokenizer", type=Path, metavar="DIR",
                   help="an .onnx model's tokenizer: a folder with tokenizer.json or vocab.txt "
                        "(default: the one beside the file)")


def add_commands(sub, model_args) -> None:
    p = sub.add_parser("run", help="run a sentence through the real model: tokens, activations, predictions")
    model_args(p)
    _input_args(p)
    p.add_argument("--other", help="a second sentence: cosine similarity of the two embeddings")
    p.add_argument("--top", type=int, default=5, help="top-k predictions / features per token (default 5)")
    p.add_argument("--op", action="append", default=[], metavar="NODE",
                   help="also print this op's activation statistics (repeatable), e.g. linear_4")
    p.add_argument("--token", type=int, default=None, help="focus --op statistics on this token index")

    p = sub.add_parser("attention", help="attention maps of a sentence as .svg .png or .html")
    model_args(p, head_flag="--task-head")  # --head is the attention head here
    _input_args(p)
    p.add_argument("-o", "--output", type=Path, required=True, help="file to write (.svg .png .html)")
    p.add_argument("--layer", type=int, default=None, help="one layer's map (default: the layers × heads grid)")
    p.add_argument("--head", dest="att_head", type=int, default=None, help="one attention head of --layer")
    p.add_argument("--threshold", type=float, default=0.0, help="hide attention below this weight")


def _run(args: argparse.Namespace, trace):
    if args.text is None and not args.ids:
        raise UserError("nothing to run", "pass --text \"a sentence\" (or --ids 101 2023 102)")
    if args.text is not None and not args.text.strip() and not args.ids:
        raise UserError("the text is empty", "type a sentence, e.g. --text \"The cat sat on the mat.\"")
    graph = trace(args)
    from bertviz_graph.run.route import (  # lazy: start-up (networkx, numpy)  # PyTorch or onnxruntime
        capture,
        load_runnable,
    )

    if args.tokenizer is not None and graph.meta.get("origin") != "onnx":
        raise UserError("--tokenizer is for .onnx files", "a model folder's own tokenizer is used; drop --tokenizer")
    run = load_runnable(graph, tokenizer=args.tokenizer)
    tokens = run.tokenize(args.text, args.pair, args.ids)
    acts = capture(graph, run, tokens, any_length=False)  # one sentence: a fixed-length program is cheaper
    for note in acts.notes:
        print(f"note: {note}", file=sys.stderr)
    return graph, run, acts


def cmd_run(args: argparse.Namespace, trace) -> None:
    from bertviz_graph.presenters.activations import (  # lazy: start-up (networkx, numpy, plotly)
        residual_norms,
        tensor_view,
    )
    from bertviz_graph.run.predict import predict  # lazy: start-up (numpy)

    graph, run, acts = _run(args, trace)
    print(f"{run.name}: {len(acts.tokens)} tokens, {len(acts.values)} op outputs captured in {fmt.seconds(acts.seconds)}"
          f" ({acts.stored_bytes / 2**20:.1f} MB kept); weights: {run.weights}")
    print("tokens: " + " ".join(f"{i}:{t}" for i, t in enumerate(acts.labels)))
    if acts.unmatched:
        print(f"note: {len(acts.unmatched)} ops of the graph had no partner in the run: "
              f"{', '.join(acts.unmatched[:5])}", file=sys.stderr)
    labels, norms = residual_norms(graph, acts)
    print("residual stream norm per token:")
    for lab, row in zip(labels, norms):
        print(f"  {lab:>10}  " + " ".join(f"{v:6.2f}" for v in row))
    for op in args.op:
        tv = tensor_view(acts, op, args.token, top_k=args.top)
        print(f"{op}: " + ", ".join(f"{k} {v}" for k, v in tv.stats))
        rows = range(len(tv.top)) if args.token is None else [args.token]
        for t in rows:
            print(f"  {tv.tokens[t] if tv.token_axis else ''}: top " + ", ".join(f"[{i}] {v:.3g}" for i, v in tv.top[t]))
    p = predict(run, acts, k=args.top, other=args.other)
    if p.kind == "mlm":
        for r in p.rows:
            print(f"[MASK] at {r['position']}: " + ", ".join(f"{t} {pr:.3f}" for t, pr in zip(r["tokens"], r["probs"])))
    elif p.kind == "cls":
        for r in p.rows:
            print(f"{r['label']}: logit {r['logit']:.4f}, p {r['prob']:.3f}")
    elif p.kind == "embedding":
        e = p.embedding
        print(f"sentence embedding ({p.pooling} pooling, normalised, {e.size} dims): "
              + " ".join(f"{v:.3f}" for v in e[:8]) + " ...")
        for r in p.rows:
            print(f"cosine with {r['other']!r}: {r['cosine']:.4f}")
    if p.note:
        print(f"note: {p.note}", file=sys.stderr)


def cmd_attention(args: argparse.Namespace, trace) -> None:
    from bertviz_graph.presenters.attention import write_attention  # lazy: start-up (networkx, numpy, plotly)
    from bertviz_graph.run.attention import attention_maps  # lazy: start-up (networkx, numpy)

    if args.output.suffix.lower() not in (".svg", ".png", ".html"):
        raise UserError(f"unknown format '{args.output.suffix or args.output.name}'", "use .svg, .png or .html")
    check_writable(args.output)
    graph, _run_, acts = _run(args, trace)
    am = attention_maps(graph, acts)
    write_attention(am, args.output, args.layer, args.att_head, args.threshold)
    what = "grid" if args.layer is None else f"layer {args.layer}" + (
        f" head {args.att_head}" if args.att_head is not None else " (mean of heads)")
    print(f"wrote {args.output} ({what}, {am.layers} layers × {am.heads} heads, {len(acts.tokens)} tokens)",
          file=sys.stderr)
