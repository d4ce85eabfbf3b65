"""Running a sentence: captured op outputs against the model's own computation (forward hooks,
output_attentions), the graph's ids, predictions, the memory budget, bad input and the CLI."""

from __future__ import annotations

import json
import re
from collections import Counter

import numpy as np
import pytest
import torch
from tiny_models import tiny_model  # noqa: E402

import bertviz_graph as bg
from bertviz_graph.errors import UserError
from bertviz_graph.run.attention import attention_maps, head_summaries, rollout
from bertviz_graph.run.capture import capture, export_program, program_for
from bertviz_graph.run.load import load_runnable

TEXT = "The cat sat on the mat because it was tired."
PAIR = "It slept all afternoon."


@pytest.fixture(scope="module")
def minilm():
    g = bg.trace("all-MiniLM-L6-v2")
    return g, load_runnable(g)


@pytest.fixture(scope="module")
def tiny():
    g = bg.trace("bert-tiny")
    return g, load_runnable(g)


def _hooked(run, toks, kinds=(torch.nn.Linear, torch.nn.LayerNorm)):
    """The model's own forward pass with hooks on every Linear and LayerNorm, plus output_attentions."""
    seen: dict[str, torch.Tensor] = {}
    handles = [m.register_forward_hook(lambda _m, _i, o, n=n: seen.__setitem__(n, o.detach().clone()))
               for n, m in run.model.named_modules() if isinstance(m, kinds)]
    kw = {"token_type_ids": torch.tensor([toks.token_type_ids])} if toks.token_type_ids else {}
    try:
        with torch.no_grad():
            out = run.model(torch.tensor([toks.input_ids]), output_attentions=True, **kw)
    finally:
        for h in handles:
            h.remove()
    return seen, out


def test_the_packaged_minilm_has_trained_weights_and_a_tokenizer(minilm):
    g, run = minilm
    assert g.meta["origin"] == "local" and g.meta["weight_files"], "all-MiniLM-L6-v2 resolves to the package"
    assert run.trained and run.tokenizer is not None
    # a trained checkpoint's LayerNorm gain is not the initial all-ones
    gain = run.model.get_submodule("encoder.layer.0.output.LayerNorm").weight
    assert not torch.allclose(gain, torch.ones_like(gain))
    assert run.tokenize("The cat").tokens == ["[CLS]", "the", "cat", "[SEP]"]


@pytest.mark.parametrize("pair", [None, PAIR], ids=["sentence", "pair"])
def test_every_linear_and_layernorm_equals_forward_hooks(minilm, pair):
    g, run = minilm
    toks = run.tokenize(TEXT, pair)
    if pair:
        assert set(toks.token_type_ids) == {0, 1}
    acts = capture(g, run, toks)
    assert acts.unmatched == [], "every op of the traced graph has its value"
    assert set(g.ops()) <= set(acts.values)
    seen, _ = _hooked(run, toks)
    assert len(seen) == 6 * (6 + 2) + 1 + 1  # per layer 6 Linears + 2 LayerNorms; embeddings LN; pooler
    for module, value in seen.items():
        ops = [n for n, d in g.nodes("op") if d["module"] == module and d["op"] in ("linear", "layer_norm")]
        assert len(ops) == 1, module
        np.testing.assert_allclose(acts.array(ops[0]), value.numpy(), atol=1e-5, rtol=0, err_msg=module)


def test_attention_maps_equal_output_attentions(minilm):
    g, run = minilm
    toks = run.tokenize(TEXT, PAIR)
    am = attention_maps(g, capture(g, run, toks))
    _, out = _hooked(run, toks)
    ref = torch.cat(out.attentions).numpy()  # [layers, heads, T, T]
    assert am.maps.shape == ref.shape == (6, 12, len(toks), len(toks))
    np.testing.assert_allclose(am.maps, ref, atol=1e-5, rtol=0)
    np.testing.assert_allclose(am.maps.sum(-1), 1.0, atol=1e-5)
    assert am.layer_of(am.ops[3]) == 3 and am.layer_of("encoder.layer.2.attention.self.query") == 2


