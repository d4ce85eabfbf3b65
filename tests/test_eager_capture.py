"""The default capture runs the model's own eager forward (no export) and records every op at the export's
level: its values must be bit-identical to the exported program's (run by torch.fx), op by op, for each
family, for pairs (token types), and for a second sentence of another length (the remembered plan)."""

from __future__ import annotations

import pytest
import torch
from tiny_models import tiny_model  # noqa: E402

import bertviz_graph as bg
from bertviz_graph.run import eager, stored
from bertviz_graph.run.capture import capture, export_program
from bertviz_graph.run.load import load_runnable


def _eager(graph, run, toks):
    """The capture by the eager pass (no trace-time program): what capture() does without a stored file."""
    from bertviz_graph.run.capture import Activations, _Recorder

    rec = _Recorder(None, None)
    out, left = eager.eager_capture(graph, run, toks.input_ids, toks.token_type_ids, rec.keep_id)
    return Activations(tokens=toks, values=rec.values, outputs=out, trained=run.trained, model_name=run.name,
                       unmatched=left)


def _same_ops(graph, a, b) -> None:
    ops = [n for n, _ in graph.nodes("op")]
    assert a.unmatched == [] == b.unmatched
    for n in ops:
        assert (n in a.values) == (n in b.values), n
        if n not in b.values:
            continue
        x, y = a.values[n], b.values[n]
        if isinstance(y, torch.Tensor):
            assert x.dtype == y.dtype and x.shape == y.shape and torch.equal(x, y), n
        else:
            assert x == y, n
    assert sum(n in a.values for n in ops) >= 0.95 * len(ops)
    assert torch.equal(a.output(0), b.output(0))


def test_minilm_pair_and_another_length_equal_the_exported_program():
    g = bg.trace("all-MiniLM-L6-v2")
    stored.write_for(g)  # a no-op after a miss here; an earlier test's command may have cached the trace without it
    run = load_runnable(g)
    prog = export_program(g, run, 8, dynamic=True, layered=True)
    for text, pair in (("The cat sat on the mat.", "It slept."), ("A much longer sentence, with more words in it.", None)):
        toks = run.tokenize(text, pair)
        a = capture(g, run, toks)
        assert eager.applies(g) and a.unmatched == []
        _same_ops(g, a, capture(g, run, toks, program=prog))
        # the first capture replayed the program stored at trace time (run/stored.py), not an eager pass
        assert len(toks) in stored.bound_for(g, run.model).programs
        _same_ops(g, capture(g, run, toks), a)
        # and the eager pass itself (no stored program): the same values, and its own replay program next
        _same_ops(g, _eager(g, run, toks), a)
        known = next(k for k in eager._PLANS.values() if k.graph() is g)
        assert len(toks) in known.replays
        _same_ops(g, _eager(g, run, toks), a)
    # the type-1 tokens really changed the embedding: a pair differs from the same ids without types
    toks = run.tokenize("The cat sat on the mat.", "It slept.")
    emb = next(n for n, d in g.nodes("op") if d["target"] == "aten.embedding.default"
               and "token_type" in d["module"])
    plain = run.tokenize(ids=toks.input_ids)
    assert not torch.equal(capture(g, run, toks).values[emb], capture(g, run, plain).values[emb])
    # a small budget: the replay program keeps (and leaves to recompute) exactly what the eager pass did
    toks = run.tokenize("Budgets decide what stays.")
    first, again = capture(g, run, toks, budget_mb=0.2), capture(g, run, toks, budget_mb=0.2)
    assert len(toks) in stored.bound_for(g, run.model).programs
    assert first.on_demand and first.on_demand == again.on_demand and first.float16 == again.float16
    assert first.values.keys() == again.values.keys()
    assert all(torch.equal(first.values[n], again.values[n]) for n in first.values)


