"""Time the web app in headless Chromium on bert-base: first graph, opening a group, the embedding heatmap.

Run: ``python benchmarks/app_bench.py [--model bert-base-uncased] [--runs 3]``. The app is served in this
process (a werkzeug thread), the browser is the system chromium driven by Playwright. Prints:

- first graph drawn: ``performance.now()`` at the frame after the graph canvas (js/src/graph.js) first drew
  its SVG, i.e. milliseconds after the page started loading (median over ``--runs`` fresh page loads);
  target <= 1500 ms;
- opening a group: a click on a collapsed group (the canvas' own click handler, called on the box's label)
  until the new picture is drawn and painted; one open per distinct group, so every answer is laid out afresh
  (server caches warm only from earlier, different views); median and max;  target <= 150 ms median;
- embedding heatmap: with the Weights tab open, a tap on the word_embeddings box (30522×768) until plotly
  has drawn its heatmap, server matrix cache emptied first;  target <= 1000 ms.
The page loads plotly.js (several MB) in the background about 1.2 s after it starts; clicks are timed once
that is done, and the time it was ready is printed too.
"""

from __future__ import annotations

import argparse
import platform
import shutil
import socket
import statistics
import threading
import time

OPEN_SEQUENCE = [  # collapsed group ids tapped in order (each one visible after the previous opens)
    "bert.encoder.layer[0-11]",
    "bert.encoder.layer.0.attention",
    "bert.encoder.layer.0.attention.self",
    "bert.encoder.layer.0.attention.self.query",
    "bert.encoder.layer.0.attention.output",
    "bert.encoder.layer.0.intermediate",
    "bert.encoder.layer.0.output",
    "bert.embeddings",
    "cls",
    "bert.<mask>",
]
EMBEDDING = "bert.embeddings.word_embeddings"
EMBEDDING_WEIGHT = "bert.embeddings.word_embeddings.weight"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(app) -> str:
    import logging

    from werkzeug.serving import make_server

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request

    port = free_port()
    srv = make_server("127.0.0.1", port, app.server, threaded=True)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{port}/"


TAP_JS = """([id]) => {
  const c = window.bvgGraph.canvas;
  const g = c.nodes.get(id);
  if (!g) return null;
  window._bvOpened = null;
  const n = window.bvgGraph.draws;
  const wait = () => {
    const g2 = c.nodes.get(id);
    if (window.bvgGraph.draws > n && g2 && g2.getAttribute('data-expanded') === '1')
      requestAnimationFrame(() => setTimeout(() => { window._bvOpened = performance.now(); }, 0));
    else requestAnimationFrame(wait);
  };
  const t0 = performance.now();
  window._bvTapWall = Date.now();
  c.onClick(g.querySelector('text'), {clientX: 0, clientY: 0, shiftKey: false});
  requestAnimationFrame(wait);
  return t0;
}"""


class CallbackTimer:
    """WSGI middleware: the server time of each Dash callback request (by its outputs), to see what a click
    fires, which requests chain, and where the server time goes."""

    def __init__(self, wsgi_app):
        self.app, self.log, self.lock = wsgi_app, [], threading.Lock()

    def __call__(self, environ, start_response):
        if not environ.get("PATH_INFO", "").endswith("_dash-update-component"):
            return self.app(environ, start_response)
        import io
        import json

        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        environ["wsgi.input"] = io.BytesIO(body)
        try:
            out = str(json.loads(body).get("output", "?"))
        except ValueError:
            out = "?"
        t0 = time.time()  # wall clock: the browser's Date.now() at the tap is on the same clock
        res = list(self.app(environ, start_response))
        t1 = time.time()
        with self.lock:
            self.log.append((t0, t1, out[:60], sum(len(b) for b in res)))
        return res


def tap_and_wait(page, node_id: str) -> float:
    """Click a collapsed group; ms until it is drawn open and that frame painted."""
    t0 = page.evaluate(TAP_JS, [node_id])
    if t0 is None:
        raise RuntimeError(f"{node_id} is not drawn")
    page.wait_for_function("window._bvOpened !== null", timeout=20000)
    page.wait_for_timeout(100)  # let the viewport move and the side panels settle before the next tap
    DRAW_MS.append(page.evaluate("window.bvgGraph.lastDrawMs"))
    TAP_WALL.append(page.evaluate("window._bvTapWall") / 1000)
    return page.evaluate("window._bvOpened") - t0


