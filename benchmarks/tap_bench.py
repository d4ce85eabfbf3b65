"""Tap -> painted in headless Chromium against the real ``bertviz-graph serve``, split into its parts.

    python benchmarks/tap_bench.py [--models bert-base-uncased bert-xl-48] [--rounds 3] [--with-load]

For each model it starts ``python -m bertviz_graph serve MODEL`` (one process, Dash's own threaded server,
what ``bertviz-graph serve`` runs), opens the page in the system chromium (Playwright, 1600 x 1000), waits
for the first graph and the example sentence, then per round taps: open the ×N stack, open a member's
attention, open its self-attention, move the ×N slider twice, close self-attention and attention by their
title bars, close the stack, Unfold ×N, Fold ×N (the slider values change every round, so most answers are
views the server has not drawn yet; the closes and fold return to views it has).

A tap is timed from the call of the canvas' own click handler (or the slider's / button's action) to the
end of the frame that paints the new picture: a MutationObserver sees the canvas mark its new picture
(``data-drawn``), then a requestAnimationFrame and a user-blocking task after it (``painted``: the frame's
script, style, layout and paint are done). ``next frame`` is the start of the frame after that (a second
requestAnimationFrame, the measure of the third session): it also counts whatever ran between the two frames
(Dash applying the answer's other outputs, which ours defers until the picture is painted). The
split comes from the browser's Resource Timing of the click's callback request (the one answering the
picture; the app names it in a ``Server-Timing`` header with its server time, app/server_timing.py):

- dispatch: tap -> the request starts (Dash's renderer collecting inputs);
- server: the callback's time in the server process (Server-Timing ``dur``);
- transfer: the rest of the request (loopback, queueing in the server, the response body);
- browser: response received -> painted (Dash parsing the JSON, the clientside draw, the canvas'
  ``setSvg``, style, layout and paint); ``draw`` is the canvas' own part of it (setSvg -> next frame).

``--with-load`` first starts ``benchmarks/load_bench.py --sessions 20 --workers 2`` (its own server, 20
simulated users) and taps once its warm-up is over, then stops it. Prints p50 / p95 per model and the ratio
to the goal (issue 22 item 2: <= 150 ms p95 on bert-base, <= 250 ms on 48 layers).
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GOAL_MS = {"bert-base-uncased": 150, "bert-xl-48": 250}

TAP_JS = """async ([kind, arg]) => {
  const G = window.bvgGraph, c = G.canvas, host = c.host;
  performance.clearResourceTimings();
  const drawn = new Promise((resolve, reject) => {
    const mo = new MutationObserver(() => { mo.disconnect(); resolve(performance.now()); });
    mo.observe(host, {attributes: true, attributeFilter: ['data-drawn']});
    setTimeout(() => { mo.disconnect(); reject(new Error('no new picture after 60 s')); }, 60000);
  });
  const label = (id) => { const g = c.nodes.get(id); return g && g.querySelector('text'); };
  const t0 = performance.now();
  if (kind === 'open' || kind === 'close') {
    const t = label(arg);
    if (!t) throw new Error(arg + ' is not drawn');
    c.onClick(t, {clientX: 0, clientY: 0, shiftKey: false});
  } else if (kind === 'slider') {
    window.dash_clientside.set_props('bv-series-slider', {value: arg});
  } else {
    document.getElementById('bv-unfold').click();
  }
  const tDom = await drawn;
  // painted: the task right after the frame that has the new picture (its animation frame callbacks, style,
  // layout and paint run in one main-thread task; a user-blocking task runs before queued timers); next: the
  // start of the frame after it (the previous sessions' measure: it also counts work queued behind the paint)
  const post = (f) => (window.scheduler && scheduler.postTask ? scheduler.postTask(f, {priority: 'user-blocking'}) : setTimeout(f, 0));
  const [tPaint, tNext] = await new Promise((r) => requestAnimationFrame(() => post(() => {
    const tp = performance.now();
    requestAnimationFrame(() => r([tp, performance.now()]));
  })));
  const reqs = performance.getEntriesByType('resource').filter((e) => e.name.includes('_dash-update-component'));
  const pic = reqs.find((e) => (e.serverTiming || []).some((s) => s.description.includes('bv-graph-picture')));
  const st = pic ? pic.serverTiming.find((s) => s.name === 'cb') : null;
  return {
    total: tPaint - t0, next: tNext - t0, dom: tDom - t0, draw: G.lastDrawMs, requests: reqs.length,
    dispatch: pic ? pic.startTime - t0 : null, http: pic ? pic.responseEnd - pic.startTime : null,
    server: st ? st.duration : null, browser: pic ? tPaint - pic.responseEnd : null,
    todom: pic ? tDom - pic.responseEnd : null, paint: tPaint - tDom,
    timeline: reqs.map((e) => [Math.round(e.startTime - t0), Math.round(e.responseEnd - t0),
      ((e.serverTiming || [])[0] || {}).description, Math.round(((e.serverTiming || [])[0] || {}).duration || 0)]),
    bytes: pic ? pic.decodedBodySize : null, wire: pic ? pic.encodedBodySize : null,
  };
}"""

# counts the page's callback requests in flight: between taps the bench waits for the page to be quiet (the
# previous tap's panels answered), as a user's next tap comes after that
INFLIGHT_JS = """(() => { window._bvInflight = 0; const f = window.fetch;
  window.fetch = function (...a) { const cb = String(a[0]).includes('_dash-update-component');
    if (cb) window._bvInflight += 1;
    const p = f.apply(this, a);
    if (cb) p.then((r) => r.clone().text()).catch(() => null).finally(() => { window._bvInflight -= 1; });
    return p; }; })();"""
QUIET_JS = "() => window._bvInflight === 0"

SETTLED_JS = """() => { const s = document.getElementById('bv-run-status');
  return window.bvgGraph && window.bvgGraph.firstDraw !== null && typeof window.Plotly === 'object'
    && (!s || !s.textContent.includes('Running the example')); }"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_serve(model: str, src: Path = ROOT) -> tuple[subprocess.Popen, str]:
    """``bertviz-graph serve model`` from the source tree ``src`` (ours, or a baseline's copy)."""
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(src), "PYTHONDONTWRITEBYTECODE": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "bertviz_graph", "serve", model, "--port", str(port)],
                            env=env, cwd=src, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.time() + 300
    while True:  # wait for state: the app answers its layout
        try:
            urllib.request.urlopen(url + "_dash-layout", timeout=5).read()
            return proc, url
        except OSError:
            if proc.poll() is not None or time.time() > deadline:
                raise SystemExit(f"serve {model} did not start: {proc.stderr.read()[-2000:]}") from None
            time.sleep(0.2)


