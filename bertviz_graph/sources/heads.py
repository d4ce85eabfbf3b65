"""Task heads: which transformers Auto class builds each head, which families have it, and what
``--head auto`` picks from a config (``architectures``, ``is_decoder``, ``is_encoder_decoder``, model type).

The families each head exists for come from transformers' own Auto mappings, so a new transformers
release brings its new families without a change here.
"""

from __future__ import annotations

from typing import Any

from bertviz_graph.errors import UserError

# head -> (Auto class, name of the mapping in transformers.models.auto.modeling_auto, what it is)
HEAD_CLASSES: dict[str, tuple[str, str, str]] = {
    "base": ("AutoModel", "MODEL_MAPPING_NAMES", "the bare model, no head"),
    "mlm": ("AutoModelForMaskedLM", "MODEL_FOR_MASKED_LM_MAPPING_NAMES", "masked-language-model head"),
    "causal-lm": ("AutoModelForCausalLM", "MODEL_FOR_CAUSAL_LM_MAPPING_NAMES", "causal (next-token) LM head"),
    "seq2seq-lm": ("AutoModelForSeq2SeqLM", "MODEL_FOR_SEQ_TO_SEQ_CAUSAL_LM_MAPPING_NAMES",
                   "encoder-decoder LM head"),
    "cls": ("AutoModelForSequenceClassification", "MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING_NAMES",
            "sequence-classification head"),
    "qa": ("AutoModelForQuestionAnswering", "MODEL_FOR_QUESTION_ANSWERING_MAPPING_NAMES",
           "question-answering head"),
}
HEADS = tuple(HEAD_CLASSES)

# architectures[0] suffix -> head (checked in order: "LMHeadModel" before the generic "Model").
_ARCH_SUFFIXES: tuple[tuple[str, str], ...] = (
    ("ForConditionalGeneration", "seq2seq-lm"),
    ("ForSequenceClassification", "cls"),
    ("ForQuestionAnswering", "qa"),
    ("ForMaskedLM", "mlm"),
    ("ForPreTraining", "mlm"),
    ("ForCausalLM", "causal-lm"),
    ("LMHeadModel", "causal-lm"),
)


def _mapping(head: str) -> dict[str, str]:
    from transformers.models.auto import modeling_auto

    return getattr(modeling_auto, HEAD_CLASSES[head][1])


def heads_for(model_type: str | None) -> list[str]:
    """The heads transformers can build for this model type, in HEADS order (remembered on disk per
    transformers version: reading transformers' mappings imports it, seconds a cached trace need not pay)."""
    import json

    from bertviz_graph.io import write_atomic  # lazy: start-up (bertviz_graph.cli loads this module)

    path = _heads_file()
    try:
        known = json.loads(path.read_text()) if path is not None and path.is_file() else {}
    except (OSError, ValueError):
        known = {}
    key = str(model_type)
    if isinstance(known.get(key), list):
        return [h for h in known[key] if h in HEADS]
    have = [h for h in HEADS if model_type in _mapping(h)]
    if path is not None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(path, json.dumps({**known, key: have}, sort_keys=True))
        except OSError:
            pass  # a read-only cache folder: look the mapping up again next time
    return have


def _heads_file():
    import importlib.metadata
    import os
    from pathlib import Path

    try:
        version = importlib.metadata.version("transformers")
    except importlib.metadata.PackageNotFoundError:
        return None
    folder = Path(os.environ.get("BERTVIZ_GRAPH_CACHE", os.path.expanduser("~/.cache/bertviz_graph")))
    return folder / f"heads-transformers-{version}.json"


def auto_head(cfg: dict[str, Any]) -> str:
    """The head ``--head auto`` builds for a config.json dict."""
    model_type = cfg.get("model_type")
    have = heads_for(model_type)
    for arch in cfg.get("architectures") or []:
        for suffix, head in _ARCH_SUFFIXES:
            if arch.endswith(suffix) and head in have:
                return head
        if arch.endswith("Model") and "base" in have:
            return "base"
    if cfg.get("is_encoder_decoder", True) and "seq2seq-lm" in have:
        return "seq2seq-lm"
    if cfg.get("is_decoder") and "causal-lm" in have:
        return "causal-lm"
    for head in ("mlm", "causal-lm"):
        if head in have:
            return head
    return "base"


def check_head(head: str, model_type: str | None) -> None:
    """A UserError naming the heads that exist when this family has no such head."""
    if head not in HEAD_CLASSES:
        raise UserError(f"unknown head '{head}'", f"use one of: auto, {', '.join(HEADS)}")
    have = heads_for(model_type)
    if head not in have:
        what = HEAD_CLASSES[head][2]
        fix = f"heads for {model_type}: {', '.join(have)} (or --head auto)" if have else \
            f"transformers builds no model for model_type '{model_type}'"
        raise UserError(f"{model_type} has no {what} (--head {head})", fix)


def auto_class(head: str) -> str:
    return HEAD_CLASSES[head][0]
