"""Which graph renderer for the app and the widget: time to draw and frames/s while panning, in headless Chromium.

Run: ``python benchmarks/graph_render_bench.py [--runs 3] [--skip-48]`` (once: ``cd benchmarks/web && npm ci``
for cytoscape.js). Views, traced on the meta device (warm trace cache after the first run):

- bert-base fully open, folded (every group open, the ×12 stack showing one layer), ~220 elements;
- bert-base fully open and unfolded (all 12 layers), ~1,420 elements;
- the 48-layer, 1024-wide preset ``bert-xl-48`` at ``--ops primitive``, fully open and unfolded, ~12,100 elements.

Candidates, each given the same laid-out view, in a fresh page, interleaved, medians over ``--runs``
(cytoscape: ``--cytoscape-runs``, default 1, as it is 10-100x slower):

- ``cytoscape``: cytoscape.js 3.28.1 (what dash-cytoscape 1.0.2 bundles) with the elements the app used to
  build (``benchmarks/candidates/cytoscape_elements.py``), preset positions, canvas renderer;
- ``svg-viewbox``: our SVG (``render/svg.py``) in the DOM, panned by rewriting the viewBox (the widget's way
  before this benchmark);
- ``svg-canvas``: our SVG in the shipped ``GraphCanvas`` (``js/src/graph.js``, from the app's bundle), panned
  and zoomed by a CSS transform of the painted layer.

"draw" is from handing the data to the renderer (already parsed in the page) until the frame after it has been
painted; "pan fps" is the rate of animation frames while the picture moves 8 px per frame for 30 frames, at the
whole-picture zoom ("fit") and at 100 %. Server-side time (layout + SVG text or elements) is printed too.
Goals (issue 10): bert-base unfolded drawn <= 1.5 s and panning >= 30 fps; the 48-layer view drawn <= 5 s and
pannable. Opening a group in the app is timed by ``benchmarks/app_bench.py``.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import json
import platform
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE / "candidates"))
CYTOSCAPE = HERE / "web" / "node_modules" / "cytoscape" / "dist" / "cytoscape.min.js"
CANVAS_BUNDLE = ROOT / "bertviz_graph" / "app" / "assets" / "bvg-graph.js"
CANDIDATES = ("cytoscape", "svg-viewbox", "svg-canvas")
W, H = 1400, 900

PAGE = """<!doctype html><html><head><meta charset="utf-8">
<style>body{margin:0;font-family:sans-serif}#host{width:%(W)dpx;height:%(H)dpx;position:relative;overflow:hidden;
display:flex;background:#fff}</style><link rel="stylesheet" href="bvg-graph.css">
<script src="cytoscape.min.js"></script><script src="bvg-graph.js"></script></head>
<body><div id="host"></div><script>
const W = %(W)d, H = %(H)d;
function painted() {  // resolves after the next frame has been painted
  return new Promise((r) => requestAnimationFrame(() => { const c = new MessageChannel(); c.port1.onmessage = () => r();
    c.port2.postMessage(0); }));
}
async function panFps(step, n = 30) {
  const ts = [];
  for (let i = 0; i < n; i++) await new Promise((r) => requestAnimationFrame((t) => { ts.push(t); step(i); r(); }));
  await painted();
  return 1000 * (ts.length - 1) / (ts[ts.length - 1] - ts[0]);
}
const wiggle = (i) => (i %% 20 < 10 ? 1 : -1);
window.bench = async function (cand, key) {
  const host = document.getElementById("host");
  const out = {};
  window.__partial = out;  // what was measured before a timeout
  if (cand === "cytoscape") {
    const els = await (await fetch(key + ".els.json")).json();
    const style = await (await fetch("style.json")).json();
    await painted();
    cytoscape.warnings(false);  // its per-element style warnings cost seconds; fair to the candidate
    const t0 = performance.now();
    const cy = cytoscape({ container: host, elements: els, style, layout: { name: "preset", fit: true, padding: 16 },
      autoungrabify: true, boxSelectionEnabled: false, minZoom: 0.01, maxZoom: 4 });
    await painted();  // cytoscape draws on its next animation frame; the frame after that is on screen
    await painted();
    out.draw = performance.now() - t0;
    out.fitZoom = cy.zoom();
    out.fpsFit = await panFps((i) => cy.panBy({ x: 8 * wiggle(i), y: 5 * wiggle(i) }));
    cy.zoom({ level: 1, renderedPosition: { x: W / 2, y: H / 2 } });
    await painted();
    out.fps100 = await panFps((i) => cy.panBy({ x: 8 * wiggle(i), y: 5 * wiggle(i) }));
    return out;
  }
  const text = await (await fetch(key + ".svg")).text();
  await painted();
  const t0 = performance.now();
  if (cand === "svg-canvas") {
    const c = new window.bvgGraph.GraphCanvas({ send() {} }, host);
    c.setSvg(text);
    c.pz.fit();
    await painted();
    out.draw = performance.now() - t0;
    out.fitZoom = c.pz.k;
    out.fpsFit = await panFps((i) => c.pz.panBy(8 * wiggle(i), 5 * wiggle(i)));
    c.pz.zoomCenter(1 / c.pz.k);
    await new Promise((r) => setTimeout(r, 400));  // the layer is painted again at the new scale
    await painted();
    out.fps100 = await panFps((i) => c.pz.panBy(8 * wiggle(i), 5 * wiggle(i)));
    return out;
  }
  // svg-viewbox
  const tmp = document.createElement("div");
  tmp.innerHTML = text.replace(/^\\s*<\\?xml[^>]*>\\s*/, "");
  const svg = tmp.querySelector("svg");
  const cw = parseFloat(svg.getAttribute("width")), ch = parseFloat(svg.getAttribute("height"));
  svg.setAttribute("width", "100%%"); svg.setAttribute("height", "100%%");
  svg.setAttribute("preserveAspectRatio", "xMinYMin meet");
  host.appendChild(svg);
  let k = Math.min(W / cw, H / ch), x = 0, y = 0;
  const apply = () => svg.setAttribute("viewBox", `${x} ${y} ${W / k} ${H / k}`);
  apply();
  await painted();
  out.draw = performance.now() - t0;
  out.fitZoom = k;
  const step = (i) => { x -= 8 * wiggle(i) / k; y -= 5 * wiggle(i) / k; apply(); };
  out.fpsFit = await panFps(step);
  k = 1; apply();
  await painted();
  out.fps100 = await panFps(step);
  return out;
};
</script></body></html>
"""


def views(skip_48: bool):
    """(key, label, View) of the benchmark views."""
    import bertviz_graph as bg

    base = bg.trace("bert-base-uncased")
    opened = base.view().open_all()
    out = [("base-folded", "bert-base fully open, folded", opened),
           ("base-unfolded", "bert-base fully open, unfolded", opened.unfold(all_series=True))]
    if not skip_48:
        xl = bg.trace("bert-xl-48", ops="primitive")
        out.append(("xl48-unfolded", "bert-xl-48 primitive, fully open, unfolded",
                    xl.view().open_all().unfold(all_series=True)))
    return out


def write_data(tmp: Path, skip_48: bool) -> list[tuple[str, str, int, dict[str, float]]]:
    from cytoscape_elements import stylesheet, to_elements

    from bertviz_graph.layout import layout_of
    from bertviz_graph.render.svg import to_svg

    rows = []
    for key, label, v in views(skip_48):
        t = time.perf_counter()
        lv = layout_of(v)
        t_layout = time.perf_counter() - t
        t = time.perf_counter()
        svg = to_svg(lv, legend=False, title=False)
        t_svg = time.perf_counter() - t
        t = time.perf_counter()
        els = to_elements(lv)
        t_els = time.perf_counter() - t
        (tmp / f"{key}.svg").write_text(svg, encoding="utf-8")
        (tmp / f"{key}.els.json").write_text(json.dumps(els), encoding="utf-8")
        size = len(lv.view.nodes) + len(lv.view.edges)
        rows.append((key, label, size, {"layout": t_layout, "svg": t_svg, "elements": t_els,
                                        "svg_mb": len(svg) / 1e6, "els_mb": len(json.dumps(els)) / 1e6}))
    (tmp / "style.json").write_text(json.dumps(stylesheet()), encoding="utf-8")
    shutil.copy(CYTOSCAPE, tmp / "cytoscape.min.js")
    shutil.copy(CANVAS_BUNDLE, tmp / "bvg-graph.js")
    shutil.copy(CANVAS_BUNDLE.with_suffix(".css"), tmp / "bvg-graph.css")
    (tmp / "index.html").write_text(PAGE % {"W": W, "H": H}, encoding="utf-8")
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--skip-48", action="store_true", help="only the bert-base views")
    ap.add_argument("--port", type=int, default=8093)
    ap.add_argument("--candidates", default=",".join(CANDIDATES), help="comma-separated subset")
    ap.add_argument("--cytoscape-runs", type=int, default=1,
                    help="runs for cytoscape (10-100x slower: one run is minutes on the 48-layer view)")
    ap.add_argument("--cell-timeout", type=float, default=240, help="s per candidate and view (slower: inf)")
    args = ap.parse_args()
    if not CYTOSCAPE.exists():
        sys.exit(f"missing {CYTOSCAPE}: run `cd benchmarks/web && npm ci` once")

    from playwright.sync_api import sync_playwright

    tmp = Path(tempfile.mkdtemp(prefix="bvg-render-bench-"))
    rows = write_data(tmp, args.skip_48)

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *a):  # noqa: D102
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", args.port), functools.partial(Quiet, directory=str(tmp)))
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    print(f"{platform.machine()}, {platform.system()} {platform.release()}, python {platform.python_version()}; "
          f"viewport {W}x{H}; medians of {args.runs} fresh pages per cell, candidates interleaved")
    results: dict[tuple[str, str], list[dict[str, float]]] = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium"), headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--no-first-run"])
        print(f"chromium {browser.version}")
        cands = [c for c in args.candidates.split(",") if c in CANDIDATES]
        for run in range(max(args.runs, args.cytoscape_runs if "cytoscape" in cands else 0)):
            for key, _label, _size, _t in rows:
                for cand in cands:
                    if run >= (args.cytoscape_runs if cand == "cytoscape" else args.runs):
                        continue
                    page = browser.new_page(viewport={"width": W + 40, "height": H + 40})
                    page.goto(f"http://127.0.0.1:{args.port}/index.html")
                    page.evaluate("([c, k]) => { window.__r = null; bench(c, k).then((r) => (window.__r = r)); }",
                                  [cand, key])
                    try:
                        page.wait_for_function("window.__r !== null", timeout=args.cell_timeout * 1000, polling=200)
                        r = page.evaluate("window.__r")
                    except Exception:  # noqa: BLE001 - a candidate too slow to finish: what it got to, else inf
                        r = {"draw": float("inf"), "fitZoom": float("nan"), "fpsFit": 0.0, "fps100": 0.0}
                        try:
                            r.update(page.evaluate("window.__partial || {}"))
                        except Exception:  # noqa: BLE001 - the page is stuck in a long frame
                            pass
                        r["timeout"] = 1.0
                    print(f"  {key} {cand}: " + ", ".join(f"{k} {v:.3g}" for k, v in r.items()), flush=True)
                    results.setdefault((key, cand), []).append(r)
                    page.close()
        browser.close()
    srv.shutdown()

    cands = [c for c in args.candidates.split(",") if c in CANDIDATES]

    def med(key: str, cand: str, field: str) -> float:
        return statistics.median(r[field] for r in results[(key, cand)])

    for key, label, size, t in rows:
        print(f"\n{label}: {size:,} elements; server: layout {t['layout']:.2f} s, SVG text {t['svg']:.2f} s "
              f"({t['svg_mb']:.1f} MB), cytoscape elements {t['elements']:.2f} s ({t['els_mb']:.1f} MB)")
        print(f"  {'candidate':<12} {'draw ms':>9} {'fit zoom':>9} {'pan fps @fit':>13} {'pan fps @100%':>14}")
        for cand in cands:
            print(f"  {cand:<12} {med(key, cand, 'draw'):9.0f} {med(key, cand, 'fitZoom'):9.3f} "
                  f"{med(key, cand, 'fpsFit'):13.1f} {med(key, cand, 'fps100'):14.1f}")
        if "cytoscape" in cands and "svg-canvas" in cands:
            c, s = med(key, "cytoscape", "draw"), med(key, "svg-canvas", "draw")
            print(f"  draw ratio cytoscape / svg-canvas: {c / s:.1f}x")


if __name__ == "__main__":
    main()
