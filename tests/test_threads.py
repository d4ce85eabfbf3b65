"""A process that ends while background torch work is still running exits with its own status, not an abort.

A daemon thread inside a torch op at interpreter exit is killed mid-op and the process dies with
"terminate called without an active exception" (status 134); ``threads.start_background`` is waited for."""

from __future__ import annotations

import subprocess
import sys

import pytest

WORK = """
import sys, threading, time, torch
from bertviz_graph.threads import start_background
inside = threading.Event()
def spin(seconds):
    x, end = torch.randn(256, 256), time.monotonic() + seconds
    while time.monotonic() < end:
        x = (x @ x).tanh()
        inside.set()
{start}
inside.wait()  # the worker is busy in torch now
sys.exit(3)  # a status of the program's own: it must come out as it is
"""


@pytest.mark.parametrize("start, status", [
    ("start_background(spin, 1.0, name='bv-test')", 3),
    # the same work in a daemon thread: the abort this module exists to prevent (the check can fail)
    ("threading.Thread(target=spin, args=(30.0,), daemon=True).start()", -6),
])
def test_exit_status_survives_background_torch_work(start, status):
    proc = subprocess.run([sys.executable, "-c", WORK.format(start=start)], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == status, proc.stderr[-500:]
    if status == 3:
        assert "terminate called" not in proc.stderr
