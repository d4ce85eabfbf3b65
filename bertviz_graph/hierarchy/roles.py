"""Semantic roles and readable labels: what a module or op *is* in a BERT-family model.

Known BERT-family classes get a role and a label ("Self-attention (12 heads, d_head 64)"); anything else
gets a generic label (attribute name and class) so any model still reads well.
"""

from __future__ import annotations

from typing import Any

# Class-name patterns (checked in order, on the class name) -> role.
_CLASS_ROLES: list[tuple[tuple[str, ...], str]] = [
    (("RotaryEmbedding",), "rotary"),
    (("Embeddings",), "embeddings"),
    (("SelfOutput",), "attention_output"),
    (("Attention",), "attention"),
    (("Intermediate",), "ffn"),
    (("FFN", "FeedForward", "MLP", "DenseActDense", "DenseGatedActDense", "LayerFF"), "ffn"),
    (("Layer", "Block"), "layer"),
    (("Decoder",), "decoder"),
    (("Encoder", "Transformer"), "encoder"),
    (("Pooler",), "pooler"),
    (("Head", "Predictions", "Classifier", "QuestionAnswering", "Transform"), "head"),
]

_LEAF_ROLES = {
    "Linear": "linear", "Conv1D": "linear", "Embedding": "embedding", "LayerNorm": "layernorm",
    "Dropout": "dropout", "GELUActivation": "activation", "NewGELUActivation": "activation",
    "GELU": "activation", "Tanh": "activation", "ReLU": "activation", "FastGELUActivation": "activation",
    "QuickGELUActivation": "activation", "SiLU": "activation",
}
_NORM_SUFFIXES = ("LayerNorm", "RMSNorm", "GroupNorm")
_CROSS_ATTRS = ("encoder_attn", "EncDecAttention", "crossattention", "cross_attn")

_OP_ROLES = {
    "linear": "linear", "addmm": "linear", "mm": "linear", "matmul": "matmul", "bmm": "matmul",
    "baddbmm": "matmul", "scaled_dot_product_attention": "softmax", "softmax": "softmax",
    "_softmax": "softmax", "layer_norm": "layernorm", "native_layer_norm": "layernorm", "gelu": "activation",
    "tanh": "activation", "relu": "activation", "embedding": "embedding", "dropout": "dropout",
    "native_dropout": "dropout",
}
_SHAPE_OPS = {
    "view", "_unsafe_view", "reshape", "transpose", "permute", "expand", "slice", "select", "unsqueeze",
    "squeeze", "contiguous", "clone", "t", "flatten", "split", "chunk", "cat", "alias", "detach",
    "arange", "zeros", "ones", "full", "scalar_tensor", "gather", "index_select", "lift_fresh_copy",
    "_to_copy", "to", "expand_as", "empty",
}


def module_role(cls: str, path: str, depth: int) -> str:
    if depth == 0:
        return "model"
    if cls in _LEAF_ROLES:
        return _LEAF_ROLES[cls]
    if cls.endswith(_NORM_SUFFIXES):
        return "layernorm"
    if cls.endswith("Embedding") and "Rotary" not in cls:  # BartScaledWordEmbedding, learned positions
        return "embedding"
    if cls.endswith("Activation") or cls in ("SiLUActivation", "GELUTanh"):
        return "activation"
    if cls.endswith("Model") or cls.endswith("PreTrainedModel"):
        return "model"
    attr = path.split("@")[0].rsplit(".", 1)[-1]
    if cls.endswith("Stack") and attr in ("encoder", "decoder"):  # T5Stack
        return attr
    if cls.endswith("Output") and not cls.endswith("SelfOutput"):
        return "ffn_output"
    for patterns, role in _CLASS_ROLES:
        if any(p in cls for p in patterns):
            return role
    if attr in ("cls", "classifier", "qa_outputs", "vocab_projector", "lm_head", "generator_lm_head"):
        return "head"
    return "module"


