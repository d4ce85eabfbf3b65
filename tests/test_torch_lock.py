"""One torch lock: traces, exported run programs, eager passes and pruning jobs never overlap.

torch.export's flags are process-global (torch.compiler.is_exporting() is True in every thread while one
thread exports), and transformers reads them to pick code paths. These tests hold the lock in one thread
and check that each entry point waits for it, and that the flag a concurrent export would leak is never
seen by a pass that holds the lock.
"""

from __future__ import annotations

import threading
import time

import torch
from tiny_models import tiny_model

import bertviz_graph as bg
from bertviz_graph.presenters.run_session import EXAMPLE, RunSession
from bertviz_graph.torch_lock import torch_exclusive


def _blocked_until_released(work) -> tuple[bool, bool, list]:
    """Run ``work`` in a thread while this thread holds the lock: (done while held, done after, result)."""
    out: list = []
    t = threading.Thread(target=lambda: out.append(work()), daemon=True)
    with torch_exclusive():
        t.start()
        t.join(1.0)
        during = not t.is_alive()
    t.join(120)
    return during, not t.is_alive(), out


def test_trace_waits_for_the_lock(tmp_path):
    folder = tiny_model(tmp_path / "m", cls="BertModel")
    during, after, out = _blocked_until_released(lambda: bg.trace(str(folder), cache=False))
    assert not during and after
    assert out[0].param_count() > 0


def test_run_export_and_eager_pass_wait_for_the_lock(tmp_path):
    from bertviz_graph.run.load import load_runnable
    from bertviz_graph.run.predict import embed

    folder = tiny_model(tmp_path / "m", cls="BertModel")
    graph = bg.trace(str(folder))
    session = RunSession(graph)
    during, after, out = _blocked_until_released(lambda: session.run("a cat"))
    assert not during and after and len(out[0].values) > 0
    run = load_runnable(graph)
    during, after, out = _blocked_until_released(lambda: embed(run, "a cat"))
    assert not during and after and out[0].shape == (32,)


def test_prune_job_holds_the_lock_while_it_runs(tmp_path):
    from bertviz_graph.pruning import job as J

    folder = tiny_model(tmp_path / "m")
    during, after, out = _blocked_until_released(
        lambda: J.run_prune(str(folder), "magnitude", 0.3, str(folder)))
    assert not during and after
    assert out[0].state == "done", out[0].error


def test_no_export_flag_leaks_into_a_locked_pass(tmp_path):
    """An export in thread A and an eager pass in thread B that both take the lock: B never sees
    torch.compiler.is_exporting() (it would, unlocked, while A's export runs)."""
    folder = tiny_model(tmp_path / "m", cls="BertModel")
    seen: list[bool] = []
    stop = threading.Event()

    def watch() -> None:  # what a pass in another thread would read, sampled under the lock
        while not stop.is_set():
            with torch_exclusive():
                seen.append(torch.compiler.is_exporting())
            time.sleep(0.001)

    t = threading.Thread(target=watch, daemon=True)
    t.start()
    try:
        for _ in range(3):
            bg.trace(str(folder), cache=False)
            time.sleep(0.05)  # room for the watcher between traces
    finally:
        stop.set()
        t.join(10)
    assert len(seen) >= 3 and not any(seen)


def test_preload_runs_the_example_sentence(tmp_path):
    folder = tiny_model(tmp_path / "m", cls="BertModel")
    session = RunSession(bg.trace(str(folder)))
    assert session.cached(EXAMPLE) is None
    t = session.preload()
    t.join(120)
    pre = session.cached(EXAMPLE)
    assert pre is not None
    fresh = RunSession(session.graph).run(EXAMPLE)
    op = next(k for k, v in fresh.values.items() if isinstance(v, torch.Tensor) and v.ndim == 3)
    assert torch.equal(pre.values[op].float(), fresh.values[op].float())