def test_head_summaries_and_rollout_by_hand(minilm):
    g, run = minilm
    am = attention_maps(g, capture(g, run, run.tokenize(TEXT)))
    s = head_summaries(am)
    a = am.maps[2, 5].astype(np.float64)
    T = a.shape[0]
    assert s["to_cls"][2, 5] == pytest.approx(a[:, 0].mean(), abs=1e-6)
    assert s["to_sep"][2, 5] == pytest.approx(a[:, T - 1].mean(), abs=1e-6)
    assert s["to_prev"][2, 5] == pytest.approx(np.mean([a[i, i - 1] for i in range(1, T)]), abs=1e-6)
    ent = np.mean([-sum(p * np.log2(p) for p in row if p > 0) for row in a])
    assert s["entropy"][2, 5] == pytest.approx(ent, abs=1e-5)
    r = rollout(am)
    np.testing.assert_allclose(r.sum(-1), 1.0, atol=1e-5)  # each row is still a distribution
    m0 = 0.5 * am.maps[0].mean(0) + 0.5 * np.eye(T)
    np.testing.assert_allclose(r[0], m0 / m0.sum(-1, keepdims=True), atol=1e-6)


def test_preset_runs_with_the_weights_panels_random_values(tiny):
    from bertviz_graph.details import weights_for

    g, run = tiny
    assert not run.trained and run.tokenizer is not None  # BERT's uncased vocabulary
    store = weights_for(g)
    name = "bert.encoder.layer.1.attention.self.query.weight"
    np.testing.assert_array_equal(run.model.get_parameter(name).detach().numpy(), store.get(name))
    toks = run.tokenize("Paris is the [MASK] of France.")
    acts = capture(g, run, toks)
    assert acts.unmatched == []
    seen, out = _hooked(run, toks)
    for module, value in seen.items():
        ops = [n for n, d in g.nodes("op") if d["module"] == module and d["op"] in ("linear", "layer_norm")]
        np.testing.assert_allclose(acts.array(ops[0]), value.numpy(), atol=1e-5, rtol=0, err_msg=module)
    # masked-LM top-k at [MASK] is the model's own logits' top-k
    from bertviz_graph.run.predict import predict

    p = predict(run, acts, k=3)
    pos = toks.input_ids.index(run.tokenizer.mask_token_id)
    ref = torch.softmax(out.logits[0, pos], -1)
    top = torch.topk(ref, 3)
    assert p.rows[0]["position"] == pos
    assert p.rows[0]["tokens"] == run.tokenizer.convert_ids_to_tokens(top.indices.tolist())
    np.testing.assert_allclose(p.rows[0]["probs"], top.values.numpy(), rtol=1e-4)
    assert "random" in p.note


def test_primitive_level_graph_is_captured_too():
    g = bg.trace("bert-tiny", ops="primitive")
    acts = g.run("A short sentence.")
    assert acts.unmatched == [] and set(g.ops()) <= set(acts.values)
    am = attention_maps(g, acts)
    np.testing.assert_allclose(am.maps.sum(-1), 1.0, atol=1e-5)


def test_sentence_embedding_and_cosine(minilm):
    from bertviz_graph.run.predict import predict

    g, run = minilm
    acts = capture(g, run, run.tokenize(TEXT))
    p = predict(run, acts, other="A cat is resting on a rug.")
    far = predict(run, acts, other="Interest rates rose in March.")
    assert p.kind == "embedding" and p.pooling == "mean"
    with torch.no_grad():  # sentence-transformers' recipe by hand: mean of the last hidden state, normalised
        h = run.model(torch.tensor([run.tokenize(TEXT).input_ids])).last_hidden_state[0].mean(0)
    np.testing.assert_allclose(p.embedding, (h / h.norm()).numpy(), atol=1e-5)
    assert p.rows[0]["cosine"] > far.rows[0]["cosine"] + 0.3  # trained weights: similar sentences are close


