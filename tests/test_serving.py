"""serve --workers: real gunicorn processes sharing one trace; caches bounded in bytes."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np

from bertviz_graph.app.context import LRU
from bertviz_graph.layout.cache import LayoutCache
from bertviz_graph.memsize import approx_bytes

ROOT = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _children(pid: int) -> list[int]:
    with open(f"/proc/{pid}/task/{pid}/children") as f:
        return [int(c) for c in f.read().split()]


def test_serve_workers_runs_gunicorn_sharing_the_trace_cache(tmp_path):
    port = _free_port()
    cache = tmp_path / "cache"
    env = {**os.environ, "BERTVIZ_GRAPH_CACHE": str(cache), "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "bertviz_graph", "serve", "bert-tiny", "--port", str(port),
                             "--workers", "2"], env=env, cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.time() + 400  # generous: the CI machine is shared
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_dash-layout", timeout=30) as r:
                    assert r.status == 200
                    layout = json.loads(r.read())
                break
            except OSError:
                assert proc.poll() is None, proc.stdout.read()
                assert time.time() < deadline, "server did not answer"
                time.sleep(0.5)
        assert "bv-graph" in json.dumps(layout)  # the graph canvas (issue 10: no cytoscape)
        while len(_children(proc.pid)) != 2:  # gunicorn's master is the CLI process; two workers under it
            assert time.time() < deadline, f"workers: {_children(proc.pid)}"
            time.sleep(0.5)
        for _ in range(6):  # both workers answer (each built its app from the cache)
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_dash-dependencies", timeout=30) as r:
                assert r.status == 200
        traces = [p for p in cache.glob("*.json") if not p.name.startswith("heads-")]  # heads-*: the head list
        assert len(traces) == 1  # traced once, by the master, before forking
    finally:
        proc.terminate()
        proc.wait(30)


def test_serve_binds_loopback_by_default():
    from bertviz_graph.cli import build_parser

    args = build_parser().parse_args(["serve"])
    assert args.host == "127.0.0.1" and args.workers is None


def test_app_lru_is_bounded_in_bytes():
    cache = LRU(1000, max_bytes=1_000_000)
    for i in range(20):
        cache.get_or_make(i, lambda: np.zeros(100_000, dtype=np.float32))  # 400 kB each
    assert len(cache) == 2
    assert cache.nbytes <= 1_000_000
    assert cache.get_or_make("huge", lambda: np.zeros(1_000_000)).nbytes == 8_000_000  # returned, not kept
    assert "huge" not in cache._data


def test_layout_cache_is_bounded_in_bytes():
    cache = LayoutCache(max_entries=10_000, max_bytes=200_000)
    for i in range(100):
        cache.put(("key", i), {"pos": [(float(j), float(j)) for j in range(200)]})
    assert cache.stats()["bytes"] <= 200_000
    assert 0 < len(cache) < 100
    assert cache.get(("key", 99)) is not None and cache.get(("key", 0)) is None


def test_approx_bytes_counts_what_a_value_holds():
    a = np.ones((300, 400), dtype=np.float32)
    assert approx_bytes({"m": a, "also": a}) >= a.nbytes
    assert approx_bytes({"m": a, "also": a}) < 2 * a.nbytes  # the same array counted once
    assert approx_bytes(["x" * 10_000]) >= 10_000
