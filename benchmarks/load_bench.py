"""Many users at once: simulated sessions through the app's real HTTP callbacks, on loopback.

    python benchmarks/load_bench.py [--sessions 20] [--seconds 120] [--workers 1 4] [--port 8098]

For each worker count it starts ``bertviz-graph serve bert-base-uncased --workers N`` (gunicorn), then
drives ``--sessions`` concurrent sessions for ``--seconds``. A session is a tiny Dash renderer: it reads
``/_dash-layout`` (initial property values) and ``/_dash-dependencies`` (every server callback, found by
the component properties it reads and writes, not by name), and after each user action fires every
callback whose inputs changed, as the browser would, feeding back what the server returned. User actions:
tap a closed box of the drawn SVG (the canvas writes the click event and the selection; opens groups, series), select a drawn leaf (details, weight heatmap,
neurons), type a search. Clientside callbacks run in a browser; the one-input one-output ones (this app's
are `v || null` bridges) are applied as pass-through, the others skipped. Prints: requests, errors (any non-200 or a Dash error body), p50/p95/max latency
per callback request, and the server's resident memory (master + workers, from /proc) after warm-up and
at the end, with the growth. Bounded: sessions × seconds, loopback only, each request times out at 60 s.
"""

from __future__ import annotations

import argparse
import html
import json
import os
import random
import re
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
QUERIES = ["softmax", "query", "layer\\.3\\..*dense", "LayerNorm", "(a+)+$", "attention", "gelu", "embed"]


