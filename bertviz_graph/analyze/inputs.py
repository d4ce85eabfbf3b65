"""What every analysis starts from: a runnable model with attention maps, and two or more sentences."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bertviz_graph.errors import UserError
from bertviz_graph.run.load import Runnable, load_runnable

RANDOM_NOTE = ("structure only: these weights are random (seeded), so heads that look alike or unlike here "
               "are not 'redundant' or 'different' in any learned sense; load a trained model folder")


def runnable(model: Any, own: bool = False):
    """The runnable model behind a name, folder, graph or Runnable; ``own``: a fresh copy the caller may
    change (ablations zero weights)."""

    if isinstance(model, Runnable):
        if own:
            import copy

            run = copy.copy(model)
            run.model = copy.deepcopy(model.model)
            return run
        return model
    try:
        return load_runnable(model, cached=not own)
    except UserError as e:
        if _is_onnx(model):
            raise UserError(f"{getattr(model, 'name', model)} is an ONNX graph: it has no torch model to "
                            "run, so it has no attention maps to analyse",
                            "analyse the model folder it was exported from (config.json + "
                            "model.safetensors)") from e
        raise


def _is_onnx(model: Any) -> bool:
    meta = getattr(model, "meta", None) or {}
    return str(meta.get("origin", "")).startswith("onnx") or str(model).lower().endswith(".onnx")


def read_sentences(sentences: Any) -> list[str]:
    """A list of sentences, a text file (one a line) or None (the 48 built-in sentences); at least 2."""
    from bertviz_graph.pruning.data import BUILTIN_SENTENCES  # lazy: start-up (numpy)
    from bertviz_graph.pruning.data import read_sentences as read_file  # lazy: start-up (numpy)

    if sentences is None:
        return list(BUILTIN_SENTENCES)
    if isinstance(sentences, (str, Path)):
        texts = read_file(sentences)
    else:
        texts = [str(s).strip() for s in sentences if str(s).strip()]
    if len(texts) < 2:
        raise UserError(f"{len(texts)} usable sentence{'s' if len(texts) != 1 else ''}: an analysis over "
                        "sentences needs at least 2", "give two or more non-empty sentences (one a line), "
                        "or none for the 48 built-in ones")
    return texts


def need_tokenizer(run: Any) -> Any:
    if run.tokenizer is None:
        raise UserError(f"{run.name} has no tokenizer, so sentences cannot be run",
                        "add tokenizer files to the model folder (tokenizer.save_pretrained(dir))")
    return run.tokenizer


def encode(tokenizer: Any, texts: list[str], max_length: int = 128, batch_size: int = 16) -> list[dict]:
    """Tokenized batches in the sentences' order (padding is excluded later by the attention mask)."""
    from bertviz_graph.pruning.data import batches  # lazy: start-up (numpy)

    return batches(tokenizer, texts, batch_size=batch_size, max_length=max_length, keep_order=True)
