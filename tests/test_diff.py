"""Comparing two models: a model with itself is empty; bert-base vs DistilBERT aligns 6 layers by structure
and names the 6 missing; a pruned copy shows its changed weights and removed heads; models sharing nothing
are still drawn."""

from __future__ import annotations

import re

import pytest
import torch
from tiny_models import tiny_model as _tiny  # noqa: E402

import bertviz_graph as bg
from bertviz_graph.cli import main
from bertviz_graph.comparison import diff_graphs


@pytest.fixture(scope="module")
def bert_and_distil():
    return bg.trace("bert-base-uncased"), bg.trace("distilbert-base-uncased")


def test_diff_with_itself_is_empty(bert_and_distil):
    a, _ = bert_and_distil
    d = diff_graphs(a, bg.trace("bert-base-uncased"))
    assert d.is_empty()
    assert d.removed == [] and d.added == [] and d.regrouped == []
    assert all(r.status == "same" for r in d.units) and len(d.units) == 103
    assert "no differences" in d.summary_lines()


def test_bert_vs_distilbert_aligns_six_layers(bert_and_distil, tmp_path):
    a, b = bert_and_distil
    d = diff_graphs(a, b)
    al = d.alignment
    assert len(al.layer_map) == 6
    assert d.partner("bert.encoder.layer.6") == "distilbert.transformer.layer.3"  # by structure, not name
    assert d.partner("distilbert.transformer.layer.3", side="b") == "bert.encoder.layer.6"
    missing = [f"bert.encoder.layer.{i}" for i in (1, 3, 5, 7, 9, 11)]
    assert al.unmatched_layers_a == missing
    lines = "\n".join(d.summary_lines())
    assert "6 layers of bert-base-uncased missing in distilbert-base-uncased: " + ", ".join(missing) in lines
    # inside an aligned layer every parameter module meets its counterpart by role
    pairs = {(u.a.module, u.b.module) for u in d.units if u.a and u.b}
    for x, y in [("attention.self.query", "attention.q_lin"), ("attention.self.value", "attention.v_lin"),
                 ("attention.output.dense", "attention.out_lin"), ("intermediate.dense", "ffn.lin1"),
                 ("output.dense", "ffn.lin2"), ("attention.output.LayerNorm", "sa_layer_norm"),
                 ("output.LayerNorm", "output_layer_norm")]:
        assert (f"bert.encoder.layer.6.{x}", f"distilbert.transformer.layer.3.{y}") in pairs
    assert "bert.embeddings.token_type_embeddings" in d.removed  # DistilBERT has no token types
    # parameter delta = what the hierarchies say, independently summed
    assert sum(r.params_a - r.params_b for r in d.units) == a.param_count() - b.param_count()
    out = tmp_path / "diff.svg"
    assert main(["diff", "bert-base-uncased", "distilbert-base-uncased", "-o", str(out)]) == 0
    svg = out.read_text()
    for layer in missing:  # the missing layers are drawn and marked
        assert re.search(r'g\.node\[data-id="' + re.escape(layer) + r'"\] > rect[^{]*\{stroke: #d62728', svg)


def test_pruned_copy_shows_changed_weights_and_removed_heads(tmp_path):
    folder = _tiny(tmp_path / "tiny")
    out = tmp_path / "tiny-heads"
    assert main(["prune", str(folder), "--method", "heads-importance", "--amount", "0.25", "-o", str(out)]) == 0
    same = diff_graphs(bg.trace(str(folder)), bg.trace(str(folder)))
    assert same.weights_compared and same.is_empty()
    d = diff_graphs(bg.trace(str(folder)), bg.trace(str(out)))
    assert not d.is_empty()
    rec = __import__("json").loads((out / "config.json").read_text())["bertviz_graph_pruning"]
    expect = {f"bert.encoder.layer.{k}": v for k, v in rec["heads"].items()}
    assert d.removed_heads["b"] == expect and sum(map(len, expect.values())) == 2
    changed = {u.tag for u in d.units if u.status == "changed"}
    assert changed == {"Q", "K", "V", "attention output"}
    # the statistics agree with a direct computation on the tensors
    from safetensors.torch import load_file

    wa, wb = load_file(folder / "model.safetensors"), load_file(out / "model.safetensors")
    row = next(u for u in d.units if u.status == "changed" and u.tag == "V")
    w = next(x for x in row.weights if x.name_a.endswith("weight"))
    delta = wb[w.name_b] - wa[w.name_a]
    assert w.max_abs == pytest.approx(float(delta.abs().max()), rel=1e-6)
    assert w.zeros_b - w.zeros_a == int((wb[w.name_b] == 0).sum() - (wa[w.name_a] == 0).sum())
    assert w.changed == pytest.approx(float((delta != 0).double().mean()))
    html_out = tmp_path / "d.html"
    assert main(["diff", str(folder), str(out), "-o", str(html_out)]) == 0
    page = html_out.read_text()
    assert "attention heads removed" in page and page.count("data:image/png;base64,") >= 4


