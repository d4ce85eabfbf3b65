"""Callbacks never put a traceback in the page: a failure becomes one plain sentence.

``guarded(on_error)`` wraps a callback; on ``UserError`` the message (problem and fix) is shown, on any
other exception a short "internal error" line, and the traceback goes to the server log only.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

from dash.exceptions import PreventUpdate

from bertviz_graph.errors import UserError

log = logging.getLogger("bertviz_graph.app")


def error_text(exc: BaseException) -> str:
    if isinstance(exc, UserError):
        return exc.problem + (f" — {exc.fix}" if exc.fix else "")
    return f"Something went wrong ({type(exc).__name__}: {exc}). The server log has the details."


def guarded(on_error: Callable[[str], Any]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator: run the callback; on an exception return ``on_error(message)`` instead."""

    def wrap(fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def inner(*args: Any, **kwargs: Any) -> Any:
            try:
                return fn(*args, **kwargs)
            except PreventUpdate:
                raise
            except Exception as exc:  # noqa: BLE001 - every failure becomes a sentence in the page
                if not isinstance(exc, UserError):
                    log.exception("callback %s failed", fn.__name__)
                return on_error(error_text(exc))

        return inner

    return wrap
