"""The run's UI in the system Chromium, app and widget: hovering an edge of the graph reads the tensor it
carries (checked against a forward hook on the model, not our capture), a click shows it whole; two tabs
running different sentences colour the graph by their own run; a head chosen in the attention maps is
outlined inside the Q, K, V and output-projection heatmaps; the output node opens the predictions."""

from __future__ import annotations

import re

import pytest
import torch
from widget_host import png, values, write_host

import bertviz_graph as bg
from bertviz_graph.app import make_app
from bertviz_graph.run.load import load_runnable
from bertviz_graph.widget import GraphWidget

pytestmark = pytest.mark.browser

EDGE = "embeddings->encoder.layer[0-5]"
EXAMPLE = "The cat sat on the mat because it was tired."


@pytest.fixture(scope="module")
def minilm():
    return bg.trace("all-MiniLM-L6-v2")


def _embeddings_out(graph, text: str) -> torch.Tensor:
    """BertEmbeddings' output for ``text``, from a forward hook on the model itself."""
    run = load_runnable(graph)
    seen = {}
    h = run.model.get_submodule("embeddings").register_forward_hook(lambda _m, _i, o: seen.setdefault("y", o))
    with torch.no_grad():
        run.model(torch.tensor([run.tokenize(text).input_ids]))
    h.remove()
    return seen["y"].double()


def _edge_point(page, root: str, edge_id: str) -> dict:
    """Screen point in the middle of a drawn edge (on its path, where the wide hit path is)."""
    return page.evaluate("""([root, id]) => {
        const g = [...document.querySelectorAll(root + ' g.edge')].find((e) => e.getAttribute('data-id') === id);
        const p = g.querySelector('path.bvg-edge-hit');
        const q = p.getPointAtLength(p.getTotalLength() / 2);
        const m = p.getScreenCTM();
        return {x: m.a * q.x + m.c * q.y + m.e, y: m.b * q.x + m.d * q.y + m.f}; }""", [root, edge_id])


def _tip_numbers(text: str) -> tuple[float, float]:
    m = re.search(r"RMS (-?[\d.e+-]+), max (-?[\d.e+-]+)", text)
    assert m, text
    return float(m.group(1)), float(m.group(2))


def _wait_run(page, tokens: str | None = None) -> None:
    page.wait_for_function("document.querySelector('#bv-run-status') && "
                           "/op outputs captured/.test(document.querySelector('#bv-run-status').textContent)",
                           timeout=90000)
    if tokens:
        page.wait_for_function(f"/^{tokens} tokens/.test(document.querySelector('#bv-run-status').textContent)",
                               timeout=60000)


def test_edge_hover_and_click_read_the_tensor(minilm, page, serve_dash, console_errors):
    url = serve_dash(make_app(minilm))
    page.set_viewport_size({"width": 1500, "height": 1000})
    page.goto(url + "/")
    page.click("#bv-tab-run")
    _wait_run(page)
    page.wait_for_function("window.bvgGraph.canvas && Object.keys(window.bvgGraph.canvas.edgeTips).length > 0",
                           timeout=30000)
    pt = _edge_point(page, "#bv-graph", EDGE)
    page.mouse.move(pt["x"] + 4, pt["y"])  # 4 px beside the 1.2 px line: the hit path is 12 px wide
    page.wait_for_selector(".bvg-tip.bvg-show", timeout=5000)
    tip = page.text_content(".bvg-tip")
    assert "Embeddings → BertLayer ×6" in tip and "1×13×384" in tip
    y = _embeddings_out(minilm, EXAMPLE)
    rms, mx = _tip_numbers(tip)
    assert rms == pytest.approx(float(y.pow(2).mean().sqrt()), rel=1e-3)
    assert mx == pytest.approx(float(y.max()), rel=1e-3)
    page.screenshot(path="/tmp/bvg-edge-hover.png")

    # a click: the Run tab shows the whole tensor; a hovered cell equals the hook's value
    page.mouse.click(pt["x"] + 4, pt["y"])
    page.wait_for_selector("#bv-run-act .heatmaplayer", timeout=30000)
    assert "carries the output of dropout" in page.text_content("#bv-run-act-info")
    assert page.locator("#bv-graph g.edge.bvg-edge-selected").count() == 1
    box = page.locator("#bv-run-act .nsewdrag").first.bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.41, box["y"] + box["height"] * (3.5 / 13))
    page.wait_for_selector("#bv-run-act .hovertext", timeout=10000)
    text = page.text_content("#bv-run-act .hovertext").replace("\n", "")
    m = re.search(r"token (\d+) (\S+)feature (\d+)value (-?[\d.e+-]+)", text)
    assert m, text
    token, feature, value = int(m.group(1)), int(m.group(3)), float(m.group(4))
    assert token == 3 and m.group(2) == "sat"
    assert value == pytest.approx(float(y[0, token, feature]), rel=1e-3, abs=1e-4)
    page.screenshot(path="/tmp/bvg-edge-click.png")
    assert "Traceback" not in page.content()
    assert console_errors == []


