"""The Analysis tab in the app: computing the heads analysis shows its sentences and both charts, then the
ranks. (That a structure-only preset says random heads are not redundant is checked without a browser in
tests/test_analyze.py.)"""

from __future__ import annotations

import os

import pytest
from tiny_models import tiny_model

import bertviz_graph as bg
from bertviz_graph.app import make_app

pytestmark = pytest.mark.browser


def _analysis(page, kind: str) -> None:
    page.click("#bv-tab-analysis", timeout=120000)  # the first page of a session can be slow on a busy machine
    page.wait_for_selector("#bv-analysis-kind", state="visible", timeout=60000)
    page.click(f"#bv-analysis-kind input[value='{kind}']")
    page.click("#bv-analysis-go")


def test_heads_analysis_in_the_app(tmp_path, page, serve_dash, console_errors):
    folder = tiny_model(tmp_path / "m", cls="BertModel", initializer_range=0.5)
    url = serve_dash(make_app(bg.trace(str(folder))))
    page.set_viewport_size({"width": 1500, "height": 1000})
    page.goto(url + "/")
    _analysis(page, "heads")
    # the heads matrix and the MDS map (one point per head) are drawn: wait for both, not for a time
    page.wait_for_function(
        "() => { const o = document.querySelector('#bv-analysis-out');"
        " return o && o.querySelector('.js-plotly-plot .heatmaplayer')"
        " && o.querySelectorAll('.scatterlayer .point').length >= 8; }", timeout=120000)
    text = page.inner_text("#bv-analysis-out")
    assert "8 heads of m, 48 sentences" in text and "Jensen-Shannon" in text
    if os.environ.get("BVG_SHOT"):
        page.screenshot(path=os.environ["BVG_SHOT"], full_page=True)
    # a click on a head of the map opens it: the Attention tab at its layer and head, its query in the graph
    point = page.locator("#bv-analysis-out .scatterlayer .trace").nth(1).locator(".point").nth(1)
    point.scroll_into_view_if_needed()  # the map sits below the matrix in the scrolling side panel
    box = point.bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    # (dcc.Tabs draws only the tab in front: the Attention tab replaces the Analysis tab's content)
    page.wait_for_selector("#bv-tab-attention.tab--selected", timeout=60000)
    page.wait_for_function("() => { const t = s => (document.querySelector(s) || {}).innerText || '';"
                           " return t('#bv-att-layer').trim() === '1' && t('#bv-att-head').trim() === '1'"
                           " && t('#bv-att-slices').includes('Head 1 of layer 1'); }", timeout=60000)
    page.wait_for_function("document.querySelector('#bv-graph').innerHTML.includes('"
                           "encoder.layer.1.attention.self.query')", timeout=60000)
    if os.environ.get("BVG_SHOT"):
        page.screenshot(path=os.environ["BVG_SHOT"].replace(".png", "_head.png"), full_page=True)
    _analysis(page, "rank")
    page.wait_for_function("document.querySelector('#bv-analysis-out').innerText.includes('effective rank')",
                           timeout=60000)
    assert console_errors == []

