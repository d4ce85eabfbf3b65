"""Head layout: which attention head owns which rows or columns of a parameter, decided once.

The hierarchy attaches this meaning (from the config facts in ``Hierarchy.ctx`` and the parameter names the
adapters produce, PyTorch and ONNX alike); renderers, presenters, neuron views and pruning read it and never
match parameter names themselves. No tensor is read here: this is the description, the numpy work that
cuts tensors by it lives in ``render/weights.py``.

Rules (each family's own attention code):
- query rows and the attention output's input columns are split by the *query* heads;
- key/value rows by the *key/value* heads (grouped-query attention: Llama, Mistral; query head h reads
  key/value head h // (heads / kv_heads), as transformers' ``repeat_kv`` does);
- a fused projection (GPT-2's ``c_attn``) stores Q | K | V one after the other, each split by head;
- T5 projects to heads × d_kv, which need not equal d_model.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# Parameter names of the attention projections, per family (BERT, DistilBERT, Llama/Mistral/BART, T5, GPT-2).
_Q = re.compile(r"(^|\.)(query|q_lin|q_proj|q)\.(weight|bias)$")
_KV = re.compile(r"(^|\.)(key|value|k_lin|v_lin|k_proj|v_proj|k|v)\.(weight|bias)$")
_OUT = re.compile(r"(attention\.output\.dense|attention\.dense|out_lin|o_proj|out_proj|attn\.c_proj"
                  r"|Attention\.o|attention\.o)\.weight$")
_FUSED_QKV = re.compile(r"(^|\.)c_attn\.(weight|bias)$")
_FUSED_GATE_UP = re.compile(r"(^|\.)gate_up_proj\.(weight|bias)$")
# the one-letter T5 names only count under an attention module (a bare ".q" elsewhere is not a head split)
_T5_ATTN = re.compile(r"(SelfAttention|EncDecAttention|attention)\.[qkvo]\.(weight|bias)$")

QKV_PARTS = ("Q", "K", "V")
GATE_UP_PARTS = ("gate", "up")


@dataclass(frozen=True)
class HeadCounts:
    """The model's attention heads: query heads, key/value heads and d_head (None when the config lacks it)."""

    heads: int
    kv_heads: int
    d_head: int | None = None

    @property
    def group(self) -> int:
        """Query heads per key/value head (1 for ordinary multi-head attention)."""
        return self.heads // self.kv_heads if self.kv_heads and self.heads % self.kv_heads == 0 else 1


def head_counts(ctx: Mapping[str, Any] | None) -> HeadCounts | None:
    """The head counts of a model from its hierarchy's ``ctx`` (None when it has no attention heads)."""
    heads = (ctx or {}).get("heads")
    if not heads:
        return None
    kv = (ctx or {}).get("kv_heads") or heads
    d = (ctx or {}).get("d_head")
    return HeadCounts(int(heads), int(kv), int(d) if d else None)


def as_counts(heads: HeadCounts | int | None) -> HeadCounts | None:
    """Accept a plain head count (ordinary multi-head attention: as many key/value heads as query heads)."""
    if heads is None or isinstance(heads, HeadCounts):
        return heads
    return HeadCounts(int(heads), int(heads)) if int(heads) > 0 else None


def head_axis(name: str) -> int | None:
    """0 when heads own a parameter's output rows (Q/K/V weight or bias, as [out, in]), 1 when they own its
    input columns (the attention output projection, which reads the concatenated heads), else None."""
    if _FUSED_QKV.search(name) or _Q.search(name) or _KV.search(name):
        if re.search(r"(^|\.)[qkv]\.(weight|bias)$", name) and not _T5_ATTN.search(name):
            return None
        return 0
    if _OUT.search(name):
        return 1
    return None


def fused_parts(name: str) -> tuple[str, ...]:
    """The parts a fused projection stores one after the other along its output rows, else ()."""
    if _FUSED_QKV.search(name):
        return QKV_PARTS
    if _FUSED_GATE_UP.search(name):
        return GATE_UP_PARTS
    return ()


def is_fused_qkv(name: str) -> bool:
    return fused_parts(name) == QKV_PARTS


def is_key_value(name: str) -> bool:
    """A key or value projection (split by the key/value heads), not the fused one."""
    return head_axis(name) == 0 and bool(_KV.search(name)) and not _FUSED_QKV.search(name)


@dataclass(frozen=True)
class ParamHeads:
    """How one parameter is split by head: along ``axis`` (of [out, in]), ``count`` heads of ``d`` each, in
    ``parts`` bands of ``part`` rows (one band unless fused Q|K|V); ``group`` query heads share one of them."""

    name: str
    axis: int
    count: int
    d: int
    parts: tuple[str, ...] = ()
    part: int = 0
    group: int = 1

    def owner(self, query_head: int) -> int:
        """Which of this parameter's heads query head ``query_head`` reads (its key/value head under GQA)."""
        return int(query_head) // self.group

    def bands(self, head: int) -> tuple[tuple[int, int], ...]:
        """Every (start, stop) along ``axis`` that this parameter's head ``head`` owns."""
        lo = int(head) * self.d
        if not self.parts:
            return ((lo, lo + self.d),)
        return tuple((p * self.part + lo, p * self.part + lo + self.d) for p in range(len(self.parts)))


def param_heads(name: str, length: int, heads: HeadCounts | int | None) -> ParamHeads | None:
    """The head split of parameter ``name`` whose split axis has ``length`` entries, or None when it is not
    split by head. Raises ValueError when the sizes do not fit the counts (the caller words it)."""
    counts = as_counts(heads)
    axis = head_axis(name)
    if axis is None or counts is None:
        return None
    if is_fused_qkv(name):
        if length % 3:
            raise ValueError(f"{name} has {length} rows, not 3 equal parts (fused Q, K, V)")
        part = length // 3
        if part % counts.heads:
            raise ValueError(f"{name} has {part} rows per part, not divisible by {counts.heads} heads")
        return ParamHeads(name, 0, counts.heads, part // counts.heads, QKV_PARTS, part)
    kv = is_key_value(name)
    count = counts.kv_heads if kv else counts.heads
    if count <= 0 or length % count:
        what = "key/value heads" if kv else "heads"
        raise ValueError(f"{name} has {length} {'rows' if axis == 0 else 'columns'}, not divisible by "
                         f"{count} {what}")
    return ParamHeads(name, axis, count, length // count, group=counts.group if kv else 1)