def test_two_tabs_colour_by_their_own_run(minilm, browser, serve_dash):
    url = serve_dash(make_app(minilm))
    texts = {"a": "Dogs chase cats.", "b": "A completely different and much longer sentence about rivers."}
    pages = {}
    for k, text in texts.items():
        p = browser.new_page(viewport={"width": 1400, "height": 900})
        p.goto(url + "/")
        p.click("#bv-tab-run")
        _wait_run(p)
        p.fill("#bv-run-text", text)
        p.click("#bv-run-go")
        p.wait_for_function("(t) => document.querySelector('#bv-run-tokens').textContent.includes(t)",
                            arg=text.split()[1].lower(), timeout=60000)
        pages[k] = p
    for p in pages.values():  # both tabs colour by activation after both have run
        p.click("#bv-color-by")
        p.click("text=Activation RMS (this tab's run)")
    got = {}
    for k, p in pages.items():
        p.wait_for_function("window.bvgGraph.canvas && window.bvgGraph.canvas.nodeTips['embeddings']",
                            timeout=30000)
        got[k] = p.evaluate("window.bvgGraph.canvas.nodeTips['embeddings']")
        got[k + "_fill"] = p.get_attribute("#bv-graph g.node[data-id='embeddings'] > rect", "fill")
    # each tab's value is the RMS of its own sentence's embeddings output (a forward hook)
    for k, text in texts.items():
        v = float(re.search(r": ([\d.e+-]+)$", got[k]).group(1))
        assert v == pytest.approx(float(_embeddings_out(minilm, text).pow(2).mean().sqrt()), rel=1e-3), k
    assert got["a"] != got["b"]
    # tab a redraws after b ran last: it keeps its own colours
    pa = pages["a"]
    pa.click("#bv-color-by")
    pa.click("text=Change ‖out − in‖/‖in‖ (this tab's run)")
    pa.wait_for_function("(window.bvgGraph.canvas.nodeTips['embeddings'] || '').startsWith('Change')", timeout=30000)
    pa.click("#bv-color-by")
    pa.click("text=Activation RMS (this tab's run)")
    pa.wait_for_function("(window.bvgGraph.canvas.nodeTips['embeddings'] || '').startsWith('Activation')",
                         timeout=30000)
    assert pa.evaluate("window.bvgGraph.canvas.nodeTips['embeddings']") == got["a"]
    assert pa.get_attribute("#bv-graph g.node[data-id='embeddings'] > rect", "fill") == got["a_fill"]
    pa.screenshot(path="/tmp/bvg-tab-a.png")
    pages["b"].screenshot(path="/tmp/bvg-tab-b.png")
    for p in pages.values():
        p.close()


def test_head_outlined_in_weight_heatmaps_and_output_opens_predictions(minilm, page, serve_dash, console_errors):
    url = serve_dash(make_app(minilm))
    page.set_viewport_size({"width": 1500, "height": 1000})
    page.goto(url + "/")
    page.click("#bv-tab-attention")
    page.wait_for_selector("#bv-att-grid .heatmaplayer", timeout=90000)
    grid = page.locator("#bv-att-grid .nsewdrag").first.bounding_box()
    page.mouse.click(grid["x"] + grid["width"] * (7.5 / 12), grid["y"] + grid["height"] * (3.5 / 6))  # layer 3, head 7
    page.wait_for_function("document.querySelectorAll('#bv-att-slice-maps .js-plotly-plot').length === 4",
                           timeout=30000)
    bands = page.evaluate("""() => [...document.querySelectorAll('#bv-att-slice-maps .js-plotly-plot')].map((d) =>
        [d.layout.title.text, ...(d.layout.shapes || []).filter((s) => s.name === 'head 7')
                                  .map((s) => [s.x0, s.x1, s.y0, s.y1])[0]])""")
    # MiniLM: 12 heads of 32 over 384: head 7 owns Q/K/V rows 224:256 and output-projection columns 224:256
    assert [b[0].split(":")[0] for b in bands] == ["self.query", "self.key", "self.value", "output.dense"]
    for b in bands[:3]:
        assert b[1:] == [-0.5, 383.5, 223.5, 255.5]
    assert bands[3][1:] == [223.5, 255.5, -0.5, 383.5]
    page.screenshot(path="/tmp/bvg-head-slices.png", full_page=True)
    # the Weights tab outlines the same head in the query weight the head selected
    page.click("#bv-tab-weights")
    page.wait_for_function("document.querySelector('#bv-weight-head-note') && "
                           "/head 7 owns rows 224:256/.test(document.querySelector('#bv-weight-head-note').textContent)",
                           timeout=30000)
    band = page.evaluate("() => document.querySelector('#bv-heatmap .js-plotly-plot').layout.shapes"
                         ".filter((s) => s.name === 'head 7').map((s) => [s.y0, s.y1])[0]")
    assert band == [223.5, 255.5]
    assert "encoder.layer.3.attention.self.query.weight" in page.text_content("#bv-weight-pick")
    page.screenshot(path="/tmp/bvg-weights-band.png")
    # the Weights tab's own head picker moves the outline
    page.click("#bv-weight-head")
    page.get_by_role("option", name="head 2", exact=True).click()
    page.wait_for_function("/head 2 owns rows 64:96/.test(document.querySelector('#bv-weight-head-note').textContent)",
                           timeout=30000)
    band = page.evaluate("() => document.querySelector('#bv-heatmap .js-plotly-plot').layout.shapes"
                         ".filter((s) => s.name === 'head 2').map((s) => [s.y0, s.y1])[0]")
    assert band == [63.5, 95.5]

    # the graph's output node opens the Run tab at the predictions
    page.click("#bv-graph g.node[data-id='output:1']")
    page.wait_for_function("document.querySelector('#bv-tab-run').classList.contains('tab--selected')", timeout=30000)
    page.wait_for_selector("#bv-run-pred-box.bv-flash", timeout=10000)
    assert "Sentence embedding" in page.text_content("#bv-run-pred")
    page.screenshot(path="/tmp/bvg-output-predictions.png")
    assert "Traceback" not in page.content()
    assert console_errors == []