def test_memory_budget_keeps_float16_and_recomputes_the_rest(minilm):
    g, run = minilm
    toks = run.tokenize(TEXT * 6)
    full = capture(g, run, toks, budget_mb=None)
    small = capture(g, run, toks, budget_mb=1)
    maps = sum(full.tensor(op).numel() * 4 for op in attention_maps(g, full).ops)  # always kept
    assert small.stored_bytes <= 2**20 + maps and small.on_demand and small.float16
    assert small.stored_bytes < full.stored_bytes / 3
    for op in sorted(small.on_demand)[:3] + sorted(small.float16)[:3]:
        tol = 2e-2 if op in small.float16 else 1e-6
        np.testing.assert_allclose(small.array(op), full.array(op), atol=tol * max(1, np.abs(full.array(op)).max()))


def test_512_tokens_truncated_and_said(minilm):
    g, run = minilm
    toks = run.tokenize("word " * 700)
    assert len(toks) == 512 and toks.truncated > 0 and "truncated" in toks.notes[0]
    acts = capture(g, run, toks)
    assert acts.unmatched == [] and acts.array(attention_maps(g, acts).ops[0]).shape[-1] == 512


def test_bad_input_is_a_user_error(minilm, tmp_path):
    from bertviz_graph.presenters.activations import check_token

    g, run = minilm
    with pytest.raises(UserError, match="empty"):
        run.tokenize("   ")
    with pytest.raises(UserError, match="outside the vocabulary"):
        run.tokenize(ids=[101, 10**6])
    acts = capture(g, run, run.tokenize("Hello"))
    with pytest.raises(UserError, match="outside the sentence"):
        check_token(acts, 7)
    with pytest.raises(UserError, match="no activation"):
        acts.tensor("no-such-op")
    no_tok = load_runnable("roberta-base")
    with pytest.raises(UserError, match="no tokenizer") as e:
        no_tok.tokenize("hello")
    assert "token ids" in e.value.fix and "tokenizer.save_pretrained" in e.value.fix
    assert len(no_tok.tokenize(ids=[0, 100, 2])) == 3
    folder = tmp_path / "structure"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({**bg.trace("bert-tiny").meta["config"]}))
    with pytest.raises(UserError, match="no weights"):
        load_runnable(folder)
    from bertviz_graph.presenters.run_session import can_run

    assert "structure only" in can_run(bg.trace(folder))


def test_cli_run_and_attention(tmp_path, capsys):
    from bertviz_graph.cli import main

    assert main(["run", "all-MiniLM-L6-v2", "--text", TEXT, "--other", "A cat rests.", "--op", "linear_4",
                 "--token", "2"]) == 0
    out = capsys.readouterr().out
    assert "13 tokens" in out and "cosine with" in out and "2 cat: top" in out
    svg = tmp_path / "maps.svg"
    assert main(["attention", "all-MiniLM-L6-v2", "--text", TEXT, "-o", str(svg), "--layer", "1", "--head", "3"]) == 0
    assert svg.read_text().lstrip().startswith(("<svg", "<?xml"))
    html = tmp_path / "grid.html"
    assert main(["attention", "all-MiniLM-L6-v2", "--text", TEXT, "-o", str(html)]) == 0
    assert "plotly" in html.read_text()[:200000].lower()
    assert main(["attention", "all-MiniLM-L6-v2", "--text", TEXT, "-o", str(tmp_path / "x.png"), "--head", "99",
                 "--layer", "0"]) == 2
    assert not (tmp_path / "x.png").exists()
    assert main(["run", "all-MiniLM-L6-v2", "--text", ""]) == 2
    err = capsys.readouterr().err
    assert "head 99 does not exist" in err and "the text is empty" in err and "Traceback" not in err


