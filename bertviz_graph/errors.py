"""The one exception type for bad input: it names the problem and how to fix it.

The CLI prints ``str(error)`` and exits with status 2 (no traceback unless --debug);
the app and the notebook widget show the same text.
"""

from __future__ import annotations


class UserError(Exception):
    """Bad input from the user: a short message naming the problem, plus the fix."""

    def __init__(self, problem: str, fix: str | None = None):
        self.problem = problem
        self.fix = fix
        super().__init__(problem if not fix else f"{problem}\n  fix: {fix}")
