"""Capture every op of a sentence (ours: the eager pre-dispatch capture) vs a plain forward vs torchlens.

    PYTHONPATH=$PWD python benchmarks/capture_bench.py [--rounds 3] [--warm 9] [--models all-MiniLM-L6-v2 ...]
    PYTHONPATH=$PWD python benchmarks/capture_bench.py --record-cost   # what the trace-time program adds to a trace

Each round starts one FRESH process per model and tool (rounds interleave them, order reversed every other
round). A process traces the graph (from the disk cache) and loads the model, then times:
- cold: the FIRST capture in the process (nothing before it but the trace and the load);
- warm: ``--warm`` interleaved pairs of a plain ``model(input_ids)`` (no_grad) and another capture.
Tools: "ours" = ``bertviz_graph.run.capture.capture`` (the default route), "plain" = a plain forward (its cold
figure is the first forward of a fresh process: the "cold / cold plain" column), "program" = the exported
program route it replaces (one layer exported, replicated, run by torch.fx.Interpreter), "torchlens" =
``torchlens.trace(model, input_ids)`` (2.36, every op's activation saved; install it by hand, it is not a
dependency), "base" = "ours" from another checkout (``--base DIR``: that folder first on PYTHONPATH, e.g. a
``git archive`` of main), so a change and what it replaces are timed in the same run. 12 tokens. Medians over
all rounds; ratios to the plain forward measured in the same processes. "2nd" is the second capture of the
process (the first of that length to replay the recorded program); "warm" the median of the later ones.
The trace cache is a fresh folder per run, filled by a discarded first process per model running "ours", so
the trace-time replay program (run/stored.py) is there as after any trace; the last lines say how many first
captures replayed it.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

# a fresh trace cache per run: the discarded first child per model traces it with the code under test, which
# also writes the trace-time replay program (run/stored.py) a capture of a later process replays
if "--child" not in sys.argv and "BERTVIZ_GRAPH_CACHE" not in os.environ:
    import tempfile

    os.environ["BERTVIZ_GRAPH_CACHE"] = tempfile.mkdtemp(prefix="bvg-capture-bench-")
MODELS = ("all-MiniLM-L6-v2", "bert-base-uncased", "bert-xl-48")
TOOLS = ("ours", "plain", "program", "torchlens")
IDS = [101, 1996, 4937, 2938, 2006, 1996, 13523, 2138, 2009, 2001, 5458, 102]  # 12 tokens


def child(name: str, tool: str, warm: int, cpu: bool = False) -> dict:
    import torch

    clock = time.perf_counter
    if cpu:  # CPU time of one thread: what a loaded machine's queue does not add
        torch.set_num_threads(1)
        clock = time.process_time

    import bertviz_graph as bg
    from bertviz_graph.run.capture import capture, program_for
    from bertviz_graph.run.load import load_runnable

    graph = bg.trace(name)
    run = load_runnable(graph)
    tokens = run.tokenize(ids=IDS)
    x = torch.tensor([tokens.input_ids])

    if tool == "plain":
        def once():
            with torch.no_grad():
                return run.model(x)
    elif tool == "torchlens":
        import torchlens as tl

        def once():
            return tl.trace(run.model, x)
    elif tool == "program":
        def once():
            return capture(graph, run, tokens, program=program_for(graph, run, len(tokens)))
    else:
        def once():
            return capture(graph, run, tokens)
    t0 = clock()
    first = once()
    cold = clock() - t0
    try:  # which route the first capture took (a --base checkout may predate run/stored.py)
        from bertviz_graph.run import stored

        replayed = tool == "ours" and stored.bound_for(graph, run.model) is not None
    except ImportError:
        replayed = False
    kept = len(first.values) if hasattr(first, "values") and isinstance(first.values, dict) else None
    plain, ours = [], []
    for _ in range(warm):
        t0 = clock()
        with torch.no_grad():
            run.model(x)
        plain.append(clock() - t0)
        t0 = clock()
        once()
        ours.append(clock() - t0)
    return {"model": name, "tool": tool, "cold_s": cold, "plain_s": plain, "warm_s": ours[1:] or ours,
            "second_s": ours[0] if ours else float("nan"), "kept": kept,
            "ops": len(graph.ops()), "load_average": os.getloadavg()[0], "stored": replayed}


def record_cost(name: str) -> dict:
    """What the trace-time program adds to a trace (cache miss): the trace with it, then the recording alone."""
    import bertviz_graph as bg
    from bertviz_graph.run import stored

    t0 = time.perf_counter()
    graph = bg.trace(name)
    trace = time.perf_counter() - t0
    t0 = time.perf_counter()
    doc = stored.record(graph)
    rec = time.perf_counter() - t0
    size = stored.path_for(graph).stat().st_size if stored.path_for(graph).is_file() else 0
    return {"model": name, "trace_s": trace, "record_s": rec, "steps": len(doc["steps"]) if doc else 0,
            "bytes": size, "load_average": os.getloadavg()[0]}


def _child(args: list[str], base: str | None = None) -> dict:
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    if base:
        env["PYTHONPATH"] = os.pathsep.join([base, *filter(None, [env.get("PYTHONPATH")])])
    out = subprocess.run([sys.executable, os.path.abspath(__file__), *args], capture_output=True, text=True,
                         env=env, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--warm", type=int, default=9)
    ap.add_argument("--models", nargs="+", default=list(MODELS))
    ap.add_argument("--tools", nargs="+", default=list(TOOLS))
    ap.add_argument("--child", nargs=2)
    ap.add_argument("--cpu", action="store_true", help="one torch thread, CPU time (process_time) instead of wall")
    ap.add_argument("--base", help="a checkout to time as tool 'base' (its ours), side by side")
    ap.add_argument("--record-cost", action="store_true", help="time the trace-time recording per model")
    a = ap.parse_args()
    if a.record_cost:
        if a.child:
            print(json.dumps(record_cost(a.child[0])))
            return
        print(f"{'model':20} {'trace (miss) s':>14} {'recording s':>12} {'share':>6} {'steps':>6} {'file KB':>8} load")
        for m in a.models:
            r = _child(["--child", m, "-", "--record-cost"])
            print(f"{m:20} {r['trace_s']:14.2f} {r['record_s']:12.2f} {r['record_s'] / r['trace_s']:6.0%} "
                  f"{r['steps']:6d} {r['bytes'] / 1024:8.0f} {r['load_average']:.1f}")
        return
    if a.child:
        print(json.dumps(child(a.child[0], a.child[1], a.warm, a.cpu)))
        return
    for m in a.models:  # discarded: fills the trace cache and the page cache
        _child(["--child", m, "ours", "--warm", "1"])
    res: dict[tuple[str, str], list[dict]] = {}
    order = [(m, t) for m in a.models for t in a.tools]
    for r in range(a.rounds):
        for m, t in order if r % 2 == 0 else order[::-1]:
            args = ["--child", m, "ours" if t == "base" else t, "--warm", str(a.warm)] + ["--cpu"] * a.cpu
            res.setdefault((m, t), []).append(_child(args, a.base if t == "base" else None))
    med = statistics.median
    loads = [x["load_average"] for v in res.values() for x in v]
    print(f"{len(IDS)} tokens, {a.rounds} rounds, {'CPU time, 1 thread' if a.cpu else 'wall time'}, load average {min(loads):.1f}-{max(loads):.1f}")
    print(f"{'model':20} {'tool':10} {'plain ms':>9} {'cold ms':>9} {'cold/plain':>10} {'cold/cold plain':>15} "
          f"{'2nd/plain':>9} {'warm ms':>9} {'warm/plain':>10}")
    rows = []
    for m in a.models:
        cold_plain = med([x["cold_s"] for x in res[(m, "plain")]]) if "plain" in a.tools else float("nan")
        for t in a.tools:
            rs = res[(m, t)]
            plain = med([p for x in rs for p in x["plain_s"]])
            cold = med([x["cold_s"] for x in rs])
            warm = med([w for x in rs for w in x["warm_s"]])
            second = med([x["second_s"] for x in rs])
            row = {"model": m, "tool": t, "plain_ms": round(plain * 1e3, 2), "cold_ms": round(cold * 1e3, 1),
                   "cold_ratio": round(cold / plain, 2), "cold_cold_ratio": round(cold / cold_plain, 2), "warm_ms": round(warm * 1e3, 2),
                   "warm_ratio": round(warm / plain, 2), "second_ratio": round(second / plain, 2), "kept": rs[0]["kept"], "ops": rs[0]["ops"]}
            rows.append(row)
            print(f"{m:20} {t:10} {row['plain_ms']:9.2f} {row['cold_ms']:9.1f} {row['cold_ratio']:10.2f} "
                  f"{row['cold_cold_ratio']:15.2f} {row['second_ratio']:9.2f} {row['warm_ms']:9.2f} {row['warm_ratio']:10.2f}")
    print("first capture replayed the trace-time program:",
          {f"{m}/{t}": sum(x["stored"] for x in rs) for (m, t), rs in res.items() if t in ("ours", "base")})
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
