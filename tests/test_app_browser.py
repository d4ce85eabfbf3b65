"""The web app in the system Chromium (Playwright): the walk from the model down to one weight matrix.

bert-tiny keeps these fast; one test checks the bert-base structure (BertLayer ×12 and its layer picker).
Screenshots of every step land in $BV_SHOTS (default: <tmp>/bertviz_graph_app_shots) for a human to look at.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import bertviz_graph as bg
from bertviz_graph.app import make_app
from bertviz_graph.render import weights as rw

pytestmark = pytest.mark.browser

SERIES = "bert.encoder.layer[0-1]"
ATTN = "bert.encoder.layer.0.attention"
SELF = "bert.encoder.layer.0.attention.self"
QUERY = "bert.encoder.layer.0.attention.self.query"
SHOTS = Path(os.environ.get("BV_SHOTS", Path(tempfile.gettempdir()) / "bertviz_graph_app_shots"))


@pytest.fixture(scope="module")
def tiny():
    return bg.trace("bert-tiny")


@pytest.fixture
def serve_app(serve_dash):
    """``url = serve_app(app)`` (conftest's werkzeug server), with the trailing slash these tests use."""
    return lambda app: serve_dash(app) + "/"


@pytest.fixture
def app(tiny):
    return make_app(tiny)


def load(page, url: str) -> None:
    page.set_viewport_size({"width": 1500, "height": 950})
    page.goto(url)
    page.wait_for_function("window.bvGraph && window.bvGraph.firstDraw !== null && window.bvGraph.cy()",
                           timeout=20000)


def has(page, element_id: str) -> bool:
    return page.evaluate("([i]) => window.bvGraph.cy().getElementById(i).length > 0", [element_id])


def wait_for(page, element_id: str, present: bool = True) -> None:
    page.wait_for_function("([i, p]) => (window.bvGraph.cy().getElementById(i).length > 0) === p",
                           arg=[element_id, present], timeout=15000)
    page.wait_for_timeout(150)  # viewport moves settle


def click_node(page, element_id: str) -> None:
    """A real mouse click at the element's place on screen (cytoscape's own tap)."""
    pos = page.evaluate("""([i]) => { const cy = window.bvGraph.cy(); const e = cy.getElementById(i);
        if (!e.length) return null;
        const bb = e.renderedBoundingBox({includeLabels: false});
        const r = cy.container().getBoundingClientRect();
        return [r.left + (bb.x1 + bb.x2) / 2, r.top + (bb.y1 + bb.y2) / 2,
                bb.x2 > 0 && bb.x1 < r.width && bb.y2 > 0 && bb.y1 < r.height]; }""", [element_id])
    assert pos is not None, f"{element_id} is not drawn"
    if not pos[2]:  # off screen: bring it into view first
        page.evaluate("([i]) => window.bvGraph.cy().center(window.bvGraph.cy().getElementById(i))", [element_id])
        return click_node(page, element_id)
    page.mouse.click(pos[0], pos[1])


def shot(page, name: str) -> Path:
    """Screenshot of the page; asserts the graph area is not blank."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path))
    box = page.locator("#bv-cyto").bounding_box()
    with Image.open(path) as img:
        graph = np.asarray(img.convert("RGB").crop((int(box["x"]), int(box["y"]),
                                                    int(box["x"] + box["width"]), int(box["y"] + box["height"]))))
    colours = len(np.unique(graph.reshape(-1, 3), axis=0))
    ink = float((graph.min(axis=2) < 200).mean())  # share of pixels darker than the background
    assert colours > 30 and ink > 0.01, f"{name}: the graph looks blank ({colours} colours, {ink:.3f} ink)"
    return path


def classes(page, element_id: str) -> str:
    return page.evaluate("([i]) => window.bvGraph.cy().getElementById(i).classes().join(' ')", [element_id])


def test_walk_from_model_to_self_attention_and_search(page, console_errors, serve_app, app):
    load(page, serve_app(app))
    assert page.title().startswith("bertviz-graph")
    assert has(page, SERIES) and not has(page, f"{SERIES}::bar")
    shot(page, "01-overview")

    click_node(page, SERIES)  # open a layer: the stack opens showing layer 0
    wait_for(page, f"{SERIES}::bar")
    assert page.is_visible("#bv-series-box")
    page.wait_for_function("document.getElementById('bv-details').innerText.includes('Transformer layer')")
    shot(page, "02-layer-open")

    click_node(page, ATTN)
    wait_for(page, f"{ATTN}::bar")
    click_node(page, SELF)  # open self-attention: QKᵀ, softmax, ·V as ops
    wait_for(page, f"{SELF}::bar")
    assert has(page, "softmax") and has(page, "matmul")
    assert "Self-attention" in page.inner_text("#bv-breadcrumb")
    shot(page, "03-self-attention")

    # hover shows shapes and sizes
    click_node(page, "softmax")
    page.wait_for_function("document.getElementById('bv-details').innerText.includes('aten.softmax')")
    tip = page.locator(".bv-tip")
    assert "softmax" in (tip.text_content() or "")

    # close self-attention with its title bar
    click_node(page, f"{SELF}::bar")
    wait_for(page, f"{SELF}::bar", present=False)
    assert has(page, SELF)

    # search "query": revealed and highlighted
    page.fill("#bv-search-input", "query")
    page.press("#bv-search-input", "Enter")
    page.wait_for_function("([i]) => window.bvGraph.cy().getElementById(i).hasClass('hl')", arg=[QUERY],
                           timeout=15000)
    assert "1 of" in page.inner_text("#bv-search-info")
    assert has(page, f"{SELF}::bar")
    shot(page, "04-search-query")
    assert console_errors == []


def test_weight_heatmap_hover_and_downloads(page, console_errors, serve_app, app, tmp_path):
    load(page, serve_app(app))
    page.fill("#bv-search-input", "query.weight")
    page.press("#bv-search-input", "Enter")
    page.wait_for_function("document.getElementById('bv-details').innerText.includes('query.weight')")
    page.click("#bv-tab-weights")
    page.wait_for_selector("#bv-heatmap .main-svg .nsewdrag", timeout=20000)
    page.wait_for_function("document.querySelector('#bv-heatmap .gtitle') && "
                           "document.querySelector('#bv-heatmap .gtitle').textContent.includes('query.weight')")
    assert "RANDOM" in page.inner_text("#bv-weight-banner")
    # hover a cell: the readout gives row, column and the exact stored value
    bb = page.locator("#bv-heatmap .nsewdrag").first.bounding_box()
    page.mouse.move(bb["x"] + 0.3 * bb["width"], bb["y"] + 0.6 * bb["height"])
    page.wait_for_function("document.getElementById('bv-heatmap-readout').innerText.includes('(exact)')",
                           timeout=10000)
    text = page.inner_text("#bv-heatmap-readout")
    row = int(text.split("row ")[1].split(",")[0])
    col = int(text.split("col ")[1].split(":")[0])
    value = float(text.split("w = ")[1].split(" ")[0])
    store = app.bv_context.weights
    name = "bert.encoder.layer.0.attention.self.query.weight"
    assert value == pytest.approx(rw.value_at(store, name, row, col), rel=1e-5, abs=1e-9)
    page.wait_for_selector("#bv-stats table")
    shot(page, "05-query-weight-heatmap")

    # per-head split and distribution
    page.click("#bv-wtab-heads")
    page.wait_for_function("document.getElementById('bv-per-head-box').innerText.includes('head 1')",
                           timeout=15000)
    page.click("#bv-wtab-hist")
    page.wait_for_function("document.getElementById('bv-histogram').innerText.includes('Distribution')")
    page.click("#bv-wtab-matrix")

    # the matrix as PNG and .npy
    with page.expect_download() as dl:
        page.click("#bv-download-png")
    png = tmp_path / "w.png"
    dl.value.save_as(png)
    with Image.open(png) as img:
        assert img.format == "PNG" and img.width >= 64
    href = page.get_attribute("#bv-download-npy", "href")
    assert href and "weights.npy" in href
    with page.expect_download() as dl:
        page.click("#bv-download-npy")
    npy = tmp_path / "w.npy"
    dl.value.save_as(npy)
    np.testing.assert_array_equal(np.load(npy), store.get(name))

    # the current view as SVG: the same picture `bertviz-graph export` draws
    with page.expect_download() as dl:
        page.click("#bv-download-svg")
    svg = tmp_path / "view.svg"
    dl.value.save_as(svg)
    text = svg.read_text()
    assert text.startswith("<?xml") and "<svg" in text and 'data-id="bert.encoder.layer.0.attention.self"' in text
    assert console_errors == []


def test_node_without_weights_and_stale_request(page, console_errors, serve_app, app):
    load(page, serve_app(app))
    page.fill("#bv-search-input", "^softmax$")
    page.press("#bv-search-input", "Enter")
    page.wait_for_function("document.getElementById('bv-details').innerText.includes('softmax')")
    page.click("#bv-tab-weights")
    page.wait_for_function("document.getElementById('bv-weight-empty').innerText.includes('no weight matrix')")
    # a click on a node id the server does not know (a stale page): a sentence, no traceback
    page.evaluate("""() => { const cy = window.bvGraph.cy();
        cy.add({data: {id: 'ghost.node', label: 'ghost', w: 40, h: 20, target: 'ghost.node'},
                position: {x: 10, y: 10}, classes: 'box'});
        cy.getElementById('ghost.node').emit('tap'); }""")
    page.wait_for_function("document.getElementById('bv-notice').innerText.includes('not in this model')")
    assert "Traceback" not in page.content()
    assert console_errors == []


def test_two_tabs_explore_different_paths(page, console_errors, serve_app, app):
    url = serve_app(app)
    load(page, url)
    other = page.context.new_page()
    load(other, url)
    click_node(page, SERIES)
    wait_for(page, f"{SERIES}::bar")
    click_node(other, "bert.embeddings")
    wait_for(other, "bert.embeddings::bar")
    click_node(page, ATTN)
    wait_for(page, f"{ATTN}::bar")
    assert not has(page, "bert.embeddings::bar")
    assert not has(other, f"{SERIES}::bar")
    assert page.evaluate("window.bvGraph.cy().elements().length") != other.evaluate(
        "window.bvGraph.cy().elements().length")
    other.close()
    assert console_errors == []


def test_bert_base_structure_and_layer_picker(page, console_errors, serve_app):
    base = make_app(bg.trace("bert-base-uncased"))
    load(page, serve_app(base))
    series = "bert.encoder.layer[0-11]"
    assert has(page, series)
    label = page.evaluate("([i]) => window.bvGraph.cy().getElementById(i).data('label')", [series])
    assert label == "BertLayer ×12"
    click_node(page, series)
    wait_for(page, f"{series}::bar")
    assert page.get_attribute("#bv-series-slider [role=slider]", "aria-valuemax") == "11"
    # pick layer 5 with the slider's keyboard: the frame now shows member 6 of 12
    page.focus("#bv-series-slider [role=slider]")
    for _ in range(5):
        page.keyboard.press("ArrowRight")
    page.wait_for_function("""([i]) => { const t = window.bvGraph.cy().getElementById(i + '::title');
        return t.length && t.data('label').includes('showing 6 of 12'); }""", arg=[series], timeout=15000)
    assert has(page, "bert.encoder.layer.5.attention")
    shot(page, "06-bert-base-layer-5")
    assert console_errors == []
