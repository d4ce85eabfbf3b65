"""Where a process's first capture goes when it replays the trace-time program (run/stored.py): phases timed.

    PYTHONPATH=$PWD python benchmarks/capture_phases.py [--runs 5] [--model all-MiniLM-L6-v2]

Each run is a fresh process (trace from the disk cache, model loaded, one torch thread, CPU time): read the
JSON, bind its constants to the model (parameter names, ATen ops), check it against the graph, instantiate it
for 12 tokens (decode + prepare), the first replay (the model's first pass in the process), then a capture and
a plain forward warm. Medians over runs. The trace cache is a fresh folder filled by a discarded first run.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

IDS = [101, 1996, 4937, 2938, 2006, 1996, 13523, 2138, 2009, 2001, 5458, 102]


def child(name: str) -> dict:
    import torch

    torch.set_num_threads(1)
    import bertviz_graph as bg
    from bertviz_graph.run import stored
    from bertviz_graph.run.capture import capture
    from bertviz_graph.run.load import load_runnable
    from bertviz_graph.run.replay import replay

    graph = bg.trace(name)
    run = load_runnable(graph)
    tokens = run.tokenize(ids=IDS)
    x = torch.tensor([IDS])
    c = time.process_time
    t = [c()]
    doc = json.loads(stored.path_for(graph).read_text())
    t.append(c())
    bound = stored.Bound.__new__(stored.Bound)  # the constructor's two steps, timed apart
    consts = stored.bind_consts(doc, run.model)
    t.append(c())
    stored.Bound.__init__(bound, doc, run.model, graph, consts)
    t.append(c())
    prog = bound.program(len(IDS))
    t.append(c())
    types = next((b for n, b in run.model.named_buffers() if n.endswith("token_type_ids")), None)
    replay(prog, lambda _gid, _v: None, [x], types)
    t.append(c())
    capture(graph, run, tokens)
    t.append(c())
    with torch.no_grad():
        run.model(x)
    t.append(c())
    names = ("read JSON", "bind constants", "check", "instantiate (12 tokens)", "first replay", "warm capture",
             "warm plain forward")
    return {n: (b - a) * 1e3 for n, a, b in zip(names, t, t[1:])}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--model", default="all-MiniLM-L6-v2")
    ap.add_argument("--child", action="store_true")
    a = ap.parse_args()
    if a.child:
        print(json.dumps(child(a.model)))
        return
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    env.setdefault("BERTVIZ_GRAPH_CACHE", tempfile.mkdtemp(prefix="bvg-capture-phases-"))
    cmd = [sys.executable, os.path.abspath(__file__), "--child", "--model", a.model]
    subprocess.run(cmd, env=env, check=True, capture_output=True)  # discarded: traces, writes the program
    rows = [json.loads(subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout.strip()
                       .splitlines()[-1]) for _ in range(a.runs)]
    print(f"{a.model}, {a.runs} fresh processes, CPU time ms (medians), load average {os.getloadavg()[0]:.1f}")
    for k in rows[0]:
        print(f"  {k:26} {statistics.median(r[k] for r in rows):7.2f}")


if __name__ == "__main__":
    main()
