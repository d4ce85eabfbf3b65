""""Parameters and FLOPs saved" (presenters.pruning) against a model with the pruned heads and neurons
PHYSICALLY cut out (prune.shrink: smaller nn.Linear modules), counted by torch.utils.flop_counter and numel;
and the cut-out model computes what the zero-masked one does."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import transformers
from tiny_models import tiny_model
from torch.utils.flop_counter import FlopCounterMode

import bertviz_graph as bg
from bertviz_graph.details import weights_for
from bertviz_graph.presenters.pruning import pruning_panel
from bertviz_graph.pruning import job as J
from bertviz_graph.pruning.methods import RECORD_KEY
from bertviz_graph.pruning.shrink import shrink


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    return tiny_model(tmp_path_factory.mktemp("shrink") / "tiny", num_hidden_layers=3, intermediate_size=96)


@pytest.fixture(scope="module")
def tiny_distil(tmp_path_factory) -> Path:
    return tiny_model(tmp_path_factory.mktemp("shrink") / "distil", cls="DistilBertForMaskedLM",
                      model_type="distilbert")


def _count(model, ids) -> int:
    with FlopCounterMode(display=False) as fc, torch.no_grad():
        model(input_ids=ids)
    return int(fc.get_total_flops())


def _load(folder: Path):
    return transformers.AutoModelForMaskedLM.from_pretrained(folder, attn_implementation="eager").eval()


@pytest.mark.parametrize("method,amount", [("heads-random", 0.5), ("heads-importance", 0.34),
                                           ("neurons-weight", 0.3), ("neurons-random", 0.55)])
def test_saved_params_and_flops_equal_the_shrunk_model(tiny, method, amount):
    _check(tiny, method, amount)


@pytest.mark.parametrize("method,amount", [("heads-random", 0.5), ("neurons-random", 0.4)])
def test_distilbert_too(tiny_distil, method, amount):
    _check(tiny_distil, method, amount)


def _check(tiny: Path, method: str, amount: float) -> None:
    job = J.run_prune(bg.trace(str(tiny)), method, amount, str(tiny))
    assert job.state == "done", job.error
    graph = job.graph
    rec = graph.meta["config"][RECORD_KEY]
    p = pruning_panel(graph, weights_for(graph))
    saved_params = sum(g.params_removable for g in p.groups)
    saved_mm = sum(g.matmul_flops_removable for g in p.groups)
    assert saved_params > 0 and saved_mm > 0

    original, pruned = _load(tiny), _load(job.folder)
    small = shrink(original, rec)
    ids = torch.randint(1000, 2000, (1, int(graph.meta.get("seq_len") or 16)))  # the traced input's shape
    assert _count(original, ids) - _count(small, ids) == saved_mm
    numel = sum(x.numel() for x in original.parameters()) - sum(x.numel() for x in small.parameters())
    assert numel == saved_params
    # the model with the parts cut out computes what the zero-masked model computes
    with torch.no_grad():
        torch.testing.assert_close(small(input_ids=ids).logits, pruned(input_ids=ids).logits, atol=1e-5, rtol=1e-5)
    # the all-op count is larger (bias adds, softmax, activation also go) and said beside it
    assert sum(g.flops_removable for g in p.groups) > saved_mm
    assert f"{saved_mm:,} of them in matrix products" in " ".join(p.summary)
