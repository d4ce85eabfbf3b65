"""A model's files stay inside its folder: every path a model file names is checked after symlinks.

A model file is data, never a capability (Netron, safetensors): an ONNX external-data name, a shard in an
index.json, a weight file of a saved graph may only point at a regular file inside the model's own folder,
judged on the resolved path (a symlinked ``.data`` that leads out of the folder is refused, nothing read).
"""

from __future__ import annotations

import os
from pathlib import Path

from bertviz_graph.errors import UserError


def inside(name: str | Path, folder: str | Path, what: str, fix: str | None = None) -> Path:
    """``folder / name`` resolved; a UserError unless it is a relative name that stays in ``folder``."""
    base = Path(folder).resolve()
    text = str(name)
    if not text or os.path.isabs(text) or ".." in Path(text).parts:
        raise UserError(f"{what} {text!r} is not a file name inside {base}",
                        fix or "keep a model's files in its own folder (relative names, no '..')")
    target = (base / text).resolve()
    if not target.is_relative_to(base):
        raise UserError(f"{what} {text!r} leads outside {base} (through a symlink); refused, nothing read",
                        fix or "copy the file itself into the model's folder instead of linking it")
    return target


def same_folder(files: list[str | Path], suffixes: tuple[str, ...], what: str) -> list[Path]:
    """Weight files that a saved graph lists: in one folder, each (after symlinks) a file in that folder with
    one of ``suffixes``; a UserError naming the first one that is not."""
    if not files:
        return []
    paths = [Path(f) for f in files]
    folder = paths[0].parent
    for p in paths:
        if p.parent != folder or ".." in p.parts or not p.name.endswith(suffixes):
            raise UserError(f"{what} names {str(p)!r}, not a {'/'.join(suffixes)} file of one model folder",
                            "trace the model again with 'bertviz-graph trace -o'")
        if p.exists() or p.is_symlink():
            target = inside(p.name, folder, what)
            if not target.name.endswith(suffixes):
                raise UserError(f"{what} names {str(p)!r}, a link to {target.name!r}; refused, nothing read",
                                "trace the model again with 'bertviz-graph trace -o'")
    return paths
