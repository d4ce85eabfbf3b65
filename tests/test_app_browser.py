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
from bertviz_graph.layout import layout_of
from bertviz_graph.render import weights as rw
from bertviz_graph.render.svg import to_svg

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
    page.wait_for_function("window.bvgGraph && window.bvgGraph.firstDraw !== null", timeout=20000)


NODE = "#bv-graph g.node[data-id='%s']"


def has(page, node_id: str) -> bool:
    return page.locator(NODE % node_id).count() > 0


def is_open(page, node_id: str) -> bool:
    return page.locator((NODE % node_id) + "[data-expanded='1']").count() > 0


def wait_open(page, node_id: str, opened: bool = True) -> None:
    page.wait_for_selector((NODE % node_id) + f"[data-expanded='{int(opened)}']", timeout=15000)
    page.wait_for_timeout(150)  # viewport moves settle


def click_node(page, node_id: str, part: str = "box") -> None:
    """A real mouse click on a node's box (part "box"), an open frame's title bar ("title") or body ("body");
    off-screen nodes are brought into view first."""
    js = """([i, part]) => { const g = document.querySelector(`#bv-graph g.node[data-id="${CSS.escape(i)}"]`);
        if (!g) return null;
        const shapes = g.querySelectorAll(':scope > rect, :scope > path');
        const el = part === 'title' ? shapes[1] : part === 'body' ? shapes[0] : shapes[shapes.length - 1];
        const r = el.getBoundingClientRect(), host = document.getElementById('bv-graph').getBoundingClientRect();
        const y = part === 'body' ? r.top + 0.8 * r.height : r.top + r.height / 2;
        const x = part === 'body' ? r.left + 8 : r.left + r.width / 2;
        return [x, y, x > host.left && x < host.right && y > host.top && y < host.bottom]; }"""
    pos = page.evaluate(js, [node_id, part])
    assert pos is not None, f"{node_id} is not drawn"
    if not pos[2]:
        page.evaluate("([i]) => { const c = window.bvgGraph.canvas; c.pz.center(c.box(i)); }", [node_id])
        page.wait_for_timeout(50)
        pos = page.evaluate(js, [node_id, part])
    page.mouse.click(pos[0], pos[1])


