"""Whole-process start-up on a cached trace: `serve` to the first graph painted, `info`, `export`.

    PYTHONPATH=$PWD python benchmarks/serve_bench.py [--rounds 3] [--model bert-base-uncased]

Ours is the command as shipped (torch and transformers imported only when a sentence, a prune or a weight
needs them; the example sentence run after the first graph). The baseline is the same command in a process
that imports torch and transformers' model mappings first, as every start did before (the import the
cached path no longer pays). Rounds interleave ours and the baseline; medians.
- serve: wall time from starting the command to the graph canvas' first draw in headless Chromium (the
  browser is started beforehand and not counted; the page is requested as soon as the port answers).
- info / export (-o x.svg): wall time of the whole process.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

PRE = "import torch, transformers.models.auto.modeling_auto; "
# as an installed package runs: bytecode cached (a shell with PYTHONDONTWRITEBYTECODE recompiles every start)
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def _cmd(args: list[str], baseline: bool) -> list[str]:
    if baseline:
        return [sys.executable, "-c", PRE + "import sys; from bertviz_graph.cli import main; sys.exit(main())", *args]
    return [sys.executable, "-m", "bertviz_graph", *args]


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, proc) -> None:
    """Until the server accepts a connection: a cheap socket poll. (Retrying page.goto on a refused port
    made the browser render an error page every 20 ms, a core of its own taken from the 2-core machine's
    server start being timed.)"""
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError("serve exited") from None
            time.sleep(0.01)


def server_cpu(pid: int) -> float:
    """User + system CPU seconds of a process (/proc): a figure the machine's load moves far less than wall."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def time_serve(browser, model: str, baseline: bool, env: dict | None = None, cwd: str | None = None,
               cpu: list[float] | None = None, shown: list[float] | None = None) -> float:
    """Seconds from starting ``serve`` to the canvas' first draw (the server's CPU seconds until then are
    appended to ``cpu``; the seconds until the picture was first on screen, as the index page's plain SVG
    or the canvas, whichever came first, to ``shown``). ``cwd``: the checkout to run (``-m`` puts the
    working folder first on sys.path, ahead of PYTHONPATH: another checkout needs both)."""
    port = _port()
    url = f"http://127.0.0.1:{port}/"
    t0, epoch0 = time.perf_counter(), time.time()
    proc = subprocess.Popen(_cmd(["serve", model, "--port", str(port)], baseline), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env=ENV if env is None else env, cwd=cwd)
    try:
        page = browser.new_page(viewport={"width": 1440, "height": 900})
        wait_port(port, proc)  # the port answers when the server is up: wait for that state
        page.goto(url, wait_until="commit", timeout=600000)  # a first-ever start listens before it has traced
        page.wait_for_function("window.bvgGraph && window.bvgGraph.firstDraw !== null", timeout=120000,
                               polling="raf")
        took = time.perf_counter() - t0
        if cpu is not None:
            cpu.append(server_cpu(proc.pid))
        if shown is not None:  # the browser's clock (ms since its time origin) -> s since the command started
            origin, view, draw = page.evaluate("[performance.timeOrigin, window.bvgFirstView || null, "
                                               "window.bvgGraph.firstDraw]")
            shown.append((origin + min(x for x in (view, draw) if x is not None)) / 1000 - epoch0)
        page.close()
        return took
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def time_cmd(args: list[str], baseline: bool) -> float:
    t0 = time.perf_counter()
    subprocess.run(_cmd(args, baseline), check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--model", default="bert-base-uncased")
    a = ap.parse_args()
    from playwright.sync_api import sync_playwright

    out = os.path.join(tempfile.mkdtemp(), "x.svg")
    time_cmd(["info", a.model], False)  # fills the trace cache (and the heads memo)
    res: dict[tuple[str, bool], list[float]] = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium"), headless=True,
                                    args=["--no-sandbox", "--disable-gpu"])
        try:
            for r in range(a.rounds):
                for base in ((False, True) if r % 2 == 0 else (True, False)):
                    res.setdefault(("serve", base), []).append(time_serve(browser, a.model, base))
                    res.setdefault(("info", base), []).append(time_cmd(["info", a.model], base))
                    res.setdefault(("export", base), []).append(time_cmd(["export", a.model, "-o", out], base))
        finally:
            browser.close()
    med = statistics.median
    print(f"{a.model}, cached trace, {a.rounds} rounds, load average {os.getloadavg()[0]:.1f}")
    for what in ("serve", "info", "export"):
        ours, base = med(res[(what, False)]), med(res[(what, True)])
        print(f"{what:7} ours {ours:6.2f} s   torch+transformers imported first {base:6.2f} s   ratio {ours / base:.2f}"
              f"   (ours all: {', '.join(f'{x:.2f}' for x in res[(what, False)])})")


if __name__ == "__main__":
    main()
