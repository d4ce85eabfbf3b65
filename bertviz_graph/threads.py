"""Background work (a preloaded sentence, a prefetch, a prune job) in threads the interpreter waits for.

Why not daemon threads: a daemon thread still inside a torch op when Python finalizes is stopped by
``pthread_exit``, whose forced unwind through torch's C++ frames calls ``std::terminate``: the process prints
"terminate called without an active exception" and exits with status 134 after work that finished fine (a CLI
command, a test run, a server stopped with Ctrl-C while a prune ran). Every job started here is bounded (one
forward pass, one prune), so waiting for it at exit is the right trade.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any


def start_background(target: Callable[..., Any], *args: Any, name: str) -> threading.Thread:
    """Start ``target(*args)`` in a (non-daemon) thread named ``name``; returns the started thread."""
    t = threading.Thread(target=target, args=args, name=name, daemon=False)
    t.start()
    return t
