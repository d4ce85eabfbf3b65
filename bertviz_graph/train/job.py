"""N training steps on a copy, started from a front end: a job in the server's jobs folder (bertviz_graph/jobs.py),
as pruning is, so the callback that starts it returns at once, any worker answers its tab's status poll
(state, "step 3 of 5: loss 0.41", the losses so far, the trained copy's folder), and over the server's job
limit it waits in the same bounded queue. The shown model is never changed: ``train_steps`` trains a copy.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from bertviz_graph import jobs
from bertviz_graph.errors import UserError
from bertviz_graph.threads import start_background
from bertviz_graph.train.update import save_trained, train_steps

log = logging.getLogger(__name__)


def start(run: Any, example: dict[str, Any], steps: int, lr: float, trainable: str, optimizer: str,
          objective: str | None, owner: str = "") -> str:
    """Queue ``steps`` steps of ``optimizer`` on a copy of ``run``'s model over ``example`` (text, pair,
    target); returns the job id to poll with ``jobs.status(id, owner)``. Bad input is refused at once."""
    if not 1 <= int(steps) <= 50:
        raise UserError(f"{steps} steps is outside 1-50", "ask for 2 to 50 steps on a copy")
    if not lr > 0:
        raise UserError(f"learning rate {lr:g} must be > 0", "type e.g. 1e-3")
    jid, home = jobs.admit(owner, "training", lambda _home, _jid: {
        "kind": "train", "step": "waiting for a free slot", "steps": int(steps), "losses": [], "folder": None,
        "error": ""})
    state = jobs.read(home) or {}

    def save(**kw: Any) -> None:
        state.update(kw, time=time.time())
        jobs.write(home, state)

    def progress(k: int, n: int, loss: float) -> None:
        save(step=f"step {k} of {n}: loss {loss:.4g}", losses=[*state.get("losses", []), loss])

    def body() -> None:
        try:
            jobs.wait_turn(home, lambda: save(state="running", step="copying the model", t0=time.time()))
            model, losses = train_steps(run, [example], int(steps), lr, trainable, optimizer, objective,
                                        progress=progress)
            save(step="writing the trained copy")
            stem = "".join(c if c.isalnum() or c in "-_." else "-" for c in str(run.name))[:40] or "model"
            folder = save_trained(model, Path(home) / f"{stem}-after-{len(losses)}-steps", run)
            save(state="done", step="done", losses=losses, folder=str(folder),
                 elapsed=round(time.time() - float(state.get("t0") or time.time()), 1))
        except Exception as exc:  # noqa: BLE001 - a sentence for the tab, never a traceback
            if not isinstance(exc, UserError):
                log.error("training job %s failed", jid, exc_info=True)
            text = exc.problem + (f" — {exc.fix}" if exc.fix else "") if isinstance(exc, UserError) \
                else f"training failed ({type(exc).__name__}: {exc})"
            save(state="error", error=text)

    start_background(body, name="bv-train-job")
    return jid
