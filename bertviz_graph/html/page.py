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

STATIC = files("bertviz_graph.html") / "static"


def encode(payload: dict[str, Any]) -> str:
    """base64(zlib(JSON)): what the page's DecompressionStream("deflate") reads back."""
    raw = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return base64.b64encode(zlib.compress(raw, 9)).decode("ascii")


def page(payload: dict[str, Any]) -> str:
    """The HTML text of the offline explorer for ``payload`` (``payload.build_payload``)."""
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
        "script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data: blob:; connect-src data: blob:\">"
        f"<style>{css}\nhtml,body{{margin:0;height:100%;}}#bvg-page{{padding:6px;box-sizing:border-box}}</style>"
        "</head><body><div id=\"bvg-page\"><noscript>This explorer needs JavaScript.</noscript></div>"
        f"<script type=\"application/octet-stream\" id=\"bvg-data\">{encode(payload)}</script>"
        f"<script>{js}</script></body></html>\n"
    )


def write_page(payload: dict[str, Any], path: str | Path) -> Path:
    """Write the page atomically (never a half-written file)."""
    from bertviz_graph.io import write_atomic

    path = Path(path)
    write_atomic(path, page(payload))
    return path
