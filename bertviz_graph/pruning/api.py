"""The Python facade: prune a named model, folder or graph; measure; save."""

from __future__ import annotations

import copy
import inspect
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bertviz_graph.errors import UserError
from bertviz_graph.pruning.core import PruneRecord, check_method, prune_module
from bertviz_graph.pruning.data import BUILTIN_SENTENCES, batches, read_sentences
from bertviz_graph.pruning.holdout import split
from bertviz_graph.pruning.intervals import lee_with_interval, probe_interval_metric
from bertviz_graph.pruning.metrics import agreement, reference
from bertviz_graph.pruning.save import save_pruned
from bertviz_graph.pruning.sweep import TASKS, task_metric
from bertviz_graph.run.load import load_runnable
from bertviz_graph.sources.resolve import resolve
from bertviz_graph.torch_lock import lock_each_call


def load_trained(model: Any, head: str = "auto", own: bool = True):
    """The runnable trained model behind a name, folder or graph; ``own``: a model the caller may change
    (the process-wide cached one is shared with the other panels)."""

    kwargs = {"head": head}
    if own and "cached" in inspect.signature(load_runnable).parameters:
        kwargs["cached"] = False
        run = load_runnable(model, **kwargs)
    else:
        run = load_runnable(model, **kwargs)
        if own:
            run = copy.copy(run)
            run.model = copy.deepcopy(run.model)
    if not run.trained:
        raise UserError(f"{run.name} is structure only (a preset config without a checkpoint): its weights "
                        "are random, so pruning them shows nothing about a trained model",
                        "prune a trained model folder, e.g. all-MiniLM-L6-v2 or a save_pretrained folder")
    return run


def sentence_batches(tokenizer, sentences: list[str] | str | Path | None = None, batch_size: int = 32,
                     keep_order: bool = False):
    """Batches of the user's sentences (a list, or a text file with one per line) or the built-in set."""

    if tokenizer is None:
        raise UserError("this model has no tokenizer, so sentences cannot be scored",
                        "add tokenizer files to the model folder (tokenizer.save_pretrained(dir))")
    if sentences is None:
        texts = BUILTIN_SENTENCES
    elif isinstance(sentences, (str, Path)):
        texts = read_sentences(sentences)
    else:
        texts = [s for s in sentences if str(s).strip()]
        if not texts:
            raise UserError("no sentences given", "pass a list of sentences, or none for the built-in set")
    return texts, batches(tokenizer, list(texts), batch_size=batch_size, keep_order=keep_order)


@dataclass
class Pruned:
    """A pruned copy of a trained model, with the record of what was pruned."""

    model: Any
    tokenizer: Any
    record: PruneRecord
    name: str
    source_folder: Path | None
    _texts: list[str]  # the measuring set (held out: never scored on), or all sentences if held_out=False
    _batches: list[dict]
    _reference: Any = None  # the unpruned model's outputs on the measuring sentences
    scoring: str = ""  # which sentences scored heads and neurons
    measuring: str = ""  # which sentences the metrics are measured on

    @property
    def n_sentences(self) -> int:
        """How many sentences the agreement metrics are measured on."""
        return len(self._texts)

    def metrics(self, task: str | None = None, labelled: Any = None) -> dict[str, float]:
        """Agreement with the unpruned model on the measuring sentences (held out from scoring);
        ``task="lee"`` adds the Lee corpus human-similarity Spearman of the pruned model with its bootstrap
        95% interval (``lee_spearman_lo``/``_hi``), ``task="probe"`` the held-out accuracy of a
        logistic-regression probe on ``labelled`` sentences (a 'LABEL sentence' file; default Pang & Lee) with its
        bootstrap 95% interval over the sentences (``probe_accuracy_lo``/``_hi``)."""

        out = agreement(self.model, self._reference, self._batches, self.tokenizer)
        if task == "lee":

            out.update(lee_with_interval(self.tokenizer)(self.model))
        elif task == "probe":

            out.update(probe_interval_metric(self.tokenizer, labelled)(self.model))
        elif task is not None:

            out[TASKS[task]] = task_metric(task, self.tokenizer, labelled)(self.model)
        return out

    def save(self, out: str | Path, force: bool = False) -> Path:

        return save_pruned(self.model, self.record, out, self.source_folder, self.tokenizer, force)


def prune(model: Any, method: str = "magnitude", amount: float = 0.3, *, sentences: Any = None,
          labels: Any = None, head: str = "auto", seed: int = 0, held_out: bool = True) -> Pruned:
    """Prune a trained model (name, folder or OpGraph) with ``method`` (see ``METHODS``) by ``amount``
    (a fraction in [0, 1)). Held out by default: heads and neurons are scored on the odd lines of
    ``sentences`` (list or file; default the 48 built-in ones) and ``metrics()`` measures on the even lines,
    which no method saw (``held_out=False``: both on all of them, in-sample)."""
    import torch


    check_method(method, amount)
    run = load_trained(model, head=head)

    lock_each_call(run.model)  # the torch lock per forward pass, never for the whole job (app stays responsive)
    texts, _bats = sentence_batches(run.tokenizer, sentences, keep_order=labels is not None)
    source = ("the 48 built-in sentences" if sentences is None else str(sentences)
              if isinstance(sentences, (str, Path)) else "your sentences")
    if held_out:
        sets = split(list(texts), source)
        keep = labels is not None
        bats = batches(run.tokenizer, sets.scoring, keep_order=keep)
        meas_texts, meas = sets.measuring, batches(run.tokenizer, sets.measuring, keep_order=keep)
        names = (sets.scoring_name, sets.measuring_name)
        labels = labels[0::2] if labels is not None else None
    else:
        bats = meas = _bats
        meas_texts = list(texts)
        names = (f"scoring set: all {len(texts)} of {source}", f"measuring set: the same {len(texts)} "
                 "(in-sample: flatters the data-driven methods)")
    lab = None
    if labels is not None:
        lab = [torch.as_tensor(labels[i:i + len(b["input_ids"])]) for i, b in
               zip(_offsets(bats), bats)]
    ref = reference(run.model, meas, run.tokenizer)
    rec = prune_module(run.model, method, amount, bats, run.tokenizer, lab, seed)
    folder = _folder_of(model, run)
    return Pruned(run.model, run.tokenizer, rec, run.name, folder, meas_texts, meas, ref, *names)


def _offsets(bats: list[dict]) -> list[int]:
    out, n = [], 0
    for b in bats:
        out.append(n)
        n += len(b["input_ids"])
    return out


def _folder_of(model: Any, run: Any) -> Path | None:
    from bertviz_graph.graph import OpGraph  # lazy: start-up (networkx)

    try:
        if isinstance(model, OpGraph):
            files = model.meta.get("weight_files") or []
        else:
            files = resolve(model).weight_files
        return Path(files[0]).parent if files else None
    except UserError:
        return None
