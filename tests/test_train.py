"""One training step: gradients against autograd on the plain transformers model (and sentence-transformers'
own loss), counts against torch, LoRA against peft, op gradients against tensor hooks, the edge rule against
the parameter's gradient entry, and bad input."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
from tiny_models import MINILM, tiny_model

import bertviz_graph as bg
from bertviz_graph.errors import UserError
from bertviz_graph.run.load import load_runnable
from bertviz_graph.train.edge import linear_ops_of
from bertviz_graph.train.step import train_step

TEXT = "The cat sat on the mat because it was tired."
A, B = "A man is playing a guitar.", "Someone plays an instrument."


def _rel(a, b) -> float:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-30))


@pytest.fixture(scope="module")
def mlm_folder(tmp_path_factory):
    return tiny_model(tmp_path_factory.mktemp("train") / "mlm")


@pytest.fixture(scope="module")
def mlm(mlm_folder):
    g = bg.trace(str(mlm_folder))
    return g, load_runnable(g)


@pytest.fixture(scope="module")
def cls(tmp_path_factory):
    folder = tiny_model(tmp_path_factory.mktemp("train") / "cls", cls="BertForSequenceClassification", num_labels=3)
    g = bg.trace(str(folder))
    return g, load_runnable(g)


def _hooked_loss(model, ids, labels, module):
    """The plain model's own loss (transformers computes it from ``labels``) with a tensor hook on ``module``'s
    output; returns (loss, {name: grad}, ∂L/∂output of module)."""
    seen = {}

    def fwd(_m, _i, out):
        out.register_hook(lambda g: seen.__setitem__("g", g.detach().clone()))

    h = model.get_submodule(module).register_forward_hook(fwd)
    try:
        out = model(ids, labels=labels)
        names, params = zip(*model.named_parameters())
        grads = torch.autograd.grad(out.loss, params, allow_unused=True)
    finally:
        h.remove()
    return float(out.loss), {n: g for n, g in zip(names, grads) if g is not None}, seen["g"]


def test_mlm_step_equals_autograd_on_the_plain_model(mlm):
    g, run = mlm
    before = {n: p.detach().clone() for n, p in run.model.named_parameters()}
    step = train_step(g, run, TEXT, objective="mlm", mask="tired", lr=0.1)
    ids = torch.tensor([step.tokens and run.tokenize(TEXT).input_ids])
    where = run.tokenize(TEXT).tokens.index("tired")
    labels = torch.full_like(ids, -100)
    labels[0, where] = ids[0, where]
    ids[0, where] = run.tokenizer.mask_token_id
    module = "bert.encoder.layer.1.intermediate.dense"
    loss, grads, hooked = _hooked_loss(run.model, ids, labels, module)
    assert step.loss == pytest.approx(loss, rel=1e-6)
    assert set(step.grads) == {n for n, _ in run.model.named_parameters()}
    for name, ref in grads.items():
        assert _rel(step.grad(name), ref) <= 1e-5, name
    op, _ = linear_ops_of(g, module)
    assert _rel(step.activation_grad(op), hooked[0]) <= 1e-5
    # the shown model did not move and got no .grad
    for n, p in run.model.named_parameters():
        assert torch.equal(p, before[n]) and p.grad is None
    # the textbook rule on edges of two Linears equals autograd's entry of ∂L/∂W
    for mod, j, i in [(module, 5, 7), ("bert.encoder.layer.0.attention.self.query", 1, 30)]:
        e = step.edge(mod, j, i)
        ref = grads[f"{mod}.weight"][j, i].item()
        assert len(e.terms) == len(run.tokenize(TEXT))
        assert abs(e.total - ref) <= 1e-5 * max(abs(ref), float(grads[f"{mod}.weight"].abs().max()) * 1e-3)
        assert e.update == pytest.approx(-0.1 * e.total)


def test_classifier_step_and_frozen_sets(cls):
    g, run = cls
    step = train_step(g, run, TEXT, objective="classify", label=2, trainable="bias")
    ids = torch.tensor([run.tokenize(TEXT).input_ids])
    loss, grads, _ = _hooked_loss(run.model, ids, torch.tensor([2]), "classifier")
    assert step.loss == pytest.approx(loss, rel=1e-6)
    biases = [n for n, _ in run.model.named_parameters() if n.endswith(".bias")]
    assert sorted(step.trainable) == sorted(biases) and step.frozen
    for name in biases:
        assert _rel(step.grad(name), grads[name]) <= 1e-5, name
    with pytest.raises(UserError, match="frozen"):
        step.grad("bert.encoder.layer.0.attention.self.query.weight")
    # counts equal torch's own after freezing a copy the same way
    for spec in ("bias", "layernorm", "last:1", "head", "all"):
        s = train_step(g, run, TEXT, objective="classify", label=1, trainable=spec, capture_ops=False)
        frozen = {n for n in s.frozen}
        want = sum(p.numel() for n, p in run.model.named_parameters() if n not in frozen)
        assert s.counts.trainable == want and s.counts.trainable_tensors == len(s.grads), spec
    last = train_step(g, run, TEXT, objective="classify", label=1, trainable="last:1", capture_ops=False)
    assert all(n.startswith("bert.encoder.layer.1.") for n in last.trainable)
    head = train_step(g, run, TEXT, objective="classify", label=1, trainable="head", capture_ops=False)
    assert sorted(head.trainable) == ["classifier.bias", "classifier.weight"]


def test_bert_base_counts_equal_torch():
    import transformers

    from bertviz_graph.train.trainable import counts, select

    cfg = transformers.BertConfig()  # bert-base-uncased's structure
    with torch.device("meta"):
        base, mlm_model = transformers.BertModel(cfg), transformers.BertForMaskedLM(cfg)
    c = counts(base, select(base, "all"))
    assert (c.trainable, c.trainable_tensors) == (109_482_240, 199)
    c = counts(mlm_model, select(mlm_model, "all"))
    assert (c.trainable, c.trainable_tensors) == (109_514_298, 202)
    assert c.trainable == sum(p.numel() for p in mlm_model.parameters() if p.requires_grad)


def test_lora_count_equals_peft(mlm):
    from peft import LoraConfig, get_peft_model

    g, run = mlm
    step = train_step(g, run, TEXT, objective="mlm", trainable="lora:4")
    assert step.how == "plain model" and all("lora_" in n for n in step.trainable)
    ref = get_peft_model(transformers_copy(run.model), LoraConfig(
        r=4, target_modules=["query", "key", "value"], lora_dropout=0.0))
    assert step.counts.trainable == ref.get_nb_trainable_parameters()[0]
    assert step.counts.total == ref.get_nb_trainable_parameters()[1]
    assert not any("lora" in n for n, _ in run.model.named_parameters()), "the shown model is not wrapped"
    b = next(n for n in step.trainable if "lora_B" in n)
    assert np.abs(step.grad(b)).max() > 0  # B starts at zero, its gradient does not


def transformers_copy(model):
    import copy

    return copy.deepcopy(model)


def test_minilm_similarity_equals_sentence_transformers():
    from sentence_transformers import SentenceTransformer, models

    g = bg.trace("all-MiniLM-L6-v2")
    run = load_runnable(g)
    step = train_step(g, run, A, B, target=0.3)
    assert step.trained and step.objective == "similarity" and step.counts.trainable_tensors == 103
    tr = models.Transformer(str(MINILM), model_kwargs={"attn_implementation": "eager"})
    st = SentenceTransformer(modules=[tr, models.Pooling(384, "mean")], device="cpu")
    st.eval()
    feats = [st.tokenize([s]) for s in (A, B)]
    u, v = (st(f)["sentence_embedding"] for f in feats)
    loss = torch.nn.MSELoss()(torch.cosine_similarity(u, v), torch.tensor([0.3]))
    names, params = zip(*st.named_parameters())
    grads = dict(zip(names, torch.autograd.grad(loss, params, allow_unused=True)))
    assert step.loss == pytest.approx(float(loss), rel=1e-5)
    ref = {n.split(".", 2)[2]: g for n, g in grads.items() if g is not None}
    assert len(ref) >= 101  # all but the pooler (mean pooling does not read it)
    assert max(_rel(step.grad(n), ref[n]) for n in ref) <= 1e-5
    # per-layer gradient norms: six layers, all reached
    norms = step.norms()
    assert all(norms[f"encoder.layer.{k}.output.dense.weight"][0] > 0 for k in range(6))


@pytest.mark.parametrize("kwargs, match", [
    (dict(objective="similarity", pair=B, target=1.5), "outside"),
    (dict(objective="classify", label=5), "out of range"),
    (dict(objective="mlm", mask="zebra"), "not in the sentence"),
    (dict(objective="mlm", lr=0.0), "must be > 0"),
    (dict(objective="similarity", pair=B, trainable="head"), "selects no parameter"),
    (dict(objective="mlm", trainable="last:0"), "whole number"),
])
def test_bad_input_is_one_line(kwargs, match, mlm, cls):
    g, run = cls if kwargs.get("objective") == "classify" else mlm
    if kwargs.get("objective") == "similarity":
        g, run = _base(g)
    with pytest.raises(UserError, match=match):
        train_step(g, run, TEXT, **kwargs)


def _base(_g):
    g = bg.trace("bert-tiny", head="base")
    return g, load_runnable(g)


def test_mlm_on_a_base_model_names_what_fits_and_random_weights_say_so():
    g, run = _base(None)
    with pytest.raises(UserError, match="masked-LM head") as e:
        train_step(g, run, TEXT, objective="mlm")
    assert "similarity" in e.value.fix
    step = train_step(g, run, A, B, target=0.5)
    assert not step.trained and any("no learned structure" in n for n in step.notes)


def test_cli_train_writes_json_the_edge_rule_and_a_trained_copy(mlm, mlm_folder, tmp_path, capsys):
    import json

    from bertviz_graph.cli import main

    g, run = mlm
    out, saved = tmp_path / "step.json", tmp_path / "trained"
    mod = "bert.encoder.layer.0.attention.self.query"
    assert main(["train", str(mlm_folder), "--text", TEXT, "--mask", "tired", "--lr", "0.5", "--edge", f"{mod}:1:2",
                 "-o", str(out), "--steps", "2", "--save", str(saved)]) == 0
    data = json.loads(out.read_text())
    assert data["trainable_numbers"] == sum(p.numel() for p in run.model.parameters())
    assert data["edge"]["sum"] == pytest.approx(data["edge"]["autograd"], rel=1e-5)
    assert len(data["losses"]) == 2 and data["losses"][1] < data["losses"][0]
    assert len(data["layers"]) >= 3 and "dropout off" in capsys.readouterr().out
    trained = load_runnable(str(saved), cached=False)
    a, b = run.model.get_submodule(mod).weight, trained.model.get_submodule(mod).weight
    assert a.shape == b.shape and not torch.equal(a, b)  # two SGD steps moved it; the shown model did not
    # bad input: one line with the fix, exit 2, no traceback, nothing written
    for extra, words in [(["--objective", "mlm", "--mask", "zebra"], "not in the sentence"),
                         (["--lr", "0"], "must be > 0"), (["--trainable", "lora:x"], "whole number")]:
        bad = tmp_path / "bad.json"
        assert main(["train", str(mlm_folder), "--text", TEXT, "-o", str(bad), *extra]) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: ") and words in err and "fix:" in err and "Traceback" not in err
        assert not bad.exists()


def test_graph_colours_gradient_norms_and_frozen_boxes(mlm):
    from bertviz_graph.api import make_view
    from bertviz_graph.layout import layout_of
    from bertviz_graph.presenters.training import FROZEN_FILL, NO_WEIGHT_FILL, graph_fills

    g, run = mlm
    step = train_step(g, run, TEXT, objective="mlm", mask="tired", trainable="last:1")
    ids = torch.tensor([run.tokenize(TEXT).input_ids])
    where = run.tokenize(TEXT).tokens.index("tired")
    labels = torch.full_like(ids, -100)
    labels[0, where] = ids[0, where]
    ids[0, where] = run.tokenizer.mask_token_id
    _, grads, _ = _hooked_loss(run.model, ids, labels, "bert.encoder.layer.1.output.dense")
    lv = layout_of(make_view(g, 3).unfold(all_series=True))  # layers 0 and 1 closed; embeddings' weights
    fills, values = graph_fills(step, lv)
    h = g.hierarchy
    checked = frozen = 0
    for n in lv.view.nodes:
        if n.expanded or n.kind not in ("group", "param"):
            continue
        names = [g.g.nodes[n.id]["name"]] if n.kind == "param" else \
            [g.g.nodes[x]["name"] for x in h.leaves(n.id) if g.g.nodes[x]["kind"] == "param"]
        if not names:
            assert fills[n.id] == NO_WEIGHT_FILL
        elif all(".layer.1." not in x for x in names):
            assert fills[n.id] == FROZEN_FILL
            frozen += 1
        else:
            want = sum(float(grads[x].double().pow(2).sum()) for x in names) ** 0.5
            assert values[n.id] == pytest.approx(want, rel=1e-5)
            checked += 1
    assert checked >= 1 and frozen >= 5 and values["bert.encoder.layer.1"] > 0
    assert fills["bert.encoder.layer.0"] == FROZEN_FILL


def test_widget_training_methods(mlm):
    from bertviz_graph.widget import GraphWidget

    g, run = mlm
    w = GraphWidget(g)
    step = w.train_step(TEXT, objective="mlm", mask="tired")
    w.select("bert.encoder.layer.0.attention.self.query")
    text = w.edge_rule()
    m = re.search(r"sum = ([+-][\d.e+-]+)\s+\(autograd: ([+-][\d.e+-]+)\)", text)
    assert m and float(m.group(1)) == pytest.approx(float(m.group(2)), rel=1e-5)
    j, i = (int(x) for x in re.search(r"w\[(\d+),(\d+)\]", text).groups())
    g_w = np.abs(step.grad("bert.encoder.layer.0.attention.self.query.weight"))
    assert g_w[j, i] == g_w.max()  # the strongest edge
    assert len(w.training().data) == 2 and w.gradient().data[0].z.shape[0] == len(step.tokens[0])


def test_dropout_is_off_by_default_and_said_when_on(mlm):
    g, run = mlm
    a = train_step(g, run, TEXT, objective="mlm", mask="tired")
    b = train_step(g, run, TEXT, objective="mlm", mask="tired")
    assert not a.dropout and a.loss == b.loss  # deterministic
    name = "bert.encoder.layer.0.output.dense.weight"
    assert np.array_equal(a.grad(name), b.grad(name))
    torch.manual_seed(1)
    c = train_step(g, run, TEXT, objective="mlm", mask="tired", dropout=True)
    assert c.dropout and any("dropout ON" in n for n in c.notes) and c.loss != a.loss
    assert not run.model.training  # the shown model stays in eval mode


def test_updates_follow_sgd_and_the_first_adamw_step(mlm):
    from bertviz_graph.presenters.training import layer_strip

    g, run = mlm
    step = train_step(g, run, TEXT, objective="mlm", mask="tired", lr=0.01)
    name = "bert.encoder.layer.1.output.dense.weight"
    grad = step.grad(name).astype(np.float64)
    assert np.allclose(step.update(name, "sgd"), -0.01 * grad, rtol=1e-5, atol=1e-12)
    # AdamW's first step: m̂ = g, v̂ = g², so ΔW = −lr · g / (|g| + eps) (weight decay 0 here)
    assert np.allclose(step.update(name, "adamw"), -0.01 * grad / (np.abs(grad) + 1e-8), rtol=1e-4, atol=1e-9)
    row = next(r for r in layer_strip(step) if r["group"] == "layer 1")
    names = [n for n in step.grads if n.startswith("bert.encoder.layer.1.")]
    gn = sum(float((step.grads[n].double() ** 2).sum()) for n in names) ** 0.5
    wn = sum(float((step.params[n].detach().double() ** 2).sum()) for n in names) ** 0.5
    assert row["grad_norm"] == pytest.approx(gn, rel=1e-6)
    assert row["rel_update"] == pytest.approx(0.01 * gn / wn, rel=1e-4)  # SGD: ‖ΔW‖ = lr ‖g‖
