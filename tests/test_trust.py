"""Issue 9: numbers on screen are right. Run facts never from the cache, one rule for "trained weights",
a saved graph whose checkpoint moved still opens, one counting rule for parameters."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import bertviz_graph as bg
from bertviz_graph.cli import main
from bertviz_graph.hierarchy.tree import ROOT

TINY = {"model_type": "bert", "vocab_size": 99, "hidden_size": 32, "num_hidden_layers": 2,
        "num_attention_heads": 2, "intermediate_size": 37, "max_position_embeddings": 64,
        "architectures": ["BertForMaskedLM"]}


def _checkpoint(folder: Path, seed: int) -> Path:
    """A real save_pretrained folder (config.json + model.safetensors) of a tiny BERT with its own values."""
    import torch
    from transformers import BertConfig, BertForMaskedLM

    torch.manual_seed(seed)
    cfg = {k: v for k, v in TINY.items() if k not in ("model_type", "architectures")}
    BertForMaskedLM(BertConfig(**cfg)).save_pretrained(folder)
    # the same config.json for both fine-tunes, byte for byte, as the issue describes
    (folder / "config.json").write_text(json.dumps(TINY))
    return folder


@pytest.fixture(scope="module")
def two_finetunes(tmp_path_factory):
    root = tmp_path_factory.mktemp("finetunes")
    return _checkpoint(root / "alpha", 1), _checkpoint(root / "beta", 2)


# ---- item 1: run facts from the source, not from the cache -------------------------------------------
def test_cache_hit_keeps_this_checkpoints_name_and_weights(two_finetunes):
    a, b = two_finetunes
    ga = bg.trace(str(a))
    gb = bg.trace(str(b))
    assert gb.meta["cache"] == "hit"  # same config: one cache entry
    assert gb.name == "beta" and gb.view().data().title.startswith("beta ·")
    assert gb.meta["weight_files"] == [str(b / "model.safetensors")]
    assert ga.meta["weight_files"] == [str(a / "model.safetensors")]
    # the values shown are beta's own, read independently with safetensors
    from safetensors.numpy import load_file

    from bertviz_graph.details import weights_for

    name = "bert.encoder.layer.0.attention.self.query.weight"
    want = load_file(str(b / "model.safetensors"))[name]
    got = weights_for(gb).get(name)
    assert (got == want).all()
    assert not (got == load_file(str(a / "model.safetensors"))[name]).all()
    # a preset with that config would be structure only, said so even on a hit
    # the trace itself: not the head list (heads-*.json) nor the replay program (<key>.replay.json)
    entry = next(p for p in Path(bg.tracer.cache_dir()).glob("*.json") if re.fullmatch(r"[0-9a-f]+\.json", p.name))
    stored = json.loads(entry.read_text())["meta"]
    assert not {"name", "origin", "weight_files", "notes", "structure_only"} & set(stored)


def test_moved_checkpoint_opens_everywhere_with_a_warning(two_finetunes, tmp_path, capsys):
    src = tmp_path / "gamma"
    shutil.copytree(two_finetunes[0], src)
    saved = tmp_path / "graph.json"
    assert main(["trace", str(src), "-o", str(saved)]) == 0
    shutil.move(src, tmp_path / "gamma-moved")
    capsys.readouterr()
    for argv in (["info", str(saved), "--depth", "1"], ["export", str(saved), "-o", str(tmp_path / "v.svg")]):
        assert main(argv) == 0, argv
        err = capsys.readouterr().err
        assert "warning: weights unavailable" in err and "model.safetensors is gone" in err
    assert (tmp_path / "v.svg").read_text().startswith("<")
    # the app opens, says so in its header, and serves a weight matrix (random stand-ins, said plainly)
    from bertviz_graph.app.context import AppContext
    from bertviz_graph.app.layout import header

    graph = bg.trace(str(saved))
    ctx = AppContext(graph)
    assert ctx.trained is False
    assert "weights unavailable" in str(header(ctx))
    assert ctx.weights.trained is False and "gone" in ctx.weights.description
    assert ctx.weights.get("bert.encoder.layer.0.attention.self.query.weight").shape == (32, 32)
    # the widget follows the same rule
    from bertviz_graph.widget import GraphWidget

    w = GraphWidget(graph)
    assert w.weights.trained is False


def test_serve_moved_checkpoint_answers_http(two_finetunes, tmp_path):
    """The real server process on a saved graph whose folder moved: it starts and serves the page."""
    import socket
    import time
    import urllib.request

    src = tmp_path / "delta"
    shutil.copytree(two_finetunes[1], src)
    saved = tmp_path / "g.json"
    assert main(["trace", str(src), "-o", str(saved)]) == 0
    shutil.rmtree(src)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "bertviz_graph", "serve", str(saved), "--port", str(port)],
                            stderr=subprocess.PIPE, text=True)
    try:
        body = ""
        for _ in range(120):
            try:
                body = urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2).read().decode()
                break
            except OSError:
                if proc.poll() is not None:
                    break
                time.sleep(0.5)
        assert proc.poll() is None, proc.stderr.read()
        assert "<html" in body.lower()
    finally:
        proc.terminate()
        err = proc.communicate(timeout=30)[1]
    assert "warning: weights unavailable" in err


def test_in_memory_module_is_trained_in_app_and_widget():
    import torch

    from bertviz_graph.app.context import AppContext
    from bertviz_graph.sources.status import weights_status
    from bertviz_graph.widget import GraphWidget

    torch.manual_seed(0)
    m = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
    graph = bg.trace(m, (torch.randn(1, 4),))
    assert weights_status(graph).trained is True
    ctx = AppContext(graph)
    assert ctx.trained is True and "random" not in str(__import__("bertviz_graph.app.layout",
                                                                    fromlist=["header"]).header(ctx)).lower()
    assert GraphWidget(graph).weights.trained is True
    assert (ctx.weights.get("0.weight") == m[0].weight.detach().numpy()).all()
    # a preset has no checkpoint: random, in every front end
    preset = bg.trace("bert-tiny")
    assert AppContext(preset).trained is False and GraphWidget(preset).weights.trained is False


# ---- item 3: one counting rule ---------------------------------------------------------------------
def _sum_children(h, gid) -> int:
    """Parameters of a group's child groups plus its loose parameter leaves counted there."""
    from bertviz_graph.hierarchy.aggregates import param_leaf_values

    leaf = param_leaf_values(h.graph.g)
    return sum(h.groups[c].params if c in h.groups else leaf.get(c, 0) for c in h.groups[gid].children)


