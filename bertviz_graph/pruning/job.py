"""Pruning started from a front end (the app's Pruning tab, the widget): run in a background thread, report
progress, and leave the result in a temporary ``save_pretrained`` folder that is traced and shown.

Never touches the user's files: the pruned copy goes to the server's jobs folder (``jobs_root``: one per
server, under the system temp directory, shared by every ``--workers`` process through
``BERTVIZ_GRAPH_JOBS``, removed when the server stops; stale ones of dead servers are removed at start-up).
A job has an unguessable id (``secrets.token_urlsafe``) and a folder ``<root>/<id>/`` holding
``status.json`` (state, step, effect, owner hash; written atomically) and the copy, so any worker answers
a status poll, and only the tab that holds the owner secret may poll it. At most ``max_jobs()`` run at once
per server (default 2, ``BERTVIZ_GRAPH_MAX_JOBS``) and one per tab; finished copies beyond ``MAX_BYTES``
(2 GiB) are removed oldest first. The job takes the torch lock per forward pass only (pruning/api.py).
``export_folder`` copies a copy to a folder the user names (the CLI, the widget), atomically.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import json
import logging
import os
import re
import secrets
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bertviz_graph.errors import UserError
from bertviz_graph.io import write_atomic, write_folder_atomic
from bertviz_graph.pruning.methods import RECORD_KEY, check_method
from bertviz_graph.threads import start_background

TEMP_PREFIX = "bvg-jobs-"
ENV_ROOT = "BERTVIZ_GRAPH_JOBS"
_ROOT: Path | None = None
_ROOT_LOCK = threading.Lock()
_JOBS: dict[str, Job] = {}  # jobs this process runs (their threads); status comes from the folder
_JOBS_LOCK = threading.Lock()
log = logging.getLogger(__name__)
_MAX_JOBS = 32  # finished in-process Job objects kept; their folders are bounded by MAX_BYTES
MAX_BYTES = 2 * 1024**3
_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")


def max_jobs() -> int:
    try:
        return max(1, int(os.environ.get("BERTVIZ_GRAPH_MAX_JOBS", "2")))
    except ValueError:
        return 2


def _alive(pid: int) -> bool:
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
        if not _alive(pid):
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


def is_temp_copy(folder: str | Path | None) -> bool:
    """Is ``folder`` a pruned copy in this server's jobs folder (so the app may offer export and "back")?"""
    if not folder:
        return False
    try:
        return Path(folder).resolve().is_relative_to(temp_root().resolve())
    except OSError:
        return False


def _owner_hash(owner: str | None) -> str:
    return hashlib.sha256(str(owner or "").encode()).hexdigest()


@dataclass
class Job:
    id: str
    method: str
    amount: float
    source: str
    state: str = "queued"  # queued | running | done | error
    step: str = "waiting to start"
    started: float = field(default_factory=time.monotonic)
    elapsed: float = 0.0
    folder: Path | None = None
    graph: Any = None  # the traced pruned copy, ready to show
    effect: dict[str, float] = field(default_factory=dict)
    error: str = ""
    owner: str = ""  # sha256 of the tab's secret
    home: Path | None = None  # <root>/<id>/ for a job started with ``start`` (status.json lives there)

    def status(self) -> dict[str, Any]:
        return {"id": self.id, "state": self.state, "step": self.step, "method": self.method,
                "amount": self.amount, "elapsed": round(time.monotonic() - self.started, 1)
                if self.state in ("queued", "running") else round(self.elapsed, 1),
                "folder": str(self.folder) if self.folder else None, "effect": dict(self.effect),
                "error": self.error}

    def save(self) -> None:
        """Write status.json (atomically) for any worker to read; a no-op for a direct (widget) run."""
        if self.home is None:
            return

        d = {**self.status(), "owner": self.owner, "pid": os.getpid(), "time": time.time(),
             "t0": time.time() - (time.monotonic() - self.started)}
        write_atomic(self.home / "status.json", json.dumps(d))


def _error_text(exc: BaseException) -> str:
    if isinstance(exc, UserError):
        return exc.problem + (f" — {exc.fix}" if exc.fix else "")
    return f"pruning failed ({type(exc).__name__}: {exc})"


def run_prune(model: Any, method: str, amount: float, source: str, job: Job | None = None,
              sentences: Any = None) -> Job:
    """Prune ``model`` (name, folder or OpGraph) into a temporary folder, measure the effect, trace the
    result. Synchronous (the thread body; the widget calls it directly). Errors land in ``job.error``."""
    from bertviz_graph.pipeline import graph_of  # lazy: start-up (networkx)
    from bertviz_graph.pruning.api import prune  # lazy: start-up (numpy, torch)

    job = job or Job(id="direct", method=method, amount=float(amount), source=source)
    job.state = "running"
    # No lock for the whole job: prune() takes the torch lock per forward pass of its own copy of the model
    # (torch.export's flags are process-global), and the trace of the copy takes it itself.
    try:
        check_method(method, amount)
        job.step = f"loading the model and pruning ({method})"
        job.save()
        p = prune(model, method=method, amount=float(amount), sentences=sentences)
        job.step = "measuring the effect on the held-out sentences"
        job.save()
        job.effect = {**p.metrics(), "sentences": p.n_sentences, "scoring": p.scoring, "measuring": p.measuring}
        p.record.effect, p.record.source = dict(job.effect), source
        job.step = "writing the pruned copy to a temporary folder"
        job.save()
        stem = "".join(c if c.isalnum() or c in "-_." else "-" for c in Path(str(p.name)).name)[:40] or "model"
        home = job.home or Path(tempfile.mkdtemp(dir=temp_root(), prefix="direct-"))
        job.folder = p.save(home / f"{stem}-{method}-{amount:.2f}")
        del p  # the pruned module: the folder is what is shown from here on
        job.step = "tracing the pruned copy"
        job.save()
        job.graph = graph_of(str(job.folder))
        job.state, job.step = "done", "done"
    except Exception as exc:  # noqa: BLE001 - a sentence for the page, never a traceback
        if not isinstance(exc, UserError):
            log.error("pruning job %s failed", job.id, exc_info=True)  # the traceback: server log only
        job.state, job.error = "error", _error_text(exc)
    job.elapsed = time.monotonic() - job.started
    job.save()
    return job


