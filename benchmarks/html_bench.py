"""The offline HTML explorer (bertviz_graph.html): file size, first paint and opening a group, in headless Chromium.

Run: ``python benchmarks/html_bench.py [--runs 5]``. Two files, built once each (build time printed):

- ``all-MiniLM-L6-v2`` (the packaged trained checkpoint) with a sentence, weights as previews (goal ≤ 10 MB);
- ``bert-base-uncased`` structure (meta device, random weights as previews; goal ≤ 5 MB).

Per file, interleaved, medians over ``--runs`` fresh pages opened from ``file://``:

- first paint: navigation start to the frame after the first picture is drawn (the page's own mark);
  baseline: the same overview as a static SVG file (``export -o x.svg``) opened from ``file://``, to its load;
- open a group: pointer down on the Attention box of layer 1 until the Self-attention box inside it is drawn
  (goal ≤ 150 ms); then Feed-forward opened beside the open Attention (a stored combination view); baseline: what the notebook widget's kernel computes for the same click
  (``GraphWidget.open``: view + layout (warm cache) + SVG + details), in Python, before any browser work;
- open a third box (the layer's Output, with Attention and Feed-forward open): the page composes it (its
  table, or Graphviz in WebAssembly for containers the table lacks); baseline: the widget's kernel opening the
  same three;
- compose coverage: ``--sample`` random views with 2-4 groups open in different places (html/states.py
  random_states): how many the page composes from the file's table alone (Python's very picture, tested) and
  how many need containers laid out by the WASM dot, and the page's median time to compose one.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import bertviz_graph as bg
from bertviz_graph.widget import GraphWidget

ATT = "encoder.layer.0.attention"  # MiniLM's ids; bert-base's are under "bert."


def first_paint(browser, path: Path) -> float:
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.goto(path.as_uri())
    page.wait_for_selector("body[data-bvg-ready]")
    ms = float(page.get_attribute("body", "data-bvg-paint-ms"))
    page.close()
    return ms


def svg_load(browser, path: Path) -> float:
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.goto(path.as_uri(), wait_until="load")
    ms = page.evaluate("() => new Promise((r) => requestAnimationFrame(() => r(performance.now())))")
    page.close()
    return ms


def _timed(page, click: str, want: str) -> float:
    """ms from the pointer going down on box ``click`` until box ``want`` is drawn (measured in the page)."""
    page.evaluate(
        """(want) => { window.__t = null; document.addEventListener('pointerdown', () => {
            const t0 = performance.now();
            const poll = () => [...document.querySelectorAll('g.node')].some((g) => g.dataset.id === want)
                ? (window.__t = performance.now() - t0) : requestAnimationFrame(poll);
            requestAnimationFrame(poll); }, {capture: true, once: true}); }""",
        want,
    )
    page.locator(f'g.node[data-id="{click}"]').first.click()
    page.wait_for_function("() => window.__t !== null")
    return page.evaluate("() => window.__t")


def open_group(browser, path: Path, series: str, att: str, emb: str) -> tuple[float, float, float, float, str]:
    """(open Attention: its Self-attention drawn, then open Feed-forward beside the open Attention: its dense
    drawn, then the layer's Output as a third box: its dense drawn, the other two still open, then the
    Embeddings far from them: its word embeddings drawn, and the page's note then)."""
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.goto(path.as_uri())
    page.wait_for_selector("body[data-bvg-ready]")
    page.locator(f'g.node[data-id="{series}"]').first.click()
    page.wait_for_selector(f'g.node[data-id="{att}"]')
    ms = _timed(page, att, att + ".self")
    ffn = att.replace(".attention", ".intermediate")
    beside = _timed(page, ffn, ffn + ".dense")
    assert page.locator(f'g.node[data-id="{att}.self"]').count() == 1  # Attention stayed open
    out = att.replace(".attention", ".output")
    third = _timed(page, out, out + ".dense")
    assert page.locator(f'g.node[data-id="{att}.self"]').count() == 1
    assert page.locator(f'g.node[data-id="{ffn}.dense"]').count() == 1
    page.click(".bvg-btn[data-action=fit]")  # the Embeddings box in sight (not under the page's bar)
    fourth = _timed(page, emb, emb + ".word_embeddings")
    assert page.locator(f'g.node[data-id="{out}.dense"]').count() == 1
    note = page.inner_text(".bvg-note")
    page.close()
    return ms, beside, third, fourth, note


def coverage(browser, path: Path, graph, n: int) -> tuple[int, int, int, float, float]:
    """(views, composed from the table alone, composed with WASM-laid containers, median ms to compose one
    of each)."""
    from bertviz_graph.html.states import random_states
    from bertviz_graph.view import View

    h = graph.hierarchy
    cases = [[sorted(v.state.opened), dict(v.state.instance)] for v in random_states(h, View.default(h), n, seed=0)]
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.goto(path.as_uri())
    page.wait_for_selector("body[data-bvg-ready]")
    got = page.evaluate("""(cases) => cases.map(([o, i]) => { const t = performance.now();
        const r = window.bvgCompose(o, i); return [r ? r.inPage : -1, performance.now() - t]; })""", cases)
    page.close()
    table = [ms for k, ms in got if k == 0]
    wasm = [ms for k, ms in got if k > 0]
    return (len(cases), len(table), len(wasm), statistics.median(table) if table else 0.0,
            statistics.median(wasm) if wasm else 0.0)


def kernel_three(graph, att: str) -> float:
    w = GraphWidget(graph).open(att).open(att.replace(".attention", ".intermediate"))
    t = time.perf_counter()
    w.open(att.replace(".attention", ".output"))
    return (time.perf_counter() - t) * 1000


def _states(path: Path) -> dict:
    """The stored views' index (in the page's second block: the first holds the first view's record only)."""
    import base64
    import json
    import re
    import zlib

    text = path.read_text(encoding="utf-8")
    rest = re.search('<script type="application/octet-stream" id="bvg-data">([^<]*)</script>', text).group(1)
    return json.loads(zlib.decompress(base64.b64decode(rest)))["states"]


def kernel_open(graph, att: str) -> float:
    w = GraphWidget(graph)
    t = time.perf_counter()
    w.open(att).select(att)
    return (time.perf_counter() - t) * 1000


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--sample", type=int, default=200, help="random views for the compose coverage")
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    tmp = Path(tempfile.mkdtemp(prefix="bvg-html-bench-"))
    cases = [("all-MiniLM-L6-v2 + sentence", "all-MiniLM-L6-v2", "The cat sat on the [MASK].", "", 10e6),
             ("bert-base-uncased structure", "bert-base-uncased", None, "bert.", 5e6)]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                    args=["--no-sandbox", "--disable-gpu"])
        for title, model, text, pre, goal in cases:
            graph = bg.trace(model)
            out = tmp / (model + ".html")
            t = time.perf_counter()
            graph.save_html(out, text=text)
            build = time.perf_counter() - t
            svg = graph.view().save(tmp / (model + ".svg"))
            series = next(g for g, grp in graph.hierarchy.groups.items() if grp.kind == "series")
            att = pre + ATT
            kernel_open(graph, att)  # warm the layout cache as a long-running kernel has it
            kernel_three(graph, att)
            paint, base_paint, opened, beside, kernel, third, kernel3, fourth = [], [], [], [], [], [], [], []
            for _ in range(args.runs):  # interleaved: ours, then the baseline, each run
                paint.append(first_paint(browser, out))
                base_paint.append(svg_load(browser, svg))
                o, b, t3, t4, note = open_group(browser, out, series, att, pre + "embeddings")
                fourth.append(t4)
                opened.append(o)
                beside.append(b)
                third.append(t3)
                kernel.append(kernel_open(graph, att))
                kernel3.append(kernel_three(graph, att))
            med = statistics.median
            size = out.stat().st_size
            print(f"\n## {title}  (build {build:.1f} s, {args.runs} runs, medians)")
            print(f"file size            {size / 1e6:6.2f} MB   goal ≤ {goal / 1e6:.0f} MB   "
                  f"(static overview SVG: {svg.stat().st_size / 1e3:.0f} kB)")
            print(f"first paint          {med(paint):6.0f} ms   static SVG loaded {med(base_paint):.0f} ms   "
                  f"ratio {med(paint) / med(base_paint):.2f}×   goal ≤ 1000 ms")
            print(f"open a group         {med(opened):6.0f} ms   widget kernel alone {med(kernel):.0f} ms   "
                  f"ratio {med(opened) / med(kernel):.2f}×   goal ≤ 150 ms")
            print(f"open a box beside    {med(beside):6.0f} ms   (Feed-forward with Attention open; goal ≤ 150 ms)")
            print(f"open a third box     {med(third):6.0f} ms   widget kernel alone {med(kernel3):.0f} ms   "
                  f"ratio {med(third) / med(kernel3):.2f}×   (Output with Attention and Feed-forward open)")
            print(f"open a fourth box    {med(fourth):6.0f} ms   (Embeddings, with the three open; the page said: "
                  f"{note or 'nothing'!r})")
            n, exact, wasm, ms, ms_wasm = coverage(browser, out, graph, args.sample)
            print(f"compose coverage     {n} random views with 2-4 groups open: {exact} from the file's table alone "
                  f"(Python's picture; median {ms:.0f} ms to compose), {wasm} with containers laid out by the "
                  f"WASM dot (median {ms_wasm:.0f} ms), {n - exact - wasm} not drawn")
            st = _states(out)
            print(f"stored views         {len(st):6d}      ({sum('+' in k for k in st)} with a box open beside another)")
        browser.close()


if __name__ == "__main__":
    main()
