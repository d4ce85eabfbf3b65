"""Where the prunable parts of a BERT-family nn.Module are: per layer its Q/K/V/output Linears, heads, FFN.

Found by attribute names of the transformers classes (BERT, RoBERTa, ELECTRA, MiniLM: ``attention.self.query``
... ``output.dense``; DistilBERT: ``attention.q_lin`` ... ``ffn.lin2``), never by running model code.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import torch.nn as nn

from bertviz_graph.errors import UserError
from bertviz_graph.hierarchy.heads import param_heads


@dataclass(frozen=True)
class LayerParts:
    index: int
    path: str  # module path of the layer, "encoder.layer.3"
    query: nn.Linear
    key: nn.Linear
    value: nn.Linear
    attn_out: nn.Linear  # its input is the concatenated per-head context (B, T, heads * d_head)
    ffn_in: nn.Linear
    ffn_out: nn.Linear  # its input is the activated intermediate (B, T, ffn)
    heads: int
    names: dict[str, str]  # part -> module path ("query" -> "encoder.layer.3.attention.self.query")

    @property
    def d_head(self) -> int:
        """Rows of the query per head, as the hierarchy's head layout cuts them (hierarchy/heads.py)."""
        split = param_heads(f"{self.names['query']}.weight", self.query.out_features, self.heads)
        return split.d if split is not None else self.query.out_features // self.heads


# (attention q, k, v, out, ffn in, ffn out) relative to a layer, per family
_LAYOUTS = (
    ("attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense",
     "intermediate.dense", "output.dense"),
    ("attention.q_lin", "attention.k_lin", "attention.v_lin", "attention.out_lin", "ffn.lin1", "ffn.lin2"),
)
_PARTS = ("query", "key", "value", "attn_out", "ffn_in", "ffn_out")


def _layer_list(model: nn.Module) -> tuple[str, nn.ModuleList] | None:
    for path, mod in model.named_modules():
        if isinstance(mod, nn.ModuleList) and path.rsplit(".", 1)[-1] in ("layer", "layers") and len(mod) > 0:
            return path, mod
    return None


def _heads(model: nn.Module, layer: nn.Module) -> int | None:
    cfg = getattr(model, "config", None)
    for name in ("num_attention_heads", "n_heads"):
        if cfg is not None and getattr(cfg, name, None):
            return int(getattr(cfg, name))
    for m in layer.modules():
        for name in ("num_attention_heads", "n_heads", "num_heads"):
            if isinstance(getattr(m, name, None), int):
                return getattr(m, name)
    return None


def find_layers(model: nn.Module, need: str = "heads") -> list[LayerParts]:
    """The transformer layers with their prunable Linears; a UserError when the model has none.

    ``need`` only words the error: "heads" (head pruning) or "neurons" (feed-forward pruning).
    """
    if getattr(getattr(model, "config", None), "model_type", "") == "albert":
        raise UserError("ALBERT shares one layer's weights across all layers, so a head or neuron cannot be "
                        "pruned in one layer only", "use --method magnitude")
    found = _layer_list(model)
    if found is None:
        raise UserError(f"{need} pruning needs transformer layers with attention heads; "
                        f"{type(model).__name__} has none",
                        "use --method magnitude (works on any model with Linear weights)")
    list_path, layers = found
    out = []
    for i, layer in enumerate(layers):
        subs = dict(layer.named_modules())
        layout = next((lay for lay in _LAYOUTS if all(isinstance(subs.get(p), nn.Linear) for p in lay)), None)
        heads = _heads(model, layer)
        if layout is None or not heads:
            raise UserError(f"{need} pruning does not know the layers of {type(model).__name__} "
                            f"({list_path}.{i} has no query/key/value/output Linears)",
                            "use --method magnitude (works on any model with Linear weights)")
        mods = [subs[p] for p in layout]
        out.append(LayerParts(i, f"{list_path}.{i}", *mods, heads=heads,
                              names={k: f"{list_path}.{i}.{p}" for k, p in zip(_PARTS, layout)}))
    return out


def linear_weights(model: nn.Module, layers_only: bool = True) -> list[tuple[str, nn.Linear]]:
    """(module path, Linear) for the Linears magnitude pruning acts on: those inside the transformer layers
    (embeddings, pooler and task heads are left dense, as in Gordon et al.), or every Linear."""
    found = _layer_list(model) if layers_only else None
    prefix = f"{found[0]}." if found else ""
    return [(p, m) for p, m in model.named_modules() if isinstance(m, nn.Linear) and p.startswith(prefix)]


def layer_of(path: str, layers: list[LayerParts] | None = None) -> str:
    """"encoder.layer.3" for "encoder.layer.3.attention.self.query" (the per-layer scope's key)."""
    parts = path.split(".")
    for i, p in enumerate(parts):
        if p in ("layer", "layers") and i + 1 < len(parts) and parts[i + 1].isdigit():
            return ".".join(parts[: i + 2])
    return path


def query_key_outputs(model: Any, layers: list[LayerParts], batch: dict) -> dict[tuple[int, str], Any]:
    """Run ``batch`` through ``model`` once; each layer's query and key projection outputs, keyed
    ``(layer index, "q" | "k")`` (read by hooks, so the attention kernel the model uses does not matter)."""
    captured: dict[tuple[int, str], Any] = {}
    handles = []
    # Hooks belong to the module, and the model may be shared (the app's cached model also runs the Run tab's
    # sentences in other threads): keep only what this thread's forward pass computes.
    me = threading.get_ident()
    for lp in layers:
        for part, mod in (("q", lp.query), ("k", lp.key)):
            def hook(_m, _a, out, key=(lp.index, part)):
                if threading.get_ident() == me:
                    captured[key] = out.detach()
            handles.append(mod.register_forward_hook(hook))
    try:
        model(**batch)
    finally:
        for h in handles:
            h.remove()
    return captured