def test_app_colour_by_activation_follows_the_tabs_run(minilm):
    from bertviz_graph.app.context import AppContext

    g, run = minilm
    C = AppContext(g)
    mine = {"text": TEXT, "pair": "", "ids": None}
    r = C.render(C.default_state, "activation", mine)
    seen, _ = _hooked(run, run.tokenize(TEXT), kinds=(torch.nn.LayerNorm,))
    rms = float(seen["embeddings.LayerNorm"].pow(2).mean().sqrt())
    assert r.values["embeddings"] == pytest.approx(rms, rel=1e-5)  # the block's output = its LayerNorm's
    other = {"text": "Another sentence entirely, a little longer than the first one.", "pair": "", "ids": None}
    assert C.render(C.default_state, "activation", other).values["embeddings"] != pytest.approx(rms, rel=1e-3)
    # another tab ran last: this tab's picture still shows its own sentence
    assert C.render(C.default_state, "activation", mine).values["embeddings"] == pytest.approx(rms, rel=1e-5)
    assert C.render(C.default_state, "activation", None).values == {}  # a tab that ran nothing: no colours


def _same_values(a, b) -> None:
    """Two captures hold the same op ids with bit-identical values."""
    assert set(a.values) == set(b.values)
    for k, v in b.values.items():
        if isinstance(v, torch.Tensor):
            assert torch.equal(a.values[k], v), k
        else:
            assert a.values[k] == v, k
    assert torch.equal(a.output(0), b.output(0))


def _aten_calls(prog) -> Counter:
    return Counter(str(n.target) for n in prog.gm.graph.nodes if n.op == "call_function")


def test_one_layer_program_equals_the_whole_model_export(minilm):
    """The default program (one layer exported, replicated ×6) runs the whole export's ATen calls and gives
    bit-identical values; every Linear and LayerNorm equals its forward hook exactly."""
    g, run = minilm
    toks = run.tokenize(TEXT, PAIR)
    layered = export_program(g, run, len(toks), dynamic=True, layered=True)
    whole = export_program(g, run, len(toks), dynamic=True, layered=False)
    assert layered.how == "one layer ×6" and whole.how == "whole model"
    assert layered.unmatched == [] and program_for(g, run, len(toks)).how == "one layer ×6"
    assert _aten_calls(layered) == _aten_calls(whole)
    a = capture(g, run, toks, program=layered)
    _same_values(a, capture(g, run, toks, program=whole))
    fixed = export_program(g, run, len(toks), dynamic=False, layered=True)  # the CLI's one-sentence program
    assert fixed.how == "one layer ×6" and not fixed.dynamic and fixed.unmatched == []
    _same_values(capture(g, run, toks, program=fixed), a)
    seen, _ = _hooked(run, toks)
    assert len(seen) == 50
    for module, value in seen.items():
        op = next(n for n, d in g.nodes("op") if d["module"] == module and d["op"] in ("linear", "layer_norm"))
        np.testing.assert_array_equal(a.array(op), value.numpy(), err_msg=module)
    # another length through the same (dynamic) program
    longer = run.tokenize(TEXT * 3)
    b = capture(g, run, longer, program=layered)
    seen, _ = _hooked(run, longer, kinds=(torch.nn.LayerNorm,))
    np.testing.assert_array_equal(b.array(next(n for n, d in g.nodes("op") if d["module"] == "encoder.layer.5"
                                               ".output.LayerNorm")), seen["encoder.layer.5.output.LayerNorm"])


@pytest.mark.parametrize("family", ["bert-tiny-primitive", "albert-shared-layer", "roberta"])
def test_one_layer_program_for_other_families(family, tmp_path):
    """ALBERT's one shared layer group called ×N, RoBERTa's offset positions, the primitive op level."""
    if family == "bert-tiny-primitive":
        g = bg.trace("bert-tiny", ops="primitive")
    elif family == "albert-shared-layer":
        g = bg.trace(tiny_model(tmp_path / "m", "AlbertForMaskedLM", "albert", embedding_size=16, num_hidden_layers=3))
    else:
        g = bg.trace(tiny_model(tmp_path / "m", "RobertaForMaskedLM", "roberta", pad_token_id=1))
    run = load_runnable(g, cached=False)
    toks = run.tokenize("The quick brown fox jumps over the lazy dog.")
    layered = export_program(g, run, len(toks), dynamic=True, layered=True)
    whole = export_program(g, run, len(toks), dynamic=True, layered=False)
    assert layered.how.startswith("one layer ×") and layered.unmatched == [] == whole.unmatched
    assert _aten_calls(layered) == _aten_calls(whole)
    _same_values(capture(g, run, toks, program=layered), capture(g, run, toks, program=whole))


