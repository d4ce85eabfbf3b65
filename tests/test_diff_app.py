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

    from bertviz_graph.prune.magnitude import magnitude_prune

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
    page.wait_for_timeout(400)
    page.screenshot(path=str(SHOTS / "compare-2-opened-together.png"), full_page=False)
    # and close it on the right: the left closes too
    click(page, D.VIEW_B, "bert.encoder.layer.1", part="title")
    page.wait_for_selector(a_layer + "[data-expanded='0']", timeout=20000)
    page.wait_for_selector(b_layer + "[data-expanded='0']", timeout=20000)
    # a plain click selects on one side and highlights the partner on the other
    click(page, D.VIEW_A, "bert.embeddings")
    page.wait_for_selector(f"#{D.VIEW_B} g.node.bvg-match[data-id='bert.embeddings']", timeout=20000)
    page.screenshot(path=str(SHOTS / "compare-3-tables.png"), full_page=True)
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