def op_role(op: str) -> str:
    if op in _OP_ROLES:
        return _OP_ROLES[op]
    if op in _SHAPE_OPS:
        return "shape"
    return "elementwise"


def _dims(attrs: dict[str, Any]) -> str:
    if "in_features" in attrs:
        return f"Linear {attrs['in_features']}→{attrs['out_features']}"
    if "nf" in attrs and "nx" in attrs:
        return f"Conv1D {attrs['nx']}→{attrs['nf']} (a Linear, W stored in×out)"
    if "num_embeddings" in attrs:
        return f"Embedding {attrs['num_embeddings']}×{attrs['embedding_dim']}"
    if "normalized_shape" in attrs:
        shape = attrs["normalized_shape"]
        return f"LayerNorm({shape[0] if isinstance(shape, list) and len(shape) == 1 else shape})"
    return ""


def _heads_text(ctx: dict[str, Any]) -> str:
    heads, kv, d_head = ctx.get("heads"), ctx.get("kv_heads"), ctx.get("d_head")
    if not heads:
        return ""
    if kv and kv != heads:
        kind = "multi-query" if kv == 1 else "grouped-query"
        text = f"{heads} query heads, {kv} key/value head{'s' if kv != 1 else ''} ({kind})"
    else:
        text = f"{heads} heads"
    text += f", d_head {d_head}" if d_head else ""
    return text + (" · rotary positions" if ctx.get("positions") == "rotary" else "")


def _ffn_text(ctx: dict[str, Any], cls: str) -> str:
    hidden, ffn, act = ctx.get("hidden"), ctx.get("ffn"), ctx.get("act") or "activation"
    if not (hidden and ffn):
        return cls
    if "Intermediate" in cls:
        return f"Linear {hidden}→{ffn} + {act}"
    if ctx.get("gated"):
        return f"{ctx.get('glu') or 'gated'}: {act}(gate {hidden}→{ffn}) × up {hidden}→{ffn}, down {ffn}→{hidden}"
    return f"{hidden}→{ffn}→{hidden} + {act}"


def module_label(cls: str, path: str, role: str, attrs: dict[str, Any], ctx: dict[str, Any],
                 child_roles: frozenset[str] = frozenset()) -> tuple[str, str]:
    """(label, sublabel) for a module. ``ctx`` carries model-wide facts read from the config and the
    graph (hidden, heads, kv_heads, d_head, ffn, act, norm, gated, positions, tied); ``child_roles``
    the roles of the module's direct sub-modules (a wrapper of an attention is not the attention)."""
    attr = path.split("@")[0].rsplit(".", 1)[-1] or cls
    parts = path.split("@")[0].rsplit(".", 2)
    # an entry of a ModuleList / Sequential is named with its list: "blocks.3", not "3"
    name = f"{parts[-2]}.{attr}" if attr.isdigit() and len(parts) >= 2 else attr
    hidden, ffn = ctx.get("hidden"), ctx.get("ffn")
    norm = ctx.get("norm") or "LayerNorm"
    dims = _dims(attrs)
    if role == "model":
        return cls, attr if attr != cls else ""
    if role == "embeddings":
        parts = attrs.get("parts") or "lookups"
        return "Embeddings", f"{cls} · {parts} → {hidden}" if hidden else cls
    if role == "encoder":
        return "Encoder", cls
    if role == "decoder":
        return "Decoder", cls
    if role == "layer":
        return cls, f"layer {attr}" if attr.isdigit() else attr
    if role == "rotary":
        d_head = ctx.get("d_head")
        return "Rotary positions", f"cos/sin angles{f' for d_head {d_head}' if d_head else ''}, no trained weights"
    if role == "attention":
        cross = attr in _CROSS_ATTRS or "Cross" in cls or "EncDec" in cls
        kind = "cross-attention" if cross else "causal self-attention" if _causal(ctx, path) else "self-attention"
        if "attention" in child_roles or "attention_output" in child_roles:
            return "Attention", f"{cls} · {kind} + output"
        sub = _heads_text(ctx) or cls
        if cross:
            sub += " · queries from the decoder, keys/values from the encoder"
        return kind[0].upper() + kind[1:], sub
    if role == "attention_output":
        return "Attention output", f"Linear {hidden}→{hidden} + residual Add & {norm}" if hidden else cls
    if role == "ffn":
        return "Feed-forward", _ffn_text(ctx, cls)
    if role == "ffn_output":
        return "Feed-forward output", f"Linear {ffn}→{hidden} + residual Add & {norm}" if hidden else cls
    if role == "pooler":
        return "Pooler", f"Linear {hidden}→{hidden} + tanh on [CLS]" if hidden else cls
    if role == "layernorm":
        if "RMS" in cls or cls == "T5LayerNorm":
            return name, f"RMSNorm({hidden})" if hidden else "RMSNorm"
        return name, dims or cls
    if role == "head":
        what = tied_outside(ctx, path)
        tie = f" · tied to {what}" if what else ""
        if "MLM" in cls or "LMPrediction" in cls or "Predictions" in cls or (
                "LMHead" in cls and ctx.get("head") == "mlm"):
            return "MLM head", f"{cls}{tie}" if tie else cls
        if attr in ("lm_head", "generator_lm_head") or "LMHead" in cls:
            text = f"Linear {hidden}→{ctx.get('vocab')}" if hidden and ctx.get("vocab") else cls
            return "LM head", text + tie
        return name, cls
    if dims:
        return name, dims
    return name, cls