def post(base: str, path: str, body: dict) -> tuple[int, dict | None, float]:
    req = urllib.request.Request(base + path, data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    t = time.perf_counter()
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            raw = r.read()
            status = r.status
    except urllib.error.HTTPError as e:
        return e.code, None, time.perf_counter() - t
    dt = time.perf_counter() - t
    if status == 204 or not raw:
        return status, {}, dt
    return status, json.loads(raw), dt


def get_json(base: str, path: str):
    with urllib.request.urlopen(base + path, timeout=60) as r:
        return json.loads(r.read())


def walk_layout(node, props: dict) -> None:
    """Initial values of every component property, keyed 'id.prop'."""
    if isinstance(node, list):
        for n in node:
            walk_layout(n, props)
        return
    if not isinstance(node, dict) or "props" not in node:
        return
    p = node["props"]
    cid = p.get("id")
    if isinstance(cid, str):
        for k, v in p.items():
            if k not in ("children", "id"):
                props[f"{cid}.{k}"] = v
    walk_layout(p.get("children"), props)


def parse_outputs(output: str) -> list[tuple[str, str]]:
    if "." not in output:
        return []  # a callback without outputs: its id is a hash, it answers by set_props ("sideUpdate")
    parts = output[2:-2].split("...") if output.startswith("..") else [output]
    return [tuple(p.rsplit(".", 1)) for p in parts]


class Session:
    def __init__(self, base: str, deps: list[dict], layout_props: dict, rng: random.Random, stats: Stats):
        self.base, self.rng, self.stats = base, rng, stats
        self.props = dict(layout_props)
        self.callbacks = []
        self.passthrough: dict[str, str] = {}  # one-input, one-output clientside callbacks (`v || null`)
        for d in deps:
            if d.get("clientside_function") and len(d["inputs"]) == 1 and not d["output"].startswith("..") \
                    and not isinstance(d["inputs"][0]["id"], dict) and "{" not in d["output"]:
                i = d["inputs"][0]
                self.passthrough[f"{i['id']}.{i['property']}"] = d["output"]
                continue
            if d.get("clientside_function") or "{" in d["output"]:
                continue  # other clientside callbacks run in the browser; pattern-matching ids need the DOM
            if any(isinstance(i["id"], dict) for i in d["inputs"] + d["state"]):
                continue
            self.callbacks.append(d)

    def fire(self, changed: set[str], depth: int = 0) -> None:
        if depth > 4 or not changed:
            return
        for key in list(changed):
            if key in self.passthrough and key in self.props:
                self.props[self.passthrough[key]] = self.props[key] or None
                changed.add(self.passthrough[key])
        for d in self.callbacks:
            keys = [f"{i['id']}.{i['property']}" for i in d["inputs"]]
            hit = [k for k in keys if k in changed]
            if not hit:
                continue
            outs = parse_outputs(d["output"])
            body = {"output": d["output"],
                    "outputs": [{"id": i, "property": p} for i, p in outs] if len(outs) != 1 or
                    d["output"].startswith("..") else {"id": outs[0][0], "property": outs[0][1]},
                    "inputs": [{"id": i["id"], "property": i["property"],
                                "value": self.props.get(f"{i['id']}.{i['property']}")} for i in d["inputs"]],
                    "state": [{"id": s["id"], "property": s["property"],
                               "value": self.props.get(f"{s['id']}.{s['property']}")} for s in d["state"]],
                    "changedPropIds": hit}
            status, resp, dt = post(self.base, "/_dash-update-component", body)
            self.stats.add(status, dt, resp)
            if status != 200 or not resp:
                continue
            new: set[str] = set()
            answered = [*(resp.get("response") or {}).items(), *(resp.get("sideUpdate") or {}).items()]
            for cid, props in answered:
                for prop, value in props.items():
                    self.props[f"{cid}.{prop}"] = value
                    new.add(f"{cid}.{prop}")
            self.fire(new, depth + 1)

    def drawn(self) -> list[tuple[str, bool]]:
        """(id, closed group?) of every box in the picture the server sent (the SVG canvas' store)."""
        svg = (self.props.get("bv-graph-picture.data") or {}).get("svg") or ""
        return [(html.unescape(m[1]), m[2] == "1" and m[3] == "0") for m in NODE_RE.finditer(svg)]

    def act(self) -> None:
        r = self.rng.random()
        nodes = self.drawn()
        closed = [n for n, c in nodes if c]
        if r < 0.45 and closed:  # tap a closed box: open a group or a ×N stack (js/src/app.js: event + select)
            pick = self.rng.choice(closed)
            self.props["bv-graph-event.data"] = {"type": "click", "id": pick, "toggle": True, "part": "box",
                                                 "nonce": self.rng.random()}
            self.props["bv-selected.data"] = {"id": pick}
            self.fire({"bv-graph-event.data", "bv-selected.data"})
        elif r < 0.85 and nodes:  # select a drawn leaf or group, as the page's click handler does
            pick = self.rng.choice(nodes)[0]
            self.props["bv-selected.data"] = {"id": pick, "nonce": self.rng.random()}
            self.fire({"bv-selected.data"})
        else:  # search
            self.props["bv-search-input.value"] = self.rng.choice(QUERIES)
            self.props["bv-search-input.n_submit"] = (self.props.get("bv-search-input.n_submit") or 0) + 1
            self.fire({"bv-search-input.n_submit"})
        if self.rng.random() < 0.1:  # now and then start over, like a reload
            self.props["bv-reset.n_clicks"] = (self.props.get("bv-reset.n_clicks") or 0) + 1
            self.fire({"bv-reset.n_clicks"})


NODE_RE = re.compile(r'<g class="node" data-id="([^"]*)"[^>]*?data-expandable="(\d)" data-expanded="(\d)"')


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.lat: list[float] = []
        self.errors: list[str] = []
        self.answered: dict[str, int] = {}  # which component properties the server updated, how often

    def add(self, status: int, dt: float, resp) -> None:
        with self.lock:
            self.lat.append(dt)
            if status not in (200, 204):
                self.errors.append(f"HTTP {status}")
            for cid, props in ((resp or {}).get("response") or {}).items():
                for prop in props:
                    key = f"{cid}.{prop}"
                    self.answered[key] = self.answered.get(key, 0) + 1


def tree_rss_mb(pid: int) -> float:
    """Resident memory of a process and all its descendants."""
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
            with open(f"/proc/{p}/task/{p}/children") as f:
                todo.extend(int(c) for c in f.read().split())
        except OSError:
            continue
    return total / 1024


def run(workers: int, sessions: int, seconds: float, port: int, warmup: float) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    server = subprocess.Popen([sys.executable, "-m", "bertviz_graph", "serve", "bert-base-uncased", "--port",
                               str(port), "--workers", str(workers)], env=env, cwd=ROOT,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 300
        while True:
            try:
                deps = get_json(base, "/_dash-dependencies")
                layout = get_json(base, "/_dash-layout")
                break
            except OSError:
                if server.poll() is not None or time.time() > deadline:
                    raise SystemExit(f"server did not start: {server.stderr.read()[-2000:]}") from None
                time.sleep(0.5)
        for _ in range(workers * 3):  # every worker builds its app on its first request
            get_json(base, "/_dash-layout")
        props: dict = {}
        walk_layout(layout, props)
        stats = Stats()
        stop = time.time() + seconds
        t0 = time.time()
        rss: list[tuple[float, float]] = []

        def user(i: int) -> None:
            s = Session(base, deps, props, random.Random(i), stats)
            s.props["bv-view-state.data"] = s.props.get("bv-view-state.data")
            s.fire({"bv-reset.n_clicks"} if "bv-reset.n_clicks" in s.props else set())
            while time.time() < stop:
                try:
                    s.act()
                except Exception as e:  # noqa: BLE001 - a failed request is an error to count, not a crash
                    with stats.lock:
                        stats.errors.append(f"{type(e).__name__}: {e}")
                time.sleep(s.rng.uniform(0.2, 1.0))  # think time

        threads = [threading.Thread(target=user, args=(i,)) for i in range(sessions)]
        for t in threads:
            t.start()
        while any(t.is_alive() for t in threads):
            rss.append((time.time() - t0, tree_rss_mb(server.pid)))
            time.sleep(2)
        for t in threads:
            t.join()
        lat = sorted(stats.lat)
        after = [m for t, m in rss if t >= warmup]
        return {"workers": workers, "requests": len(lat), "errors": len(stats.errors),
                "error_kinds": sorted(set(stats.errors))[:5],
                "p50": statistics.median(lat), "p95": lat[int(0.95 * (len(lat) - 1))], "max": lat[-1],
                "rps": len(lat) / seconds, "answered": stats.answered, "rss_warm": after[0], "rss_end": after[-1], "rss_max": max(after)}
    finally:
        server.terminate()
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            server.kill()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sessions", type=int, default=20)
    ap.add_argument("--seconds", type=float, default=120)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 4])
    ap.add_argument("--port", type=int, default=8098)
    ap.add_argument("--warmup", type=float, default=30, help="seconds before the RSS baseline is taken")
    args = ap.parse_args()
    for w in args.workers:
        r = run(w, args.sessions, args.seconds, args.port, args.warmup)
        growth = r["rss_end"] - r["rss_warm"]
        print(f"workers {w}: {args.sessions} sessions × {args.seconds:.0f} s: {r['requests']} callback requests "
              f"({r['rps']:.1f}/s), errors {r['errors']} {r['error_kinds']}, latency p50 {r['p50'] * 1000:.0f} ms "
              f"p95 {r['p95'] * 1000:.0f} ms max {r['max'] * 1000:.0f} ms; RSS after {args.warmup:.0f} s warm-up "
              f"{r['rss_warm']:.0f} MB, end {r['rss_end']:.0f} MB (growth {growth:+.0f} MB, "
              f"{100 * growth / r['rss_warm']:+.1f}%), max {r['rss_max']:.0f} MB", flush=True)
        keys = ("bv-graph-picture.data", "bv-details.children", "bv-heatmap.figure", "bv-search.data")
        print("   server answers: " + ", ".join(f"{k} ×{r['answered'].get(k, 0)}" for k in keys), flush=True)


if __name__ == "__main__":
    main()
