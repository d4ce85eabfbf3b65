"""Run Graphviz ``dot`` on many small graphs fast.

Starting a ``dot`` process costs ~20 ms, which adds up with hundreds of containers and dominates a
re-layout after one click. So we keep up to ``workers`` long-lived ``dot -Tjson0`` processes: dot reads
graph after graph from its stdin and writes (and flushes) each layout as one JSON object, so one process
lays out any number of graphs. A batch is split over the processes (one per core) by size.
"""

from __future__ import annotations

import atexit
import json
import os
import select
import shutil
import subprocess
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import IO, Any

from bertviz_graph.errors import UserError

_SPLIT_MIN_CHARS = 40_000  # below this a batch is not worth a second process
# dot <= 2.43 keeps a static 8-bit mark counter (decompose.c: Cmark) across the graphs of one process; on
# its 256th decompose() call it wraps and dot reads freed memory and crashes (or worse). Our graphs cost
# 2-3 calls each, so no process may lay out more than this many graphs; then it is replaced.
MAX_GRAPHS_PER_PROCESS = 48


def find_dot() -> str:
    path = shutil.which("dot")
    if path is None:
        raise UserError(
            "Graphviz 'dot' was not found on PATH",
            "install Graphviz (Debian/Ubuntu: apt-get install graphviz; macOS: brew install graphviz)",
        )
    return path


def parse_json_stream(text: str) -> list[dict[str, Any]]:
    """Split dot's output for several graphs (JSON objects back to back) into a list."""
    dec = json.JSONDecoder()
    out, i, n = [], 0, len(text)
    while True:
        while i < n and text[i].isspace():
            i += 1
        if i >= n:
            return out
        obj, i = dec.raw_decode(text, i)
        out.append(obj)


class _DotProcess:
    """One persistent ``dot -Tjson0``: feed a graph, read back exactly one JSON object."""

    def __init__(self, dot: str, timeout: float):
        self.timeout = timeout
        self.err: IO[bytes] = tempfile.TemporaryFile()  # a file, not a pipe: warnings can never block dot
        self.proc = subprocess.Popen(
            [dot, "-Tjson0"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.err, bufsize=0
        )
        self.lock = threading.Lock()
        self.graphs = 0

    def alive(self) -> bool:
        return self.proc.poll() is None

    def worn_out(self) -> bool:
        return self.graphs >= MAX_GRAPHS_PER_PROCESS or not self.alive()

    def layout(self, source: str) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        try:
            self.proc.stdin.write(source.encode() + b"\n")
        except BrokenPipeError as e:
            raise RuntimeError(self._stderr() or "dot exited") from e
        fd = self.proc.stdout.fileno()
        buf = bytearray()
        deadline = time.monotonic() + self.timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"dot took more than {self.timeout:.0f} s on one graph")
            ready, _, _ = select.select([fd], [], [], min(left, 1.0))
            if not ready:
                continue
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                raise RuntimeError(self._stderr() or "dot exited without output")
            buf += chunk
            # dot ends each graph's JSON with "}\n"; only then is a parse attempt worth it
            if buf.endswith(b"}\n"):
                try:
                    obj = json.loads(buf)
                except json.JSONDecodeError:
                    continue
                self.graphs += 1
                return obj

    def _stderr(self) -> str:
        self.err.seek(0)
        return self.err.read().decode(errors="replace").strip()

    def close(self) -> None:
        if self.proc.stdin:
            try:
                self.proc.stdin.close()
            except OSError:
                pass
        try:
            self.proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if self.proc.stdout:
            self.proc.stdout.close()
        self.err.close()


