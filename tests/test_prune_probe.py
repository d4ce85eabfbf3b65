"""Probe accuracy (a task metric for pruning): a logistic-regression probe on sentence embeddings, scored
on sentences it was not fitted on. Well above chance on the trained MiniLM, lower at 90 % pruning."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import torch
from tiny_models import tiny_model as _tiny  # noqa: E402

from bertviz_graph.cli import main
from bertviz_graph.pruning.metrics import probe_accuracy


def test_probe_is_scored_on_held_out_sentences():
    rng = np.random.default_rng(0)
    # 384 random dimensions for 200 sentences: a probe fits its training part perfectly, so only a held-out
    # score stays near chance for random labels
    x = rng.normal(size=(200, 384))
    y = rng.integers(0, 2, size=200)
    assert abs(probe_accuracy(x, y) - 0.5) < 0.1
    from sklearn.linear_model import LogisticRegression

    assert LogisticRegression(max_iter=2000).fit(x, y).score(x, y) == 1.0  # what a leaky score would say
    # labels carried by one direction: found again on unseen sentences
    y2 = (x[:, 0] > 0).astype(int)
    assert probe_accuracy(x + 3 * y2[:, None] * np.eye(384)[0], y2) > 0.95
    with pytest.raises(ValueError):
        probe_accuracy(x[:3], np.array([0, 0, 1]))


def test_probe_interval_is_a_bootstrap_over_the_sentences():
    from bertviz_graph.pruning.intervals import probe_with_interval

    rng = np.random.default_rng(1)
    x = rng.normal(size=(200, 32))
    y = (x[:, 0] + rng.normal(scale=1.5, size=200) > 0).astype(int)  # a noisy direction: accuracy ~0.7
    got = probe_with_interval(x, y)
    # the point value is sklearn's own cross-validated accuracy (the same folds), inside its interval
    assert got["probe_accuracy"] == pytest.approx(probe_accuracy(x, y), abs=1e-12)
    assert got["probe_accuracy_lo"] < got["probe_accuracy"] < got["probe_accuracy_hi"]
    # the width matches the normal approximation of a proportion over 200 sentences (± 1.96 √(p(1-p)/n)),
    # a little narrower because each sentence's correctness is averaged over 4 repeats
    p = got["probe_accuracy"]
    normal = 2 * 1.96 * np.sqrt(p * (1 - p) / len(y))
    width = got["probe_accuracy_hi"] - got["probe_accuracy_lo"]
    assert 0.6 * normal < width < 1.1 * normal, (width, normal)
    # separable labels: every held-out prediction right, a zero-width interval at 1
    sep = probe_with_interval(x + 5 * y[:, None] * np.eye(32)[0], y)
    assert sep["probe_accuracy_lo"] == sep["probe_accuracy_hi"] == sep["probe_accuracy"] == 1.0


def test_probe_on_minilm_above_chance_and_drops_at_90():
    from bertviz_graph.pruning.api import load_trained
    from bertviz_graph.pruning.data import probe_sentences
    from bertviz_graph.pruning.magnitude import magnitude_prune
    from bertviz_graph.pruning.sweep import probe_metric

    texts, labels, source = probe_sentences()
    assert len(texts) == 200 and "pang_lee" in source and sorted(set(labels)) == ["neg", "pos"]
    run = load_trained("all-MiniLM-L6-v2")
    fn = probe_metric(run.tokenizer)
    full = fn(run.model)
    with torch.no_grad():
        magnitude_prune(run.model, 0.9, "global")
    pruned = fn(run.model)
    assert full > 0.65, full  # chance is 0.5 (100 / 100); measured 0.726
    assert pruned < full - 0.05, (full, pruned)  # measured 0.60


def test_probe_task_in_the_sweep_cli(tmp_path):
    folder = _tiny(tmp_path / "tiny")
    lab = tmp_path / "lab.txt"
    from bertviz_graph.pruning.data import BUILTIN_LABELLED

    lab.write_text("\n".join(f"{'pos' if y else 'neg'} {t}" for y, t in BUILTIN_LABELLED) + "\n")
    out = tmp_path / "curve.csv"
    assert main(["prune", str(folder), "--method", "magnitude", "--sweep", "0,0.5", "--task", "probe",
                 "--labelled", str(lab), "-o", str(out)]) == 0
    rows = list(csv.DictReader(out.open()))
    assert {r["method"] for r in rows} == {"magnitude", "random"} and len(rows) == 4
    for r in rows:
        assert 0.0 <= float(r["probe_accuracy"]) <= 1.0
        assert float(r["probe_accuracy_lo"]) <= float(r["probe_accuracy"]) <= float(r["probe_accuracy_hi"])
    # the same number as the metric called directly on the unpruned model
    from bertviz_graph.pruning.api import load_trained
    from bertviz_graph.pruning.sweep import probe_metric

    run = load_trained(str(folder))
    direct = probe_metric(run.tokenizer, lab)(run.model)
    assert float(rows[0]["probe_accuracy"]) == pytest.approx(direct, abs=1e-6)
    # and in Python, on a pruned model: the row of the sweep at 50 % magnitude
    import bertviz_graph as bg

    m = bg.prune(str(folder), "magnitude", 0.5).metrics(task="probe", labelled=lab)
    assert m["probe_accuracy"] == pytest.approx(float(rows[1]["probe_accuracy"]), abs=1e-6)


def test_probe_bad_labelled_file(tmp_path, capsys):
    folder = _tiny(tmp_path / "tiny")
    one = tmp_path / "one.txt"
    one.write_text("pos A fine film.\npos A good book.\n")
    code = main(["prune", str(folder), "--sweep", "0,0.5", "--task", "probe", "--labelled", str(one),
                 "-o", str(tmp_path / "c.csv")])
    err = capsys.readouterr().err
    assert code == 2 and "at least two labels" in err and "Traceback" not in err
    assert not (tmp_path / "c.csv").exists()
    assert main(["prune", str(folder), "--sweep", "0,0.5", "--task", "probe", "--labelled",
                 str(Path(tmp_path / "missing.txt")), "-o", str(tmp_path / "c.csv")]) == 2


def test_probe_sentences_fall_back_to_the_built_in_set(monkeypatch):
    from bertviz_graph.errors import UserError
    from bertviz_graph.pruning import data

    def no_gensim():
        raise UserError("gensim is not installed", "pip install gensim")

    monkeypatch.setattr(data, "pang_lee_sentences", no_gensim)
    texts, labels, source = data.probe_sentences()
    assert source == "48 built-in opinions" and len(texts) == 48
    assert labels.count("pos") == labels.count("neg") == 24