TAP_WALL: list[float] = []  # Date.now() of each tap, s: where the server's log of that tap starts
DRAW_MS: list[float] = []  # of each open: the canvas' own part (SVG in, painted), the rest is server + Dash


def server_only(app, reps: int) -> None:
    """The server's part of each open, without a browser: the click callback's HTTP request through Flask
    (Dash's JSON in and out included), the same OPEN_SEQUENCE from the overview, fresh caches each pass.
    Wall and CPU time per open; robust to a loaded machine where the browser timing is not."""
    import json

    from bertviz_graph.app import make_app
    from bertviz_graph.layout import default_cache

    graph = app.bv_context.graph
    walls, cpus = [], []
    for _ in range(reps):
        app = make_app(graph)  # empty view and picture caches
        default_cache().__init__()  # and the process-wide layout cache, in place: each open lays out afresh
        client = app.server.test_client()
        cb = next(c for c in app._callback_list if any(i["id"] == "bv-graph-event" for i in c["inputs"]))
        outs = cb["output"][2:-2].split("...")
        props = {"bv-view-state.data": app.bv_context.default_state.to_json_dict(), "bv-selected.data": {"id": None}}
        for n, gid in enumerate(OPEN_SEQUENCE):
            props["bv-graph-event.data"] = {"type": "click", "id": gid, "toggle": True, "part": "box", "nonce": n}
            body = {"output": cb["output"],
                    "outputs": [{"id": o.rsplit(".", 1)[0].split("@")[0], "property": o.rsplit(".", 1)[1].split("@")[0]}
                                for o in outs],
                    "inputs": [{**i, "value": props.get(f"{i['id']}.{i['property']}")} for i in cb["inputs"]],
                    "state": [{**x, "value": props.get(f"{x['id']}.{x['property']}")} for x in cb["state"]],
                    "changedPropIds": ["bv-graph-event.data"]}
            t, c = time.perf_counter(), time.process_time()
            r = client.post("/_dash-update-component", data=json.dumps(body), content_type="application/json")
            walls.append(time.perf_counter() - t)
            cpus.append(time.process_time() - c)
            resp = r.get_json()["response"]
            props["bv-view-state.data"] = resp["bv-view-state"]["data"]
            assert gid in props["bv-view-state.data"]["opened"], gid
    print(f"server only, click callback over HTTP (Flask test client), {len(OPEN_SEQUENCE)} opens x {reps}: "
          f"median {statistics.median(walls) * 1000:.0f} ms wall, {statistics.median(cpus) * 1000:.0f} ms CPU; "
          f"max {max(walls) * 1000:.0f} ms wall")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="bert-base-uncased")
    ap.add_argument("--runs", type=int, default=3, help="page loads for the first-draw timing")
    ap.add_argument("--server-only", type=int, default=0, metavar="REPS",
                    help="only time the click callback's HTTP requests, no browser, REPS passes")
    ap.add_argument("--callbacks", action="store_true",
                    help="print the server time of each callback request a tap fires")
    args = ap.parse_args()

    from playwright.sync_api import sync_playwright

    import bertviz_graph as bg
    from bertviz_graph.app import make_app
    from bertviz_graph.app.context import LRU

    t = time.perf_counter()
    graph = bg.trace(args.model)
    t_trace = time.perf_counter() - t
    t = time.perf_counter()
    app = make_app(graph)
    t_app = time.perf_counter() - t
    if args.server_only:
        server_only(app, args.server_only)
        return
    timer = CallbackTimer(app.server.wsgi_app) if args.callbacks else None
    if timer is not None:
        app.server.wsgi_app = timer
    url = start_server(app)
    C = app.bv_context
    chromium = shutil.which("chromium")
    print(f"model {args.model}: trace (warm cache) {t_trace:.2f} s, make_app {t_app:.2f} s; "
          f"{platform.machine()}, {platform.system()} {platform.release()}, python {platform.python_version()}")

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, headless=True,
                                    args=["--no-sandbox", "--disable-gpu"])
        ctx = browser.new_context(viewport={"width": 1600, "height": 1000})
        first = []
        for _ in range(args.runs + 1):  # the first load warms the browser cache (JS bundles) and is dropped
            page = ctx.new_page()
            page.goto(url, wait_until="commit")
            page.wait_for_function("window.bvgGraph && window.bvgGraph.firstDraw !== null", timeout=30000)
            first.append(page.evaluate("window.bvgGraph.firstDraw"))
            page.close()
        cold_load, first = first[0], first[1:]

        page = ctx.new_page()
        page.goto(url)
        page.wait_for_function("window.bvgGraph && window.bvgGraph.firstDraw !== null", timeout=30000)
        # the page loads plotly.js in the background ~1.2 s after start: time the clicks after that
        page.wait_for_function("typeof window.Plotly === 'object'", timeout=30000, polling=20)
        plotly_ready = page.evaluate("performance.now()")
        page.wait_for_timeout(300)
        opens = []
        per_open = []
        for gid in OPEN_SEQUENCE:
            n0 = len(timer.log) if timer else 0
            opens.append((gid, tap_and_wait(page, gid)))
            per_open.append(list(timer.log[n0:]) if timer else [])

        # embedding heatmap: fresh page, Weights tab open, matrix cache emptied
        page = ctx.new_page()
        page.goto(url)
        page.wait_for_function("window.bvgGraph && window.bvgGraph.firstDraw !== null", timeout=30000)
        page.wait_for_function("typeof window.Plotly === 'object'", timeout=30000)
        page.wait_for_timeout(300)
        tap_and_wait(page, "bert.embeddings")
        page.click("#bv-tab-weights")
        page.wait_for_selector("#bv-heatmap .js-plotly-plot .main-svg", timeout=20000)
        page.wait_for_timeout(300)
        C.matrix_cache = LRU(8)
        page.evaluate("""() => { window._bvHeat = null;
            const gd = document.querySelector('#bv-heatmap .js-plotly-plot');
            gd.on('plotly_afterplot', () => {
              const t = gd.layout && gd.layout.title && gd.layout.title.text;
              if (window._bvHeat === null && t && t.includes('word_embeddings') && gd.data.length)
                window._bvHeat = performance.now();
            }); }""")
        t0 = page.evaluate(TAP_JS, [EMBEDDING])
        page.wait_for_function("window._bvHeat !== null", timeout=20000)
        heat = page.evaluate("window._bvHeat") - t0
        readout_ok = "word_embeddings" in (page.text_content("#bv-heatmap .gtitle") or "")
        browser.close()

    med_open = statistics.median(v for _, v in opens)
    print(f"first page load (cold browser cache): first graph drawn at {cold_load:.0f} ms")
    print(f"first graph drawn after page load starts: median {statistics.median(first):.0f} ms "
          f"(runs: {', '.join(f'{v:.0f}' for v in first)})   target <= 1500 ms")
    print(f"open a group, tap -> drawn: median {med_open:.0f} ms, max {max(v for _, v in opens):.0f} ms over "
          f"{len(opens)} groups   target <= 150 ms median")
    for gid, v in opens:
        print(f"    {v:6.0f} ms  {gid}")
    if timer is not None:
        for i, ((gid, _v), reqs) in enumerate(zip(opens, per_open, strict=True)):
            if not reqs:
                continue
            base = TAP_WALL[i]
            print(f"  {gid}: tap -> drawn {_v:.0f} ms; {len(reqs)} callback requests "
                  "(start ms after the tap, server ms, response kB, outputs)")
            for a, b, out, size in reqs:
                print(f"      +{(a - base) * 1000:5.0f} {(b - a) * 1000:6.0f} ms {size / 1024:7.1f} kB  {out}")
    print(f"  of which the canvas drew (SVG text in -> painted): median {statistics.median(DRAW_MS[:len(opens)]):.0f} ms")
    print(f"plotly.js (loaded in the background after the first graph) ready at {plotly_ready:.0f} ms")
    print(f"embedding heatmap (30522x768), tap -> heatmap drawn: {heat:.0f} ms   target <= 1000 ms"
          + ("" if readout_ok else "  (title not found!)"))


if __name__ == "__main__":
    main()
