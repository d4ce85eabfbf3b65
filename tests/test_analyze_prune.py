"""Held-out pruning and the two new methods: low-rank equals numpy's truncated SVD, heads-redundant prunes
one head of the closest pair first, and the per-method sentence reads the measured curve."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import transformers

from tests.tiny_models import tiny_model


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return tiny_model(tmp_path_factory.mktemp("tinyp") / "m", cls="BertModel", initializer_range=0.5)


def test_low_rank_equals_numpy_truncated_svd(tiny):
    from bertviz_graph.pruning.lowrank import low_rank_prune, rank_for

    model = transformers.BertModel.from_pretrained(tiny)
    before = {n: p.detach().double().numpy().copy() for n, p in model.named_parameters() if p.dim() == 2}
    kept = low_rank_prune(model, 0.5)
    w = model.encoder.layer[0].intermediate.dense.weight.detach().double().numpy()
    w0 = before["encoder.layer.0.intermediate.dense.weight"]
    r = rank_for(w0.shape, 0.5)
    assert r == int(0.5 * 64 * 32 // 96) == kept["encoder.layer.0.intermediate.dense"]
    assert r * sum(w0.shape) <= 0.5 * w0.size  # the factors keep at most half the parameters
    u, s, vh = np.linalg.svd(w0, full_matrices=False)
    assert np.allclose(w, (u[:, :r] * s[:r]) @ vh[:r], atol=1e-5)
    assert np.linalg.matrix_rank(w, tol=1e-4) == r
    assert np.allclose(model.embeddings.word_embeddings.weight.detach().numpy(),
                       before["embeddings.word_embeddings.weight"])  # outside the layers: untouched


def test_heads_redundant_prunes_a_member_of_the_closest_pair_first(tiny):
    from bertviz_graph.analyze import head_distances
    from bertviz_graph.pruning.redundant import redundancy_order

    d = head_distances(tiny, ["The cat sat on the mat.", "Why did the train stop in the tunnel?"])
    order = redundancy_order(d)
    masked = d + np.diag(np.full(len(d), np.inf))
    a, b = np.unravel_index(np.argmin(masked), d.shape)
    assert order[0] in (a, b) and sorted(order) == list(range(len(d)))
    assert redundancy_order(np.array([[0, 1, 5], [1, 0, 5], [5, 5, 0.0]]))[0] in (0, 1)
    # with importance, the less important head of the closest pair goes first, whichever side it is on
    for imp_a, imp_b in ((0.1, 0.9), (0.9, 0.1)):
        imp = np.full(len(d), 0.5)
        imp[a], imp[b] = imp_a, imp_b
        assert redundancy_order(d, imp)[0] == (a if imp_a < imp_b else b)
    pair = np.array([[0, 1, 5], [1, 0, 5], [5, 5, 0.0]])
    assert redundancy_order(pair, np.array([0.9, 0.2, 0.0])) == [1, 2, 0]  # 1 (of the pair) before 2


def test_prune_is_held_out_and_names_both_sets(tiny):
    import bertviz_graph as bg

    p = bg.prune(str(tiny), "heads-redundant", 0.25)
    assert p.n_sentences == 24 and "measuring set" in p.measuring and "scoring set" in p.scoring
    assert sum(len(v) for v in p.record.heads.values()) == 2
    from bertviz_graph.pruning.data import BUILTIN_SENTENCES

    assert not set(p._texts) & set(BUILTIN_SENTENCES[0::2])  # measured only on sentences never scored on
    m = p.metrics()
    assert 0 < m["embedding_cosine"] < 1


def test_sweep_sentence_reads_the_curve():
    from bertviz_graph.presenters.pruning import held_out_sentences

    rows = [{"method": "magnitude", "amount": a, "lee_spearman": v, "lee_spearman_lo": 0.46,
             "lee_spearman_hi": 0.56, "embedding_cosine": c}
            for a, v, c in ((0.0, 0.51, 1.0), (0.1, 0.52, 0.99), (0.3, 0.53, 0.95), (0.5, 0.40, 0.8),
                            (0.7, 0.55, 0.7))]
    (line,) = held_out_sentences(rows)
    assert line.startswith("magnitude: up to 30% of the weights removed") and "(0.51 [0.46, 0.56] → 0.53)" in line
    assert "embedding cosine 0.950" in line
    rows[1]["lee_spearman"] = 0.3
    assert "even the smallest measured amount (10%)" in held_out_sentences(rows)[0]


def test_sweep_with_new_methods_runs_held_out(tiny):
    from bertviz_graph.pruning.api import load_trained
    from bertviz_graph.pruning.data import BUILTIN_SENTENCES, batches
    from bertviz_graph.pruning.sweep import sweep

    run = load_trained(str(tiny))
    score = batches(run.tokenizer, BUILTIN_SENTENCES[0::2][:8])
    meas = batches(run.tokenizer, BUILTIN_SENTENCES[1::2][:8])
    before = [p.detach().clone() for p in run.model.parameters()]
    rows = sweep(run.model, run.tokenizer, ["heads-redundant", "low-rank"], [0.0, 0.5], score, measure=meas)
    got = {(r["method"], r["amount"]): r["embedding_cosine"] for r in rows}
    assert set(got) == {(m, a) for m in ("heads-redundant", "low-rank", "heads-random", "random")
                        for a in (0.0, 0.5)}
    assert got[("low-rank", 0.0)] == pytest.approx(1.0, abs=1e-5) and got[("low-rank", 0.5)] < 0.999
    assert all(torch.equal(a, b) for a, b in zip(before, run.model.parameters()))  # restored
