"""Shared pytest fixtures.

Browser tests use pytest-playwright's ``page`` fixture, driven against the system
Chromium (Debian package ``chromium``, installed by scripts/setup.sh); Playwright's own
browser download is never used. Mark such tests ``@pytest.mark.browser``.

Fixtures defined here:

* ``browser_type_launch_args`` (session) -- overrides pytest-playwright's to launch
  /usr/bin/chromium headless with sandbox/GPU/network extras switched off.
* ``console_errors`` -- a list that collects the page's console errors and uncaught
  exceptions; assert it is empty at the end of a test.
* ``serve_dir`` -- factory: ``serve_dir(path)`` serves a directory over HTTP on
  127.0.0.1 (random free port) for the rest of the test and returns its base URL.
* ``serve_dash`` -- factory: ``serve_dash(app)`` runs a ``dash.Dash`` app in a thread
  (a werkzeug server, shut down cleanly) on 127.0.0.1 and a free port, and returns its
  URL; stopped after the test. Use it with ``page`` -- not ``dash_duo``, which needs
  Selenium and a chromedriver that this project does not install.
"""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-quic",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict) -> dict:
    """Launch the system chromium, headless, instead of a Playwright-downloaded browser."""
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.fail("system chromium not found (run `bash scripts/setup.sh --test`)")
    return {
        **browser_type_launch_args,
        "executable_path": chromium,
        "headless": True,
        "args": [*browser_type_launch_args.get("args", []), *CHROMIUM_ARGS],
    }


@pytest.fixture
def console_errors(page) -> list[str]:
    """Collect console messages of type ``error`` and uncaught page errors.

    Request this fixture *before* navigating (it attaches listeners to ``page``), then
    ``assert console_errors == []`` at the end of the test. A 404 for /favicon.ico
    (requested by the browser itself) is ignored.
    """
    errors: list[str] = []

    def on_console(msg) -> None:
        if msg.type == "error":
            loc = msg.location or {}
            if str(loc.get("url", "")).endswith("/favicon.ico"):
                return  # the browser asks for it on its own; a missing one is no page error
            where = f" ({loc.get('url', '')}:{loc.get('lineNumber', '')})" if loc.get("url") else ""
            errors.append(f"console.error: {msg.text}{where}")

    def on_pageerror(exc) -> None:
        errors.append(f"pageerror: {exc}")

    page.on("console", on_console)
    page.on("pageerror", on_pageerror)
    return errors


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args) -> None:
        pass


@pytest.fixture
def serve_dir() -> Iterator[Callable[[str | os.PathLike], str]]:
    """Factory fixture: ``base_url = serve_dir(path)`` serves ``path`` on 127.0.0.1.

    The server runs in a daemon thread on a free port and is shut down after the test.
    """
    servers: list[http.server.ThreadingHTTPServer] = []

    def start(directory: str | os.PathLike) -> str:
        handler = functools.partial(_QuietHandler, directory=str(Path(directory)))
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        host, port = server.server_address[:2]
        return f"http://{host}:{port}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def serve_dash() -> Iterator[Callable[..., str]]:
    """Factory fixture: ``url = serve_dash(app)`` serves a Dash app for this test on 127.0.0.1.

    A werkzeug server in a thread, stopped with ``shutdown()`` after the test. (dash[testing]'s
    ``dash_thread_server`` stops by raising SystemExit in every thread the test started, which also kills
    the layout's long-lived dot worker threads and hangs the next layout.) Returns ``http://127.0.0.1:PORT``.
    """
    from werkzeug.serving import make_server

    servers = []

    def start(app) -> str:
        srv = make_server("127.0.0.1", 0, app.server, threaded=True)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        servers.append(srv)
        return f"http://127.0.0.1:{srv.server_port}"

    yield start
    for srv in servers:
        srv.shutdown()
        srv.server_close()


@pytest.fixture(scope="session", autouse=True)
def _isolated_trace_cache(tmp_path_factory) -> Iterator[None]:
    """Every test session traces into its own cache folder: tests see real tracing, and a user's
    cache is never read or written. Subprocesses (CLI, notebooks, JupyterLab) inherit it."""
    old = os.environ.get("BERTVIZ_GRAPH_CACHE")
    os.environ["BERTVIZ_GRAPH_CACHE"] = str(tmp_path_factory.mktemp("trace-cache"))
    yield
    if old is None:
        os.environ.pop("BERTVIZ_GRAPH_CACHE", None)
    else:
        os.environ["BERTVIZ_GRAPH_CACHE"] = old


@pytest.fixture(scope="session")
def tiny_graph():
    """bert-tiny (2 layers, hidden 128) masked LM, traced once per session."""
    import bertviz_graph as bg

    return bg.trace("bert-tiny")


@pytest.fixture(scope="session")
def base_graph():
    """The real bert-base-uncased structure (BertForMaskedLM, meta device), traced once per session."""
    import bertviz_graph as bg

    return bg.trace("bert-base-uncased")
