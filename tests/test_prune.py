"""Pruning: exact sparsity on disk, pruned heads are exactly zero, head importance = finite differences, bad
input is refused before anything is written."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.numpy import load_file
from tiny_models import tiny_model as _tiny  # noqa: E402

from bertviz_graph.cli import main

SENTS = ["The cat sat on the mat.", "A storm closed the airport for the afternoon.",
         "She finished the marathon in four hours.", "Prices rose sharply during the long drought.",
         "Why did the train stop in the tunnel?", "The children built a sandcastle near the water."]


@pytest.fixture(scope="module")
def tiny_mlm(tmp_path_factory) -> Path:
    return _tiny(tmp_path_factory.mktemp("tiny") / "tiny-mlm")


@pytest.mark.parametrize("method,amount", [("magnitude", 0.37), ("magnitude-layer", 0.5),
                                           ("magnitude-matrix", 0.3)])
def test_sparsity_read_back_from_safetensors(tiny_mlm, tmp_path, method, amount):
    out = tmp_path / "pruned"
    assert main(["prune", str(tiny_mlm), "--method", method, "--amount", str(amount), "-o", str(out)]) == 0
    saved = load_file(out / "model.safetensors")
    orig = load_file(tiny_mlm / "model.safetensors")
    # the matrices pruned: every Linear weight inside the encoder layers
    names = [k for k, v in orig.items() if ".encoder.layer." in k and k.endswith(".weight") and v.ndim == 2]
    assert len(names) == 12
    zeros = {k: int((saved[k] == 0).sum()) for k in names}
    sizes = {k: saved[k].size for k in names}
    if method == "magnitude-matrix":
        for k in names:
            assert abs(zeros[k] - round(amount * sizes[k])) <= 1, k
    elif method == "magnitude-layer":
        for layer in ("layer.0.", "layer.1."):
            ks = [k for k in names if layer in k]
            assert abs(sum(zeros[k] for k in ks) - round(amount * sum(sizes[k] for k in ks))) <= len(ks)
    else:
        assert abs(sum(zeros.values()) - round(amount * sum(sizes.values()))) <= len(names)
        # global: one threshold, so every zeroed weight was no larger than every kept one
        kept = np.concatenate([np.abs(orig[k][saved[k] != 0]) for k in names])
        gone = np.concatenate([np.abs(orig[k][saved[k] == 0]) for k in names])
        assert gone.max() <= kept.min()
    # nothing else changed; tokenizer and the pruning record are there; every command accepts the folder
    for k in orig:
        if k not in names:
            np.testing.assert_array_equal(saved[k], orig[k])
    assert (out / "vocab.txt").is_file() and (out / "tokenizer.json").is_file()
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["bertviz_graph_pruning"]["method"] == method
    assert main(["info", str(out), "--depth", "1"]) == 0


def _load(folder: Path):
    from bertviz_graph.pruning.api import load_trained

    return load_trained(str(folder))


def test_pruned_head_is_zero_and_equals_hand_masked_forward(tiny_mlm):
    from bertviz_graph.pruning.core import prune_module
    from bertviz_graph.pruning.data import batches

    run = _load(tiny_mlm)
    base = copy.deepcopy(run.model)
    bats = batches(run.tokenizer, SENTS)
    rec = prune_module(run.model, "heads-random", 0.5, bats, run.tokenizer)
    pruned = {(int(layer), h) for layer, hs in rec.heads.items() for h in hs}
    assert len(pruned) == 4  # half of 2 × 4
    # the context each output projection sees, captured by a plain forward pre-hook
    seen = {}
    hooks = [run.model.bert.encoder.layer[i].attention.output.dense.register_forward_pre_hook(
        lambda _m, a, i=i: seen.__setitem__(i, a[0].detach())) for i in range(2)]
    batch = bats[0]
    with torch.no_grad():
        out_pruned = run.model(**batch).logits
    for h in hooks:
        h.remove()
    for layer, h in pruned:
        assert torch.count_nonzero(seen[layer][..., h * 8:(h + 1) * 8]) == 0
    # a hand-masked forward of the unpruned model: zero those heads' slices of the context
    def mask_hook(i):
        def pre(_m, a):
            x = a[0].clone()
            for layer, h in pruned:
                if layer == i:
                    x[..., h * 8:(h + 1) * 8] = 0
            return (x,)
        return pre
    hooks = [base.bert.encoder.layer[i].attention.output.dense.register_forward_pre_hook(mask_hook(i))
             for i in range(2)]
    with torch.no_grad():
        out_masked = base(**batch).logits
    for h in hooks:
        h.remove()
    torch.testing.assert_close(out_pruned, out_masked, rtol=0, atol=1e-5)
    with torch.no_grad():
        assert (base(**batch).logits - out_pruned).abs().max() > 1e-3  # pruning did change the output


def test_pruned_neurons_output_nothing(tiny_mlm):
    from bertviz_graph.pruning.core import prune_module
    from bertviz_graph.pruning.data import batches

    run = _load(tiny_mlm)
    bats = batches(run.tokenizer, SENTS)
    rec = prune_module(run.model, "neurons-activation", 0.25, bats, run.tokenizer)
    assert all(len(v) == 16 for v in rec.neurons.values()) and len(rec.neurons) == 2
    seen = {}
    hooks = [run.model.bert.encoder.layer[i].output.dense.register_forward_pre_hook(
        lambda _m, a, i=i: seen.__setitem__(i, a[0].detach())) for i in range(2)]
    with torch.no_grad():
        run.model(**bats[0])
    for h in hooks:
        h.remove()
    for i, idx in rec.neurons.items():
        assert torch.count_nonzero(seen[i][..., idx]) == 0


def test_head_importance_matches_finite_differences(tmp_path):
    from bertviz_graph.pruning.arch import find_layers
    from bertviz_graph.pruning.data import batches
    from bertviz_graph.pruning.heads import head_importance
    from bertviz_graph.pruning.metrics import loss_for, reference

    folder = _tiny(tmp_path / "tiny-base", cls="BertModel")
    run = _load(folder)
    model = run.model.double()
    bats = batches(run.tokenizer, SENTS, batch_size=3)
    bats = [{k: v for k, v in b.items()} for b in bats]
    ref = reference(model, bats, run.tokenizer)
    loss = loss_for(model, ref, bats, run.tokenizer)
    layers = find_layers(model)
    ours = head_importance(model, layers, bats, loss)
    # direct check: perturb one head's output scale by ±eps with a hand-written hook, per example
    eps = 1e-5
    fd = torch.zeros(2, 4, dtype=torch.float64)
    for b in bats:
        for layer in range(2):
            for h in range(4):
                vals = []
                for s in (1 + eps, 1 - eps):
                    def pre(_m, a, s=s, h=h):
                        x = a[0].clone()
                        x[..., h * 8:(h + 1) * 8] *= s
                        return (x,)
                    hk = model.encoder.layer[layer].attention.output.dense.register_forward_pre_hook(pre)
                    with torch.no_grad():
                        vals.append(loss(model, b))
                    hk.remove()
                fd[layer, h] += ((vals[0] - vals[1]) / (2 * eps)).abs().sum()
    fd /= len(SENTS)
    assert fd.min() > 0
    torch.testing.assert_close(ours.double(), fd, rtol=1e-4, atol=1e-9)


def _fails(argv, capsys, words):
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err
    for w in words:
        assert w in err, err
    return err


def test_bad_input(tiny_mlm, tmp_path, capsys):
    out = tmp_path / "out"
    _fails(["prune", str(tiny_mlm), "--amount", "1.0", "-o", str(out)], capsys, ["outside [0, 1)"])
    _fails(["prune", str(tiny_mlm), "--amount", "-0.1", "-o", str(out)], capsys, ["outside [0, 1)"])
    _fails(["prune", str(tiny_mlm), "--method", "heads-magic", "-o", str(out)], capsys, ["unknown pruning"])
    _fails(["prune", "bert-base-uncased", "-o", str(out)], capsys, ["structure only"])
    only_cfg = tmp_path / "cfg-only"
    only_cfg.mkdir()
    shutil.copy(tiny_mlm / "config.json", only_cfg / "config.json")
    _fails(["prune", str(only_cfg), "-o", str(out)], capsys, ["no weights"])
    albert = _tiny(tmp_path / "albert", cls="AlbertModel", model_type="albert", embedding_size=16)
    _fails(["prune", str(albert), "--method", "heads-random", "-o", str(out)], capsys, ["ALBERT"])
    assert not out.exists()
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    _fails(["prune", str(tiny_mlm), "-o", str(out)], capsys, ["already exists", "--force"])
    assert (out / "keep.txt").read_text() == "mine"
    assert main(["prune", str(tiny_mlm), "--amount", "0.2", "-o", str(out), "--force"]) == 0
    assert (out / "model.safetensors").is_file() and not (out / "keep.txt").exists()
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []  # no temp folders left
    _fails(["prune", str(tiny_mlm), "--sweep", "0:1.2:0.3", "-o", str(tmp_path / "c.csv")], capsys,
           ["outside [0, 1)"])
    _fails(["prune", str(tiny_mlm), "--sweep", "0:0.5:0.25", "-o", str(tmp_path / "c.txt")], capsys,
           ["unknown curve format"])


def test_sweep_csv_with_baseline(tiny_mlm, tmp_path):
    import csv

    out = tmp_path / "curve.csv"
    assert main(["prune", str(tiny_mlm), "--method", "magnitude,heads-importance", "--sweep", "0:0.5:0.25",
                 "-o", str(out)]) == 0
    rows = list(csv.DictReader(out.open()))
    methods = {r["method"] for r in rows}
    assert methods == {"magnitude", "random", "heads-importance", "heads-random"}
    assert len(rows) == 4 * 3
    for r in rows:
        if float(r["amount"]) == 0:
            assert float(r["embedding_cosine"]) == pytest.approx(1.0, abs=1e-6)
            assert float(r["fill_mask_top1_agreement"]) == 1.0
        else:
            assert float(r["embedding_cosine"]) < 1.0
    assert {r["baseline_of"] for r in rows if r["method"] == "random"} == {"magnitude"}
