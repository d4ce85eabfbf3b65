"""The widget's JavaScript bundle: where it is, and whether it was built from the current js/ sources.

``static/widget.js`` and ``static/widget.css`` are built by ``js/build.mjs`` (esbuild) and committed, so
installing the package needs no Node. Their first line records a sha256 of the inputs; ``source_hash``
recomputes it here exactly like ``sourceHash()`` in js/build.mjs, so a test can tell a stale bundle without
Node.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

STATIC = Path(__file__).parent / "static"
ESM = STATIC / "widget.js"
CSS = STATIC / "widget.css"
JS_DIR = Path(__file__).resolve().parents[2] / "js"  # present in a source checkout only
BUILD_INPUTS = ("package.json", "package-lock.json", "build.mjs")

_HEADER = re.compile(r"sources sha256:([0-9a-f]{64})")


def source_hash(js_dir: Path = JS_DIR) -> str:
    """sha256 over (relative path, LF text) of js/src/** plus package.json, package-lock.json, build.mjs."""
    files = [p for p in (js_dir / "src").rglob("*") if p.is_file()] + [js_dir / f for f in BUILD_INPUTS]
    rels = sorted(p.relative_to(js_dir).as_posix() for p in files)
    h = hashlib.sha256()
    for rel in rels:
        text = (js_dir / rel).read_bytes().decode("utf-8").replace("\r\n", "\n")
        h.update(f"{rel}\n".encode())
        h.update(text.encode("utf-8"))
        h.update(b"\n\0\n")
    return h.hexdigest()


def bundle_hash(path: Path = ESM) -> str | None:
    """The source hash recorded in a built file's first line (None if it has none)."""
    with open(path, encoding="utf-8") as f:
        m = _HEADER.search(f.readline())
    return m.group(1) if m else None
