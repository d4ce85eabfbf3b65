"""Who may use a server that others can reach: a token on any non-loopback host (as Jupyter does).

``protect(server, token)`` makes every route answer 403 without the token. A browser opens the URL the
server prints (``/?token=...``) once: the token is checked, kept in an HttpOnly, SameSite=Strict cookie
and the page reloads without it in the address bar; scripts may send ``Authorization: token ...``.
Requests are bounded in size (``MAX_BODY``): the largest callback body the app sends is the view state
and a run (well under 1 MB); anything bigger is refused with 413 before a callback reads it.
"""

from __future__ import annotations

import hmac
import secrets

COOKIE = "bvg_token"
MAX_BODY = 4 * 1024**2  # bytes of one request body


def new_token() -> str:
    return secrets.token_urlsafe(24)


def limit_bodies(server, max_bytes: int = MAX_BODY) -> None:
    server.config["MAX_CONTENT_LENGTH"] = max_bytes


def protect(server, token: str) -> None:
    """Refuse every request that does not carry ``token`` (query once, then cookie or header)."""
    from flask import Response, redirect, request

    def ok(given: str | None) -> bool:
        return bool(given) and hmac.compare_digest(str(given).encode(), token.encode())

    @server.before_request
    def _check():  # noqa: ANN202
        if ok(request.cookies.get(COOKIE)):
            return None
        auth = request.headers.get("Authorization", "")
        if auth.startswith("token ") and ok(auth[6:].strip()):
            return None
        if ok(request.args.get("token")):
            args = [(k, v) for k, v in request.args.items(multi=True) if k != "token"]
            from urllib.parse import urlencode

            target = request.path + ("?" + urlencode(args) if args else "")
            resp = redirect(target, code=302)
            resp.set_cookie(COOKIE, token, httponly=True, samesite="Strict")
            return resp
        return Response("error: this server needs its token\nfix: open the URL with ?token=... that "
                        "`bertviz-graph serve` printed when it started\n", status=403, mimetype="text/plain")