# ---- the notebook widget: the same canvas in a bare anywidget host ------------------------------------------
def test_widget_edge_hover_click_colour_and_head_band(minilm, page, console_errors, serve_dir, tmp_path):
    write_host(tmp_path)
    w = GraphWidget(minilm, height=640)
    w.run("Dogs chase cats.")
    page.set_viewport_size({"width": 1140, "height": 760})
    page.goto(serve_dir(tmp_path) + "/index.html")
    page.wait_for_function("window.loaded === true")
    page.evaluate("([v, p]) => window.init(v, p)", [values(w), png(w)])
    page.wait_for_selector(".bvg-canvas svg g.edge path.bvg-edge-hit", state="attached")

    def roundtrip() -> None:
        for msg in page.evaluate("window.sent.splice(0)"):
            w.handle_message(msg)
        page.evaluate("([v, p]) => window.push(v, p)", [values(w), png(w)])

    pt = _edge_point(page, ".bvg-canvas", EDGE)
    page.mouse.move(pt["x"] + 4, pt["y"])
    page.wait_for_selector(".bvg-tip.bvg-show", timeout=5000)
    y = _embeddings_out(minilm, "Dogs chase cats.")
    rms, mx = _tip_numbers(page.text_content(".bvg-tip"))
    assert rms == pytest.approx(float(y.pow(2).mean().sqrt()), rel=1e-3)
    assert mx == pytest.approx(float(y.max()), rel=1e-3)
    page.mouse.click(pt["x"] + 4, pt["y"])
    roundtrip()
    assert w.edge == EDGE and w.selected == ""
    page.wait_for_selector(".bvg-details img.bvg-act-img")
    assert "carries the output of dropout" in page.text_content(".bvg-details")
    page.screenshot(path="/tmp/bvg-widget-edge.png")

    # colour-by change: the layer stack's box gets a colour, the embeddings say why they have none
    w.color_by = "change"
    page.evaluate("([v, p]) => window.push(v, p)", [values(w), png(w)])
    assert w._tips["nodes"]["embeddings"].endswith("(no input has the output's shape)")
    assert re.match(r"change ‖out − in‖/‖in‖: [\d.]+$", w._tips["nodes"]["encoder.layer[0-5]"])
    fill = page.get_attribute(".bvg-canvas g.node[data-id='encoder.layer[0-5]'] > rect", "fill")
    assert fill and fill.lower() not in ("#f4f4f4", "#fde0c5")
    page.screenshot(path="/tmp/bvg-widget-change.png")

    # a head outlined inside its query weight in the matrix pane
    w.highlight_head(3, 7)
    page.evaluate("([v, p]) => window.push(v, p)", [values(w), png(w)])
    page.wait_for_selector(".bvg-headband[data-head='7']")
    assert w.matrix_meta["band"] == {"head": 7, "dim": 0, "rows": [224, 256], "cols": [0, 384]}
    page.screenshot(path="/tmp/bvg-widget-band.png")
    # the pane's per-head selector: a head bar shows that head alone, then "outline in the whole matrix"
    page.locator(".bvg-headbar").nth(4).click()
    roundtrip()
    page.click("button[data-action='outline']")
    roundtrip()
    page.wait_for_selector(".bvg-headband[data-head='4']")
    assert w.matrix_meta["band"]["rows"] == [128, 160] and w.matrix_meta["rows"] == [0, 384]
    assert console_errors == []