def tied_outside(ctx: dict[str, Any], path: str) -> str:
    """The module (leaf name) a weight under ``path`` is tied to, if that module lies outside it."""
    pre = path.split("@")[0] + "."
    for a, b in ctx.get("tied_pairs", ()):
        for mine, other in ((a, b), (b, a)):
            if mine.startswith(pre) and not other.startswith(pre):
                return other.rsplit(".", 1)[0].rsplit(".", 1)[-1]
    return ""


def _causal(ctx: dict[str, Any], path: str) -> bool:
    """Self-attention that only looks back: every layer of a decoder-only LM, the decoder of a seq2seq."""
    if ctx.get("arch") == "decoder":
        return True
    return ctx.get("arch") == "encoder-decoder" and ".decoder." in f".{path}."


def param_label(name: str, shape: list[int]) -> tuple[str, str]:
    leaf = name.rsplit(".", 1)[-1]
    size = "×".join(str(s) for s in shape) if shape else "scalar"
    nice = {"weight": "W", "bias": "b", "gamma": "γ", "beta": "β"}.get(leaf, leaf)
    return f"{nice} ({leaf})" if nice != leaf else leaf, size


_ACT_NAMES = {
    "gelu": "GELU", "gelu_new": "GELU (tanh approx.)", "gelu_pytorch_tanh": "GELU (tanh approx.)",
    "gelu_fast": "GELU (tanh approx.)", "gelu_python": "GELU", "quick_gelu": "QuickGELU", "relu": "ReLU",
    "silu": "SiLU", "swish": "SiLU", "tanh": "tanh", "mish": "Mish", "relu2": "ReLU²",
}
_GLU_NAMES = {"SiLU": "SwiGLU", "GELU": "GEGLU", "GELU (tanh approx.)": "GEGLU", "ReLU": "ReGLU"}
_DECODER_ONLY = ("gpt2", "gpt_neo", "gptj", "llama", "mistral", "mixtral", "qwen2", "gemma", "phi", "falcon",
                 "opt", "bloom", "gpt_neox", "olmo", "qwen3", "gemma2", "phi3", "starcoder2")


def _first(cfg: dict[str, Any], *keys: str) -> Any:
    for k in keys:
        if cfg.get(k) is not None:
            return cfg[k]
    return None


