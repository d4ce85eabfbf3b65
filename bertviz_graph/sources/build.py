"""Build a model from a config on the ``meta`` device: structure without memory, so any size traces.

Only classes that ship with transformers are used (never ``trust_remote_code``); weights stay on disk and
are read lazily by ``sources.weights`` when a matrix is shown.
"""

from __future__ import annotations

from typing import Any

from bertviz_graph.errors import UserError
from bertviz_graph.sources.resolve import ModelSource

_HEAD_AUTO = {
    "base": "AutoModel",
    "mlm": "AutoModelForMaskedLM",
    "cls": "AutoModelForSequenceClassification",
    "qa": "AutoModelForQuestionAnswering",
}
HEAD_CLASSES = _HEAD_AUTO  # public: the run stage builds the same class with real weights


def make_config(cfg: dict[str, Any], attention: str = "eager") -> Any:
    """A transformers config object from a config.json dict (no code from the model folder is run)."""
    from transformers import CONFIG_MAPPING

    model_type = cfg.get("model_type")
    if model_type not in CONFIG_MAPPING:
        raise UserError(
            f"unsupported config: model_type '{model_type}' is not a model this transformers knows",
            "use a BERT-family model (bert, roberta, distilbert, albert, ...) or pass an nn.Module",
        )
    fields = {k: v for k, v in cfg.items() if k not in ("model_type", "auto_map", "transformers_version")}
    try:
        config = CONFIG_MAPPING[model_type](**fields)
    except (TypeError, ValueError) as e:
        raise UserError(f"unsupported config: {e}", "check config.json against the model type") from e
    config._attn_implementation = attention
    return config


def build_model(source: ModelSource, attention: str = "eager", seq_len: int = 16) -> ModelSource:
    """Fill ``source.model`` and ``source.example_inputs`` (meta device unless it is a user module)."""
    import torch

    if source.model is not None:
        return source
    import transformers

    config = make_config(source.config or {}, attention)
    auto = getattr(transformers, _HEAD_AUTO[source.head])
    try:
        with torch.device("meta"):
            model = auto.from_config(config, attn_implementation=attention)
    except ValueError as e:
        raise UserError(
            f"unsupported config: {source.config.get('model_type')} has no {_HEAD_AUTO[source.head]} class "
            f"({str(e).splitlines()[0]})",
            "choose another head with --head base|mlm|cls|qa",
        ) from e
    model.eval()
    source.model = model
    vocab = getattr(config, "vocab_size", 2)
    max_pos = getattr(config, "max_position_embeddings", seq_len) or seq_len
    seq = max(1, min(seq_len, max_pos - 2 if max_pos > 4 else max_pos))
    # Token ids do not matter for the structure; a fixed pattern keeps traces reproducible.
    ids = (torch.arange(seq, dtype=torch.long) % max(vocab, 1)).unsqueeze(0).to("meta")
    source.example_inputs = (ids,)
    return source
