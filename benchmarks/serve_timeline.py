"""Where `serve`'s start-up time goes: one timeline from the command's start to the first graph painted.

    PYTHONPATH=$PWD python benchmarks/serve_timeline.py [--model bert-base-uncased] [--runs 1]

Prints, in ms from the command's start: the server's "at http://..." line (app built, about to listen), the
first answer on the port, every request the page makes (sent -> finished, bytes), and the canvas' first
draw. The trace cache must hold the model (run `bertviz-graph info MODEL` once first), unless --cold.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serve_bench import ENV, _port, server_cpu, wait_port  # noqa: E402 - benchmarks/ is not a package


def timeline(browser, model: str, env: dict | None = None, cwd: str | None = None) -> list[tuple[float, str]]:
    port = _port()
    url = f"http://127.0.0.1:{port}/"
    events: list[tuple[float, str]] = []
    t0, epoch0 = time.perf_counter(), time.time()

    def mark(what: str) -> None:
        events.append(((time.perf_counter() - t0) * 1000, what))

    proc = subprocess.Popen([sys.executable, "-m", "bertviz_graph", "serve", model, "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env or ENV, cwd=cwd)
    threading.Thread(target=lambda: [mark("server: " + line.strip()[:60]) for line in proc.stdout],
                     daemon=True).start()
    try:
        page = browser.new_page(viewport={"width": 1440, "height": 900})
        wait_port(port, proc)
        mark("port: accepts connections")
        page.goto(url, wait_until="commit", timeout=600000)  # a first-ever start listens before it has traced
        mark("page: first answer on the port (commit)")
        page.wait_for_function("window.bvgGraph && window.bvgGraph.firstDraw !== null", timeout=120000,
                               polling="raf")
        mark(f"page: canvas first draw (server CPU so far {server_cpu(proc.pid):.2f} s)")
        # the browser's own timeline (epoch ms, no round trip per request that would slow the page)
        origin, entries, draw, view = page.evaluate("""() => [performance.timeOrigin,
            performance.getEntriesByType('resource').concat(performance.getEntriesByType('navigation'))
              .map((e) => [e.startTime, e.responseStart, e.responseEnd, e.name, e.transferSize]),
            window.bvgGraph.firstDraw, window.bvgFirstView || null]""")
        base = origin / 1000 - epoch0  # page's time origin, s after the command started
        for start, first, end, name, size in entries:
            short = name.split(str(port), 1)[-1].split("?")[0][:64]
            events.append((base * 1000 + start, f"{short:64s} first byte {base * 1000 + first:6.0f}  "
                                                f"done {base * 1000 + end:6.0f}  {size:,} B"))
        events.append((base * 1000 + draw, "canvas: first draw (browser clock)"))
        if view is not None:
            events.append((base * 1000 + view, "index page: plain SVG picture painted (browser clock)"))
        page.close()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    return sorted(events)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="bert-base-uncased")
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--checkout", help="run this checkout (an exported main, say) instead of this one")
    ap.add_argument("--cold", action="store_true", help="an empty trace cache every run (a first-ever start)")
    a = ap.parse_args()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium"), headless=True,
                                    args=["--no-sandbox", "--disable-gpu"])
        try:
            for _ in range(a.runs):
                print(f"{a.model}, load average {os.getloadavg()[0]:.1f}")
                env = {**ENV, "BERTVIZ_GRAPH_CACHE": tempfile.mkdtemp()} if a.cold else dict(ENV)
                if a.checkout:
                    env["PYTHONPATH"] = a.checkout
                for ms, what in timeline(browser, a.model, env, a.checkout):
                    print(f"  {ms:7.0f} ms  {what}")
        finally:
            browser.close()


if __name__ == "__main__":
    main()