def start_load() -> subprocess.Popen:
    """load_bench with 20 sessions on 2 workers; returns once its timed part (after priming) has begun."""
    proc = subprocess.Popen([sys.executable, str(ROOT / "benchmarks" / "load_bench.py"), "--sessions", "20",
                             "--workers", "2", "--seconds", "3600", "--port", str(free_port())],
                            cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    seen = 0
    for line in proc.stdout:  # "   stacks", "   fresh loads", "   prime": then the 20 users run
        if line.startswith("   "):
            seen += 1
            print("  load: " + line.strip()[:120], flush=True)
            if seen == 3:
                return proc
    raise SystemExit("load_bench ended before its timed part")


def stop(proc: subprocess.Popen, group: bool = False) -> None:
    try:
        if group:
            os.killpg(proc.pid, signal.SIGTERM)
        else:
            proc.terminate()
        proc.wait(timeout=30)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        if group:
            os.killpg(proc.pid, signal.SIGKILL)
        else:
            proc.kill()


def taps(page, r: int) -> list[tuple[str, dict]]:
    """Round ``r`` of the tap sequence (module docstring) on whatever model the page shows."""
    series = page.evaluate("""() => { const g = document.querySelector('#bv-graph g.node[data-kind="series"]');
        return g && g.getAttribute('data-id'); }""")
    if not series:
        raise SystemExit("no ×N stack drawn")
    out = []

    def tap(kind: str, arg=None) -> None:
        for _ in range(2):  # quiet, and still quiet after a user's pause (a panel may chain one more request)
            page.wait_for_function(QUIET_JS, timeout=120000, polling=20)
            page.wait_for_timeout(150)
        r = page.evaluate(TAP_JS, [kind, arg])
        out.append((kind, r))

    def member_child(suffix: str) -> str:
        return page.evaluate("""([s]) => { for (const [id, g] of window.bvgGraph.canvas.nodes)
            if (id.endsWith(s) && g.getAttribute('data-expandable') === '1') return id; return null; }""", [suffix])

    tap("open", series)
    n = page.evaluate("() => +document.querySelector('#bv-series-slider [role=slider]')"
                      ".getAttribute('aria-valuemax') + 1")
    att = member_child(".attention")
    tap("open", att)
    tap("open", att + ".self")
    k1, k2 = (3 + 5 * r) % n, (7 + 11 * r) % n
    tap("slider", k1)
    tap("slider", k2 if k2 != k1 else (k1 + 1) % n)
    att = member_child(".attention")
    tap("close", att + ".self")
    tap("close", att)
    tap("close", series)
    tap("unfold")
    tap("unfold")  # "Fold ×N"
    return out


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, max(0, round(q * (len(xs) - 1))))]