def test_one_sentence_callers_get_a_fixed_length_program():
    g = bg.trace("bert-tiny")
    run = load_runnable(g, cached=False)
    toks = run.tokenize("A short sentence.")
    acts = capture(g, run, toks, program=program_for(g, run, len(toks), any_length=False))
    prog = program_for(g, run, len(toks))  # the one just built and kept
    assert prog.how == "one layer ×2" and not prog.dynamic and acts.unmatched == []
    _same_values(acts, capture(g, run, toks, program=export_program(g, run, len(toks), True, layered=False)))
    longer = run.tokenize("A longer sentence, with a few more words in it.")
    assert program_for(g, run, len(longer)).dynamic  # another length, any length: the dynamic program


def test_models_whose_layers_may_differ_export_the_whole_model(tmp_path):
    g = bg.trace(tiny_model(tmp_path / "d", "DistilBertForMaskedLM", "distilbert"))
    run = load_runnable(g, cached=False)
    assert export_program(g, run, 8, dynamic=True, layered=True) is None  # not a replicable family
    prog = program_for(g, run, 8)
    assert prog.how == "whole model" and prog.unmatched == []


LABELS = {0: "negative", 1: "neutral", 2: "positive"}


@pytest.fixture(scope="module")
def classifier(tmp_path_factory):
    return tiny_model(tmp_path_factory.mktemp("clf") / "clf", "BertForSequenceClassification", num_labels=3,
                      id2label=LABELS, label2id={v: k for k, v in LABELS.items()})


def _reference_logits(folder, ids) -> torch.Tensor:
    """The checkpoint loaded by transformers itself (not our loader) and run plainly."""
    import transformers

    model = transformers.AutoModelForSequenceClassification.from_pretrained(folder, attn_implementation="eager")
    with torch.no_grad():
        return model.eval()(torch.tensor([ids])).logits[0]


def test_classifier_logits_labels_and_top_class(classifier):
    from bertviz_graph.run.predict import predict

    g = bg.trace(classifier)
    acts = g.run(TEXT)
    run = load_runnable(g)
    assert run.head == "cls" and run.trained and acts.unmatched == []
    ref = _reference_logits(classifier, acts.tokens.input_ids)
    p = predict(run, acts)
    assert p.kind == "cls" and [r["label"] for r in p.rows] == ["negative", "neutral", "positive"]
    np.testing.assert_allclose([r["logit"] for r in p.rows], ref.numpy(), atol=1e-5, rtol=0)
    np.testing.assert_allclose([r["prob"] for r in p.rows], torch.softmax(ref, -1).numpy(), atol=1e-6)
    assert max(p.rows, key=lambda r: r["logit"])["label"] == LABELS[int(ref.argmax())]
    # token ids instead of text give the same reading
    by_ids = predict(run, g.run(ids=acts.tokens.input_ids))
    assert [r["logit"] for r in by_ids.rows] == [r["logit"] for r in p.rows]


def test_cli_run_prints_the_classifiers_logits(classifier, capsys):
    from bertviz_graph.cli import main

    assert main(["run", str(classifier), "--text", TEXT]) == 0
    out = capsys.readouterr().out
    shown = dict(re.findall(r"^(\w+): logit (-?[\d.]+), p ", out, flags=re.M))
    assert list(shown) == ["negative", "neutral", "positive"]
    ids = load_runnable(bg.trace(classifier)).tokenize(TEXT).input_ids
    np.testing.assert_allclose([float(v) for v in shown.values()], _reference_logits(classifier, ids).numpy(),
                               atol=1e-4)  # printed to 4 decimals
