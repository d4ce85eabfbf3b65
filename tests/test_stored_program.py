"""The replay program recorded at trace time (run/stored.py): a process's first capture replays it, at any
length, bit for bit what the eager pass records; a file that is not exactly what this version writes is
refused (and the eager pass stays the route)."""

from __future__ import annotations

import copy
import json

import pytest
import torch

import bertviz_graph as bg
from bertviz_graph.run import eager, stored
from bertviz_graph.run.capture import _Recorder, capture
from bertviz_graph.run.load import load_runnable


def _eager_values(graph, run, toks) -> tuple[dict, tuple]:
    rec = _Recorder(None, None)
    out, left = eager.eager_capture(graph, run, toks.input_ids, toks.token_type_ids, rec.keep_id)
    assert left == []
    return rec.values, out


@pytest.fixture(scope="module")
def tiny():
    g = bg.trace("bert-tiny")
    stored.write_for(g)  # a no-op after a miss here; an earlier test's `info` may have cached the trace without it
    return g, load_runnable(g, cached=False)


def test_first_capture_replays_the_stored_program_at_unseen_lengths(tiny):
    g, run = tiny
    path = stored.path_for(g)
    assert path.is_file()
    doc = json.loads(path.read_text())
    assert doc["schema"] == stored.SCHEMA and any("n" in json.dumps(s) for s in doc["steps"])
    ops = [n for n, _ in g.nodes("op")]
    # lengths the recording never saw (it ran 5, 8, 13), the shortest, and a pair with token types
    for toks in (run.tokenize(ids=[101, 7, 9, 102]), run.tokenize(ids=[101] + list(range(1000, 1029)) + [102]),
                 run.tokenize(ids=[101, 102]), run.tokenize("The cat sat on the mat.", "It slept.")):
        eager._PLANS.clear()
        a = capture(g, run, toks, budget_mb=None)
        assert len(toks) in stored.bound_for(g, run.model).programs  # the stored route ran
        assert not any(k.graph() is g for k in eager._PLANS.values())  # no eager pass
        want, out = _eager_values(g, run, toks)
        assert a.unmatched == [] and set(ops) <= set(a.values) and a.values.keys() == want.keys()
        for n, v in want.items():
            x = a.values[n]
            assert type(x) is type(v)
            if isinstance(v, torch.Tensor):
                assert x.dtype == v.dtype and x.shape == v.shape and torch.equal(x, v), n
            else:
                assert x == v, n
        assert torch.equal(a.output(0), out[0])
    # token types really reached the replay: the pair's embedding differs from the same ids without types
    pair = run.tokenize("The cat sat on the mat.", "It slept.")
    emb = next(n for n, d in g.nodes("op") if d["target"] == "aten.embedding.default" and "token_type" in d["module"])
    assert not torch.equal(capture(g, run, pair).values[emb], capture(g, run, run.tokenize(ids=pair.input_ids)).values[emb])


def _tamper(doc: dict, how: str) -> dict:
    d = copy.deepcopy(doc)
    op_ix = next(i for i, c in enumerate(d["consts"]) if "op" in c)
    param_ix = next(i for i, c in enumerate(d["consts"]) if "param" in c)
    step = next(s for s in d["steps"] if s[1] >= 0)
    if how == "unknown op":
        d["consts"][op_ix] = {"op": "aten.no_such_op.default"}
    elif how == "not aten":
        d["consts"][op_ix] = {"op": "os.system.default"}
    elif how == "renamed parameter":
        d["consts"][param_ix]["param"] = "no.such.weight"
    elif how == "other shape":
        d["consts"][param_ix]["shape"] = [1, 2, 3]
    elif how == "future variable":
        step[2] = {"t": [{"v": [10**6, None]}]}
    elif how == "foreign graph id":
        step[4] = "not-a-node"
    elif how == "schema":
        d["revision"] = stored.REVISION + 1
    elif how == "torch":
        d["torch"] = "0.0"
    elif how == "python object":
        d["consts"].append({"pickle": "cos\nsystem\n"})
    elif how == "dropped op":
        d["steps"] = [s for s in d["steps"] if s[4] != step[4]]
    return d


@pytest.mark.parametrize("how", ["unknown op", "not aten", "renamed parameter", "other shape", "future variable",
                                 "foreign graph id", "schema", "torch", "python object", "dropped op"])
def test_tampered_program_is_refused(tiny, how, tmp_path):
    g, run = tiny
    doc = json.loads(stored.path_for(g).read_text())
    stored.Bound(doc, run.model, g)  # the file as written: accepted
    bad = tmp_path / "p.replay.json"
    bad.write_text(json.dumps(_tamper(doc, how)))
    with pytest.raises(stored.Refused):
        stored.load(bad, run.model, g)


def test_refused_file_leaves_the_eager_pass(tiny, monkeypatch, tmp_path):
    g, run = tiny
    g2 = bg.trace("bert-tiny")  # another graph object: its own binding
    bad = tmp_path / "x.replay.json"
    bad.write_text(json.dumps(_tamper(json.loads(stored.path_for(g).read_text()), "unknown op")))
    monkeypatch.setattr(stored, "path_for", lambda graph: bad)
    toks = run.tokenize(ids=[101, 5, 6, 7, 102])
    a = capture(g2, run, toks, budget_mb=None)
    assert stored.bound_for(g2, run.model) is None
    assert any(k.graph() is g2 for k in eager._PLANS.values())  # the eager pass ran instead
    assert a.unmatched == [] and all(torch.equal(a.values[n], v) for n, v in _eager_values(g2, run, toks)[0].items()
                                     if isinstance(v, torch.Tensor))


def test_commands_without_sentences_skip_it_and_the_apps_example_run_records_it(tmp_path, monkeypatch):
    """`info`/`export` trace with replay_program=False (no sentence runs in their process); the app's example
    run then records the missing program in its background thread, and later lengths replay it."""
    from bertviz_graph.pipeline import graph_of
    from bertviz_graph.presenters.run_session import EXAMPLE, RunSession

    monkeypatch.setenv("BERTVIZ_GRAPH_CACHE", str(tmp_path))
    g = graph_of("bert-tiny", replay_program=False)
    assert g.meta["cache"] == "miss" and list(tmp_path.glob("*.json"))  # the trace is cached ...
    path = stored.path_for(g)
    assert not path.is_file()  # ... its program is not
    session = RunSession(g)
    session.preload().join()
    assert session.cached(EXAMPLE) is not None and path.is_file()
    run = session.runnable
    toks = run.tokenize(ids=[101, 5, 6, 7, 8, 9, 10, 102])  # a length the example did not have
    assert len(toks) != len(run.tokenize(EXAMPLE))
    capture(g, run, toks)
    assert len(toks) in stored.bound_for(g, run.model).programs  # the stored route ran
