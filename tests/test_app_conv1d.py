"""GPT-2's c_attn (a Conv1D, Q|K|V fused) in the app's Neurons and Weights tabs (system chromium, Playwright).

Screenshots land in $BV_SHOTS (default: <tmp>/bertviz_graph_app_shots) for a human to look at.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

import bertviz_graph as bg

SHOTS = Path(os.environ.get("BV_SHOTS", Path(tempfile.gettempdir()) / "bertviz_graph_app_shots"))


@pytest.fixture(scope="module")
def gpt2():
    return bg.trace("gpt2")


def _shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


@pytest.mark.browser
def test_c_attn_neurons_and_weights(page, console_errors, serve_dash, gpt2):
    from bertviz_graph.app import make_app, neurons_panel
    from bertviz_graph.app.layout import PANELS

    panels = [*PANELS] + [p for p in (neurons_panel,) if p not in PANELS]
    page.set_viewport_size({"width": 1500, "height": 1000})
    page.goto(serve_dash(make_app(gpt2, panels=panels)))
    page.wait_for_selector("#bv-graph svg", timeout=30_000)
    page.fill("#bv-search-input", r"h\.0\.attn\.c_attn")
    page.press("#bv-search-input", "Enter")
    page.wait_for_function("document.getElementById('bv-details').innerText.includes('c_attn')", timeout=20_000)

    page.click("#bv-tab-neurons")
    page.wait_for_function("document.querySelector('#bv-n-fc') && "
                           "document.querySelector('#bv-n-fc').innerText.includes('of 1,769,472 edges')",
                           timeout=30_000)
    text = page.inner_text("#bv-n-fc")
    assert "fused query/key/value" in text and "[in, out]" in text
    _shot(page, "conv1d-01-c_attn-neurons")
    page.click("#bv-n-head")
    page.get_by_text("head 1", exact=True).click()
    page.wait_for_function("document.querySelector('#bv-n-fc').innerText.includes('K 832–895')", timeout=30_000)
    _shot(page, "conv1d-02-c_attn-neurons-head1")

    page.click("#bv-tab-weights")
    page.wait_for_function("document.querySelector('#bv-heatmap .gtitle') && "
                           "document.querySelector('#bv-heatmap .gtitle').textContent.includes('c_attn.weight')",
                           timeout=30_000)
    page.wait_for_function("document.body.innerText.includes('stores this weight [in, out]')", timeout=20_000)
    assert "2304" in page.inner_text("#bv-heatmap")
    _shot(page, "conv1d-03-c_attn-weights")
    page.click("#bv-wtab-heads")
    page.wait_for_function("document.getElementById('bv-per-head-box').innerText.includes('head 1 K')",
                           timeout=30_000)
    _shot(page, "conv1d-04-c_attn-per-head")
    assert console_errors == []
