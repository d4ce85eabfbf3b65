"""Does the app stay responsive while a prune job runs? (issue 19, item 2)

    python benchmarks/prune_responsive_bench.py [--model all-MiniLM-L6-v2] [--repeats 3]

Times, in one process, what a user does in another tab while a pruning job runs on the same server: a
forward pass of the Run tab (the sentence embedding of a new sentence, which takes the torch lock) and a
graph click that needs a new picture.
Three modes, interleaved per repeat: ``idle`` (no job), ``job`` (pruning/job.py today: the job takes the torch
lock per forward pass of its own model copy) and ``job-old`` (the job holding the lock for its whole run, as
before this issue). Medians; the ratio job-old / job is printed.
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="all-MiniLM-L6-v2")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()

    import bertviz_graph as bg
    from bertviz_graph.app import ids
    from bertviz_graph.app.context import AppContext
    from bertviz_graph.app.graph_panel import controller
    from bertviz_graph.pruning import job as J
    from bertviz_graph.torch_lock import torch_exclusive

    graph = bg.trace(args.model)
    C = AppContext(graph)
    C.run_session.run("warm up the model and its export")
    groups = sorted(g for g in C.h.groups if g)
    n = [0]

    from bertviz_graph.run.predict import embed

    def run_once() -> float:
        """The Run tab's sentence embedding (cosine with another sentence): an eager forward pass, which
        takes the torch lock every time (run/predict.py); a captured run reuses its export unlocked."""
        n[0] += 1
        t = time.perf_counter()
        embed(C.run_session.runnable, f"sentence number {n[0]} for the responsiveness benchmark")
        return time.perf_counter() - t

    def click_once() -> float:
        n[0] += 1
        g = groups[n[0] % len(groups)]
        t = time.perf_counter()
        controller(C, ids.VIEW_REQUEST, request={"action": "reveal", "id": g, "nonce": n[0]},
                   state=C.default_state.to_json_dict(), color_by="norm" if n[0] % 2 else "params")
        return time.perf_counter() - t

    def start(mode: str) -> threading.Thread | None:
        if mode == "idle":
            return None
        job = J.Job(id=f"bench-{mode}", method="magnitude", amount=0.3, source=args.model)

        def body() -> None:
            if mode == "job-old":
                with torch_exclusive():
                    J.run_prune(graph, "magnitude", 0.3, args.model, job)
            else:
                J.run_prune(graph, "magnitude", 0.3, args.model, job)

        t = threading.Thread(target=body, daemon=True)
        t.start()
        while job.state == "queued":  # measured while it runs, not before
            time.sleep(0.05)
        time.sleep(1.0)  # inside its scoring passes
        t.job = job  # type: ignore[attr-defined]
        return t

    res: dict[str, dict[str, list[float]]] = {m: {"run": [], "click": []} for m in ("idle", "job", "job-old")}
    for _ in range(args.repeats):
        for mode in ("idle", "job", "job-old"):
            t = start(mode)
            res[mode]["run"].append(run_once())
            res[mode]["click"].append(click_once())
            if t is not None:
                t.join()
                if t.job.state != "done":  # type: ignore[attr-defined]
                    raise SystemExit(f"prune failed: {t.job.error}")  # type: ignore[attr-defined]
    for what in ("run", "click"):
        med = {m: statistics.median(res[m][what]) for m in res}
        print(f"{what}: idle {med['idle']:.2f} s, during a prune {med['job']:.2f} s (lock per pass), "
              f"during a prune holding the lock throughout {med['job-old']:.2f} s; "
              f"old / new {med['job-old'] / med['job']:.1f}x", flush=True)


if __name__ == "__main__":
    main()
