"""A model you can run: the real ``nn.Module`` (CPU, eval mode, eager attention) plus its tokenizer.

Where the weights come from decides what the numbers mean:
- a local folder (config.json + *.safetensors, incl. the packaged all-MiniLM-L6-v2): trained weights;
- a preset name: no checkpoint, so the parameters are the deterministic random values the weights panel
  shows (``RandomWeights``, seed 0): ``trained`` is False and every picture must say so;
- an ``OpGraph``: whatever its ``meta`` says it was traced from (the same head, attention and config).

Offline only (``HF_HUB_OFFLINE``, ``local_files_only``), never ``trust_remote_code``, never unpickling
(safetensors only). A model without a checkpoint *and* without a preset config cannot run: ``UserError``.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bertviz_graph.errors import UserError
from bertviz_graph.sources.build import make_config
from bertviz_graph.sources.heads import auto_class
from bertviz_graph.sources.packaged import UNCASED_VOCAB_MODEL, packaged_dir
from bertviz_graph.sources.resolve import ModelSource, resolve

_LOCK = threading.Lock()


@dataclass
class Tokens:
    """A tokenized input: ids, readable token strings, token types (pairs) and what was cut."""

    input_ids: list[int]
    tokens: list[str]
    token_type_ids: list[int] | None = None
    truncated: int = 0  # tokens dropped to fit the model's positions
    notes: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.input_ids)


@dataclass
class Runnable:
    """The real model and what is known about it."""

    model: Any  # torch.nn.Module, CPU, eval(), eager attention
    tokenizer: Any | None  # a transformers tokenizer, or None (then pass token ids)
    trained: bool  # False: random weights, the picture shows no learned structure
    name: str
    head: str  # "base" | "mlm" | "cls" | "qa" | "custom"
    config: dict[str, Any] | None
    attention: str = "eager"
    ops: str = "aten"
    weights: str = ""  # plain words: where the weights come from
    folder: Path | None = None  # the checkpoint folder (None for presets)
    notes: list[str] = field(default_factory=list)

    @property
    def max_positions(self) -> int:
        cfg = self.config or {}
        n = cfg.get("max_position_embeddings") or 512
        # RoBERTa reserves padding_idx + 1 positions
        return int(n) - (int(cfg.get("pad_token_id", 1)) + 1 if cfg.get("model_type") == "roberta" else 0)

    @property
    def has_token_types(self) -> bool:
        return int((self.config or {}).get("type_vocab_size", 0) or 0) > 1

    def tokenize(self, text: str | None = None, pair: str | None = None,
                 ids: list[int] | None = None) -> Tokens:
        """Tokenize ``text`` (and ``pair``) with the model's own tokenizer, or take ``ids`` as they are."""
        return tokenize(self, text, pair, ids)


def tokenize(run: Runnable, text: str | None = None, pair: str | None = None,
             ids: list[int] | None = None) -> Tokens:
    """Text (or a pair) -> Tokens, truncated to the model's positions and saying so."""
    limit = run.max_positions
    vocab = int((run.config or {}).get("vocab_size", 0) or 0)
    if ids is not None:
        ids = [int(i) for i in ids]
        if not ids:
            raise UserError("no token ids given", "pass at least one token id, e.g. --ids 101 2023 102")
        bad = [i for i in ids if i < 0 or (vocab and i >= vocab)]
        if bad:
            raise UserError(f"token id {bad[0]} is outside the vocabulary (0..{vocab - 1})",
                            "pass ids the model's embedding knows")
        cut = max(0, len(ids) - limit)
        toks = Tokens(ids[:limit], [f"#{i}" for i in ids[:limit]], None, cut)
        if cut:
            toks.notes.append(f"truncated: {len(ids)} tokens, the model has {limit} positions; "
                              f"the last {cut} were dropped")
        return toks
    if run.tokenizer is None:
        raise UserError(
            f"{run.name} has no tokenizer, so text cannot be turned into token ids",
            "pass token ids instead (--ids 101 2023 102), or add the vocabulary to the model folder "
            "(tokenizer.json or vocab.txt, e.g. tokenizer.save_pretrained(dir))")
    if text is None or not str(text).strip():
        raise UserError("the text is empty", "type a sentence, e.g. \"The cat sat on the mat.\"")
    if pair is not None and not str(pair).strip():
        pair = None
    tok = run.tokenizer
    full = tok(text, pair, truncation=False, add_special_tokens=True)
    enc = tok(text, pair, truncation=True, max_length=limit, add_special_tokens=True)
    input_ids = list(enc["input_ids"])
    tt = list(enc["token_type_ids"]) if "token_type_ids" in enc and run.has_token_types else None
    out = Tokens(input_ids, tok.convert_ids_to_tokens(input_ids), tt, len(full["input_ids"]) - len(input_ids))
    if out.truncated:
        out.notes.append(f"truncated: the text has {len(full['input_ids'])} tokens and the model "
                         f"{limit} positions; the last {out.truncated} were dropped")
    if pair is not None and not run.has_token_types:
        out.notes.append(f"{run.name} has no token types: the pair is run as one sequence")
    return out


