"""One self-contained HTML file: the explorer bundle and its data, deflate-compressed, inline.

The data is JSON, zlib-compressed (the "deflate" format of the browser's DecompressionStream) and
base64-encoded in a non-executed <script type="application/octet-stream">; the bundle (built from
js/src/html.js) decodes it and draws the same canvas and panes as the widget. Nothing is fetched: no
CDN, no font, no image outside the file (tests intercept every request).
"""

from __future__ import annotations

import base64
import html
import json
import zlib
from importlib.resources import files
from pathlib import Path
from typing import Any

from bertviz_graph.io import write_atomic

STATIC = files("bertviz_graph.html") / "static"


def encode(payload: dict[str, Any]) -> str:
    """base64(zlib(JSON)): what the page's DecompressionStream("deflate") reads back."""
    raw = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return base64.b64encode(zlib.compress(raw, 9)).decode("ascii")


LATER = ("svgs", "details", "matrices", "tips", "search", "attention", "colours", "neurons", "compose")  # decoded after the first picture is drawn


def split(payload: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(head, rest): the head is small and holds the first picture, so the page paints before it has
    decoded every stored picture, detail and weight preview (the rest, a few MB of JSON)."""
    head = {k: v for k, v in payload.items() if k not in LATER}
    # the first view's record only: the index of every stored view comes with the rest
    head["states"] = {payload["start"]: payload["states"][payload["start"]]}
    first = payload["states"][payload["start"]]["svg"]
    head["first"] = {"svg": payload["svgs"][first], "tips": (payload.get("tips") or [{}] * (first + 1))[first]}
    return head, {"states": payload["states"], **{k: payload[k] for k in LATER if k in payload}}


def page(payload: dict[str, Any]) -> str:
    """The HTML text of the offline explorer for ``payload`` (``payload.build_payload``)."""
    head, rest = split(payload)
    js = (STATIC / "explorer.js").read_text(encoding="utf-8")
    css = (STATIC / "explorer.css").read_text(encoding="utf-8")
    title = html.escape(f"{payload.get('name') or 'model'} · bertviz_graph")
    # "</" cannot end the inline script early: the bundle is plain JS, escape the one sequence that could
    js = js.replace("</script", "<\\/script")
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        f"<title>{title}</title>"
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
        "script-src 'unsafe-inline' 'wasm-unsafe-eval'; style-src 'unsafe-inline'; img-src data: blob:; connect-src data: blob:\">"
        f"<style>{css}\nhtml,body{{margin:0;height:100%;}}#bvg-page{{padding:6px;box-sizing:border-box}}</style>"
        "</head><body><div id=\"bvg-page\"><noscript>This explorer needs JavaScript.</noscript></div>"
        f"<script type=\"application/octet-stream\" id=\"bvg-head\">{encode(head)}</script>"
        # the bundle before the big block: it paints the first picture while the parser is still reading the rest
        f"<script>{js}</script>"
        f"<script type=\"application/octet-stream\" id=\"bvg-data\">{encode(rest)}</script></body></html>\n"
    )


def write_page(payload: dict[str, Any], path: str | Path) -> Path:
    """Write the page atomically (never a half-written file)."""

    path = Path(path)
    write_atomic(path, page(payload))
    return path
