"""Colours and legend names for each semantic role and each edge kind: one table each, read by every renderer."""

from __future__ import annotations

# role -> (fill colour, legend label). Pastel fills, text always dark; every two roles differ by ΔE76 >= 6
# (tests/test_panels_unit.py), so the greys of structure roles can be told apart in the legend.
ROLE_STYLE: dict[str, tuple[str, str]] = {
    "model": ("#ebebeb", "Model"),
    "embeddings": ("#c6dbef", "Embeddings"),
    "encoder": ("#e8e1d4", "Encoder"),
    "decoder": ("#dfe7dc", "Decoder"),
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
    "elementwise": ("#f3e6f7", "Elementwise (add, mul, ...)"),
    "shape": ("#ffffff", "Reshape / transpose / view"),
    "dropout": ("#fde5e8", "Dropout (no-op at inference)"),
    "param": ("#ffffcc", "Trained parameter (weights)"),
    "buffer": ("#eef5a8", "Buffer (not trained)"),
    "input": ("#bdbdbd", "Model input"),
    "output": ("#bdbdbd", "Model output"),
    "module": ("#d9d9d9", "Module"),
    "other": ("#fdf5e6", "Other op"),
}


def role_color(role: str) -> str:
    return ROLE_STYLE.get(role, ROLE_STYLE["other"])[0]


def role_label(role: str) -> str:
    return ROLE_STYLE.get(role, ROLE_STYLE["other"])[1]


# edge kind -> (colour, width, dash pattern, legend label). Weights are dotted; a weight read again by a
# repeated layer (ALBERT) or under another name (a tied decoder) gets its own colour, so it never passes for
# the activation entering a layer or for an ordinary weight.
EDGE_STYLE: dict[str, tuple[str, float, str, str]] = {
    "data": ("#4d4d4d", 1.2, "", "Data flow (tensor)"),
    "residual": ("#2b6cb0", 1.4, "6,3", "Residual (skip) connection"),
    "param": ("#a68a00", 1.0, "2,2", "Weight into its op"),
    "shared": ("#7b3fa0", 1.2, "2,2", "Shared weight (the same tensor, read again by a repeated layer)"),
    "tied": ("#c2410c", 1.2, "5,2,1,2", "Tied weight (the same tensor under another name)"),
}
WEIGHT_KINDS = ("param", "shared", "tied")


def edge_kind(kind: str) -> str:
    """A known edge kind (unknown ones draw as data)."""
    return kind if kind in EDGE_STYLE else "data"