def _independent_total(model) -> int:
    return sum(p.numel() for p in model.parameters())  # torch dedups tied/shared tensors


@pytest.mark.parametrize("name,tied", [("bert-tiny", True), ("albert-base-v2", True),
                                        ("distilbert-base-uncased", True)])
def test_group_totals_add_up(name, tied):
    graph = bg.trace(name)
    h = graph.hierarchy
    import torch
    from transformers import AutoConfig, AutoModelForMaskedLM  # noqa: F401  (independent count)

    from bertviz_graph.sources.build import make_config

    with torch.device("meta"):
        model = AutoModelForMaskedLM.from_config(make_config(graph.meta["config"]))
    total = _independent_total(model)
    assert h.groups[ROOT].params == total == graph.param_count()
    for gid, grp in h.groups.items():  # every level adds up, series included
        assert grp.params == _sum_children(h, gid), gid
    # the tie is named where the tensor is read but not counted
    heads = [g for g in h.groups.values() if g.reads_elsewhere]
    assert bool(heads) == tied
    assert any("word_embeddings.weight" in n for g in heads for n in g.reads_elsewhere)


def test_bert_head_counts_the_decoder_once_and_names_the_tie(tiny_graph):
    h = tiny_graph.hierarchy
    from bertviz_graph.details import node_details

    cls = h.groups["cls"]
    hidden, vocab = 128, 30522
    # transform dense + LayerNorm + decoder bias; the decoder weight is the word embedding
    assert cls.params == hidden * hidden + hidden + 2 * hidden + vocab
    assert cls.reads_elsewhere == {"bert.embeddings.word_embeddings.weight": "bert.embeddings.word_embeddings"}
    rows = dict(node_details(h, "cls")["rows"])
    assert "counted in bert.embeddings.word_embeddings" in rows["also reads (counted once, elsewhere)"]
    top = [c for c in h.groups[ROOT].children if c in h.groups]
    assert sum(h.groups[c].params for c in top) == tiny_graph.param_count() == 4_416_698  # not 8.32M
    share = sum(float(dict(node_details(h, c)["rows"]).get("share of model parameters", "0%")[:-1]) for c in top)
    assert 99.9 < share < 100.1


def test_albert_shared_layer_counted_at_first_call():
    h = bg.trace("albert-base-v2").hierarchy
    s = next(x for x in h.series() if x.shared_weights)
    first, second = s.members[0], s.members[1]
    assert h.groups[first].params == s.params == 7_087_872
    assert h.groups[second].params == 0 and len(h.groups[second].reads_elsewhere) == 16
    assert set(h.groups[second].reads_elsewhere.values()) <= set(h.leaves(first)) | {
        x for x in h.groups if x.startswith(first)}


def test_no_ties_model():
    import torch

    m = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.GELU(), torch.nn.Linear(8, 3))
    h = bg.trace(m, (torch.randn(2, 4),)).hierarchy
    assert h.groups[ROOT].params == 4 * 8 + 8 + 8 * 3 + 3
    assert all(not g.reads_elsewhere for g in h.groups.values())
    assert h.groups["0"].params + h.groups["2"].params == h.groups[ROOT].params


def test_charts_cli_and_tree_agree(tiny_graph, capsys):
    from bertviz_graph.neurons.charts import build_sectors, leaf_values

    h = tiny_graph.hierarchy
    sectors = {s.gid: s.value for s in build_sectors(h, "params") if s.members == 1}
    for gid, v in sectors.items():
        assert v == h.groups[gid].params, gid
    assert sum(leaf_values(h, "params").values()) == h.groups[ROOT].params
    assert main(["info", "bert-tiny", "--depth", "1"]) == 0
    out = capsys.readouterr().out
    assert f"params {h.groups['cls'].params:,}" in out


def test_bad_weight_files_field_is_one_line_exit_2(tmp_path, capsys):
    saved = tmp_path / "g.json"
    assert main(["trace", "bert-tiny", "-o", str(saved)]) == 0
    data = json.loads(saved.read_text())
    data["meta"]["weight_files"] = "model.safetensors"  # hand-edited: a string, not a list
    saved.write_text(json.dumps(data))
    capsys.readouterr()
    assert main(["info", str(saved)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and "weight_files" in err[0] and "is not of type 'array'" in err[0]
    assert err[1].strip().startswith("fix:") and "Traceback" not in "".join(err)