class DotRunner:
    """Lays out batches of DOT sources; counts what it did (tests and benchmarks read the counters)."""

    def __init__(
        self, workers: int = 2, timeout: float = 120.0, persistent: bool = True, dot: str | None = None
    ):
        self.workers = max(1, workers)
        self.timeout = timeout
        # select() on pipes is POSIX only; elsewhere fall back to one process per batch
        self.persistent = persistent and os.name == "posix"
        self._dot = dot
        self._procs: list[_DotProcess] = []
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        self.graphs = 0  # graphs laid out
        self.batches = 0  # calls to layout()
        self.processes_started = 0

    @property
    def dot(self) -> str:
        if self._dot is None:
            self._dot = find_dot()
        return self._dot

    def layout(self, sources: list[str]) -> list[dict[str, Any]]:
        """Lay out every source (one ``digraph`` each); results in the same order."""
        if not sources:
            return []
        self.batches += 1
        self.graphs += len(sources)
        chunks = self._split(sources)
        if len(chunks) == 1:
            results = [self._run_chunk(chunks[0])]
        else:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="dot")
            results = list(self._pool.map(self._run_chunk, chunks))
        out: list[dict[str, Any]] = []
        for r in results:
            out.extend(r)
        return out

    def _split(self, sources: list[str]) -> list[list[str]]:
        """Contiguous chunks of roughly equal text size, one per worker (order kept)."""
        total = sum(len(s) for s in sources)
        n = min(self.workers, len(sources))
        if n <= 1 or total < _SPLIT_MIN_CHARS:
            return [sources]
        chunks: list[list[str]] = [[]]
        acc, target = 0, total / n
        for s in sources:
            if acc >= target * len(chunks) and len(chunks) < n:
                chunks.append([])
            chunks[-1].append(s)
            acc += len(s)
        return [c for c in chunks if c]

    def _run_chunk(self, sources: list[str]) -> list[dict[str, Any]]:
        if not self.persistent:
            return self.run_once(sources)
        out: list[dict[str, Any]] = []
        proc = self._acquire()
        try:
            for s in sources:
                if proc.worn_out():
                    proc = self._replace(proc)
                try:
                    out.append(proc.layout(s))
                except TimeoutError as e:
                    proc = self._replace(proc)
                    raise UserError(
                        f"Graphviz dot took more than {self.timeout:.0f} s", "open fewer groups"
                    ) from e
                except RuntimeError:
                    # a crash may come from an earlier graph's state: retry once in a fresh process,
                    # where a graph that still fails gets dot's own error message
                    proc = self._replace(proc)
                    out.extend(self.run_once([s]))
            return out
        finally:
            proc.lock.release()

    def _acquire(self) -> _DotProcess:
        with self._lock:
            for p in self._procs:
                if p.lock.acquire(blocking=False):
                    return p
            if len(self._procs) < self.workers:
                return self._start_locked()
            p = self._procs[0]
        p.lock.acquire()
        return p

    def _start_locked(self) -> _DotProcess:
        p = _DotProcess(self.dot, self.timeout)
        self.processes_started += 1
        p.lock.acquire()
        self._procs.append(p)
        return p

    def _replace(self, proc: _DotProcess) -> _DotProcess:
        """End a worn-out or broken process (we hold its lock) and start a fresh one, locked for us."""
        with self._lock:
            if proc in self._procs:
                self._procs.remove(proc)
            fresh = self._start_locked()
        proc.lock.release()
        proc.close()
        return fresh

    def run_once(self, sources: list[str]) -> list[dict[str, Any]]:
        """One ``dot`` process per MAX_GRAPHS_PER_PROCESS graphs of the batch (no persistent process)."""
        if len(sources) > MAX_GRAPHS_PER_PROCESS:
            out: list[dict[str, Any]] = []
            for i in range(0, len(sources), MAX_GRAPHS_PER_PROCESS):
                out.extend(self.run_once(sources[i : i + MAX_GRAPHS_PER_PROCESS]))
            return out
        try:
            res = subprocess.run(
                [self.dot, "-Tjson0"],
                input="\n".join(sources).encode(),
                capture_output=True,
                timeout=self.timeout,
            )
        except subprocess.TimeoutExpired as e:
            raise UserError(f"Graphviz dot took more than {self.timeout:.0f} s", "open fewer groups") from e
        objs = parse_json_stream(res.stdout.decode())
        if res.returncode != 0 or len(objs) != len(sources):
            raise UserError(f"Graphviz dot failed: {res.stderr.decode(errors='replace').strip()}")
        return objs

    def close(self) -> None:
        with self._lock:
            procs, self._procs = self._procs, []
        for p in procs:
            p.close()
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None


_default: DotRunner | None = None
_default_lock = threading.Lock()


def default_runner() -> DotRunner:
    """The process-wide runner (its dot processes end when Python exits)."""
    global _default
    with _default_lock:
        if _default is None:
            _default = DotRunner()
            atexit.register(_default.close)
        return _default
