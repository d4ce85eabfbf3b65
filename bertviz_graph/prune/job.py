"""Pruning started from a front end (the app's Pruning tab, the widget): run in a background thread, report
progress, and leave the result in a temporary ``save_pretrained`` folder that is traced and shown.

Never touches the user's files: the pruned copy goes to a fresh folder under the system temp directory
(removed when the process exits); ``export_folder`` copies it to a folder the user names, atomically and
refusing one that exists. The record in its config.json carries the measured effect (agreement with the
unpruned model on the scoring sentences) and what was pruned (``source``), so the views read everything
from the folder alone.
"""

from __future__ import annotations

import atexit
import itertools
import logging
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bertviz_graph.errors import UserError
from bertviz_graph.prune.methods import RECORD_KEY, check_method

TEMP_PREFIX = "bvg-pruned-"
_ROOT: Path | None = None
_ROOT_LOCK = threading.Lock()
_JOBS: dict[str, Job] = {}
_JOBS_LOCK = threading.Lock()
_IDS = itertools.count(1)
log = logging.getLogger(__name__)
_MAX_JOBS = 32  # finished jobs kept for their status; older ones are forgotten


def temp_root() -> Path:
    """This process's folder for pruned copies (one per process, removed at exit)."""
    global _ROOT
    with _ROOT_LOCK:
        if _ROOT is None or not _ROOT.is_dir():
            _ROOT = Path(tempfile.mkdtemp(prefix=TEMP_PREFIX))
            atexit.register(shutil.rmtree, _ROOT, True)
        return _ROOT


def is_temp_copy(folder: str | Path | None) -> bool:
    """Is ``folder`` a pruned copy made by this process (so the app may offer export and "back")?"""
    if not folder or _ROOT is None:
        return False
    try:
        return Path(folder).resolve().is_relative_to(_ROOT.resolve())
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

    def status(self) -> dict[str, Any]:
        return {"id": self.id, "state": self.state, "step": self.step, "method": self.method,
                "amount": self.amount, "elapsed": round(time.monotonic() - self.started, 1)
                if self.state in ("queued", "running") else round(self.elapsed, 1),
                "folder": str(self.folder) if self.folder else None, "effect": dict(self.effect),
                "error": self.error}


def _error_text(exc: BaseException) -> str:
    if isinstance(exc, UserError):
        return exc.problem + (f" — {exc.fix}" if exc.fix else "")
    return f"pruning failed ({type(exc).__name__}: {exc})"


def run_prune(model: Any, method: str, amount: float, source: str, job: Job | None = None,
              sentences: Any = None) -> Job:
    """Prune ``model`` (name, folder or OpGraph) into a temporary folder, measure the effect, trace the
    result. Synchronous (the thread body; the widget calls it directly). Errors land in ``job.error``."""
    from bertviz_graph.pipeline import graph_of
    from bertviz_graph.prune.api import prune
    from bertviz_graph.torch_lock import torch_exclusive

    job = job or Job(id="direct", method=method, amount=float(amount), source=source)
    job.state = "running"
    # The job holds the torch lock: its forward passes must not run beside an export (torch.export's flags
    # are process-global and change transformers' code paths); a Run click meanwhile waits for the job.
    with torch_exclusive():
        try:
            check_method(method, amount)
            job.step = f"loading the model and pruning ({method})"
            p = prune(model, method=method, amount=float(amount), sentences=sentences)
            job.step = "measuring the effect on the held-out sentences"
            job.effect = {**p.metrics(), "sentences": p.n_sentences, "scoring": p.scoring,
                          "measuring": p.measuring}
            p.record.effect, p.record.source = dict(job.effect), source
            job.step = "writing the pruned copy to a temporary folder"
            stem = "".join(c if c.isalnum() or c in "-_." else "-" for c in Path(str(p.name)).name)[:40] or "model"
            out = Path(tempfile.mkdtemp(dir=temp_root(), prefix=f"{job.id}-")) / f"{stem}-{method}-{amount:.2f}"
            job.folder = p.save(out)
            del p  # the pruned module: the folder is what is shown from here on
            job.step = "tracing the pruned copy"
            job.graph = graph_of(str(job.folder))
            job.state, job.step = "done", "done"
        except Exception as exc:  # noqa: BLE001 - a sentence for the page, never a traceback
            if not isinstance(exc, UserError):
                log.error("pruning job %s failed", job.id, exc_info=True)  # the traceback: server log only
            job.state, job.error = "error", _error_text(exc)
    job.elapsed = time.monotonic() - job.started
    return job


def start(model: Any, method: str, amount: float, source: str, sentences: Any = None) -> str:
    """Start pruning in a daemon thread; returns the job id to poll with ``status``."""
    check_method(method, amount)  # bad input is said at once, before any thread
    job = Job(id=f"j{next(_IDS)}", method=method, amount=float(amount), source=source)
    with _JOBS_LOCK:
        _JOBS[job.id] = job
        for old in list(_JOBS)[:-_MAX_JOBS]:
            _JOBS.pop(old, None)
    threading.Thread(target=run_prune, args=(model, method, amount, source, job, sentences),
                     name=f"bv-prune-{job.id}", daemon=True).start()
    return job.id


def get(job_id: str | None) -> Job | None:
    with _JOBS_LOCK:
        return _JOBS.get(job_id or "")


def status(job_id: str | None) -> dict[str, Any] | None:
    job = get(job_id)
    return job.status() if job is not None else None


def export_folder(folder: str | Path, out: str | Path, force: bool = False) -> Path:
    """Copy a pruned copy to ``out`` (a normal model folder), atomically; refuses an existing folder."""
    from bertviz_graph.prune.save import check_output_folder

    if not str(out or "").strip():
        raise UserError("no output folder given", "type the folder to write, e.g. ~/minilm-pruned")
    out = check_output_folder(Path(str(out).strip()).expanduser(), force)
    src = Path(folder)
    if not (src / "config.json").is_file():
        raise UserError(f"{src} holds no pruned model to export", "prune a model first")
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp"))
    try:
        shutil.copytree(src, tmp, dirs_exist_ok=True)
        if out.exists():
            shutil.rmtree(out)
        tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def record_of_config(config: dict[str, Any] | None) -> dict[str, Any] | None:
    return (config or {}).get(RECORD_KEY)
