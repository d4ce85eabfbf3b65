"""Server time of one click (view + layout + SVG) at 12/24/48/80 layers, before and after, interleaved.

    python benchmarks/click_bench.py                       # bert-base, bert-large, bert-xl-48, llama-70b-shape
    python benchmarks/click_bench.py --models bert-xl-48 --rounds 3 --before a37fe1d

A click is what the app's graph callback computes for a new view state (app/context.py ``_render``): the
``View`` of the state, its layout through the process-wide layout cache, and the SVG without title and
legend. Each model gets one scripted session of clicks, the way a user explores it:

- open: the ×N stack (one layer shows), a block inside it, a block inside an unfolded layer;
- close: the same blocks again;
- slider: the stack shows another member (×N slider);
- unfold: the stack drawn as N layers;
- dD-unfold / dD-open / dD-close: every stack unfolded and D levels opened (`--depth D --unfold`), then a
  block in layer 1, N/2 and N opened and closed again.

``--before REF`` names the code to compare with (default a37fe1d, main before issue 22's incremental
composition); it is exported with ``git archive`` to a temporary folder and imported by a worker process of
its own, so both run the same script side by side: the driver sends each click to the two workers in turn
(which one goes first alternates), and every round starts from an empty layout cache in both (dot processes
stay up). Prints p50 / p95 per model and kind of click, and the ratio after / before. Both workers must draw
byte-identical SVGs; the driver checks every click's SHA-1 and says so. ``--warm`` keeps the layout cache
(and composed parts) after round 1 and reports only the later rounds: clicks whose dot layouts are cached, each
on a fresh picture cache. Each worker freezes its heap once the trace is loaded (``gc.freeze()``), as the app does
when it starts serving: a click is not charged for the collector walking the model.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODELS = ["bert-base-uncased", "bert-large-uncased", "bert-xl-48", "llama-70b-shape"]
WORKER = "--worker"
MAX_DEEP = 2500


# ---- the worker: one code version, one model, clicks from stdin ------------------------------------------
def _series_and_blocks(h, view_cls):
    """The top ×N stack, the blocks of its first member, and each member's id (unfolded layers)."""
    series = next(g for g in h.series())
    first = h.groups[series.members[0]]
    blocks = [c for c in first.children if c in h.groups and h.groups[c].children]
    return series.id, series.members, blocks


def _sibling(member0: str, member: str, gid: str) -> str:
    return member + gid[len(member0):]


