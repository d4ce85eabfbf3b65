"""Many users at once: simulated sessions through the app's real HTTP callbacks, on loopback.

    python benchmarks/load_bench.py [--sessions 20] [--seconds 120] [--workers 1 4] [--port 8098]

Each session is a browser tab on its own model (``?model=``: bert-tiny, bert-mini, bert-small,
all-MiniLM-L6-v2 in turn; session 0 also prunes MiniLM and then shows its pruned copy, ``job:<id>``), and
besides taps, selections and searches it runs sentences and now and then switches model. Every answer is
checked to belong to the session's model: every answer computed on a model names it (name and parameter
count in the ``X-Bertviz-Model`` header, app/registry.py), which must be the tab's own (read from its page
load), and every picture's layer stack (×N and "params each") must be that model's; an answer that is HTTP
200 but carries an error sentence ("Something went wrong", a traceback) counts as an error.

For each worker count it starts ``bertviz-graph serve bert-base-uncased --workers N`` (gunicorn), then
drives ``--sessions`` concurrent sessions for ``--seconds``. A session is a tiny Dash renderer: it reads
``/_dash-layout`` (initial property values) and ``/_dash-dependencies`` (every server callback, found by
the component properties it reads and writes, not by name), and after each user action fires every
callback whose inputs changed, as the browser would, feeding back what the server returned. User actions:
tap a closed box of the drawn SVG (the canvas writes the click event and the selection; opens groups, series), select a drawn leaf (details, weight heatmap,
neurons), type a search. Clientside callbacks run in a browser; the one-input one-output ones (this app's
are `v || null` bridges) are applied as pass-through, the others skipped. Prints: requests, errors (any non-200 or a Dash error body), p50/p95/max latency
per callback request, and the server's resident memory (master + workers, from /proc) after warm-up and
at the end, with the growth. Before the timed part every model is primed in every worker (``prime``: warm-up by state), then the memory
baseline is taken ``--warmup`` seconds into the timed part. Bounded: sessions × seconds, loopback only, each
request times out at 60 s.
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
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
QUERIES = ["softmax", "query", "layer\\.3\\..*dense", "LayerNorm", "(a+)+$", "attention", "gelu", "embed"]


MODEL_HEADER = "X-Bertviz-Model"  # app/registry.py: "name params[; name params]" of the models an answer used


def labels(header: str | None) -> list[tuple[str, str]]:
    """(name, parameter count) of each model an answer says it was computed on."""
    out = []
    for part in (header or "").split(";"):
        if part.strip():
            name, _, params = part.strip().rpartition(" ")
            out.append((urllib.parse.unquote(name), params))
    return out


def post(base: str, path: str, body: dict) -> tuple[int, dict | None, float, str | None]:
    req = urllib.request.Request(base + path, data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    t = time.perf_counter()
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            raw = r.read()
            status = r.status
            header = r.headers.get(MODEL_HEADER)
    except urllib.error.HTTPError as e:
        return e.code, None, time.perf_counter() - t, None
    dt = time.perf_counter() - t
    if status == 204 or not raw:
        return status, {}, dt, header
    return status, json.loads(raw), dt, header


def get_json(base: str, path: str, referer: str | None = None, with_header: bool = False):
    req = urllib.request.Request(base + path, headers={"Referer": referer} if referer else {})
    with urllib.request.urlopen(req, timeout=60) as r:
        data = json.loads(r.read())
        return (data, r.headers.get(MODEL_HEADER)) if with_header else data


MODELS = ["bert-tiny", "bert-mini", "bert-small", "all-MiniLM-L6-v2"]
SENTENCES = ["The cat sat on the mat.", "Paris is the capital of France.", "A dog barked at the mailman.",
             "Stocks fell sharply on Monday."]
ERROR_TEXT = ("Something went wrong", "Traceback", "internal error")
STACK_RE = re.compile(r"<title>[^<\n]*×(\d+)\n\d+ identical blocks · ([^ <]+) params each")


def fresh_loads(base: str, deps: list[dict]) -> str:
    """Tab B opens another model through the Model box; then 12 fresh page loads of each tab (any worker
    answers): every one must name that tab's own model."""
    b = Session(base, deps, Facts(base, MODELS[0]), random.Random(99), Stats())
    b.props.update({"bv-model-input.value": MODELS[1], "bv-model-location.href": f"{base}/"})
    b.fire({"bv-model-go.n_clicks"})
    href = b.props.get("bv-model-location.href") or ""
    names = {"A": [], "B": []}
    for _ in range(12):
        names["A"].append(Facts(base, "").name)
        names["B"].append(Facts(base, urllib.parse.unquote(href.split("model=", 1)[-1])).name)
    return (f"after tab B switched ({href}): 12 fresh loads of tab A named {sorted(set(names['A']))} "
            f"({names['A'].count(MODELS[0])}/12 {MODELS[0]}), of tab B {sorted(set(names['B']))} "
            f"({names['B'].count(MODELS[1])}/12 {MODELS[1]})")


