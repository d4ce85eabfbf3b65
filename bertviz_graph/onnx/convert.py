"""A TensorFlow SavedModel or a Paddle inference model folder -> an .onnx file, by the framework's own converter.

Only when that converter is installed (the optional extras ``bertviz-graph[convert-tf]`` for tf2onnx,
``[convert-paddle]`` for paddle2onnx); otherwise a UserError says the one command that converts the folder,
after which the .onnx file is opened as any other. The converter runs as a subprocess of this Python (its
heavy imports stay out of this process) and writes into the trace cache, keyed by the folder's content, so a
second open reuses it. Nothing in the model folder is executed by us or changed.
"""

from __future__ import annotations

import hashlib
import importlib.util
import subprocess
import sys
from pathlib import Path

from bertviz_graph.errors import UserError

OPSET = 17


def framework_of(folder: Path) -> str | None:
    """"tf" for a SavedModel, "paddle" for a Paddle inference model, None for anything else."""
    if not folder.is_dir():
        return None
    if (folder / "saved_model.pb").is_file():
        return "tf"
    if any(folder.glob("*.pdmodel")) or (any(folder.glob("*.pdiparams")) and any(folder.glob("*.json"))):
        return "paddle"
    return None


def _paddle_files(folder: Path) -> tuple[str, str]:
    model = next((p.name for p in sorted(folder.glob("*.pdmodel"))), None) or \
        next((p.name for p in sorted(folder.glob("*.json"))), "inference.json")
    params = next((p.name for p in sorted(folder.glob("*.pdiparams"))), "inference.pdiparams")
    return model, params


def command(folder: Path, kind: str, out: Path) -> list[str]:
    """The converter's command line for ``folder``."""
    if kind == "tf":
        return [sys.executable, "-m", "tf2onnx.convert", "--saved-model", str(folder), "--opset", str(OPSET),
                "--output", str(out)]
    model, params = _paddle_files(folder)
    return ["paddle2onnx", "--model_dir", str(folder), "--model_filename", model, "--params_filename", params,
            "--save_file", str(out), "--opset_version", str(OPSET)]


def _digest(folder: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            st = p.stat()
            h.update(f"{p.relative_to(folder)}|{st.st_size}|{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:16]


def convert_folder(folder: Path, cache: Path) -> Path:
    """The .onnx file converted from ``folder`` (converted now, or found in ``cache``)."""
    kind = framework_of(folder)
    if kind is None:
        raise UserError(f"{folder} is neither a TensorFlow SavedModel nor a Paddle inference model",
                        "pass a SavedModel folder (saved_model.pb) or a Paddle model folder (*.pdmodel/*.json)")
    module, extra = ("tf2onnx", "convert-tf") if kind == "tf" else ("paddle2onnx", "convert-paddle")
    shown = " ".join(command(folder, kind, Path("model.onnx"))).replace(sys.executable, "python")
    if importlib.util.find_spec(module) is None:
        raise UserError(f"{folder} is a {'TensorFlow SavedModel' if kind == 'tf' else 'Paddle inference model'}; "
                        f"it is read as ONNX, and {module} (which converts it) is not installed",
                        f"convert it once: {shown}   then open model.onnx "
                        f"(or pip install 'bertviz-graph[{extra}]' to convert on the fly)")
    out = cache / "converted" / f"{folder.name}-{_digest(folder)}.onnx"
    if out.is_file():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".part.onnx")
    done = subprocess.run(command(folder, kind, tmp), capture_output=True, text=True)
    if done.returncode != 0 or not tmp.is_file():
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        tmp.unlink(missing_ok=True)
        raise UserError(f"{module} could not convert {folder}: {tail[0][:200]}", f"run it yourself: {shown}")
    tmp.replace(out)  # atomically: a half-written file is never found in the cache
    return out
