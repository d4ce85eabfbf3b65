"""Small things a walk through the app found (issue 19, item 8), each checked where it is decided."""

from __future__ import annotations

import json

import pytest

import bertviz_graph as bg
from bertviz_graph.app import ids, make_app
from bertviz_graph.app.context import AppContext
from bertviz_graph.app.graph_panel import _legend, controller
from tests.tiny_models import tiny_model


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    """A tiny BertModel (no MLM head) with weights."""
    return bg.trace(str(tiny_model(tmp_path_factory.mktemp("small") / "base", cls="BertModel")))


def _cb(app, output_has: str):
    return next(v for k, v in app.callback_map.items() if output_has in k and "callback" in v)["callback"].__wrapped__  # not a clientside one


def test_fresh_page_says_nothing_about_a_stale_click(base):
    C = AppContext(base)
    out = controller(C, ids.GRAPH_EVENT, event=None, state=C.default_state.to_json_dict())
    assert not out.get("notice")  # it said "'BertModel' is not in the current view any more" on every load
    shown = {n.id for n in C.view(C.default_state).data().nodes}
    hidden = next(g for g in C.h.groups if g and g not in shown)
    stale = controller(C, ids.GRAPH_EVENT, event={"type": "click", "id": hidden},
                       state=C.default_state.to_json_dict())
    assert "not in the current view" in json.dumps(stale.get("notice"), default=str)  # a real stale click still is


def test_sparsity_legend_shows_fractions(base):
    C = AppContext(base)
    lv = C.render(C.default_state, "role").lv
    text = json.dumps([c.to_plotly_json() for c in _legend(lv, "sparsity", (0.3, 0.5))], default=str)
    assert "30.0%" in text and "50.0%" in text and "(values 0" not in text


def test_empty_sentence_is_said_and_long_text_refused(base):
    from bertviz_graph.app.run_panel import MAX_TEXT

    app = make_app(base)
    go = _cb(app, "bv-run.data")
    store, msg = go(1, 0, "   ", "", {"text": "The cat sat.", "nonce": 3})
    assert store is not None and "type a sentence" in msg and "The cat sat." in msg
    assert not isinstance(store, dict)  # no_update: the old run stays, and the page says why
    store, msg = go(2, 0, "x" * (MAX_TEXT + 1), "", None)
    assert "longer than" in msg
    store, _ = go(3, 0, "A dog.", "", {"nonce": 3})
    assert store == {"text": "A dog.", "pair": "", "ids": None, "nonce": 4}


def test_mask_without_an_mlm_head_is_explained(base):
    from bertviz_graph.app.run_panel import MASK_NOTE, _pred, session

    C = AppContext(base)
    acts = session(C).run("Paris is the [MASK] of France.")
    text = json.dumps([c.to_plotly_json() for c in _pred(C, acts, None) if c is not None], default=str)
    assert MASK_NOTE[:40] in text
    plain = session(C).run("Paris is the capital of France.")
    assert MASK_NOTE[:40] not in json.dumps([c.to_plotly_json() for c in _pred(C, plain, None) if c], default=str)


def test_onnx_graph_does_not_claim_a_run(tmp_path):
    import onnx

    from bertviz_graph.app.run_panel import header_note
    from bertviz_graph.presenters.run_session import can_run
    from tests.onnx_models import bert_like

    onnx.save(bert_like("tf", layers=1).model, str(tmp_path / "m.onnx"))
    g = bg.trace(tmp_path / "m.onnx")
    assert "no tokenizer is beside it" in can_run(g)  # an ONNX file runs (onnxruntime) only with a tokenizer
    C = AppContext(g)
    note = header_note(C).children
    assert note.startswith("running disabled") and "ran:" not in note
