"""A first-ever ``serve``: trace in a child process while this one imports the app.

A first trace of MiniLM is ~4 s of CPU, three quarters of it importing torch and transformers; the app's own
imports (Dash, numpy, networkx, our modules) are ~1 s more. On two cores they need not wait for each other:
the child runs ``bertviz-graph trace MODEL -o <temporary file>`` (the collector off), which writes the trace cache
(a JSON graph: nothing is pickled, and the child reads only what the model names), and this process then
loads the trace from the cache as any cached start does. The child's bad input ("error: ..." and "fix: ..."
lines, exit status 2) becomes the same one-line error here.
"""

from __future__ import annotations

import argparse
import importlib
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from bertviz_graph.errors import UserError

# what make_app imports, in the order it needs them (bertviz_graph.app.make_app's lazy imports)
APP_MODULES = ("dash", "bertviz_graph.api", "bertviz_graph.app.first_paint")


_CHILD = "import gc, sys; gc.disable(); from bertviz_graph.cli import main; sys.exit(main(sys.argv[1:]))"


def start_child(args: argparse.Namespace) -> tuple[subprocess.Popen, Path]:
    """Start tracing ``args.model`` (with its head, attention, ops, seq-len) in a child process."""
    folder = Path(tempfile.mkdtemp(prefix="bvg-trace-"))
    # the collector off, as in serve itself: torch's and transformers' imports and the trace only grow the heap
    # (a pass of the collector over it again and again: ~30 % of the child's CPU)
    cmd = [sys.executable, "-c", _CHILD, "trace", str(args.model), "--head", args.head,
           "--attention", args.attention, "--ops", args.ops, "--seq-len", str(args.seq_len),
           "-o", str(folder / "graph.json")]
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)
    return proc, folder


def warm_imports() -> None:
    """Import what the app needs (a no-op when it is imported already)."""
    for name in APP_MODULES:
        importlib.import_module(name)


def stop_child(child: tuple[subprocess.Popen, Path]) -> None:
    """Stop a child that is not needed (the trace was cached after all)."""
    proc, folder = child
    proc.kill()
    proc.communicate()
    shutil.rmtree(folder, ignore_errors=True)


def wait_child(child: tuple[subprocess.Popen, Path], model: str) -> None:
    """Wait for the child; its bad input is raised here as a UserError, its crash as a RuntimeError."""
    proc, folder = child
    try:
        _, err = proc.communicate()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    if proc.returncode == 0:
        return
    lines = [ln.strip() for ln in (err or "").splitlines() if ln.strip()]
    problem = next((ln[len("error: "):] for ln in lines if ln.startswith("error: ")), None)
    fix = next((ln[len("fix: "):] for ln in lines if ln.startswith("fix: ")), None)
    if proc.returncode == 2 and problem:
        raise UserError(problem, fix)
    raise RuntimeError(f"tracing {model} in a child process failed (status {proc.returncode}): "
                       f"{lines[-1] if lines else 'no message'}")