@pytest.mark.parametrize("family", ["albert", "roberta", "gpt2"])
def test_other_families_equal_the_exported_program(family, tmp_path):
    if family == "albert":
        path = tiny_model(tmp_path / "m", "AlbertForMaskedLM", "albert", embedding_size=16, num_hidden_layers=3)
    elif family == "roberta":
        path = tiny_model(tmp_path / "m", "RobertaForMaskedLM", "roberta", pad_token_id=1)
    else:
        path = tiny_model(tmp_path / "m", "GPT2LMHeadModel", "gpt2", n_embd=32, n_layer=2, n_head=2)
    g = bg.trace(path)
    run = load_runnable(g, cached=False)
    toks = run.tokenize(ids=[5, 17, 23, 42, 7, 8, 13, 2])
    a = capture(g, run, toks)
    assert stored.bound_for(g, run.model) is not None  # recorded at trace time, replayed: every op matched
    b = _eager(g, run, toks)
    assert any(k.graph() is g for k in eager._PLANS.values())  # the eager route matched every op
    _same_ops(g, a, capture(g, run, toks, program=export_program(g, run, 8, True)))
    _same_ops(g, b, a)


def test_primitive_graphs_use_the_exported_program():
    """Decomposed (primitive) ops are not what the pre-dispatch level sees: the program route stays
    (tests/test_run.py::test_primitive_level_graph_is_captured_too runs it)."""
    assert not eager.applies(bg.trace("bert-tiny", ops="primitive"))
    assert eager.applies(bg.trace("bert-tiny"))


def test_replay_program_repeats_recorded_ops_on_new_values():
    """The replay loop on ops the BERT tests do not all reach (tuple outputs, tensors inside a list argument,
    keyword arguments, a non-finite float, a parameter): its values on a NEW input equal eager ATen calls."""
    import gc

    from bertviz_graph.run.replay import ReplayBuilder

    aten = torch.ops.aten
    w = torch.nn.Parameter(torch.randn(4, 3), requires_grad=False)

    def forward(x, add):
        def call(f, *args, gid=None, **kw):
            out = f(*args, **kw)
            add(f, args, kw or None, out, gid)
            return out

        a = call(aten.linear.default, x, w, gid="lin")
        parts = call(aten.split.Tensor, a, 2, -1, gid="split")
        c = call(aten.cat.default, [parts[1], parts[0]], 1, gid="cat")
        m = call(aten.max.dim, c, -1, gid="max")
        s = call(aten.sum.dim_IntList, c, [1], keepdim=True, gid="sum")
        d = call(aten.clamp.default, m[0], -float("inf"), 1.5, gid="clamp")
        return call(aten.add.Tensor, s, call(aten.unsqueeze.default, d, 1), gid=None), d

    x1 = torch.randn(2, 3)
    b = ReplayBuilder({"input:x": x1}, (), [w])
    out1 = forward(x1, b.add)
    prog = b.finish(out1)
    assert prog is not None
    # a tensor the recording never saw: no program (the eager pass stays the route)
    b2 = ReplayBuilder({"input:x": x1}, (), [w])
    b2.add(aten.add.Tensor, (x1, torch.ones(3)), None, x1 + 1, "odd")
    assert b2.finish((x1,)) is None
    x2 = torch.randn(2, 3)
    kept: dict = {}
    out2 = prog(lambda gid, v: kept.setdefault(gid, v), x2, None)
    want: dict = {}
    ref = forward(x2, lambda f, args, kw, out, gid: gid and want.setdefault(gid, out))
    assert kept.keys() == {"input:x", *want}
    assert torch.equal(kept["input:x"], x2)
    for gid, v in want.items():
        vs, ks = (tuple(v), tuple(kept[gid])) if isinstance(v, (tuple, list)) else ((v,), (kept[gid],))
        assert len(vs) == len(ks) and all(torch.equal(p, q) for p, q in zip(vs, ks)), gid
    assert all(torch.equal(p, q) for p, q in zip(out2, ref)) and not torch.equal(out2[0], out1[0])
    assert gc.isenabled()
