"""Semantic roles and readable labels: what a module or op *is* in a BERT-family model.

Known BERT-family classes get a role and a label ("Self-attention (12 heads, d_head 64)"); anything else
gets a generic label (attribute name and class) so any model still reads well.
"""

from __future__ import annotations

from typing import Any

# Class-name patterns (checked in order, on the class name) -> role.
_CLASS_ROLES: list[tuple[tuple[str, ...], str]] = [
    (("Embeddings",), "embeddings"),
    (("SelfAttention", "MultiHeadSelfAttention", "AlbertAttention", "SdpaSelfAttention"), "attention"),
    (("SelfOutput",), "attention_output"),
    (("Attention",), "attention"),
    (("Intermediate",), "ffn"),
    (("FFN", "FeedForward"), "ffn"),
    (("Layer", "Block"), "layer"),
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
    if cls.endswith("Model") or cls.endswith("PreTrainedModel"):
        return "model"
    if cls.endswith("Output") and not cls.endswith("SelfOutput"):
        return "ffn_output"
    for patterns, role in _CLASS_ROLES:
        if any(p in cls for p in patterns):
            return role
    attr = path.split("@")[0].rsplit(".", 1)[-1]
    if attr in ("cls", "classifier", "qa_outputs", "vocab_projector", "lm_head"):
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
    if "num_embeddings" in attrs:
        return f"Embedding {attrs['num_embeddings']}×{attrs['embedding_dim']}"
    if "normalized_shape" in attrs:
        shape = attrs["normalized_shape"]
        return f"LayerNorm({shape[0] if isinstance(shape, list) and len(shape) == 1 else shape})"
    return ""


def module_label(cls: str, path: str, role: str, attrs: dict[str, Any], ctx: dict[str, Any]) -> tuple[str, str]:
    """(label, sublabel) for a module. ``ctx`` carries model-wide numbers (hidden, heads, d_head, ffn)."""
    attr = path.split("@")[0].rsplit(".", 1)[-1] or cls
    hidden, heads, ffn = ctx.get("hidden"), ctx.get("heads"), ctx.get("ffn")
    d_head = ctx.get("d_head")
    dims = _dims(attrs)
    if role == "model":
        return cls, attr if attr != cls else ""
    if role == "embeddings":
        return "Embeddings", f"{cls} · token + position + type → {hidden}" if hidden else cls
    if role == "encoder":
        return "Encoder", cls
    if role == "layer":
        return cls, f"layer {attr}" if attr.isdigit() else attr
    if role == "attention":
        if "Self" in cls or "MultiHead" in cls or cls == "AlbertAttention":
            sub = f"{heads} heads, d_head {d_head}" if heads and d_head else cls
            return "Self-attention", sub
        return "Attention", f"{cls} · self-attention + output"
    if role == "attention_output":
        return "Attention output", f"Linear {hidden}→{hidden} + residual Add & LayerNorm" if hidden else cls
    if role == "ffn":
        if "Intermediate" in cls:
            return "Feed-forward", f"Linear {hidden}→{ffn} + GELU" if hidden and ffn else cls
        return "Feed-forward", f"{hidden}→{ffn}→{hidden} + GELU" if hidden and ffn else cls
    if role == "ffn_output":
        return "Feed-forward output", f"Linear {ffn}→{hidden} + residual Add & LayerNorm" if hidden else cls
    if role == "pooler":
        return "Pooler", f"Linear {hidden}→{hidden} + tanh on [CLS]" if hidden else cls
    if role == "head":
        if "MLM" in cls or "LMPrediction" in cls or "LMHead" in cls or "Predictions" in cls:
            return "MLM head", f"{cls} · decoder tied to word embeddings" if ctx.get("tied") else cls
        return attr, cls
    if dims:
        return attr, dims
    return attr, cls


def param_label(name: str, shape: list[int]) -> tuple[str, str]:
    leaf = name.rsplit(".", 1)[-1]
    size = "×".join(str(s) for s in shape) if shape else "scalar"
    nice = {"weight": "W", "bias": "b", "gamma": "γ", "beta": "β"}.get(leaf, leaf)
    return f"{nice} ({leaf})" if nice != leaf else leaf, size


def model_context(config: dict[str, Any] | None, modules: dict[str, Any]) -> dict[str, Any]:
    """Model-wide dims used in labels; read from the config, else guessed from module attributes."""
    cfg = config or {}
    hidden = cfg.get("hidden_size") or cfg.get("dim")
    heads = cfg.get("num_attention_heads") or cfg.get("n_heads")
    ffn = cfg.get("intermediate_size") or cfg.get("hidden_dim")
    if hidden is None:
        for m in modules.values():
            if "normalized_shape" in m.attrs:
                hidden = m.attrs["normalized_shape"][0]
                break
    ctx: dict[str, Any] = {"hidden": hidden, "heads": heads, "ffn": ffn,
                           "d_head": hidden // heads if hidden and heads else None,
                           "vocab": cfg.get("vocab_size"), "layers": cfg.get("num_hidden_layers") or cfg.get("n_layers")}
    return ctx