def report(model: str, label: str, rows: list[tuple[str, dict]]) -> None:
    tot = [r["total"] for _, r in rows]
    goal = GOAL_MS.get(model)
    p95 = pct(tot, 0.95)
    ratio = f"   p95 / goal {goal} ms = {p95 / goal:.2f}" if goal else ""
    nxt = [r["next"] for _, r in rows]
    print(f"{model}, {label}: {len(rows)} taps, tap -> painted p50 {statistics.median(tot):.0f} ms, "
          f"p95 {p95:.0f} ms, max {max(tot):.0f} ms{ratio}; tap -> next frame p50 {statistics.median(nxt):.0f}, "
          f"p95 {pct(nxt, 0.95):.0f} ms")
    parts = ("dispatch", "server", "transfer", "browser", "todom", "paint", "draw")
    got = [r for _, r in rows if r["http"] is not None and r["server"] is not None]
    for r in got:
        r["transfer"] = r["http"] - r["server"]
    if got:
        print("    split, median ms (p95): " + ", ".join(
            f"{p} {statistics.median(r[p] for r in got):.0f} ({pct([r[p] for r in got], 0.95):.0f})" for p in parts)
            + f"; picture answer {statistics.median(r['bytes'] for r in got) / 1024:.0f} kB median"
            + f" ({statistics.median(r['wire'] for r in got) / 1024:.0f} kB on the wire)")
    slow = sorted(got, key=lambda r: -r["total"])[:3]
    print("    slowest: " + "; ".join(
        f"{next(k for k, rr in rows if rr is r)} {r['total']:.0f} = dispatch {r['dispatch']:.0f} + server "
        f"{r['server']:.0f} + transfer {r['transfer']:.0f} + to DOM {r['todom']:.0f} + paint {r['paint']:.0f}"
        f" ({r['bytes'] / 1024:.0f} kB)" for r in slow))
    kinds = dict.fromkeys(k for k, _ in rows)
    print("    per kind, median total / server / browser ms: " + "; ".join(
        f"{k} {statistics.median(r['total'] for kk, r in rows if kk == k):.0f}"
        f"/{statistics.median(r['server'] or 0 for kk, r in rows if kk == k):.0f}"
        f"/{statistics.median(r['browser'] or 0 for kk, r in rows if kk == k):.0f}" for k in kinds))


def open_page(browser, url: str):
    page = browser.new_context(viewport={"width": 1600, "height": 1000}).new_page()
    page.add_init_script(INFLIGHT_JS)
    page.goto(url)
    page.wait_for_function(SETTLED_JS, timeout=120000, polling=50)
    # the example sentence (random weights for a preset: minutes on 48 layers) is answered before the first tap
    page.wait_for_function(QUIET_JS, timeout=1800000, polling=100)
    page.evaluate("() => performance.setResourceTimingBufferSize(10000)")
    return page


def run_model(pw, model: str, rounds: int, baseline: Path | None) -> dict[str, list[tuple[str, dict]]]:
    """Rounds of taps on ours and (when given) the baseline's serve, interleaved round by round."""
    sources = {"ours": ROOT, **({"baseline": baseline} if baseline else {})}
    procs = {}
    try:
        for k, src in sources.items():
            procs[k] = start_serve(model, src)
        browser = pw.chromium.launch(executable_path=shutil.which("chromium"), headless=True,
                                     args=["--no-sandbox", "--disable-gpu"])
        try:
            pages = {k: open_page(browser, url) for k, (_, url) in procs.items()}
            rows: dict[str, list[tuple[str, dict]]] = {k: [] for k in pages}
            for r in range(rounds):
                for k, page in (pages.items() if r % 2 == 0 else reversed(pages.items())):
                    page.bring_to_front()
                    rows[k] += taps(page, r)
            return rows
        finally:
            browser.close()
    finally:
        for proc, _ in procs.values():
            stop(proc)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="+", default=["bert-base-uncased", "bert-xl-48"])
    ap.add_argument("--rounds", type=int, default=3, help="tap sequences per model (10 taps each)")
    ap.add_argument("--with-load", action="store_true", help="with load_bench's 20 users on 2 workers running")
    ap.add_argument("--baseline", type=Path, default=None,
                    help="a source tree to time side by side (e.g. `git archive main | tar -x -C DIR`)")
    args = ap.parse_args()

    from playwright.sync_api import sync_playwright

    print(f"{platform.machine()}, {platform.system()} {platform.release()}, python {platform.python_version()}, "
          f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}", flush=True)
    load = start_load() if args.with_load else None
    label = "with load_bench (20 users, 2 workers)" if load else "alone"
    try:
        with sync_playwright() as pw:
            for model in args.models:
                rows = run_model(pw, model, args.rounds, args.baseline)
                la = f"load average {os.getloadavg()[0]:.1f}"
                for k, rs in rows.items():
                    report(model, f"{k}, {label}, {la}", rs)
                if "baseline" in rows:
                    p95 = {k: pct([r["total"] for _, r in rs], 0.95) for k, rs in rows.items()}
                    p50 = {k: statistics.median(r["total"] for _, r in rs) for k, rs in rows.items()}
                    print(f"{model}: ours / baseline, p50 {p50['ours'] / p50['baseline']:.2f}, "
                          f"p95 {p95['ours'] / p95['baseline']:.2f}")
    finally:
        if load is not None:
            stop(load, group=True)


if __name__ == "__main__":
    main()
