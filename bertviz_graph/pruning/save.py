"""Write a pruned model as a normal ``save_pretrained`` folder (config.json + model.safetensors), with the
source folder's tokenizer and other files copied, atomically: everything goes to a temporary folder next to
the target, which is renamed into place only when complete."""

from __future__ import annotations

import shutil
from pathlib import Path

import torch.nn as nn

from bertviz_graph.errors import UserError
from bertviz_graph.io import write_folder_atomic
from bertviz_graph.pruning.core import PruneRecord
from bertviz_graph.pruning.methods import RECORD_KEY

_NOT_COPIED = {"config.json", "model.safetensors.index.json"}
_NOT_COPIED_SUFFIX = (".safetensors", ".bin", ".pt", ".pth", ".ckpt", ".pkl", ".onnx", ".h5", ".msgpack")


def check_output_folder(out: str | Path, force: bool = False) -> Path:
    """Fail before any work when the folder exists (unless ``force``) or its parent is missing."""
    out = Path(out)
    parent = out.parent if str(out.parent) else Path(".")
    if not parent.is_dir():
        raise UserError(f"cannot write {out}: folder {parent} does not exist", "create the folder first")
    if out.exists() and not force:
        raise UserError(f"{out} already exists", "choose another -o folder, or pass --force to replace it")
    if out.exists() and not out.is_dir():
        raise UserError(f"{out} is a file, not a folder", "give a folder name for the pruned model")
    return out


def save_pruned(model: nn.Module, record: PruneRecord, out: str | Path, source_folder: Path | None = None,
                tokenizer=None, force: bool = False) -> Path:
    """Write ``model`` (its config carrying ``record``) to ``out``; returns the folder."""
    out = check_output_folder(out, force)
    def fill(tmp: Path) -> None:
        setattr(model.config, RECORD_KEY, record.to_json())
        try:
            model.save_pretrained(tmp, safe_serialization=True)
        finally:
            delattr(model.config, RECORD_KEY)
        if source_folder is not None and source_folder.is_dir():
            for f in source_folder.iterdir():
                if f.name in _NOT_COPIED or f.suffix in _NOT_COPIED_SUFFIX or f.name.startswith("."):
                    continue
                if f.is_dir():
                    shutil.copytree(f, tmp / f.name)
                elif not (tmp / f.name).exists():
                    shutil.copy2(f, tmp / f.name)
        elif tokenizer is not None:
            tokenizer.save_pretrained(tmp)

    return write_folder_atomic(out, fill)

