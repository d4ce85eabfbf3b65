"""Pan and zoom frame rate on the fully opened, unfolded bert-base in headless Chromium (requestAnimationFrame).

Run: ``python benchmarks/pan_fps.py [--runs 3]``. Both candidates are the shipped graph canvas (the app's bundle,
``js/src/graph.js`` + ``panzoom.js`` + ``far_titles.js``) on a 1440 x 900 page, given the same view (every group
open, all 12 layers unfolded) laid out two ways:

- ``wrapped``: today's layout, the layers wrapped into columns (``layout/wrap.py``);
- ``strip``: the same view with wrapping switched off, dot's single column (the 1,400 x 41,000 px strip before).

Per fresh page: "draw" (setSvg + Fit until the frame after is painted), the Fit zoom, then the rate of animation
frames over 60 frames while the picture pans 8 px per frame at Fit, zooms by 2 % per frame about the centre
(alternating in and out), and pans at 100 %. Candidates interleaved, medians over ``--runs``; the ratio is
wrapped / strip. The goal (issue 22, item 3): >= 30 frames/s panning and zooming the fully opened bert-base.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import platform
import re
import shutil
import statistics
import tempfile
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUNDLE = ROOT / "bertviz_graph" / "app" / "assets" / "bvg-graph.js"
W, H = 1440, 900
CANDIDATES = ("wrapped", "strip")

PAGE = """<!doctype html><html><head><meta charset="utf-8">
<style>body{margin:0}#host{width:%(W)dpx;height:%(H)dpx;position:relative;overflow:hidden;display:flex}</style>
<link rel="stylesheet" href="bvg-graph.css"><script src="bvg-graph.js"></script></head>
<body><div id="host"></div><script>
function painted() {
  return new Promise((r) => requestAnimationFrame(() => { const c = new MessageChannel(); c.port1.onmessage = () => r();
    c.port2.postMessage(0); }));
}
async function fps(step, n = 60) {
  const ts = [];
  for (let i = 0; i < n; i++) await new Promise((r) => requestAnimationFrame((t) => { ts.push(t); step(i); r(); }));
  await painted();
  return 1000 * (ts.length - 1) / (ts[ts.length - 1] - ts[0]);
}
const wiggle = (i) => (i %% 20 < 10 ? 1 : -1);
const settle = () => new Promise((r) => setTimeout(r, 400)).then(painted);
window.bench = async function (key) {
  const text = await (await fetch(key + ".svg")).text();
  await painted();
  const t0 = performance.now();
  const c = new window.bvgGraph.GraphCanvas({ send() {} }, document.getElementById("host"));
  c.setSvg(text);
  c.fitReadable();
  await painted();
  const out = { draw: performance.now() - t0, fitZoom: c.pz.k, size: `${c.pz.cw}x${c.pz.ch}` };
  await settle();
  out.panFit = await fps((i) => c.pz.panBy(8 * wiggle(i), 5 * wiggle(i)));
  out.zoomFit = await fps((i) => c.pz.zoomCenter(wiggle(i) > 0 ? 1.02 : 1 / 1.02));
  c.fitReadable();
  await settle();
  const t1 = performance.now();
  c.farTitles.k = null;
  c.farTitles.update(c.pz.k);
  out.titlesMs = performance.now() - t1;
  c.pz.zoomCenter(1 / c.pz.k);
  await settle();
  out.pan100 = await fps((i) => c.pz.panBy(8 * wiggle(i), 5 * wiggle(i)));
  return out;
};
</script></body></html>
"""


def write_data(tmp: Path) -> None:
    import pytest

    import bertviz_graph as bg
    from bertviz_graph.layout import LayoutCache, compose, layout_view
    from bertviz_graph.render.svg import to_svg

    graph = bg.trace("bert-base-uncased")
    view = graph.view().open_all().unfold(all_series=True).data()
    export = graph.view(depth=9, unfold=True).data()  # `export -o all.svg --depth 9 --unfold`: title, legend

    def shape(data) -> str:
        svg = to_svg(layout_view(data, "TB", LayoutCache()))
        w, h = (float(v) for v in re.search(r'<svg [^>]*width="([\d.]+)" height="([\d.]+)"', svg).groups())
        return f"{w:.0f} x {h:.0f} px, {max(w / h, h / w):.1f}:1"

    (tmp / "wrapped.svg").write_text(to_svg(layout_view(view, "TB", LayoutCache()), legend=False, title=False))
    print(f"exported SVG of bert-base --depth 9 --unfold: wrapped {shape(export)}", end="")
    mp = pytest.MonkeyPatch()
    mp.setattr(compose, "wrap_stack", lambda key, lay: lay)
    try:
        (tmp / "strip.svg").write_text(to_svg(layout_view(view, "TB", LayoutCache()), legend=False, title=False))
        print(f"; strip {shape(export)}")
    finally:
        mp.undo()
    shutil.copy(BUNDLE, tmp / "bvg-graph.js")
    shutil.copy(BUNDLE.with_suffix(".css"), tmp / "bvg-graph.css")
    (tmp / "index.html").write_text(PAGE % {"W": W, "H": H}, encoding="utf-8")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    tmp = Path(tempfile.mkdtemp(prefix="bvg-pan-fps-"))
    write_data(tmp)

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *a):  # noqa: D102
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(tmp)))
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{srv.server_address[1]}/index.html"
    print(f"{platform.machine()}, {platform.system()} {platform.release()}, python {platform.python_version()}; "
          f"page {W}x{H}; medians of {args.runs} fresh pages per candidate, interleaved")
    results: dict[str, list[dict]] = {c: [] for c in CANDIDATES}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium"), headless=True,
                                    args=["--no-sandbox", "--disable-gpu", "--no-first-run"])
        print(f"chromium {browser.version}")
        try:
            for _run in range(args.runs):
                for cand in CANDIDATES:
                    page = browser.new_page(viewport={"width": W, "height": H})
                    page.goto(url)
                    r = page.evaluate("(k) => bench(k)", cand)
                    page.close()
                    print(f"  {cand}: " + ", ".join(f"{k} {v:.3g}" if isinstance(v, float) else f"{k} {v}"
                                                    for k, v in r.items()), flush=True)
                    results[cand].append(r)
        finally:
            browser.close()
            srv.shutdown()
    fields = ("draw", "fitZoom", "panFit", "zoomFit", "pan100", "titlesMs")

    def med(cand: str, f: str) -> float:
        return statistics.median(r[f] for r in results[cand])

    print(f"\n{'candidate':<9} {'picture px':>12} {'draw ms':>8} {'fit zoom':>9} {'pan fps @fit':>13} "
          f"{'zoom fps @fit':>14} {'pan fps @100%':>14} {'titles ms':>10}")
    for c in CANDIDATES:
        print(f"{c:<9} {results[c][0]['size']:>12} {med(c, 'draw'):8.0f} {med(c, 'fitZoom'):9.3f} "
              f"{med(c, 'panFit'):13.1f} {med(c, 'zoomFit'):14.1f} {med(c, 'pan100'):14.1f} {med(c, 'titlesMs'):10.1f}")
    print("ratio wrapped / strip: " + ", ".join(
        f"{f} {med('wrapped', f) / med('strip', f):.2f}" for f in fields if med("strip", f)))


if __name__ == "__main__":
    main()
