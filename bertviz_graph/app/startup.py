"""``bertviz-graph serve`` in one process: the port listens first, the app is built behind it.

Order (2 cores: the server and the browser work at the same time):
1. bind the port (a busy port is bad input, before any work) and serve a gate (``Gate``) from a thread;
2. the recorded index page and its scripts (app/early_page.py), when the model's page is on disk: the gate
   answers them now, so the browser paints the first picture and parses Dash's scripts while we build;
3. the trace (a cache hit, or a first trace), the app; the gate then hands every request to it, and the page
   is recorded again if it changed.
A first trace stays in this process: tracing in a child process while this one imported the app was measured
slower on a loaded 2-core machine (the child repeats Python's start and ~1 s of imports; benchmarks/RESULTS.md,
2026-12-08).
Every other request (``/_dash-layout``, callbacks, ``?model=``) waits in the gate until step 4 is done.
"""

from __future__ import annotations

import argparse
import gc
import logging
import sys
import threading
from collections.abc import Callable
from typing import Any

from bertviz_graph.app import make_app
from bertviz_graph.app.early_page import Page, cache_root, load_page, model_stamp, page_key, record_page
from bertviz_graph.app.serve_options import secure, serve_options
from bertviz_graph.errors import UserError
from bertviz_graph.sources.resolve import resolve

log = logging.getLogger(__name__)


class Gate:
    """A WSGI app: the recorded page's answers while the app is built, then the app for everything."""

    def __init__(self) -> None:
        self.page: Page | None = None
        self.app: Any = None
        self._ready = threading.Event()

    def open(self, app: Any) -> None:
        self.app = app
        self._ready.set()

    def early(self, environ: dict[str, Any]) -> tuple[bytes, str, str] | None:
        """What the recorded page answers for this request (a plain GET of ``/`` or a recorded file)."""
        page = self.page
        if page is None or environ.get("REQUEST_METHOD") != "GET":
            return None
        path, query = environ.get("PATH_INFO", ""), environ.get("QUERY_STRING", "")
        if path == "/":  # a tab asking for another model (?model=...) waits for the app
            return (page.index.encode(), "text/html; charset=utf-8", "no-cache") if not query else None
        return page.body(path + ("?" + query if query else ""))

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Any:
        if self.app is None:
            answer = self.early(environ)
            if answer is not None:
                body, ctype, cache_control = answer
                start_response("200 OK", [("Content-Type", ctype), ("Content-Length", str(len(body))),
                                          ("Cache-Control", cache_control)])
                return [body]
            self._ready.wait()
        return self.app(environ, start_response)


def listen(host: str, port: int, gate: Gate) -> Any:
    """A threaded werkzeug server on ``host:port`` serving ``gate`` from a daemon thread."""
    import socket

    from werkzeug.serving import make_server

    # bound here, not by werkzeug: its own bind exits the process on a busy port (SystemExit, its message)
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
    except OSError as e:
        sock.close()
        raise UserError(f"cannot serve on {host}:{port}: {e.strerror or e}",
                        "stop the program using that port, or pass --port N") from e
    server = make_server(host, sock.getsockname()[1], gate, threaded=True, fd=sock.fileno())
    sock.close()  # the server holds its own duplicate
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    threading.Thread(target=server.serve_forever, name="bvg-serve", daemon=True).start()
    return server


def _source(args: argparse.Namespace) -> Any:
    """The resolved model (config, head) when it is one the trace cache can hold, else None."""

    if str(args.model).lower().endswith((".json", ".onnx")):
        return None
    try:
        source = resolve(args.model, head=args.head)
    except UserError:
        return None  # the trace below says why
    return source if source.config is not None else None


def serve_one(args: argparse.Namespace, trace: Callable[[], Any], loopback: bool) -> None:
    """Serve ``args.model`` on ``args.host:args.port`` until stopped (see the module's docstring).
    ``trace()`` returns the graph as the CLI traces it (notes and warnings printed)."""

    gate = Gate()
    server = listen(args.host, args.port, gate)
    try:
        options = {"attention": args.attention, "ops": args.ops, "seq_len": args.seq_len, "direction": "TB"}
        stamp = None if args.no_cache or str(args.model).lower().endswith((".json", ".onnx")) else \
            model_stamp(str(args.model))
        key = page_key(stamp, args.head, options) if stamp is not None else None
        if key is not None and loopback and args.token is None:  # a token-protected page is never answered early
            gate.page = load_page(cache_root(), key)
        opts = serve_options(args.host, args.token, args.models, args.allow_any_path, loopback)
        graph = trace()
        app = _build(graph, opts)
        args.token = opts["token"]
        gate.open(app.server)
        source = _source(args) if key is not None and args.token is None and loopback else None
        if source is not None:  # resolving is cheap now: the trace listed the family's heads
            _record(app, key, source, args, gate.page)
        _announce(args, graph)  # after the record: once this line is out, the next start can use it
        gc.freeze()  # what start-up made lives as long as the server: out of the collector's way
        gc.enable()
        threading.Event().wait()  # until Ctrl+C (KeyboardInterrupt) or a signal ends the process
    finally:
        server.shutdown()
        server.server_close()


def _build(graph: Any, opts: dict[str, Any]) -> Any:

    app = make_app(graph, policy=opts["policy"])
    secure(app.server, opts["token"])
    return app


def _announce(args: argparse.Namespace, graph: Any) -> None:
    import webbrowser

    shown = "localhost" if args.host in ("127.0.0.1", "::1") else args.host
    url = f"http://{shown}:{args.port}/" + (f"?token={args.token}" if args.token else "")
    print(f"bertviz-graph: {graph.name} at {url}  (Ctrl+C to stop)", flush=True)
    if args.open_browser:
        threading.Timer(1.0, webbrowser.open, args=(url,)).start()


def _trace_file(source: Any, args: argparse.Namespace) -> Any:
    """Where the trace cache holds (or will hold) this model's trace."""
    from bertviz_graph.tracer import cache_key  # lazy: start-up (networkx)

    return cache_root() / f"{cache_key(source, args.attention, args.ops, args.seq_len)}.json"


def _record(app: Any, key: str, source: Any, args: argparse.Namespace, page: Page | None) -> None:
    """Record the app's index page for the next start (when it differs from the recorded one)."""
    trace_file = _trace_file(source, args)
    try:
        if trace_file.is_file():
            record_page(app.server, cache_root(), key, trace_file, page)
    except (OSError, UserError) as e:  # a read-only cache folder must not stop the server
        print(f"warning: the start-up page was not recorded ({e})", file=sys.stderr)
