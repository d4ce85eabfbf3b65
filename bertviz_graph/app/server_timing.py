"""A ``Server-Timing`` header on every Dash callback answer: how long the server took, and for which outputs.

Browsers expose it with the request's own timing (``PerformanceResourceTiming.serverTiming``, DevTools'
Timing tab), so a tap can be split into server time, transfer and the browser's part without a proxy
(benchmarks/tap_bench.py). The time is measured around the request in this process only: nothing per tab is
kept, and the description names the callback's outputs (never a value a user sent).
"""

from __future__ import annotations

import time
from typing import Any

HEADER = "Server-Timing"


def install_server_timing(server: Any) -> None:
    """Time each ``/_dash-update-component`` request on the Flask ``server``."""
    from flask import g, request

    @server.before_request
    def _start() -> None:
        if request.path.endswith("_dash-update-component"):
            g.bv_t0 = time.perf_counter()

    @server.after_request
    def _timing(response: Any) -> Any:
        t0 = g.get("bv_t0")
        if t0 is not None:
            ms = (time.perf_counter() - t0) * 1000
            # a refused request (too large: 413) is answered as refused: its body is never read here
            body = request.get_json(silent=True, cache=True) if response.status_code < 400 else None
            out = str(body.get("output", "")) if isinstance(body, dict) else ""
            desc = "".join(ch for ch in out[:80] if ch.isalnum() or ch in "-_.@")  # a token-safe quoted string
            response.headers[HEADER] = f'cb;dur={ms:.1f};desc="{desc}"'
        return response
