"""bertviz-graph: info | trace | export | serve.

Bad input prints a short message naming the problem and the fix, and exits with status 2
(no traceback unless --debug). Output files are written atomically, so a failure leaves nothing behind.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import bertviz_graph as bg
from bertviz_graph import __version__
from bertviz_graph import format as fmt
from bertviz_graph.cli_analyze import COMMANDS as ANALYZE_COMMANDS
from bertviz_graph.cli_analyze import add_parsers as add_analyze
from bertviz_graph.cli_prune import COMMANDS as PRUNE_COMMANDS
from bertviz_graph.cli_prune import add_parsers
from bertviz_graph.cli_train import add_commands as add_train
from bertviz_graph.cli_train import cmd_train
from bertviz_graph.errors import UserError
from bertviz_graph.sources.heads import HEADS

EXPORT_FORMATS = (".svg", ".pdf", ".png", ".dot", ".json", ".graphml", ".html")


def _model_args(p: argparse.ArgumentParser, optional: bool = False, head_flag: str = "--head") -> None:
    p.add_argument("model", nargs="?" if optional else None, default=None,
                   help="preset name (bert-base-uncased), local model folder, Hub id in the local cache, "
                        "or a graph saved by 'trace'")
    p.add_argument(head_flag, dest="head", default="auto", choices=["auto", *HEADS],
                   help="task head to build (default: from the config's architectures, is_decoder and "
                        "model type: masked LM for encoders, causal LM for decoders, seq2seq LM for "
                        "encoder-decoders)")
    p.add_argument("--attention", default="eager", choices=["eager", "sdpa"],
                   help="eager shows QKᵀ, softmax, ·V as ops; sdpa the fused kernel")
    p.add_argument("--ops", default="aten", choices=["aten", "primitive"],
                   help="primitive splits LayerNorm, GELU and softmax into elementary math")
    p.add_argument("--seq-len", type=int, default=16, help="token positions in the example input (1 or more)")
    p.add_argument("--no-cache", action="store_true", help="trace again even if a cached graph exists")


def _version_text() -> str:
    """Versions from package metadata: no torch import, so --version answers at once."""
    from importlib.metadata import PackageNotFoundError, version


    parts = [f"bertviz-graph {__version__}"]
    for dist in ("torch", "transformers"):
        try:
            parts.append(f"{dist} {version(dist)}")
        except PackageNotFoundError:
            parts.append(f"{dist} not installed")
    return ", ".join(parts)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bertviz-graph", description=__doc__.splitlines()[0])
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    parser.add_argument("--version", action="version", version=_version_text(),
                        help="print the versions of bertviz-graph, torch and transformers")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("info", help="print the hierarchy with parameters, FLOPs and shapes")
    _model_args(p)
    p.add_argument("--depth", type=int, default=None,
                   help="tree levels to print (default: deep enough to reach the Linear layers)")
    p.add_argument("--chart", type=Path, help="also write a parameter/FLOPs sunburst (.html, .svg, .png)")

    p = sub.add_parser("trace", help="trace a model and save its graph as JSON")
    _model_args(p)
    p.add_argument("-o", "--output", type=Path, required=True, help="graph file to write (.json)")

    p = sub.add_parser("export", help="draw a view as .svg .pdf .png .dot .json or .graphml")
    _model_args(p)
    p.add_argument("-o", "--output", type=Path, required=True, help="file to write")
    p.add_argument("--depth", type=int, default=None, help="open groups down to this depth")
    p.add_argument("--open", action="append", default=[], metavar="PATH",
                   help="open this group (repeatable), e.g. bert.encoder.layer.0.attention")
    p.add_argument("--unfold", action="store_true", help="draw all layers instead of one ×N stack")
    p.add_argument("--direction", default="TB", choices=["TB", "LR"])
    p.add_argument("--no-params", action="store_true", help="hide weight and bias nodes")
    # .html: the offline explorer (bertviz_graph.html)
    p.add_argument("--text", help=".html: a sentence run into the file (edge tensors, predictions)")
    p.add_argument("--pair", help=".html: a second sentence (models with token types get them)")
    p.add_argument("--weights", default=None, choices=["full", "preview", "none"],
                   help=".html: weight heatmaps stored (default preview: 64×64 cells each)")

    p = sub.add_parser("serve", help="explore the model in the web app")
    _model_args(p, optional=True)
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1, loopback only)")
    p.add_argument("--port", type=int, default=8050)
    p.add_argument("--open-browser", action="store_true", help="open the app in the default browser")
    p.add_argument("--workers", type=int, default=None, metavar="N",
                   help="serve with gunicorn in N processes sharing the trace cache (default: one process, "
                        "Dash's own server)")
    p.add_argument("--token", default=None,
                   help="the token a non-loopback server requires (default: a random one, printed)")
    p.add_argument("--models", default=None, metavar="DIR",
                   help="tabs may open model folders under DIR only (besides presets and packaged models)")
    p.add_argument("--allow-any-path", action="store_true",
                   help="on a non-loopback host, let tabs open any path the server can read (unsafe)")

    add_parsers(sub, _model_args)
    from bertviz_graph.cli_run import add_commands  # lazy: start-up (bertviz_graph.cli loads this module)

    add_commands(sub, _model_args)

    add_train(sub, _model_args)


    add_analyze(sub)
    return parser


def _progress():
    """A spinner on stderr while tracing (rich), silent when stderr is not a terminal."""
    from rich.console import Console

    console = Console(stderr=True)
    status = console.status("tracing ...", spinner="dots") if console.is_terminal else None

    def say(msg: str) -> None:
        if status is not None:  # piped output stays clean: only errors and notes go to stderr
            status.update(msg)

    return status, say


def _trace(args: argparse.Namespace, shows_weights: bool = False):
    """Trace what the arguments name. ``shows_weights``: the command's output shows weight values (the
    app does; a tree, a graph file or a diagram does not), so the note that they are random matters."""
    from bertviz_graph.sources.resolve import (  # lazy: start-up (bertviz_graph.cli loads this module)
        RANDOM_WEIGHTS_NOTE,  # lazy: start-up (bertviz_graph.cli loads this module)
    )

    if args.seq_len < 1:
        raise UserError(f"--seq-len {args.seq_len} is below 1", "use --seq-len 1 or more (default 16)")

    status, say = _progress()
    if status is not None:
        status.start()
    try:
        graph = bg.trace(args.model, head=args.head, attention=args.attention, ops=args.ops,
                         seq_len=args.seq_len, cache=not args.no_cache, progress=say,
                         replay_program=False)  # info/trace/export run no sentence here (the app records it)
    finally:
        if status is not None:
            status.stop()
    for note in graph.meta.get("notes", []):
        if note == RANDOM_WEIGHTS_NOTE and not shows_weights:
            continue
        print(f"note: {note}", file=sys.stderr)
    for warning in graph.meta.get("warnings", []):
        print(f"warning: {warning}", file=sys.stderr)
    if graph.meta.get("tracer_note"):
        print(f"note: {graph.meta['tracer_note']} (used the dispatch tracer)", file=sys.stderr)
    return graph


def cmd_info(args: argparse.Namespace) -> None:
    from bertviz_graph.render.tree_text import linear_depth, print_tree  # lazy: start-up (networkx)

    if args.depth is not None and args.depth < 0:
        raise UserError(f"depth {args.depth} is below 0", "use --depth 0 or more")
    if args.chart is not None:
        from bertviz_graph.io import check_writable  # lazy: start-up (bertviz_graph.cli loads this module)

        check_writable(args.chart)
        if args.chart.suffix.lower() not in (".html", ".svg", ".png"):
            raise UserError(f"unknown chart format '{args.chart.suffix}'", "use .html, .svg or .png")
    graph = _trace(args)
    print_tree(graph.hierarchy, max_depth=linear_depth(graph.hierarchy) if args.depth is None else args.depth)
    if args.chart is not None:
        from bertviz_graph.neurons.charts import write_chart  # lazy: start-up (networkx)

        write_chart(graph.hierarchy, args.chart)
        print(f"wrote {args.chart}", file=sys.stderr)


def cmd_trace(args: argparse.Namespace) -> None:
    from bertviz_graph.io import check_writable  # lazy: start-up (bertviz_graph.cli loads this module)

    check_writable(args.output)
    if args.output.suffix.lower() != ".json":
        raise UserError(f"graph files are JSON; '{args.output.name}' does not end in .json",
                        "use -o graph.json (pictures come from 'bertviz-graph export')")
    graph = _trace(args)
    graph.save(args.output)
    print(f"wrote {args.output} ({len(graph.ops())} ops, {fmt.count(graph.param_count())} parameters)", file=sys.stderr)


def cmd_export(args: argparse.Namespace) -> None:
    from bertviz_graph.io import check_writable  # lazy: start-up (bertviz_graph.cli loads this module)

    suffix = args.output.suffix.lower()
    if suffix not in EXPORT_FORMATS:
        raise UserError(f"unknown format '{suffix or args.output.name}'", f"use one of {' '.join(EXPORT_FORMATS)}")
    if args.depth is not None and args.depth < 0:
        raise UserError(f"depth {args.depth} is below 0", "use --depth 0 or more")
    html_only = [f"--{k}" for k in ("text", "pair", "weights") if getattr(args, k) is not None]
    if html_only and suffix != ".html":
        raise UserError(f"{' '.join(html_only)} only apply to the offline explorer", "write -o name.html")
    check_writable(args.output)
    graph = _trace(args, shows_weights=suffix == ".html")
    view = graph.view(depth=args.depth, open=args.open, unfold=args.unfold, show_params=not args.no_params,
                      direction=args.direction)
    if suffix == ".html":
        graph.save_html(args.output, text=args.text, pair=args.pair, weights=args.weights or "preview", view=view)
        size = args.output.stat().st_size
        print(f"wrote {args.output} ({fmt.nbytes(size)}, opens offline in a browser)", file=sys.stderr)
        return
    view.save(args.output)
    d = view.data()
    print(f"wrote {args.output} ({len(d.nodes)} nodes, {len(d.edges)} edges)", file=sys.stderr)


def cmd_serve(args: argparse.Namespace) -> None:
    import gc

    # Start-up (imports, the cached trace, the app) allocates what lives as long as the server: the cyclic
    # collector would walk that growing heap again and again for nothing (~20 % of the start-up's CPU).
    # app.serve / run_gunicorn freeze what start-up made and switch it back on before serving; the finally
    # switches it back on when start-up stops early (bad input) in a process that goes on (tests, notebooks).
    gc.disable()
    try:
        _serve(args)
    finally:
        gc.enable()


def _serve(args: argparse.Namespace) -> None:
    import gc
    import ipaddress

    try:
        loopback = ipaddress.ip_address(args.host).is_loopback
    except ValueError:
        loopback = args.host == "localhost"
    if not loopback:
        print(f"warning: binding to {args.host} makes the app reachable from other machines", file=sys.stderr)
    if args.workers is not None and not 1 <= args.workers <= 64:
        raise UserError(f"--workers {args.workers} is out of range", "use --workers 1 to 64")
    if args.model is None:  # the trained MiniLM (packaged) when installed, with an example sentence run
        from bertviz_graph.sources.packaged import (  # lazy: start-up (bertviz_graph.cli loads this module)
            default_serve_model,  # lazy: start-up (bertviz_graph.cli loads this module)
        )

        args.model = default_serve_model()
    if args.workers is None:  # one process: the port listens first, the app is built behind it (app/startup.py)
        from bertviz_graph.app.startup import (  # lazy: start-up (bertviz_graph.cli loads this module)
            serve_one,  # lazy: start-up (bertviz_graph.cli loads this module)
        )

        serve_one(args, lambda: _trace(args, shows_weights=True), loopback)
        return
    _check_port(args.host, args.port)  # before tracing: a busy port is bad input, not a crash later
    graph = _trace(args, shows_weights=True)
    from bertviz_graph.app.serve_options import (  # lazy: start-up (bertviz_graph.cli loads this module)
        serve_options,  # lazy: start-up (bertviz_graph.cli loads this module)
    )

    opts = serve_options(args.host, args.token, args.models, args.allow_any_path, loopback)
    from bertviz_graph.app import make_app  # lazy: start-up (bertviz_graph.cli loads this module)
    from bertviz_graph.app.wsgi import run_gunicorn  # lazy: start-up (bertviz_graph.cli loads this module)

    options = {"head": args.head, "attention": args.attention, "ops": args.ops, "seq_len": args.seq_len}

    from bertviz_graph.app.serve_options import secure  # lazy: start-up (bertviz_graph.cli loads this module)
    from bertviz_graph.pruning.job import (  # lazy: start-up (bertviz_graph.cli loads this module)
        ENV_ROOT,
        make_root,
    )

    os.environ[ENV_ROOT] = str(make_root())  # one jobs folder every worker reads; removed when this stops
    gc.freeze()  # the workers (forks) start from this heap: no collection walks it again
    gc.enable()

    def make_server():  # in each worker: a trace-cache hit, not a new trace
        return secure(make_app(bg.trace(args.model, **options), policy=opts["policy"]).server, opts["token"])

    tok = f"?token={opts['token']}" if opts["token"] else ""
    print(f"bertviz-graph: {graph.name} at http://{args.host}:{args.port}/{tok}  ({args.workers} gunicorn "
          "workers; Ctrl+C to stop)", flush=True)
    run_gunicorn(make_server, args.host, args.port, args.workers)


def _check_port(host: str, port: int) -> None:
    import socket

    try:
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host, port))
    except OSError as e:
        raise UserError(f"cannot serve on {host}:{port}: {e.strerror or e}",
                        "stop the program using that port, or pass --port N") from e


def cmd_run(args: argparse.Namespace) -> None:
    from bertviz_graph.cli_run import cmd_run as run  # lazy: start-up (bertviz_graph.cli loads this module)

    run(args, _trace)


def cmd_attention(args: argparse.Namespace) -> None:
    from bertviz_graph.cli_run import (  # lazy: start-up (bertviz_graph.cli loads this module)
        cmd_attention as attention,  # lazy: start-up (bertviz_graph.cli loads this module)
    )

    attention(args, _trace)


COMMANDS = {"info": cmd_info, "trace": cmd_trace, "export": cmd_export, "serve": cmd_serve, "run": cmd_run,
            "attention": cmd_attention}


def _more_commands() -> None:

    COMMANDS.update(PRUNE_COMMANDS)

    COMMANDS["train"] = lambda args: cmd_train(args, _trace)


    COMMANDS.update(ANALYZE_COMMANDS)


_more_commands()


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        COMMANDS[args.command](args)
    except UserError as e:
        if args.debug:
            raise
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except Exception as e:  # a bug of ours: say so briefly, keep the traceback behind --debug
        if args.debug:
            raise
        print(f"internal error: {type(e).__name__}: {e}\n  run again with --debug for the traceback",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
