"""The server's jobs folder and its bounded queue: prune and train jobs started from a front end.

One folder per server (``temp_root``: ``$BERTVIZ_GRAPH_JOBS``, set by ``serve --workers`` for every worker,
else this process's own under the system temp directory; removed when the server stops, stale ones of dead
servers removed at start-up). A job is ``<root>/<id>/status.json`` (written atomically) plus what it makes,
so any worker answers a status poll. Ids are unguessable (``secrets.token_urlsafe``); a status is shown only
to the tab holding the owner secret (its sha256 is stored).

Admission (one decision at a time across workers: a file lock): one active job per tab; at most
``max_jobs()`` run at once (``BERTVIZ_GRAPH_MAX_JOBS``, default 2); beyond that a job waits in a FIFO queue
of at most ``max_queue()`` (``BERTVIZ_GRAPH_MAX_QUEUE``, default 4), its position shown to its tab
("queued (2nd)"); a full queue refuses with a sentence. A queued job's thread takes a free slot itself
(``wait_turn``), so the order holds whichever worker started which job. Finished jobs beyond ``MAX_BYTES``
(2 GiB) are removed oldest first.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import json
import os
import secrets
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from bertviz_graph.errors import UserError
from bertviz_graph.io import write_atomic

TEMP_PREFIX = "bvg-jobs-"
ENV_ROOT = "BERTVIZ_GRAPH_JOBS"
MAX_BYTES = 2 * 1024**3
ACTIVE = ("queued", "running")
_ROOT: Path | None = None
_ROOT_LOCK = threading.Lock()
TURN_POLL_S = 0.25  # how often a queued job's thread looks for a free slot (server side, not a test wait)


def _env_int(name: str, default: int, low: int) -> int:
    try:
        return max(low, int(os.environ.get(name, str(default))))
    except ValueError:
        return default


def max_jobs() -> int:
    """Jobs running at once on this server (all workers)."""
    return _env_int("BERTVIZ_GRAPH_MAX_JOBS", 2, 1)


def max_queue() -> int:
    """Jobs waiting for a slot at most; one more is refused."""
    return _env_int("BERTVIZ_GRAPH_MAX_QUEUE", 4, 0)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def clean_stale(tmp: str | Path | None = None) -> list[Path]:
    """Remove jobs folders of servers that are gone (their ``pid`` file names a dead process)."""
    gone = []
    for d in Path(tmp or tempfile.gettempdir()).glob(f"{TEMP_PREFIX}*"):
        try:
            pid = int((d / "pid").read_text())
        except (OSError, ValueError):
            continue  # not ours to judge (being created, or not a jobs folder)
        if not alive(pid):
            shutil.rmtree(d, ignore_errors=True)
            gone.append(d)
    return gone


def make_root() -> Path:
    """A new jobs folder for this server (stale ones removed first); removed when this process exits."""
    clean_stale()
    root = Path(tempfile.mkdtemp(prefix=TEMP_PREFIX))
    (root / "pid").write_text(str(os.getpid()))
    atexit.register(shutil.rmtree, root, True)
    return root


def temp_root() -> Path:
    """The server's jobs folder: ``$BERTVIZ_GRAPH_JOBS`` (set by ``serve --workers``) or this process's own."""
    global _ROOT
    with _ROOT_LOCK:
        env = os.environ.get(ENV_ROOT)
        if env and Path(env).is_dir():
            return Path(env)
        if _ROOT is None or not _ROOT.is_dir():
            _ROOT = make_root()
        return _ROOT


def owner_hash(owner: str | None) -> str:
    return hashlib.sha256(str(owner or "").encode()).hexdigest()


def read(home: Path) -> dict[str, Any] | None:
    try:
        d = json.loads((home / "status.json").read_text())
    except (OSError, ValueError):
        return None
    return d if isinstance(d, dict) else None


def write(home: Path, d: dict[str, Any]) -> None:
    write_atomic(home / "status.json", json.dumps(d))


def active(root: Path) -> list[dict[str, Any]]:
    """Queued and running jobs of live processes, each with its folder name as ``id``."""
    out = []
    for home in root.iterdir():
        d = read(home) if home.is_dir() else None
        if d and d.get("state") in ACTIVE and alive(int(d.get("pid") or 0)):
            out.append({**d, "id": home.name})
    return out


def _order(d: dict[str, Any]) -> tuple[float, str]:
    return (float(d.get("queued_at") or 0), str(d.get("id")))


def position(root: Path, job_id: str, jobs: list[dict[str, Any]] | None = None) -> int:
    """1 + the queued jobs ahead of ``job_id`` (FIFO by the time they were queued); 0 if it is not queued."""
    jobs = active(root) if jobs is None else jobs
    mine = next((d for d in jobs if d["id"] == job_id and d.get("state") == "queued"), None)
    if mine is None:
        return 0
    return 1 + sum(1 for d in jobs if d.get("state") == "queued" and _order(d) < _order(mine))


def ordinal(n: int) -> str:
    return f"{n}{'th' if 10 <= n % 100 <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th')}"


def trim(root: Path, cap: int = MAX_BYTES) -> None:
    """Remove finished jobs, oldest first, until the jobs folder holds at most ``cap`` bytes."""
    done = []
    for home in root.iterdir():
        d = read(home) if home.is_dir() else None
        if d and d.get("state") in ("done", "error"):
            size = sum(f.stat().st_size for f in home.rglob("*") if f.is_file())
            done.append((float(d.get("time") or 0), size, home))
    total = sum(s for _t, s, _h in done)
    for _t, size, home in sorted(done):
        if total <= cap:
            break
        shutil.rmtree(home, ignore_errors=True)
        total -= size


@contextlib.contextmanager
def admission(root: Path) -> Iterator[None]:
    """One admission decision at a time across the server's worker processes (a file lock)."""
    import fcntl

    with open(root / ".lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def admit(owner: str, what: str, first: Callable[[Path, str], dict[str, Any]]) -> tuple[str, Path]:
    """A new job folder, queued: refuses a second active job of one tab, and a full queue. ``first(home,
    id)`` returns the job's first status (written here, under the lock, with state "queued")."""
    root = temp_root()
    oh = owner_hash(owner)
    with admission(root):
        jobs = active(root)
        if owner and any(d.get("owner") == oh for d in jobs):
            raise UserError(f"this tab is already {what}", "wait for its job to finish")
        running = sum(1 for d in jobs if d.get("state") == "running")
        waiting = len(jobs) - running
        if running + waiting >= max_jobs() and waiting >= max_queue():
            raise UserError(f"the server is busy: {running} jobs run (at most {max_jobs()} at once) and "
                            f"{waiting} wait (at most {max_queue()})", "try again when one has finished")
        trim(root)
        jid = secrets.token_urlsafe(12)
        home = root / jid
        home.mkdir()
        write(home, {**first(home, jid), "state": "queued", "owner": oh, "pid": os.getpid(),
                     "queued_at": time.time(), "time": time.time()})
    return jid, home


def wait_turn(home: Path, start: Callable[[], None]) -> None:
    """Block this (job) thread until the job may run: fewer than ``max_jobs()`` running and no queued job
    ahead of it; then ``start()`` marks it running, under the lock, so two workers never both take a slot."""
    root = home.parent
    while True:
        if not threading.main_thread().is_alive():  # the server is stopping: do not start now
            raise UserError("the server stopped before this job's turn", "start it again")
        with admission(root):
            jobs = active(root)
            running = sum(1 for d in jobs if d.get("state") == "running")
            if running < max_jobs() and position(root, home.name, jobs) <= 1:
                start()
                return
        time.sleep(TURN_POLL_S)


def status(job_id: Any, owner: str | None = None) -> dict[str, Any] | None:
    """The job's status from its folder (any worker), or None: no such job, or not ``owner``'s. A queued
    job says its place in the queue (``position``: 1 = next)."""
    import re

    if not isinstance(job_id, str) or not re.fullmatch(r"[A-Za-z0-9_-]{8,64}", job_id):
        return None
    root = temp_root()
    d = read(root / job_id)
    if d is None or (owner is not None and d.get("owner") != owner_hash(owner)):
        return None
    if d.get("state") in ACTIVE:
        if not alive(int(d.get("pid") or 0)):
            d.update(state="error", error="the server process running this job stopped: start it again")
        else:  # the time so far, whichever worker asks
            d["elapsed"] = round(time.time() - float(d.get("t0") or d.get("queued_at") or time.time()), 1)
            if d["state"] == "queued":
                d["position"] = position(root, job_id)
    return d


def queued_text(st: dict[str, Any]) -> str:
    """"queued (2nd)": what a tab shows while its job waits for a slot."""
    n = int(st.get("position") or 1)
    return f"queued ({ordinal(n)}): {max_jobs()} jobs run at once on this server, yours starts when a slot frees"
