"""The app under gunicorn: ``bertviz-graph serve --workers N``.

The CLI traces the model once before starting (so the disk trace cache holds it), then gunicorn forks N
worker processes; each worker builds its app from that cache (``bertviz_graph.trace`` is a cache hit, about
0.05 s for bert-base) instead of tracing again, so N processes share one trace. The app is not preloaded in
the master: layout runs ``dot`` subprocesses and background threads, which must not be shared across a fork.
Workers are gthread workers (several requests at once per process); the view state lives in each browser,
so any worker can answer any request.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def run_gunicorn(make_server: Callable[[], Any], host: str, port: int, workers: int, threads: int = 4,
                 timeout: int = 120) -> None:
    """Serve the Flask app that ``make_server()`` returns, built in every worker, until stopped."""
    from gunicorn.app.base import BaseApplication

    bind = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"

    class _App(BaseApplication):
        def load_config(self) -> None:
            for key, value in {"bind": bind, "workers": workers, "worker_class": "gthread", "threads": threads,
                               "timeout": timeout, "graceful_timeout": 10, "preload_app": False,
                               "accesslog": None, "errorlog": "-", "loglevel": "warning"}.items():
                self.cfg.set(key, value)

        def load(self) -> Any:
            return make_server()

    _App().run()