def shot(page, name: str) -> Path:
    """Screenshot of the page; asserts the graph area is not blank."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path))
    box = page.locator("#bv-graph").bounding_box()
    with Image.open(path) as img:
        graph = np.asarray(img.convert("RGB").crop((int(box["x"]), int(box["y"]),
                                                    int(box["x"] + box["width"]), int(box["y"] + box["height"]))))
    colours = len(np.unique(graph.reshape(-1, 3), axis=0))
    ink = float((graph.min(axis=2) < 200).mean())  # share of pixels darker than the background
    assert colours > 30 and ink > 0.01, f"{name}: the graph looks blank ({colours} colours, {ink:.3f} ink)"
    return path


def styled(page) -> dict:
    """Every drawn node has a filled shape (not the browser's default black) and a label."""
    return page.evaluate("""() => { const out = {nodes: 0, unstyled: [], unlabelled: []};
        for (const g of document.querySelectorAll('#bv-graph g.node')) {
          out.nodes += 1;
          const shape = g.querySelector(':scope > rect, :scope > path');
          const fill = shape ? getComputedStyle(shape).fill : '';
          if (!shape || !fill || fill === 'rgb(0, 0, 0)' || fill === 'none') out.unstyled.push(g.dataset.id);
          if (!g.querySelector(':scope > text')) out.unlabelled.push(g.dataset.id);
        } return out; }""")


def test_walk_from_model_to_self_attention_and_search(page, console_errors, serve_app, app):
    load(page, serve_app(app))
    assert page.title().startswith("bertviz-graph")
    assert has(page, SERIES) and not is_open(page, SERIES)
    shot(page, "01-overview")

    click_node(page, SERIES)  # open a layer: the stack opens showing layer 0
    wait_open(page, SERIES)
    assert page.is_visible("#bv-series-box")
    page.wait_for_function("document.getElementById('bv-details').innerText.includes('Transformer layer')")
    shot(page, "02-layer-open")

    click_node(page, ATTN)
    wait_open(page, ATTN)
    # the opened group and its parent frame (the layer, with its neighbours) are both on screen
    inside = page.evaluate("""([a, p]) => { const c = window.bvgGraph.canvas, v = c.pz.visible();
        const ok = (b) => b.x >= v.x - 1 && b.y >= v.y - 1 && b.x + b.w <= v.x + v.w + 1 && b.y + b.h <= v.y + v.h + 1;
        return [ok(c.box(a)), ok(c.box(p)), c.pz.k]; }""", [ATTN, SERIES])
    assert inside[0] and inside[1], inside
    early = page.evaluate("window.bvgGraph.early.seq")
    # when the picture is drawn, and in the frame that paints it, Dash has not yet applied the answer's other
    # outputs (the breadcrumb): the picture is painted first (js/src/app.js graphFetch)
    page.evaluate("""() => { const host = window.bvgGraph.canvas.host; window._bvOrder = [];
        const crumb = () => document.getElementById('bv-breadcrumb').innerText.includes('Self-attention');
        const mo = new MutationObserver(() => { mo.disconnect(); window._bvOrder.push(['drawn', crumb()]);
          requestAnimationFrame(() => window._bvOrder.push(['frame', crumb()])); });
        mo.observe(host, {attributes: true, attributeFilter: ['data-drawn']}); }""")
    click_node(page, SELF)  # open self-attention: QKᵀ, softmax, ·V as ops
    wait_open(page, SELF)
    page.wait_for_function("document.getElementById('bv-breadcrumb').innerText.includes('Self-attention')")
    assert page.evaluate("window._bvOrder") == [["drawn", False], ["frame", False]]
    assert has(page, "softmax") and has(page, "matmul")
    # drawn the moment the click's answer arrived (js/src/app.js graphFetch), once, and it is
    # the server's full picture of this view: the same SVG DOM as a fresh canvas drawing that picture
    C = app.bv_context
    v = C.view(C.default_state)
    full = C.render(v.open_instance(SERIES, v.instance_of(SERIES)).open(ATTN).open(SELF).state, "role").svg
    same = page.evaluate("""([full]) => {
        const G = window.bvgGraph, host = document.createElement('div');
        host.style.cssText = 'position:absolute;left:-5000px;width:900px;height:600px';
        document.body.appendChild(host);
        const fresh = new G.GraphCanvas({send() {}}, host);
        fresh.setSvg(full);
        const dom = (c) => { const x = c.svg.cloneNode(true);  // minus what the viewport and the marks add
          for (const e of [x, ...x.querySelectorAll('*')]) { e.removeAttribute('style');
            e.classList.remove('bvg-selected', 'bvg-match'); }
          x.querySelector('.bvg-far-titles').remove();
          return x.outerHTML.replaceAll(c.uid + '-', 'UID-'); };
        const out = [G.canvas.svgText === full, dom(G.canvas) === dom(fresh), G.canvas.nodes.size];
        host.remove();
        return out; }""", [full])
    assert same[:2] == [True, True] and same[2] > 20, same
    assert page.evaluate("window.bvgGraph.early.seq") == early + 1
    assert "Self-attention" in page.inner_text("#bv-breadcrumb")
    shot(page, "03-self-attention")

    # the tooltip (the node's <title>) names the op; a click shows its details
    assert "softmax" in page.locator((NODE % "softmax") + " > title").text_content()
    click_node(page, "softmax")
    page.wait_for_function("document.getElementById('bv-details').innerText.includes('aten.softmax')")
    assert page.locator((NODE % "softmax") + ".bvg-selected").count() == 1

    # a click in an open frame's body selects it; its title bar closes it
    click_node(page, SELF, "body")
    page.wait_for_timeout(400)
    assert is_open(page, SELF)
    click_node(page, SELF, "title")
    wait_open(page, SELF, False)
    assert has(page, SELF)

    # search "query": revealed and highlighted
    page.fill("#bv-search-input", "query")
    page.press("#bv-search-input", "Enter")
    page.wait_for_selector((NODE % QUERY) + ".bvg-match", timeout=15000)
    assert page.inner_text("#bv-search-info").startswith("1 of")
    assert " in layer 0" in page.inner_text("#bv-search-info")
    assert is_open(page, SELF)
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
    page.evaluate("""() => { const d = document.querySelector('#bv-graph g.diagram');
        const ns = 'http://www.w3.org/2000/svg', g = document.createElementNS(ns, 'g');
        g.setAttribute('class', 'node'); g.setAttribute('data-id', 'ghost.node');
        const r = document.createElementNS(ns, 'rect');
        for (const [k, v] of Object.entries({x: 0, y: 0, width: 400, height: 400, fill: '#f00'})) r.setAttribute(k, v);
        g.appendChild(r); d.appendChild(g);
        window.bvgGraph.canvas.onClick(r, {clientX: 0, clientY: 0, shiftKey: false}); }""")
    page.wait_for_function("document.getElementById('bv-notice').innerText.includes('not in this model')")
    assert "Traceback" not in page.content()
    assert console_errors == []


def test_two_tabs_explore_different_paths(page, console_errors, serve_app, app):
    url = serve_app(app)
    load(page, url)
    other = page.context.new_page()
    load(other, url)
    click_node(page, SERIES)
    wait_open(page, SERIES)
    click_node(other, "bert.embeddings")
    wait_open(other, "bert.embeddings")
    click_node(page, ATTN)
    wait_open(page, ATTN)
    assert not is_open(page, "bert.embeddings")
    assert not is_open(other, SERIES)
    count = "document.querySelectorAll('#bv-graph g.node').length"
    assert page.evaluate(count) != other.evaluate(count)
    other.close()
    assert console_errors == []


def test_bert_base_structure_and_layer_picker(page, console_errors, serve_app):
    graph = bg.trace("bert-base-uncased")
    base = make_app(graph)
    load(page, serve_app(base))
    # the first picture is given to the canvas from the index page (app/first_paint.py) before any callback has
    # answered (painted in the next frame, which a fast answer may beat: not what is asked), and no figure
    # library (plotly.js) is fetched before it
    first = page.evaluate("""() => { const g = window.bvgGraph, t = g.firstSet;
        const res = performance.getEntriesByType('resource');
        return {early: g.paintedFromIndex === true, svg: g.canvas.svgText, view: window.bvgFirstView,
                viewLeft: document.getElementById('bv-first-view') !== null,
                answered: res.filter((e) => e.name.includes('_dash-update-component') && e.responseEnd < t).length,
                figures: res.filter((e) => /plotly|graph/i.test(e.name.split('/').pop()) && e.startTime < t)
                            .map((e) => e.name)}; }""")
    assert first["early"] and first["answered"] == 0, first
    # before the canvas, the index page's own script drew the same picture as plain SVG; gone once the canvas has it
    assert first["view"] is not None and first["view"] <= page.evaluate("window.bvgGraph.firstDraw")
    assert not first["viewLeft"]
    assert [f for f in first["figures"] if "bvg-graph" not in f] == []
    assert first["svg"] == to_svg(layout_of(graph.view()), legend=False, title=False)  # export's picture
    series = "bert.encoder.layer[0-11]"
    assert has(page, series)
    label = page.locator((NODE % series) + " > text.lbl").text_content()
    assert label == "BertLayer ×12"
    click_node(page, series)
    wait_open(page, series)
    assert page.get_attribute("#bv-series-slider [role=slider]", "aria-valuemax") == "11"
    click_node(page, "bert.encoder.layer.0.attention")  # open in layer 0: the slider carries it along
    wait_open(page, "bert.encoder.layer.0.attention")
    # pick layer 5 with the slider's keyboard: the frame now shows member 6 of 12
    page.focus("#bv-series-slider [role=slider]")
    for _ in range(5):
        page.keyboard.press("ArrowRight")
    page.wait_for_function("""([i]) => { const g = document.querySelector(`#bv-graph g.node[data-id="${i}"]`);
        return g && g.textContent.includes('showing 6 of 12'); }""", arg=[series], timeout=15000)
    assert has(page, "bert.encoder.layer.5.attention")
    wait_open(page, "bert.encoder.layer.5.attention")  # still open, now in layer 5 (as in the widget)
    shot(page, "06-bert-base-layer-5")
    assert console_errors == []


def test_open_all_unfold_reset(page, console_errors, serve_app):
    """Open all, then Unfold ×N, then Reset on bert-base: styled nodes every time, no console error, and
    Reset gives back the first picture (the cytoscape app broke here: unstyled squares, 'nonexistant source')."""
    base = make_app(bg.trace("bert-base-uncased"))
    page.on("dialog", lambda d: d.accept())  # "this view has N boxes and edges ... open it anyway?"
    load(page, serve_app(base))
    first = sorted(page.eval_on_selector_all("#bv-graph g.node", "gs => gs.map((g) => g.dataset.id)"))
    draws = lambda: page.evaluate("window.bvgGraph.draws")  # noqa: E731
    for button, name in (("#bv-open-all", "07-open-all"), ("#bv-unfold", "08-open-all-unfolded")):
        n = draws()
        page.click(button)
        page.wait_for_function("([n]) => window.bvgGraph.draws > n", arg=[n], timeout=30000)
        page.wait_for_timeout(300)
        st = styled(page)
        assert st["nodes"] > 100 and st["unstyled"] == [] and st["unlabelled"] == [], st
        shot(page, name)
    assert page.locator("#bv-graph g.node[data-expanded='1']").count() > 50
    assert page.locator("#bv-graph g.node[data-id='bert.encoder.layer.11.attention']").count() == 1
    assert not is_open(page, "bert.<mask>")  # the mask plumbing stays closed until asked for
    # Fit on a 1440 x 900 window: the unfolded layers wrap into columns (layout/wrap.py), so Fit shows all of it,
    # and every layer's title is readable there (far_titles.js: >= 9 px on screen, measured from the drawn text)
    page.set_viewport_size({"width": 1440, "height": 900})
    page.click("#bv-fit")
    page.wait_for_function("""() => { const c = window.bvgGraph.canvas, pz = c.pz;
        const t = document.querySelector('#bv-graph .bvg-far-titles text[data-for="bert.encoder.layer.11"]');
        return pz.width <= 1440 && Math.abs(pz.k - Math.min(1.25, pz.fitK({w: pz.cw, h: pz.ch}, 8))) < 1e-9
          && t && t.getBoundingClientRect().width > 0 && c.farTitles.k === pz.k; }""", timeout=10000)
    fit = page.evaluate(r"""() => { const pz = window.bvgGraph.canvas.pz, r = pz.host.getBoundingClientRect();
        const titles = {};
        for (const t of document.querySelectorAll('#bv-graph .bvg-far-titles text')) {
          const id = t.dataset.for; if (!/^bert\.encoder\.layer\.\d+$/.test(id)) continue;
          const b = t.getBoundingClientRect(), inside = b.left >= r.left && b.right <= r.right && b.top >= r.top
            && b.bottom <= r.bottom;
          // rendered size: the font size in content px times the drawn scale (screen width / content width)
          titles[id] = {px: parseFloat(t.getAttribute('font-size')) * b.width / t.getBBox().width,
            shown: getComputedStyle(t).display !== 'none' && inside, text: t.textContent}; }
        return {k: pz.k, cw: pz.cw, ch: pz.ch, titles}; }""")
    assert max(fit["cw"], fit["ch"]) / min(fit["cw"], fit["ch"]) <= 3.0, fit
    assert len(fit["titles"]) == 12 and all(t["shown"] and t["px"] >= 9.0 for t in fit["titles"].values()), fit
    assert [fit["titles"][f"bert.encoder.layer.{i}"]["text"] for i in (0, 11)] == ["layer 0", "layer 11"], fit
    assert not page.is_visible("#bv-graph .bvg-minimap")  # all of it is on screen
    shot(page, "09-unfolded-fit-all")
    # zoomed in: the minimap is a thumbnail of the whole (the wrapped picture, not a 27 px line)
    page.evaluate("window.bvgGraph.canvas.pz.zoomCenter(6)")
    page.wait_for_selector("#bv-graph .bvg-minimap:not(.bvg-hidden)")
    mm = page.evaluate("(() => { const c = document.querySelector('#bv-graph .bvg-minimap canvas'); "
                       "return [c.width, c.height]; })()")
    assert mm[0] >= 200 and mm[1] >= 70, mm
    shot(page, "09b-unfolded-zoomed-minimap")
    n = draws()
    page.click("#bv-reset")
    page.wait_for_function("([n]) => window.bvgGraph.draws > n", arg=[n], timeout=30000)
    page.wait_for_timeout(300)
    assert sorted(page.eval_on_selector_all("#bv-graph g.node", "gs => gs.map((g) => g.dataset.id)")) == first
    assert styled(page)["unstyled"] == []
    shot(page, "10-after-reset")
    assert console_errors == []
