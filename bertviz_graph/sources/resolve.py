"""Turn what the user named into a model to trace, plus where its weights live.

Accepted: a preset name ("bert-base-uncased"), a local Hugging Face directory (config.json + *.safetensors),
a model id already in the local Hugging Face cache (looked up on disk only), an ``nn.Module`` with example
inputs, or a saved graph (.json). Nothing here touches the network, runs code from a model directory,
or unpickles a file.
"""

from __future__ import annotations

import difflib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bertviz_graph.errors import UserError
from bertviz_graph.sources.config_check import check_config_sizes
from bertviz_graph.sources.heads import HEADS, auto_head, check_head
from bertviz_graph.sources.packaged import packaged_dir
from bertviz_graph.sources.paths import inside
from bertviz_graph.sources.presets import ALIASES, DEFAULT_MODEL, preset_config, preset_name, preset_names

PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl")
RANDOM_WEIGHTS_NOTE = "structure only: preset config without weights (weights shown are random)"


@dataclass
class ModelSource:
    """A model ready to trace. ``model`` may live on the meta device (structure only)."""

    name: str
    origin: str  # "preset" | "local" | "hf-cache" | "module"
    config: dict[str, Any] | None  # the config.json content, if any
    head: str  # "base" | "mlm" | "cls" | "qa" | "custom"
    model: Any = None  # nn.Module, built lazily by build_model()
    example_inputs: tuple = ()
    example_kwargs: dict[str, Any] = field(default_factory=dict)
    weight_files: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # plain statements for the user ("structure only")

    @property
    def structure_only(self) -> bool:
        return not self.weight_files and self.origin != "module"


def resolve(spec: Any, head: str = "auto", example_inputs: Any = None) -> ModelSource:
    """Resolve a preset name, local path, cache id or nn.Module into a ModelSource."""
    if head not in (*HEADS, "auto"):
        raise UserError(f"unknown head '{head}'", f"use one of: auto, {', '.join(HEADS)}")
    if not isinstance(spec, (str, os.PathLike, type(None))):  # a name or path needs no torch (seconds to import)
        try:
            import torch.nn as nn
        except ImportError as e:  # pragma: no cover - torch is a dependency
            raise UserError("PyTorch is not installed", "run: bash scripts/setup.sh") from e
    if not isinstance(spec, (str, os.PathLike, type(None))) and isinstance(spec, nn.Module):
        if example_inputs is None:
            raise UserError(
                "an nn.Module needs example inputs to be traced",
                "pass example_inputs=(input_ids,) or a dict of keyword tensors",
            )
        args, kwargs = (
            ((), dict(example_inputs)) if isinstance(example_inputs, dict) else (_as_tuple(example_inputs), {})
        )
        return ModelSource(name=type(spec).__name__, origin="module", config=None, head="custom",
                           model=spec, example_inputs=args, example_kwargs=kwargs)
    if spec is None:
        spec = DEFAULT_MODEL
    if not isinstance(spec, (str, os.PathLike)):
        raise UserError(
            f"cannot show a {type(spec).__name__}",
            "pass a preset name, a local model folder, a saved graph (.json) or an nn.Module",
        )
    text = str(spec)
    packaged = packaged_dir(ALIASES.get(text, text))
    if packaged is not None:  # real weights win over the structure-only preset of the same name
        src = _resolve_path(packaged, head)
        src.name = ALIASES.get(text, text)
        return src
    cfg = preset_config(text)
    if cfg is not None:
        return ModelSource(name=preset_name(text) or text, origin="preset", config=cfg,
                           head=_pick_head(head, cfg),
                           notes=[RANDOM_WEIGHTS_NOTE])
    path = Path(text).expanduser()
    if path.exists():
        return _resolve_path(path, head)
    cached = _find_in_hf_cache(text)
    if cached is not None:
        src = _resolve_path(cached, head)
        src.origin, src.name = "hf-cache", text
        return src
    if _looks_like_path(text):
        raise UserError(f"no such file or folder: {text}", "check the path")
    close = difflib.get_close_matches(text, preset_names() + list(ALIASES), n=3, cutoff=0.5)
    hint = f"did you mean {', '.join(close)}?" if close else f"presets: {', '.join(preset_names())}"
    raise UserError(f"unknown model '{text}': not a preset, a local folder, or in the local Hugging Face cache",
                    hint)


