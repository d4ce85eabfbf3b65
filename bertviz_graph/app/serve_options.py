"""What ``bertviz-graph serve`` allows, from its options: path policy and token (app/registry.py, app/access.py).

Loopback (127.0.0.1, ::1, localhost): no token, tabs open any path (the local user's own files), as before.
Any other host: a token is required (``--token`` or a random one, printed in the URL), tabs open presets,
packaged models and folders under ``--models DIR`` only, unless ``--allow-any-path`` (warned about).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from bertviz_graph.app.access import limit_bodies, new_token, protect
from bertviz_graph.errors import UserError


def serve_options(host: str, token: str | None, models: str | None, allow_any_path: bool,
                  loopback: bool) -> dict[str, Any]:
    from bertviz_graph.app.registry import Policy  # lazy: start-up (PIL, cachetools, networkx, numpy)

    if models is not None and not Path(models).expanduser().is_dir():
        raise UserError(f"--models {models} is not a folder", "name a folder that holds model folders")
    if allow_any_path and not loopback:
        print("warning: --allow-any-path lets anyone with the token open any file this server can read",
              file=sys.stderr)
    policy = Policy(any_path=(loopback and models is None) or allow_any_path,
                    models_dir=Path(models).expanduser().resolve() if models else None)
    if token is not None and len(token) < 8:
        raise UserError("--token is shorter than 8 characters", "use a longer token, or omit it for a random one")
    return {"policy": policy, "token": token if token is not None else (None if loopback else new_token())}


def secure(server: Any, token: str | None) -> Any:
    """The Flask server with request bodies bounded and, given a token, every route behind it."""

    limit_bodies(server)
    if token:
        protect(server, token)
    return server
