"""The index page and the files it loads, kept on disk so the next ``serve`` answers them before its app exists.

Dash's page is the same bytes at every start of the same model with the same code: the HTML (with the first
picture, app/first_paint.py) and the scripts it names (React, Dash's renderer, dcc, html, dash_table, our
bvg-graph.js: ~1.3 MB). A start with nothing to trace spends ~1 s of CPU importing numpy, networkx, Dash and our
app before it can answer; with this copy the browser has the page (and paints its picture) and fetches and
parses those scripts meanwhile, and asks the app only for ``/_dash-layout`` and the callbacks.

The copy is content-keyed: the key covers the model (its name; a folder's config.json by path, size and time),
its head as given, the trace options, the versions of
bertviz_graph, Dash, torch and transformers and the app's asset files; the record also names the trace cache
file it was drawn from (its size and modification time must still match) and every file by its sha256, checked
when read. Anything that does not match is ignored (the start then waits for the app, as before), and the app,
once built, renders its index again and rewrites the copy when it differs (the copy heals after one start).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from bertviz_graph.io import write_atomic
from bertviz_graph.sources.packaged import packaged_dir
from bertviz_graph.sources.presets import ALIASES
from bertviz_graph.version import __version__

REVISION = 1  # bump when the record's format or what it means changes
ASSETS = Path(__file__).with_name("assets")
# what the index page loads that the copy may answer (exact URLs recorded from the app, query included)
STATIC = ("/_dash-component-suites/", "/assets/", "/_favicon.ico")
_URL = re.compile(r'(?:src|href)="(/[^"]+)"')
# Dash signs a fresh ``end_id`` into every index page; it binds background callbacks (which this app has none
# of) to one page load, and the renderer sends it only when set. A recorded page must not hand one page load's
# token to the next, so the record holds none (null: the renderer then sends no endId).
_END_ID = re.compile(r'"end_id":\s*"[^"]*"')


def without_end_id(index: str) -> str:
    return _END_ID.sub('"end_id":null', index)


def _dist(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "-"


def model_stamp(model: str) -> list[Any] | None:
    """What names the model without resolving it (resolving may import transformers to list the heads of a
    family: seconds, before the page could be answered): the name, and for a folder (a packaged model or a
    path) its config.json's path, size and modification time. None: no config.json."""

    folder = packaged_dir(ALIASES.get(model, model))
    path = Path(model).expanduser()
    if folder is None and path.is_dir():
        folder = path
    if folder is None:
        return [model]  # a preset (its config ships with this version) or a Hub id
    cfg = Path(folder) / "config.json"
    try:
        st = cfg.stat()
    except OSError:
        return None
    return [model, str(cfg.resolve()), st.st_size, st.st_mtime_ns]


def page_key(model: Any, head: str, options: dict[str, Any]) -> str:
    """The key of the page of a model (``model_stamp``, or any JSON value naming it) with its head as given
    (``auto`` too), served with ``options``."""

    assets = sorted((p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in ASSETS.iterdir() if p.is_file())
    blob = json.dumps([REVISION, model, head, options, __version__, _dist("dash"), _dist("torch"),
                       _dist("transformers"), assets], sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


def _folder(cache: Path) -> Path:
    return cache / "serve-pages"


def _stamp(path: Path) -> list[Any]:
    st = path.stat()
    return [path.name, st.st_size, st.st_mtime_ns]


@dataclass(frozen=True)
class Page:
    """A recorded index page and its files: url -> (sha256, content type, cache control)."""

    key: str
    index: str
    files: dict[str, tuple[str, str, str]]
    blobs: Path

    def body(self, url: str) -> tuple[bytes, str, str] | None:
        """The bytes, content type and cache control of ``url``, or None (not recorded, or changed on disk)."""
        entry = self.files.get(url)
        if entry is None:
            return None
        sha, ctype, cache_control = entry
        try:
            data = (self.blobs / sha).read_bytes()
        except OSError:
            return None
        if hashlib.sha256(data).hexdigest() != sha:
            return None
        return data, ctype, cache_control


def load_page(cache: Path, key: str) -> Page | None:
    """The page recorded under ``key``, if its record says so and the trace cache file it was drawn from is
    still there unchanged (same size and modification time); otherwise None."""
    try:
        rec = json.loads((_folder(cache) / f"{key}.json").read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(rec, dict) or rec.get("key") != key or rec.get("revision") != REVISION:
        return None
    trace = rec.get("trace")
    if not (isinstance(trace, list) and trace and isinstance(trace[0], str)
            and re.fullmatch(r"[0-9a-f]+\.json", trace[0])):
        return None
    try:
        if trace != _stamp(cache / trace[0]):
            return None
    except OSError:
        return None
    files = rec.get("files")
    if not isinstance(rec.get("index"), str) or not isinstance(files, dict):
        return None
    ok = {u: tuple(v) for u, v in files.items()
          if isinstance(v, list) and len(v) == 3 and all(isinstance(x, str) for x in v)
          and re.fullmatch(r"[0-9a-f]{64}", v[0]) and u.startswith(STATIC)}
    return Page(key=key, index=rec["index"], files=ok, blobs=_folder(cache) / "blobs")


def record_page(server: Any, cache: Path, key: str, trace_file: Path, current: Page | None) -> bool:
    """Record the index page of ``server`` (the app's Flask server) and the files it names, unless
    ``current`` already holds the same index. True when something was written."""

    client = server.test_client()
    resp = client.get("/")
    if resp.status_code != 200:
        return False
    index = without_end_id(resp.get_data(as_text=True))
    if current is not None and current.index == index:
        return False
    folder = _folder(cache)
    (folder / "blobs").mkdir(parents=True, exist_ok=True)
    files: dict[str, list[str]] = {}
    for url in dict.fromkeys(_URL.findall(index)):
        if not url.startswith(STATIC):
            continue
        r = client.get(url)
        if r.status_code != 200:
            continue
        data = r.get_data()
        sha = hashlib.sha256(data).hexdigest()
        if not (folder / "blobs" / sha).is_file():
            write_atomic(folder / "blobs" / sha, data)
        files[url] = [sha, r.headers.get("Content-Type", "application/octet-stream"),
                      r.headers.get("Cache-Control", "no-cache")]
    rec = {"revision": REVISION, "key": key, "trace": _stamp(trace_file), "index": index, "files": files}
    write_atomic(folder / f"{key}.json", json.dumps(rec))
    prune_blobs(folder)
    return True


def prune_blobs(folder: Path, min_age_s: float = 3600.0) -> int:
    """Delete the files no record names any more (each Dash or asset version left ~1.3 MB behind); only those
    older than ``min_age_s``, so another start writing its files before its record keeps them. The number
    deleted."""
    named: set[str] = set()
    for rec_file in folder.glob("*.json"):
        try:
            rec = json.loads(rec_file.read_text())
            named.update(v[0] for v in rec["files"].values())
        except (OSError, ValueError, TypeError, KeyError, IndexError, AttributeError):
            continue  # unreadable: names nothing (load_page refuses it too)
    gone = 0
    now = time.time()
    for blob in (folder / "blobs").glob("*"):
        try:
            if blob.name not in named and now - blob.stat().st_mtime > min_age_s:
                blob.unlink()
                gone += 1
        except OSError:
            continue  # taken by another start meanwhile
    return gone


def cache_root() -> Path:
    """The trace cache folder (tracer.cache_dir's rule, without importing the tracer)."""
    return Path(os.environ.get("BERTVIZ_GRAPH_CACHE", os.path.expanduser("~/.cache/bertviz_graph")))