def _as_tuple(x: Any) -> tuple:
    return tuple(x) if isinstance(x, (list, tuple)) else (x,)


def _looks_like_path(text: str) -> bool:
    return text.startswith((".", "/", "~")) or text.endswith((".json", ".safetensors", *PICKLE_SUFFIXES)) or (
        os.sep in text and text.count("/") != 1
    )


def _pick_head(head: str, cfg: dict) -> str:
    if head == "auto":
        return auto_head(cfg)
    check_head(head, cfg.get("model_type"))
    return head


def _resolve_path(path: Path, head: str) -> ModelSource:
    if path.is_file():
        if path.suffix in PICKLE_SUFFIXES:
            raise _pickle_error(path)
        if path.suffix == ".safetensors":
            raise UserError(f"{path} is a weights file without its config",
                            "pass the folder that holds config.json and the .safetensors file")
        raise UserError(f"{path} is not a model folder or a saved graph",
                        "pass a folder with config.json, or a graph saved by 'bertviz-graph trace'")
    config_path = path / "config.json"
    if not config_path.is_file():
        pickles = sorted(p.name for p in path.iterdir() if p.suffix in PICKLE_SUFFIXES)
        if pickles:
            raise _pickle_error(path / pickles[0])
        raise UserError(f"{path} has no config.json",
                        "pass a folder written by save_pretrained (config.json + model.safetensors)")
    try:
        cfg = json.loads(config_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise UserError(f"{config_path} is not valid JSON ({e})", "fix or re-save the config") from e
    if not isinstance(cfg, dict) or "model_type" not in cfg:
        raise UserError(f"{config_path} has no model_type", "re-save the model with save_pretrained")

    check_config_sizes(cfg, str(config_path))
    weights = sorted(path.glob("*.safetensors"))

    for w in weights:  # a weight file linked from elsewhere is refused (resolved, it must stay in the folder)
        inside(w.name, path, "weight file")
    if weights:
        from bertviz_graph.sources.weights import read_header  # lazy: start-up (numpy)

        for w in weights:  # headers only: a corrupt or truncated file is named now, not mid-way
            read_header(w)
    notes = []
    if not weights:
        pickles = sorted(p for p in path.iterdir() if p.suffix in PICKLE_SUFFIXES)
        if pickles:
            raise _pickle_error(pickles[0])
        notes.append(f"structure only: {path} has config.json but no *.safetensors weights")
    return ModelSource(name=path.name, origin="local", config=cfg, head=_pick_head(head, cfg),
                       weight_files=weights, notes=notes)


def _pickle_error(path: Path) -> UserError:
    return UserError(
        f"{path} is a pickle checkpoint; bertviz_graph never unpickles files (unpickling can run code)",
        "convert it once in a trusted Python: model = AutoModel.from_pretrained(dir); "
        "model.save_pretrained(dir, safe_serialization=True)",
    )


def _find_in_hf_cache(model_id: str) -> Path | None:
    """Look up a Hub id in the local cache folder only (no huggingface_hub call, no network)."""
    if "/" not in model_id and not model_id.replace("-", "").replace("_", "").isalnum():
        return None
    hub = os.environ.get("HF_HUB_CACHE") or os.path.join(
        os.environ.get("HF_HOME", os.path.expanduser("~/.cache/huggingface")), "hub")
    repo = Path(hub) / ("models--" + model_id.replace("/", "--"))
    snaps = repo / "snapshots"
    if not snaps.is_dir():
        return None
    ref = repo / "refs" / "main"
    if ref.is_file() and (snaps / ref.read_text().strip() / "config.json").is_file():
        return snaps / ref.read_text().strip()
    for snap in sorted(snaps.iterdir()):
        if (snap / "config.json").is_file():
            return snap
    return None
