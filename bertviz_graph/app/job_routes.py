"""GET /_bertviz/export.zip?job=ID: a copy pruned (or trained) in the app, streamed to the browser as a zip.

Export on a shared server is a download, never a folder the browser names on the server. The id is the
job's unguessable id; the folder is resolved inside the server's jobs folder (``prune.job.result_folder``),
so no path from the browser is ever opened. Streamed (zipfile on an unseekable sink): a 90 MB copy is
never held in memory whole.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from pathlib import Path

from bertviz_graph.pruning.job import result_folder

EXPORT_ROUTE = "/_bertviz/export.zip"
CHUNK = 1 << 20


class _Sink:
    """A write-only, unseekable file for zipfile: collects what was written until taken."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.pos = 0

    def write(self, b: bytes) -> int:
        self.parts.append(bytes(b))
        self.pos += len(b)
        return len(b)

    def tell(self) -> int:
        return self.pos

    def flush(self) -> None:
        pass

    def take(self) -> bytes:
        out, self.parts = b"".join(self.parts), []
        return out


def zip_stream(folder: Path) -> Iterator[bytes]:
    """The files of ``folder`` (regular files inside it only, symlinks skipped) as a zip, chunk by chunk."""
    sink = _Sink()
    root = folder.resolve()
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_STORED) as zf:  # type: ignore[arg-type]
        for f in sorted(folder.rglob("*")):
            if f.is_symlink() or not f.is_file() or not f.resolve().is_relative_to(root):
                continue
            with f.open("rb") as src, zf.open(f"{folder.name}/{f.relative_to(folder)}", "w", force_zip64=True) as dst:
                while b := src.read(CHUNK):
                    dst.write(b)
                    yield sink.take()
    yield sink.take()


def register_routes(server) -> None:
    from flask import Response, request


    if EXPORT_ROUTE in {r.rule for r in server.url_map.iter_rules()}:
        return

    @server.route(EXPORT_ROUTE)
    def _export_zip():  # noqa: ANN202
        folder = result_folder(request.args.get("job", "")[:100])
        if folder is None:
            return Response("no such pruned copy on this server (finished jobs are removed when the server "
                            "stops)\n", status=404, mimetype="text/plain")
        name = "".join(c if c.isalnum() or c in "-_." else "-" for c in folder.name) or "model"
        return Response(zip_stream(folder), mimetype="application/zip",
                        headers={"Content-Disposition": f'attachment; filename="{name}.zip"'})