def prime(base: str, deps: list[dict], models: dict[str, Facts], workers: int) -> str:
    """Warm-up by state, not by time: every model runs every sentence and shows a weight in 2 × workers + 1
    concurrent tabs (each new connection goes to whichever worker is free, so every worker very likely loads
    every model), before the timed part starts; the memory baseline is taken after ``--warmup`` more seconds."""
    t0, stats = time.time(), Stats()

    def tab(facts: Facts, k: int) -> None:
        try:
            fill(facts, k)
        except Exception as e:  # noqa: BLE001 - a slow machine: counted, the timed part still runs
            stats.errors.append(f"{type(e).__name__}: {e}")

    def fill(facts: Facts, k: int) -> None:
        s = Session(base, deps, facts, random.Random(1000 + k), stats)
        for text in SENTENCES:
            run = dict(s.props.get("bv-run.data") or {})
            s.props["bv-run.data"] = {**run, "text": text, "pair": "", "ids": None, "nonce": (run.get("nonce") or 0) + 1}
            s.fire({"bv-run.data"})
        for pick, _closed in s.drawn()[:3]:
            s.props["bv-selected.data"] = {"id": pick, "nonce": k}
            s.fire({"bv-selected.data"})

    threads = [threading.Thread(target=tab, args=(f, k)) for f in models.values() for k in range(2 * workers + 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return (f"primed: {len(threads)} tabs ran {len(SENTENCES)} sentences each on every model in {time.time() - t0:.0f} s "
            f"({len(stats.lat)} requests, {len(stats.errors)} errors)")


class Facts:
    """What identifies one model in an answer, read from its own page (layout) once."""

    def __init__(self, base: str, spec: str):
        self.spec = spec
        self.layout, header = get_json(base, "/_dash-layout", with_header=True,
                                       referer=f"{base}/?model={urllib.parse.quote(spec, safe='')}")
        self.props: dict = {}
        walk_layout(self.layout, self.props)
        svg = (self.props.get("bv-graph-picture.data") or {}).get("svg") or ""
        m = STACK_RE.search(svg)
        self.stack = (m[1], m[2]) if m else None  # ("6", "1,774,464") of "BertLayer ×6 ... params each"
        self.name = self.props.get("bv-model-name.data")
        got = labels(header)
        # the page's own answer: (name, parameter count) that every later answer of this tab must carry
        self.label = got[0] if got else (self.name, "?")
        assert self.label[0] == self.name, (self.label, self.name)

    def check_label(self, header: str | None, action: str) -> str | None:
        """None when every model the answer says it used is this tab's (a prune poll may also load the
        pruned copy of it, named after it), else what was used instead."""
        for name, params in labels(header):
            if (name, params) == self.label or (action == "prune-poll" and name.startswith(f"{self.name}-")):
                continue
            return f"{self.spec or self.name}: an answer computed on {name} ({params} parameters)"
        return None

    def check(self, key: str, value) -> str | None:
        """None when ``value`` (an answer for ``key``) fits this model, else what does not."""
        if key == "bv-graph-picture.data" and isinstance(value, dict) and self.stack:
            for n, each in STACK_RE.findall(value.get("svg") or ""):
                if (n, each) != self.stack:
                    return f"{self.spec}: a picture with a ×{n} stack of {each} params each"
        return None


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
    def __init__(self, base: str, deps: list[dict], facts: Facts, rng: random.Random, stats: Stats):
        self.base, self.rng, self.stats = base, rng, stats
        self.facts = facts
        self.props = dict(facts.props)
        self.props["bv-tab-secret.data"] = f"secret-{rng.random()}"
        self.action = "open"
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
            status, resp, dt, header = post(self.base, "/_dash-update-component", body)
            self.stats.add(status, dt, resp, self.action)
            if status != 200 or not resp:
                continue
            wrong = self.facts.check_label(header, self.action)
            with self.stats.lock:
                kind = d["output"]
                self.stats.labelled[kind] = self.stats.labelled.get(kind, 0) + (1 if header else 0)
                self.stats.unlabelled[kind] = self.stats.unlabelled.get(kind, 0) + (0 if header else 1)
                if wrong:
                    self.stats.cross.append(wrong)
            new: set[str] = set()
            answered = [*(resp.get("response") or {}).items(), *(resp.get("sideUpdate") or {}).items()]
            for cid, props in answered:
                for prop, value in props.items():
                    self.props[f"{cid}.{prop}"] = value
                    wrong = self.facts.check(f"{cid}.{prop}", value)
                    with self.stats.lock:
                        self.stats.checked += 1
                        if wrong:
                            self.stats.cross.append(wrong)
                    new.add(f"{cid}.{prop}")
            self.fire(new, depth + 1)

    def drawn(self) -> list[tuple[str, bool]]:
        """(id, closed group?) of every box in the picture the server sent (the SVG canvas' store)."""
        svg = (self.props.get("bv-graph-picture.data") or {}).get("svg") or ""
        return [(html.unescape(m[1]), m[2] == "1" and m[3] == "0") for m in NODE_RE.finditer(svg)]

    def switch(self, facts: Facts) -> None:
        secret = self.props.get("bv-tab-secret.data")
        self.facts, self.props = facts, dict(facts.props)
        self.props["bv-tab-secret.data"] = secret

    def act(self, models: dict[str, Facts]) -> None:
        r = self.rng.random()
        if r < 0.04 and len(models) > 1:  # open another model in this tab (a reload with ?model=)
            self.action = "switch"
            self.switch(models[self.rng.choice([m for m in models if m != self.facts.spec])])
            return
        if r < 0.14:  # run a sentence (Run tab; its store starts empty: the page fills it after the first paint)
            self.action = "run"
            run = dict(self.props.get("bv-run.data") or {})
            self.props["bv-run.data"] = {**run, "text": self.rng.choice(SENTENCES), "pair": "", "ids": None,
                                         "nonce": (run.get("nonce") or 0) + 1}
            self.fire({"bv-run.data"})
            return
        r = self.rng.random()
        self.action = "tap" if r < 0.45 else "select" if r < 0.85 else "search"
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
            self.action = "reset"
            self.props["bv-reset.n_clicks"] = (self.props.get("bv-reset.n_clicks") or 0) + 1
            self.fire({"bv-reset.n_clicks"})


NODE_RE = re.compile(r'<g class="node" data-id="([^"]*)"[^>]*?data-expandable="(\d)" data-expanded="(\d)"')


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.lat: list[float] = []
        self.errors: list[str] = []
        self.answered: dict[str, int] = {}  # which component properties the server updated, how often
        self.by_action: dict[str, list[float]] = {}
        self.cross: list[str] = []  # answers that belong to another model than the session's
        self.checked = 0
        self.labelled: dict[str, int] = {}  # answers (by callback output) naming the model they used
        self.unlabelled: dict[str, int] = {}  # answers that used no model (pure page logic)
        self.pruned = "not finished"

    def add(self, status: int, dt: float, resp, action: str = "other") -> None:
        with self.lock:
            self.lat.append(dt)
            self.by_action.setdefault(action, []).append(dt)
            if status not in (200, 204):
                self.errors.append(f"HTTP {status}")
            elif resp and any(t in json.dumps(resp) for t in ERROR_TEXT):
                self.errors.append("error body: " + next(t for t in ERROR_TEXT if t in json.dumps(resp)))
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
    server = subprocess.Popen([sys.executable, "-m", "bertviz_graph", "serve", MODELS[0], "--port",
                               str(port), "--workers", str(workers)], env=env, cwd=ROOT,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 300
        while True:
            try:
                deps = get_json(base, "/_dash-dependencies")
                get_json(base, "/_dash-layout")
                break
            except OSError:
                if server.poll() is not None or time.time() > deadline:
                    raise SystemExit(f"server did not start: {server.stderr.read()[-2000:]}") from None
                time.sleep(0.5)
        for _ in range(workers * 3):  # every worker builds its app on its first request
            get_json(base, "/_dash-layout")
        models = {m: Facts(base, m) for m in MODELS}  # each model's own page: what its answers must show
        assert all(f.stack for f in models.values()), {m: f.stack for m, f in models.items()}
        print("   stacks: " + ", ".join(f"{m} ×{f.stack[0]} of {f.stack[1]}" for m, f in models.items()), flush=True)
        print("   " + fresh_loads(base, deps), flush=True)
        print("   " + prime(base, deps, models, workers), flush=True)
        stats = Stats()
        stop = time.time() + seconds
        t0 = time.time()
        rss: list[tuple[float, float]] = []

        def user(i: int) -> None:
            s = Session(base, deps, models[MODELS[(i + 3) % len(MODELS)]], random.Random(i), stats)
            s.fire({"bv-reset.n_clicks"} if "bv-reset.n_clicks" in s.props else set())
            pruning = i == 0  # one tab prunes its MiniLM, polls (any worker answers), then shows the copy
            if pruning:
                s.action = "prune"
                s.props.update({"bv-prune-go.n_clicks": 1, "bv-prune-method.value": "magnitude",
                                "bv-prune-amount.value": 0.3})
                s.fire({"bv-prune-go.n_clicks"})
            while time.time() < stop:
                try:
                    if pruning and s.props.get("bv-prune-job.data"):
                        s.action = "prune-poll"
                        s.props["bv-prune-poll.n_intervals"] = (s.props.get("bv-prune-poll.n_intervals") or 0) + 1
                        s.fire({"bv-prune-poll.n_intervals"})
                        href = s.props.get("bv-prune-location.href") or ""
                        if "model=job" in href:
                            spec = urllib.parse.unquote(href.split("model=", 1)[1].split("#")[0])
                            models_seen = Facts(base, spec)
                            with stats.lock:
                                stats.pruned = f"{spec[:12]}… in {time.time() - t0:.0f} s"
                            s.switch(models_seen)
                            pruning = False
                    s.act(models)
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
        per = {a: (statistics.median(v), sorted(v)[int(0.95 * (len(v) - 1))], len(v))
               for a, v in sorted(stats.by_action.items())}
        return {"workers": workers, "requests": len(lat), "errors": len(stats.errors), "per_action": per,
                "cross": len(stats.cross), "cross_kinds": sorted(set(stats.cross))[:3], "checked": stats.checked,
                "pruned": stats.pruned,
                "error_kinds": sorted(set(stats.errors))[:5],
                "p50": statistics.median(lat), "p95": lat[int(0.95 * (len(lat) - 1))], "max": lat[-1],
                "rps": len(lat) / seconds, "answered": stats.answered, "rss_warm": after[0], "rss_end": after[-1],
                "rss_max": max(after), "rss_series": rss,
                # medians of the first and last 10 s after warm-up (one sample is a transient's height)
                "rss_warm_med": statistics.median([m for t, m in rss if warmup <= t < warmup + 10] or after[:1]),
                "rss_end_med": statistics.median([m for t, m in rss if t >= rss[-1][0] - 10]),
                "labelled": sum(stats.labelled.values()), "unlabelled": stats.unlabelled,
                "label_kinds": len([k for k, n in stats.labelled.items() if n])}
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
        keys = ("bv-graph-picture.data", "bv-details.children", "bv-heatmap.figure", "bv-search.data",
                "bv-run-summary.children")
        print("   server answers: " + ", ".join(f"{k} ×{r['answered'].get(k, 0)}" for k in keys), flush=True)
        print(f"   isolation: {r['labelled']} answers of {r['label_kinds']} callback kinds named their model "
              f"(name + parameter count, {MODEL_HEADER}) and {r['checked']} answered properties were checked "
              f"against the tab's model; {r['cross']} belonged to another model {r['cross_kinds']}; "
              f"the pruning tab: {r['pruned']}", flush=True)
        quiet = {k: n for k, n in r["unlabelled"].items() if n}
        print(f"   answers that used no model (page logic, no label): {sum(quiet.values())} of {len(quiet)} kinds "
              + ", ".join(sorted(k.split('.')[0].strip('.') for k in quiet))[:300], flush=True)
        med = r["rss_end_med"] - r["rss_warm_med"]
        print(f"   RSS medians (first / last 10 s after warm-up): {r['rss_warm_med']:.0f} -> {r['rss_end_med']:.0f} MB "
              f"({med:+.0f} MB, {100 * med / r['rss_warm_med']:+.1f}%); every 10 s: "
              + " ".join(f"{m:.0f}" for t, m in r["rss_series"][::5]), flush=True)
        print("   per action (p50 / p95 ms, requests): " + "; ".join(
            f"{a} {p50 * 1000:.0f} / {p95 * 1000:.0f} ({n})" for a, (p50, p95, n) in r["per_action"].items()),
            flush=True)


if __name__ == "__main__":
    main()