def _read(home: Path) -> dict[str, Any] | None:
    try:
        d = json.loads((home / "status.json").read_text())
    except (OSError, ValueError):
        return None
    return d if isinstance(d, dict) else None


def _running(root: Path) -> list[dict[str, Any]]:
    out = []
    for home in root.iterdir():
        d = _read(home) if home.is_dir() else None
        if d and d.get("state") in ("queued", "running") and _alive(int(d.get("pid") or 0)):
            out.append(d)
    return out


def _trim(root: Path, cap: int = MAX_BYTES) -> None:
    """Remove finished copies, oldest first, until the jobs folder holds at most ``cap`` bytes."""
    done = []
    for home in root.iterdir():
        d = _read(home) if home.is_dir() else None
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
def _admission(root: Path):
    """One admission decision at a time across the server's worker processes (a file lock)."""
    import fcntl

    with open(root / ".lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def start(model: Any, method: str, amount: float, source: str, sentences: Any = None, owner: str = "") -> str:
    """Start pruning in a daemon thread; returns the job id to poll with ``status(id, owner)``. Refuses a
    second job of one owner (tab) and more than ``max_jobs()`` at once on the server."""
    check_method(method, amount)  # bad input is said at once, before any thread
    root = temp_root()
    oh = _owner_hash(owner)
    with _admission(root):
        running = _running(root)
        if owner and any(d.get("owner") == oh for d in running):
            raise UserError("this tab is already pruning", "wait for its job to finish")
        if len(running) >= max_jobs():
            raise UserError(f"the server already runs {len(running)} pruning jobs (at most {max_jobs()} at once)",
                            "try again when one has finished")
        _trim(root)
        jid = secrets.token_urlsafe(12)
        home = root / jid
        home.mkdir()
        job = Job(id=jid, method=method, amount=float(amount), source=source, owner=oh, home=home)
        job.save()
    with _JOBS_LOCK:
        _JOBS[job.id] = job
        for old in list(_JOBS)[:-_MAX_JOBS]:
            _JOBS.pop(old, None)
    start_background(run_prune, model, method, amount, source, job, sentences, name="bv-prune-job")
    return job.id


def get(job_id: str | None) -> Job | None:
    """The in-process Job (only in the process that runs it); front ends poll ``status`` instead."""
    with _JOBS_LOCK:
        return _JOBS.get(job_id or "")


def status(job_id: Any, owner: str | None = None) -> dict[str, Any] | None:
    """The job's status from its folder (any worker), or None: no such job, or not ``owner``'s."""
    if not isinstance(job_id, str) or not _ID.match(job_id):
        return None
    d = _read(temp_root() / job_id)
    if d is None or (owner is not None and d.get("owner") != _owner_hash(owner)):
        return None
    if d.get("state") in ("queued", "running"):
        if not _alive(int(d.get("pid") or 0)):
            d.update(state="error", error="the server process running this job stopped: press Prune again")
        else:  # the time so far, whichever worker asks
            d["elapsed"] = round(time.time() - float(d.get("t0") or time.time()), 1)
    return d


def result_folder(job_id: Any) -> Path | None:
    """The pruned copy of a finished job, only if it lies inside the jobs folder (after symlinks)."""
    d = status(job_id)
    if not d or d.get("state") != "done" or not d.get("folder"):
        return None
    root = temp_root().resolve()
    folder = Path(d["folder"]).resolve()
    return folder if folder.is_relative_to(root / job_id) and (folder / "config.json").is_file() else None


def export_folder(folder: str | Path, out: str | Path, force: bool = False) -> Path:
    """Copy a pruned copy to ``out`` (a normal model folder), atomically; refuses an existing folder."""
    from bertviz_graph.pruning.save import check_output_folder  # lazy: start-up (numpy, torch)

    if not str(out or "").strip():
        raise UserError("no output folder given", "type the folder to write, e.g. ~/minilm-pruned")
    out = check_output_folder(Path(str(out).strip()).expanduser(), force)
    src = Path(folder)
    if not (src / "config.json").is_file():
        raise UserError(f"{src} holds no pruned model to export", "prune a model first")
    return write_folder_atomic(out, lambda tmp: shutil.copytree(src, tmp, dirs_exist_ok=True))


def record_of_config(config: dict[str, Any] | None) -> dict[str, Any] | None:
    return (config or {}).get(RECORD_KEY)
