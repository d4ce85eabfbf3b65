"""Layout without Python for the offline HTML explorer: Graphviz compiled to WebAssembly in the browser vs the
pictures stored in the file (what ``bertviz_graph.html`` does). Measures the WASM route's parts on the very dot
inputs our layout sends (every container of every view the HTML file stores for all-MiniLM-L6-v2):

- size the WASM build adds to the file (``@hpcc-js/wasm-graphviz``, raw and deflate-compressed);
- time to lay out those containers: Debian's ``dot`` (our persistent ``DotRunner``) vs the WASM build in
  headless Chromium, interleaved, medians over ``--runs``;
- how different the pictures are: per container, the largest move of a node centre (points) between
  Debian's dot and the WASM dot, and the share of containers laid out identically.

Run once: ``cd benchmarks/web && npm ci``; then ``python benchmarks/html_layout_routes.py [--runs 3]``.
The stored-pictures route is timed by ``benchmarks/html_bench.py`` (file size, open a group).
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import tempfile
import time
import zlib
from pathlib import Path

import bertviz_graph as bg
from bertviz_graph.html.payload import state_views
from bertviz_graph.layout.cache import LayoutCache
from bertviz_graph.layout.compose import layout_view
from bertviz_graph.layout.dot_runner import DotRunner

DIST = Path(__file__).parent / "web" / "node_modules" / "@hpcc-js" / "wasm-graphviz" / "dist" / "index.js"


class Recorder(DotRunner):
    """A DotRunner that keeps every source it lays out."""

    def __init__(self) -> None:
        super().__init__()
        self.sources: list[str] = []

    def layout(self, sources: list[str]):
        self.sources += sources
        return super().layout(sources)


def centres(result: dict) -> dict[str, tuple[float, float]]:
    out = {}
    for o in result.get("objects", []):
        if "pos" in o and "name" in o:
            x, y = (float(v) for v in o["pos"].split(",")[:2])
            out[o["name"]] = (x, y)
    return out


def module_script() -> str:
    """The ES module with its export list turned into a global (inlined in a file:// page: no import)."""
    code = DIST.read_text(encoding="utf-8")
    m = re.search(r"export\s*\{([^}]*)\}\s*;?\s*(//.*)?$", code.strip())
    pairs = [p.strip().split(" as ") for p in m.group(1).split(",")]
    glob = ",".join(f"{b}:{a}" for a, b in pairs)
    return code[: m.start()] + f"window.__hpcc={{{glob}}};"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    graph = bg.trace("all-MiniLM-L6-v2")
    rec = Recorder()
    cache = LayoutCache()
    for v in state_views(graph.hierarchy, graph.view()).values():
        layout_view(v.data(), direction=v.direction, cache=cache, runner=rec)
    sources = rec.sources
    raw = DIST.read_bytes()
    print(f"{len(sources)} containers laid out by dot for the {len(state_views(graph.hierarchy, graph.view()))} "
          f"stored views of all-MiniLM-L6-v2")
    print(f"WASM build: {len(raw) / 1e6:.2f} MB raw, {len(zlib.compress(raw, 9)) / 1e6:.2f} MB deflated "
          f"(+ base64 in the page: {len(zlib.compress(raw, 9)) * 4 / 3 / 1e6:.2f} MB)")

    from playwright.sync_api import sync_playwright

    tmp = Path(tempfile.mkdtemp(prefix="bvg-wasm-"))
    page_file = tmp / "wasm.html"
    page_file.write_text("<!DOCTYPE html><html><body><script>" + module_script() + "</script></body></html>")
    runner = DotRunner()
    debian, wasm, load = [], [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                    args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page()
        for _ in range(args.runs):  # interleaved
            t = time.perf_counter()
            ours = runner.layout(sources)
            debian.append(time.perf_counter() - t)
            page.goto(page_file.as_uri())
            got = page.evaluate(
                """async (sources) => {
                    const t0 = performance.now();
                    const gv = await window.__hpcc.Graphviz.load();
                    const t1 = performance.now();
                    const out = sources.map((s) => gv.layout(s, "json0", "dot"));
                    return {load: t1 - t0, run: performance.now() - t1, out, version: gv.version()};
                }""",
                sources,
            )
            wasm.append(got["run"] / 1000)
            load.append(got["load"] / 1000)
        browser.close()
    runner.close()
    moves, same = [], 0
    for a, b in zip(ours, got["out"], strict=True):
        ca, cb = centres(a), centres(json.loads(b))
        d = max((max(abs(ca[k][0] - cb[k][0]), abs(ca[k][1] - cb[k][1])) for k in ca if k in cb), default=0.0)
        moves.append(d)
        same += d < 0.01 and set(ca) == set(cb)
    med = statistics.median
    print(f"layout of all containers: Debian dot {med(debian):.2f} s, WASM dot {got['version']} {med(wasm):.2f} s "
          f"(+ {med(load):.2f} s to instantiate), ratio WASM/Debian {med(wasm) / med(debian):.2f}×")
    print(f"pictures: {same}/{len(sources)} containers identical; node centre moves: median {med(moves):.1f} pt, "
          f"max {max(moves):.1f} pt")


if __name__ == "__main__":
    main()