def session(h, view_cls, deep_levels: bool = True) -> list[tuple[str, object]]:
    """The scripted clicks: (kind, view state) in order."""
    sid, members, blocks = _series_and_blocks(h, view_cls)
    n = len(members)
    v = view_cls.default(h)
    out: list[tuple[str, object]] = []

    def click(kind: str, nv):
        nonlocal v
        v = nv
        out.append((kind, nv))

    click("open", v.open_instance(sid, 0))
    for b in blocks[:2]:
        click("open", v.open(b))
        click("close", v.close(b))
    for k in (1, n // 2, n - 1, n // 3):
        click("slider", v.open_instance(sid, k))
    click("unfold", v.unfold(sid))
    for k in (0, n // 4, n // 2, n - 1):  # open one layer of the unfolded stack, a block in it, close both
        m = members[k]
        click("open", v.open(m))
        click("open", v.open(_sibling(members[0], m, blocks[0])))
        click("close", v.close(_sibling(members[0], m, blocks[0])))
        click("close", v.close(m))
    def deep(d: int):
        return view_cls(h).unfold(all_series=True).open_depth(d)

    def closed_in(view, k: int) -> list[str]:
        return [x.id for x in view.data().nodes if x.expandable and not x.expanded
                and x.id.startswith(members[k] + ".")]

    # the fully unfolded model opened d levels deep (bert-xl-48: 640 / 2,176 boxes at d = 4 / 5): the two
    # deepest levels that still leave a block to open in every layer
    # (and no bigger than MAX_DEEP boxes: llama-70b-shape's 80 layers at depth 3 are 5,906, beyond what dot
    # lays out in 120 s on a loaded machine, and beyond the 4,000 at which the app asks before drawing)
    depths = [d for d in (5, 4, 3, 2) if all(closed_in(deep(d), k) for k in (1, n // 2, n - 1))
              and len(deep(d).data().nodes) <= MAX_DEEP][:2]
    for d in sorted(depths) if deep_levels else []:
        base = deep(d)
        click(f"d{d}-unfold", base)
        for k in (1, n // 2, n - 1):
            x = closed_in(base, k)[0]
            click(f"d{d}-open", base.open(x))
            click(f"d{d}-close", base)
    click("fold", v.close(sid).open_instance(sid, 0))
    return out


def worker(model: str, deep_levels: bool = True) -> None:
    import gc
    import hashlib

    import bertviz_graph.api as bg
    from bertviz_graph.app.context import AppContext
    from bertviz_graph.layout import default_cache, default_runner
    from bertviz_graph.view import View

    g = bg.trace(model)
    h = g.hierarchy
    clicks = session(h, View, deep_levels)
    ctx = AppContext(g)
    runner, dot_ms = default_runner(), [0.0]
    run_dot = runner.layout

    def timed_dot(sources):  # wall time waiting for dot (its own processes: not in our CPU time)
        t = time.perf_counter()
        try:
            return run_dot(sources)
        finally:
            dot_ms[0] += (time.perf_counter() - t) * 1000

    runner.layout = timed_dot
    # as the app does once started (app/__init__.py, cli serve): the trace and the session's views are out of the
    # collector's way, so a click is not charged for walking them (a full collection: tens of ms at 48 layers)
    gc.freeze()
    print(json.dumps({"ready": len(clicks), "kinds": [k for k, _ in clicks]}), flush=True)
    for line in sys.stdin:
        cmd = json.loads(line)
        if cmd.get("reset"):  # a new session: empty view, picture and layout caches (dot stays up)
            if cmd.get("keep"):  # --warm: the layouts (dot's), composed parts and drawn shapes stay; the pictures go
                ctx = AppContext(g)
                print(json.dumps({"ok": True}), flush=True)
                continue
            default_cache().clear()
            try:  # the composed parts too (layout/subtree.py; absent before issue 22's third session)
                from bertviz_graph.layout.subtree import default_parts
                default_parts().clear()
            except ImportError:
                pass
            try:  # and the containers' drawn shapes (render/svg_layers.py; absent before issue 22's fifth session)
                from bertviz_graph.render.svg_layers import default_shapes
                default_shapes().clear()
            except ImportError:
                pass
            ctx = AppContext(g)
            print(json.dumps({"ok": True}), flush=True)
            continue
        _kind, v = clicks[cmd["i"]]
        t0, c0, dot_ms[0] = time.perf_counter(), time.process_time(), 0.0
        got = ctx.render(v.state, "role")  # what the graph callback computes for a state (view, layout, SVG)
        ms, cpu = (time.perf_counter() - t0) * 1000, (time.process_time() - c0) * 1000
        print(json.dumps({"ms": ms, "cpu": cpu, "dot": dot_ms[0], "boxes": len(got.lv.boxes),
                          "sha": hashlib.sha1(got.svg.encode()).hexdigest()}), flush=True)


# ---- the driver ----------------------------------------------------------------------------------------
class Worker:
    def __init__(self, code: Path, model: str, deep_levels: bool = True):
        env = {**os.environ, "PYTHONPATH": str(code)}
        self.p = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), WORKER, model, str(int(deep_levels))], cwd=code,
                                  env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.hello = self._read()

    def _read(self) -> dict:
        line = self.p.stdout.readline()
        if not line:
            raise SystemExit(f"worker died (exit {self.p.wait()})")
        return json.loads(line)

    def ask(self, cmd: dict) -> dict:
        self.p.stdin.write(json.dumps(cmd) + "\n")
        self.p.stdin.flush()
        return self._read()

    def close(self) -> None:
        self.p.stdin.close()
        self.p.wait(timeout=60)


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, max(0, round(q * (len(xs) - 1))))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", nargs="+", default=MODELS)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--before", default="a37fe1d", help="git ref of the code to compare with")
    ap.add_argument("--warm", action="store_true",
                    help="keep the layout cache after round 1: later rounds time clicks whose dot layouts are cached "
                         "(what precomputing the next clicks' layouts would give); only rounds 2+ are reported")
    ap.add_argument("--after", default=None, help="git ref of the code to measure (default: this working tree)")
    # llama-70b-shape unfolded and opened one level (626 boxes, 867 edges): one dot run on its 80 frames took
    # more than dot's 120 s limit on the loaded machine (> 400 s alone); with the positioning budget dot_io
    # now gives containers of > 64 children it is drawn (export 1:59 under load ~10), still far from a click's
    # time, so its deep rows stay out by default; its folded clicks are measured
    ap.add_argument("--no-deep", nargs="*", default=["llama-70b-shape"], help="models without the dD rows")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="click_bench_") as tmp:
        def export(ref: str, name: str) -> Path:
            out = Path(tmp) / name
            out.mkdir()
            arc = subprocess.run(["git", "archive", ref], cwd=ROOT, check=True, capture_output=True).stdout
            subprocess.run(["tar", "-x", "-C", str(out)], input=arc, check=True)
            return out

        before = export(a.before, "before")
        after = export(a.after, "after") if a.after else ROOT
        print(f"before = {a.before} (git archive), after = {a.after or ROOT}; load average {os.getloadavg()[0]:.1f}")
        for model in a.models:
            deep = model not in a.no_deep
            ws = {"before": Worker(before, model, deep), "after": Worker(after, model, deep)}
            kinds = ws["after"].hello["kinds"]
            times: dict[tuple[str, str], list[float]] = {}
            boxes: dict[str, int] = {}
            same = True
            for r in range(a.rounds):
                for w in ws.values():
                    w.ask({"reset": True, "keep": a.warm and r > 0})
                for i, kind in enumerate(kinds):
                    order = ["before", "after"] if (i + r) % 2 == 0 else ["after", "before"]
                    got = {name: ws[name].ask({"i": i}) for name in order}
                    same &= got["before"]["sha"] == got["after"]["sha"]
                    boxes[kind] = max(boxes.get(kind, 0), got["after"]["boxes"])
                    if a.warm and r == 0:
                        continue  # round 1 only fills the layout cache
                    for name in order:
                        times.setdefault((kind, name), []).append(got[name]["ms"])
                        times.setdefault((kind, name + "-cpu"), []).append(got[name]["cpu"])
                        times.setdefault((kind, name + "-dot"), []).append(got[name].get("dot", 0.0))
            for w in ws.values():
                w.close()
            print(f"\n{model}: {len(kinds)} clicks x {a.rounds} rounds; SVGs byte-identical: {same}")
            print(f"{'click':10} {'boxes':>6} | wall ms: {'before p50':>10} {'p95':>7} {'after p50':>9} {'p95':>7} "
                  f"{'ratio p50':>9} {'p95':>5} | CPU ms (dot excluded): before p50 p95, after p50 p95 | "
                  "dot wall p50 before, after")
            for kind in [*dict.fromkeys(kinds), "all"]:
                def ts(name: str, kind: str = kind, times: dict = times) -> list[float]:
                    return [t for (k, n), xs in times.items() if n == name and kind in (k, "all") for t in xs]
                b, f, bc, fc = ts("before"), ts("after"), ts("before-cpu"), ts("after-cpu")
                bd, fd = ts("before-dot"), ts("after-dot")
                nb = boxes.get(kind, max(boxes.values()))
                print(f"{kind:10} {nb:>6} | {'':9}{pct(b, .5):>10.1f} {pct(b, .95):>7.1f} {pct(f, .5):>9.1f} "
                      f"{pct(f, .95):>7.1f} {pct(f, .5) / pct(b, .5):>9.2f} {pct(f, .95) / pct(b, .95):>5.2f} | "
                      f"{pct(bc, .5):.1f} {pct(bc, .95):.1f}, {pct(fc, .5):.1f} {pct(fc, .95):.1f} | "
                      f"{pct(bd, .5):.1f}, {pct(fd, .5):.1f}")
        print(f"\nload average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == WORKER:
        sys.path.insert(0, os.environ["PYTHONPATH"])
        worker(sys.argv[2], sys.argv[3:4] != ["0"])
    else:
        main()