def load_runnable(model_or_graph: Any = None, head: str = "auto", cached: bool = True) -> Runnable:
    """The real model behind a preset name, a local folder, a Hub id in the local cache, a ModelSource
    or an OpGraph (then its own head, attention and config are used). Cached per process, unless
    ``cached=False``: then a fresh model the caller owns (and may change) is built and not kept."""
    from bertviz_graph.graph import OpGraph  # lazy: start-up (networkx)

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    attention, ops = "eager", "aten"
    if isinstance(model_or_graph, OpGraph):
        graph = model_or_graph
        if graph.module is not None:
            return _from_module(graph)
        meta = graph.meta
        attention, ops = meta.get("attention", "eager"), meta.get("ops", "aten")
        if not meta.get("config"):
            raise UserError(f"{graph.name} cannot run: the graph has no model config (a traced nn.Module "
                            "saved without it)", "run the model itself: bg.trace(module, inputs).run(...)")
        source = ModelSource(name=meta.get("name", "model"), origin=meta.get("origin", "local"),
                             config=meta["config"], head=meta.get("head", "base"),
                             weight_files=[Path(p) for p in meta.get("weight_files") or []])
        if source.origin != "preset" and not source.weight_files:
            raise _no_weights(source.name)
        for p in source.weight_files:
            if not p.is_file():
                raise UserError(f"{p} is gone: the graph was traced from weights that are no longer there",
                                "trace the model folder again, or run the preset by name")
    elif isinstance(model_or_graph, ModelSource):
        source = model_or_graph
    else:
        source = resolve(model_or_graph, head=head)
        if source.origin == "module":
            raise UserError("an nn.Module runs as it is", "trace it first: bg.trace(module, inputs).run(...)")
        if source.origin != "preset" and not source.weight_files:
            raise _no_weights(source.name)
    key = (source.name, source.origin, source.head, attention, ops, tuple(map(str, source.weight_files)))
    if not cached:
        return _build(source, attention, ops)
    with _LOCK:
        hit = _CACHE.get(key)
        if hit is None:
            hit = _build(source, attention, ops)
            _CACHE.clear()  # one model in memory at a time: they are hundreds of MB
            _CACHE[key] = hit
        return hit


_CACHE: dict[tuple, Runnable] = {}


def _no_weights(name: str) -> UserError:
    return UserError(f"{name} cannot run: it has a config but no weights (structure only)",
                     "add model.safetensors to the folder (model.save_pretrained(dir)), "
                     "or run the preset of the same architecture, whose weights are random")


def _build(source: Any, attention: str, ops: str) -> Runnable:
    import torch
    import transformers


    transformers.utils.logging.disable_progress_bar()  # no "Loading weights" bars in the CLI's output
    config = make_config(source.config or {}, attention)
    auto = getattr(transformers, auto_class(source.head) if source.head != "custom" else "AutoModel")
    notes: list[str] = []
    if source.weight_files:
        folder = source.weight_files[0].parent
        try:
            model, info = auto.from_pretrained(folder, config=config, local_files_only=True,
                                               use_safetensors=True, trust_remote_code=False,
                                               attn_implementation=attention, output_loading_info=True)
        except (OSError, ValueError) as e:
            raise UserError(f"cannot load the weights of {source.name}: {str(e).splitlines()[0]}",
                            "check the folder holds config.json and model.safetensors from save_pretrained") from e
        missing = [k for k in info.get("missing_keys", []) if not k.endswith("position_ids")]
        trained = True
        weights = f"trained weights from {folder}"
        if missing:
            notes.append(f"{len(missing)} tensors not in the checkpoint were initialised randomly "
                         f"(e.g. {missing[0]}): the {source.head} head is untrained")
        tokenizer = _tokenizer(folder)
    else:
        with torch.device("cpu"):
            model = auto.from_config(config, attn_implementation=attention)
        _fill_random(model)
        trained = False
        weights = "random initial weights (preset, no checkpoint): the picture shows no learned structure"
        tokenizer = _preset_tokenizer(source.config or {})
        notes.append(weights)
        if tokenizer is not None:
            notes.append("tokenizer: BERT's uncased WordPiece vocabulary (shipped with all-MiniLM-L6-v2)")
    model.eval()
    return Runnable(model=model, tokenizer=tokenizer, trained=trained, name=source.name, head=source.head,
                    config=source.config, attention=attention, ops=ops, weights=weights, notes=notes,
                    folder=source.weight_files[0].parent if source.weight_files else None)


def _fill_random(model: Any) -> None:
    """The parameters the weights panel shows for a preset (RandomWeights, seed 0), so both agree."""
    import torch

    from bertviz_graph.sources.weights import RandomWeights  # lazy: start-up (numpy)

    params = dict(model.named_parameters())  # tied tensors once, under their first name
    rw = RandomWeights({n: tuple(p.shape) for n, p in params.items()}, seed=0, cache_tensors=0)
    with torch.no_grad():
        for n, p in params.items():
            p.copy_(torch.from_numpy(rw.get(n).copy()))


def _tokenizer(folder: Path) -> Any | None:
    files = ("tokenizer.json", "vocab.txt", "vocab.json", "spiece.model", "sentencepiece.bpe.model")
    if not any((folder / f).is_file() for f in files):
        return None
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(folder, local_files_only=True, trust_remote_code=False)
    except (OSError, ValueError, KeyError):
        return None


def _preset_tokenizer(cfg: dict) -> Any | None:
    """BERT's uncased presets (vocab 30522) share the packaged MiniLM's vocabulary; others have none."""

    if cfg.get("vocab_size") != 30522 or cfg.get("model_type") not in ("bert", "distilbert"):
        return None
    folder = packaged_dir(UNCASED_VOCAB_MODEL)
    return _tokenizer(folder) if folder is not None else None


def _from_module(graph: Any) -> Runnable:
    module = graph.module
    if any(p.is_meta for p in module.parameters()):
        raise UserError(f"{graph.name} is on the meta device: it has no values to run",
                        "build the module on the CPU with its weights, then trace it")
    module.eval()
    return Runnable(model=module, tokenizer=None, trained=True, name=graph.name, head="custom", config=None,
                    attention=graph.meta.get("attention", "eager"), weights="weights of your module")
