"""Colours and legend names for each semantic role: one table, read by every renderer."""

from __future__ import annotations

# role -> (fill colour, legend label). Colour-blind-safe-ish pastel fills; text is always dark.
ROLE_STYLE: dict[str, tuple[str, str]] = {
    "model": ("#f4f4f4", "Model"),
    "embeddings": ("#c6dbef", "Embeddings"),
    "encoder": ("#f0f0f0", "Encoder"),
    "decoder": ("#ebebeb", "Decoder"),
    "layer": ("#fdd0a2", "Transformer layer"),
    "attention": ("#fcbba1", "Attention (self, causal or cross)"),
    "attention_output": ("#fee0d2", "Attention output + Add & LayerNorm"),
    "ffn": ("#c7e9c0", "Feed-forward (MLP)"),
    "ffn_output": ("#e5f5e0", "Feed-forward output + Add & LayerNorm"),
    "pooler": ("#dadaeb", "Pooler"),
    "head": ("#bcbddc", "Task head"),
    "linear": ("#9ecae1", "Linear (fully-connected layer)"),
    "embedding": ("#6baed6", "Embedding lookup"),
    "layernorm": ("#fdae6b", "LayerNorm / RMSNorm"),
    "activation": ("#a1d99b", "Activation (GELU, SiLU, ReLU, tanh)"),
    "rotary": ("#e5f5f9", "Rotary positions (no weights)"),
    "softmax": ("#fb6a4a", "Softmax"),
    "matmul": ("#fc9272", "Matmul (attention)"),
    "elementwise": ("#e7e7e7", "Elementwise (add, mul, ...)"),
    "shape": ("#f7f7f7", "Reshape / transpose / view"),
    "dropout": ("#f7f7f7", "Dropout (no-op at inference)"),
    "param": ("#ffffcc", "Trained parameter (weights)"),
    "buffer": ("#f7fcb9", "Buffer (not trained)"),
    "input": ("#d9d9d9", "Model input"),
    "output": ("#d9d9d9", "Model output"),
    "module": ("#f2f2f2", "Module"),
    "other": ("#ffffff", "Other op"),
}


def role_color(role: str) -> str:
    return ROLE_STYLE.get(role, ROLE_STYLE["other"])[0]


def role_label(role: str) -> str:
    return ROLE_STYLE.get(role, ROLE_STYLE["other"])[1]
