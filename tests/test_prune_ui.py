"""Pruning started from a front end (prune.job, the widget): a temporary copy, never the user's files; the
effect measured; export refuses an existing folder; bad input is a sentence, not a traceback."""

from __future__ import annotations

import hashlib
import json
import threading
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn as nn
from safetensors.numpy import load_file
from tiny_models import tiny_model

import bertviz_graph as bg
from bertviz_graph.errors import UserError
from bertviz_graph.presenters.pruning import prune_controls_state, pruning_panel
from bertviz_graph.pruning import job as J
from bertviz_graph.pruning.methods import RECORD_KEY


def _digest(folder: Path) -> dict[str, str]:
    return {f.name: hashlib.sha256(f.read_bytes()).hexdigest() for f in sorted(folder.iterdir()) if f.is_file()}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    return tiny_model(tmp_path_factory.mktemp("ui") / "tiny")


@pytest.fixture(scope="module")
def done(tiny):
    before = _digest(tiny)
    job = J.run_prune(bg.trace(str(tiny)), "magnitude", 0.3, str(tiny))
    assert job.state == "done", job.error
    assert _digest(tiny) == before  # the user's folder is untouched
    return job


def test_job_writes_a_temporary_copy_with_effect_and_source(done, tiny):
    assert J.is_temp_copy(done.folder) and not J.is_temp_copy(tiny)
    cfg = json.loads((done.folder / "config.json").read_text())
    rec = cfg[RECORD_KEY]
    assert rec["source"] == str(tiny) and rec["method"] == "magnitude"
    eff = rec["effect"]
    assert set(eff) == {"embedding_cosine", "fill_mask_top1_agreement", "sentences", "scoring", "measuring"}
    assert eff["sentences"] == 24 and "held" not in eff["scoring"] and "never scored on" in eff["measuring"]
    assert 0.5 < eff["embedding_cosine"] <= 1.0 + 1e-6
    # the panel of the traced copy: its sparsity equals the zeros read back from the safetensors
    w = load_file(done.folder / "model.safetensors")
    mats = [k for k, v in w.items() if ".encoder.layer." in k and v.ndim == 2]
    zeros, total = sum(int((w[k] == 0).sum()) for k in mats), sum(w[k].size for k in mats)
    from bertviz_graph.details import weights_for

    p = pruning_panel(done.graph, weights_for(done.graph))
    assert f"{zeros:,} of {total:,} weights" in " ".join(p.summary)
    assert abs(zeros / total - 0.3) < 12 / total  # within one weight per matrix
    assert any(s.startswith("effect: embedding cosine") for s in p.summary)


def test_export_copies_atomically_and_refuses_existing(done, tmp_path):
    out = J.export_folder(done.folder, tmp_path / "mine")
    assert _digest(out) == _digest(done.folder)
    with pytest.raises(UserError, match="already exists"):
        J.export_folder(done.folder, out)
    with pytest.raises(UserError, match="does not exist"):
        J.export_folder(done.folder, tmp_path / "no" / "such")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine"]  # nothing half-written beside it


def test_background_job_and_bad_input(tiny):
    with pytest.raises(UserError, match="outside"):
        J.start(str(tiny), "magnitude", 1.0, str(tiny))
    with pytest.raises(UserError, match="unknown pruning method"):
        J.start(str(tiny), "heads-bogus", 0.3, str(tiny))
    # heads on a model without heads: the job ends in a sentence
    seq = nn.Sequential(nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 2))
    job = J.run_prune(bg.trace(seq, example_inputs=(torch.randn(1, 8),)), "heads-random", 0.5, "seq")
    assert job.state == "error" and "Traceback" not in job.error
    assert job.error, job.error


def test_structure_only_disables_controls():
    ok, why = prune_controls_state(bg.trace("bert-tiny"), False)
    assert not ok and "structure only" in why


def test_widget_prune_returns_a_pruned_copy(tiny):
    w = bg.show(str(tiny))
    w2 = w.prune(method="heads-random", amount=0.5)
    assert w2.original is w and w2.graph is not w.graph
    rec = w2.graph.meta["config"][RECORD_KEY]
    assert sum(len(v) for v in rec["heads"].values()) == 4  # 2 layers × 4 heads, half of them
    svg = w2.open("bert.encoder.layer.0.attention.self").to_svg()
    assert "Linear 32→32 · 2 of 4 heads" in svg  # the graph says it inside the boxes, and draws the strip
    strip = svg.split('data-id="bert.encoder.layer.0.attention.self.query"', 1)[1].split("</g>", 2)[0]
    pale = [i for i, x in enumerate(strip.split("data-pruned=")[1:]) if x.startswith('"1"')]
    assert pale == sorted(rec["heads"]["0"])
    with pytest.raises(UserError):
        w.prune(method="magnitude", amount=-0.1)


def test_widget_panel_controls(tiny):
    from bertviz_graph.widget.pruning import pruning_widget

    box = pruning_widget(bg.trace(str(tiny)))
    controls = box.children[0]
    controls.method, controls.amount = "neurons-weight", 0.25
    box.prune_now()
    assert box.job is not None and box.job.state == "done"
    assert "neurons pruned" in " ".join(box.panel.summary) or any("feed-forward" in s for s in box.panel.summary)
    assert np.isclose(box.job.amount, 0.25)


def test_widget_prunes_what_the_click_carried(tiny):
    """Prune uses the method and amount that came with the click, even while the synced traits still hold
    older values (ipywidgets-style sync can lag behind the page: issue 26)."""
    from bertviz_graph.widget.pruning import pruning_widget

    box = pruning_widget(bg.trace(str(tiny)))
    controls = box.children[0]
    controls.method, controls.amount = "magnitude", 0.35  # stale: what the kernel heard last
    controls.receive({"type": "prune", "method": "neurons-weight", "amount": 0.25})
    for t in threading.enumerate():
        if t.name == "bv-prune-widget":
            t.join(120)
    assert box.job is not None and box.job.state == "done"
    assert box.job.method == "neurons-weight" and np.isclose(box.job.amount, 0.25)
    assert (controls.method, controls.amount) == ("neurons-weight", 0.25)