def model_context(config: dict[str, Any] | None, modules: dict[str, Any], head: str | None = None,
                  tied_pairs: list[tuple[str, str]] | None = None) -> dict[str, Any]:
    """Model-wide facts used in labels and explanations, read from the config (each family's own field
    names) and from the traced modules, never assumed from BERT-base."""
    cfg = config or {}
    hidden = _first(cfg, "hidden_size", "dim", "n_embd", "d_model")
    heads = _first(cfg, "num_attention_heads", "n_heads", "n_head", "num_heads", "encoder_attention_heads")
    kv = _first(cfg, "num_key_value_heads", "multi_query_group_num")
    if cfg.get("multi_query"):
        kv = 1
    ffn = _first(cfg, "intermediate_size", "hidden_dim", "n_inner", "d_ff", "encoder_ffn_dim", "ffn_dim")
    if ffn is None and cfg.get("model_type") == "gpt2" and hidden:
        ffn = 4 * hidden  # GPT-2's n_inner = None means 4 × n_embd
    d_head = _first(cfg, "head_dim", "d_kv")
    if d_head is None and hidden and heads:
        d_head = hidden // heads
    raw_act = str(_first(cfg, "hidden_act", "activation_function", "activation", "hidden_activation",
                         "feed_forward_proj") or "")
    gated = raw_act.startswith("gated-")
    raw_act = raw_act.removeprefix("gated-")
    act = _ACT_NAMES.get(raw_act, raw_act or None)
    names = {p.split("@")[0].rsplit(".", 1)[-1] for p in modules}
    classes = {m.cls for m in modules.values()}
    gated = gated or bool(names & {"gate_proj", "wi_0", "gate_up_proj", "w3"})
    if hidden is None:
        for m in modules.values():
            if "normalized_shape" in m.attrs:
                hidden = m.attrs["normalized_shape"][0]
                break
    if act is None:
        for c in classes:
            for key, name in (("SiLU", "SiLU"), ("GELU", "GELU"), ("ReLU", "ReLU"), ("Tanh", "tanh")):
                if key.lower() in c.lower():
                    act = act or name
    norm = "RMSNorm" if any("RMSNorm" in c or c == "T5LayerNorm" for c in classes) else (
        "LayerNorm" if any(c.endswith("LayerNorm") for c in classes) else None)
    model_type = cfg.get("model_type")
    if any("RotaryEmbedding" in c for c in classes) or cfg.get("rope_theta") is not None:
        positions = "rotary"
    elif cfg.get("relative_attention") or model_type == "t5" or cfg.get("relative_attention_num_buckets"):
        positions = "relative"
    else:
        positions = "learned" if (cfg.get("max_position_embeddings") or cfg.get("n_positions")) else None
    if cfg.get("is_encoder_decoder") or head == "seq2seq-lm" or model_type in ("t5", "bart", "mt5", "mbart"):
        arch = "encoder-decoder"
    elif cfg.get("is_decoder") or head == "causal-lm" or model_type in _DECODER_ONLY:
        arch = "decoder"
    else:
        arch = "encoder"
    layers = _first(cfg, "num_hidden_layers", "n_layers", "n_layer", "num_layers", "encoder_layers")
    groups = cfg.get("num_hidden_groups")
    ctx: dict[str, Any] = {
        "hidden": hidden, "heads": heads, "kv_heads": kv or heads, "ffn": ffn, "d_head": d_head,
        "vocab": cfg.get("vocab_size"), "layers": layers,
        "decoder_layers": _first(cfg, "num_decoder_layers", "decoder_layers") if arch == "encoder-decoder" else None,
        "act": act, "gated": gated, "glu": _GLU_NAMES.get(act or "") if gated else None, "norm": norm,
        "positions": positions, "arch": arch, "head": head,
        "shared_layers": bool(groups and layers and groups < layers),
        "embedding_size": cfg.get("embedding_size") if cfg.get("embedding_size") != hidden else None,
        "tied_pairs": list(tied_pairs or []),
    }
    return ctx
