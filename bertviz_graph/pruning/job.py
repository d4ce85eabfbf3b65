"""Pruning started from a front end (the app's Pruning tab, the widget): run in a background thread, report
progress, and leave the result in a temporary ``save_pretrained`` folder that is traced and shown.

Never touches the user's files: the pruned copy goes to the server's jobs folder (bertviz_graph/jobs.py:
one per server, shared by every ``--workers`` process, removed when the server stops). A job has an
unguessable id and a folder ``<root>/<id>/`` holding ``status.json`` (state, step, effect, owner hash;
written atomically) and the copy, so any worker answers a status poll, and only the tab that holds the owner
secret may poll it. Over the server's job limit a job waits in the bounded queue (jobs.py), its place shown
to its tab. The job takes the torch lock per forward pass only (prune/api.py).
``export_folder`` copies a copy to a folder the user names (the CLI, the widget), atomically.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bertviz_graph import jobs
from bertviz_graph.errors import UserError
from bertviz_graph.io import write_folder_atomic
from bertviz_graph.jobs import (  # noqa: F401 - the jobs folder's names, also read from here (cli, tests)
    ENV_ROOT,
    MAX_BYTES,
    TEMP_PREFIX,
    clean_stale,
    make_root,
    max_jobs,
    temp_root,
)
from bertviz_graph.jobs import owner_hash as _owner_hash
from bertviz_graph.jobs import trim as _trim  # noqa: F401
from bertviz_graph.pruning.methods import RECORD_KEY, check_method
from bertviz_graph.threads import start_background

_JOBS: dict[str, Job] = {}  # jobs this process runs (their threads); status comes from the folder
_JOBS_LOCK = threading.Lock()
log = logging.getLogger(__name__)
_MAX_JOBS = 32  # finished in-process Job objects kept; their folders are bounded by MAX_BYTES


def is_temp_copy(folder: str | Path | None) -> bool:
    """Is ``folder`` a pruned copy in this server's jobs folder (so the app may offer export and "back")?"""
    if not folder:
        return False
    try:
        return Path(folder).resolve().is_relative_to(temp_root().resolve())
    except OSError:
        return False


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
    queued_at: float = field(default_factory=time.time)  # its place in the server's queue (jobs.py)

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
        import os

        jobs.write(self.home, {**self.status(), "owner": self.owner, "pid": os.getpid(), "time": time.time(),
                               "t0": time.time() - (time.monotonic() - self.started),
                               "queued_at": self.queued_at})


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
        job.graph = graph_of(str(job.folder), replay_program=False)  # the app records it after the example run
        job.state, job.step = "done", "done"
    except Exception as exc:  # noqa: BLE001 - a sentence for the page, never a traceback
        if not isinstance(exc, UserError):
            log.error("pruning job %s failed", job.id, exc_info=True)  # the traceback: server log only
        job.state, job.error = "error", _error_text(exc)
    job.elapsed = time.monotonic() - job.started
    job.save()
    return job


def start(model: Any, method: str, amount: float, source: str, sentences: Any = None, owner: str = "") -> str:
    """Start pruning in a daemon thread; returns the job id to poll with ``status(id, owner)``. Refuses a
    second job of one owner (tab); over the server's limit the job waits in the bounded queue (jobs.py)."""
    check_method(method, amount)  # bad input is said at once, before any thread
    made: list[Job] = []

    def first(home: Path, jid: str) -> dict[str, Any]:
        made.append(Job(id=jid, method=method, amount=float(amount), source=source, owner=_owner_hash(owner),
                        home=home, step="waiting for a free slot"))
        return made[0].status()

    jid, home = jobs.admit(owner, "pruning", first)
    job = made[0]
    with _JOBS_LOCK:
        _JOBS[job.id] = job
        for old in list(_JOBS)[:-_MAX_JOBS]:
            _JOBS.pop(old, None)

    def begin() -> None:  # under the admission lock: this job takes a slot
        job.state, job.step, job.started = "running", "starting", time.monotonic()
        job.save()

    def body() -> None:
        try:
            jobs.wait_turn(home, begin)
        except UserError as e:
            job.state, job.error = "error", _error_text(e)
            job.save()
            return
        run_prune(model, method, amount, source, job, sentences)

    start_background(body, name="bv-prune-job")
    return job.id


def get(job_id: str | None) -> Job | None:
    """The in-process Job (only in the process that runs it); front ends poll ``status`` instead."""
    with _JOBS_LOCK:
        return _JOBS.get(job_id or "")


def status(job_id: Any, owner: str | None = None) -> dict[str, Any] | None:
    """The job's status from its folder (any worker), or None: no such job, or not ``owner``'s."""
    return jobs.status(job_id, owner)


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