def test_models_sharing_nothing_are_drawn_and_said(tmp_path, capsys):
    conv = torch.nn.Sequential(torch.nn.Conv1d(4, 4, 3), torch.nn.ReLU())
    a = bg.trace(conv, (torch.zeros(1, 4, 8),))
    b = bg.trace("bert-tiny")
    d = diff_graphs(a, b)
    assert d.alignment.shares_nothing
    assert any("share nothing" in s for s in d.summary_lines())
    from bertviz_graph.render.diff_export import write_diff

    out = tmp_path / "nothing.svg"
    write_diff(d, out)
    svg = out.read_text()
    assert "share nothing" in svg and svg.count("<svg") == 3  # the page and both views


def test_widgets_open_and_close_together(bert_and_distil):
    a, b = bert_and_distil
    w = bg.show_diff(a, b, height=300)
    w.a.open("bert.encoder.layer[0-11]")
    assert "distilbert.transformer.layer[0-5]" in w.b.state["opened"]
    w.a.open_instance("bert.encoder.layer[0-11]", 6)
    assert w.b.state["instance"]["distilbert.transformer.layer[0-5]"] == 3
    w.b.open("distilbert.transformer.layer.3.attention")
    assert "bert.encoder.layer.6.attention" in w.a.state["opened"]
    w.a.close("bert.encoder.layer.6.attention")
    assert "distilbert.transformer.layer.3.attention" not in w.b.state["opened"]
    w.a.select("bert.encoder.layer.6.attention.self.query")
    assert w.b.selected == "distilbert.transformer.layer.3.attention.q_lin"
    # the differences are outlined as in the app, scoped to each picture: unfold BERT's stack and the
    # six missing layers are drawn red
    w.a.unfold("bert.encoder.layer[0-11]")
    for i in (1, 3, 5, 7, 9, 11):
        assert re.search(r'svg\[data-bvg-diff="[0-9a-f]+-a"\] g\.node\[data-id="bert\.encoder\.layer\.'
                         + str(i) + r'"\] > rect[^{]*\{stroke: #d62728', w.a.svg), i
    assert 'data-bvg-diff="' in w.b.svg and "#d62728" not in w.b.svg.split("</style>")[0]


def test_diff_bad_output_is_refused_before_tracing(tmp_path, capsys):
    assert main(["diff", "bert-tiny", "bert-mini", "-o", str(tmp_path / "d.pdf")]) == 2
    assert "unknown diff format" in capsys.readouterr().err
    assert main(["diff", "bert-tiny", "bert-mini", "-o", str(tmp_path / "no" / "d.svg")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_mlm_heads_align_by_role():
    """BERT's cls.predictions (transform dense, LayerNorm, activation, tied decoder whose bias the prediction
    head owns) meets DistilBERT's vocab_transform / vocab_layer_norm / activation / vocab_projector."""
    a = bg.trace("bert-base-uncased", head="mlm")
    b = bg.trace("distilbert-base-uncased", head="mlm")
    d = diff_graphs(a, b)
    for x, y in [("cls.predictions.transform.dense", "vocab_transform"),
                 ("cls.predictions.transform.LayerNorm", "vocab_layer_norm"),
                 ("cls.predictions.transform.transform_act_fn", "activation"),
                 ("cls.predictions.decoder", "vocab_projector")]:
        assert d.partner(x) == y and d.partner(y, side="b") == x
    head = [u for u in d.units if (u.a or u.b).section == "head"]
    assert len(head) == 3 and all(u.status == "same" for u in head)
    assert not any(g.startswith("cls") for g in d.removed) and d.added == []
    assert d.removed == ["bert.embeddings.token_type_embeddings"] + [
        g for g in d.removed if g.startswith("bert.encoder.layer.")]
    assert set(d.regrouped) >= {"cls", "cls.predictions", "cls.predictions.transform"}  # boxes DistilBERT has not
