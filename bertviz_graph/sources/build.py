"""Build a model from a config on the ``meta`` device: structure without memory, so any size traces.

Only classes that ship with transformers are used (never ``trust_remote_code``); weights stay on disk and
are read lazily by ``sources.weights`` when a matrix is shown.
"""

from __future__ import annotations

from typing import Any

from bertviz_graph.errors import UserError
from bertviz_graph.sources.heads import auto_class, check_head, heads_for
from bertviz_graph.sources.resolve import ModelSource


def make_config(cfg: dict[str, Any], attention: str = "eager") -> Any:
    """A transformers config object from a config.json dict (no code from the model folder is run)."""
    from transformers import CONFIG_MAPPING

    model_type = cfg.get("model_type")
    if model_type not in CONFIG_MAPPING:
        raise UserError(
            f"unsupported config: model_type '{model_type}' is not a model this transformers knows",
            "use a transformers model type (bert, roberta, gpt2, llama, t5, bart, ...) or pass an nn.Module",
        )
    fields = {k: v for k, v in cfg.items() if k not in ("model_type", "auto_map", "transformers_version")}
    try:
        config = CONFIG_MAPPING[model_type](**fields)
    except Exception as e:  # transformers raises TypeError, ValueError, NotImplementedError ... for bad fields
        first = str(e).strip().splitlines()[0][:200] if str(e).strip() else type(e).__name__
        raise UserError(f"unsupported config for {model_type}: {first}", "check config.json against the model type") from e
    config._attn_implementation = attention
    if hasattr(config, "use_cache"):
        config.use_cache = False  # no KV cache: one forward pass over the whole sequence is the graph
    return config


def build_model(source: ModelSource, attention: str = "eager", seq_len: int = 16) -> ModelSource:
    """Fill ``source.model`` and ``source.example_inputs`` (meta device unless it is a user module)."""
    import torch

    if source.model is not None:
        return source
    import transformers

    config = make_config(source.config or {}, attention)
    model_type = (source.config or {}).get("model_type")
    check_head(source.head, model_type)
    auto = getattr(transformers, auto_class(source.head))
    try:
        with torch.device("meta"):
            model = auto.from_config(config, attn_implementation=attention)
    except Exception as e:  # transformers raises ValueError, TypeError, ... for configs it cannot build
        first = str(e).strip().splitlines()[0][:200] if str(e).strip() else type(e).__name__
        raise UserError(
            f"cannot build {model_type} with a {source.head} head ({first})",
            f"check config.json; heads for {model_type}: {', '.join(heads_for(model_type))}",
        ) from e
    model.eval()
    source.model = model
    vocab = getattr(config, "vocab_size", 2)
    max_pos = getattr(config, "max_position_embeddings", seq_len) or seq_len
    seq = max(1, min(seq_len, max_pos - 2 if max_pos > 4 else max_pos))
    # Token ids do not matter for the structure; a fixed pattern keeps traces reproducible.
    ids = (torch.arange(seq, dtype=torch.long) % max(vocab, 1)).unsqueeze(0).to("meta")
    source.example_inputs = (ids,)
    if getattr(config, "is_encoder_decoder", False):
        # The decoder reads its own tokens (here the same length) and cross-attends to the encoder.
        source.example_kwargs = {"decoder_input_ids": ids.clone()}  # its own tensor, its own input node
    return source
