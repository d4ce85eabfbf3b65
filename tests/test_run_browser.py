"""The app's Run and Attention tabs in the system Chromium: the example sentence is already run, a new
sentence runs, the model view opens a map, a token is picked, and a hovered activation reads the value the
model itself computed (a forward hook, not our capture)."""

from __future__ import annotations

import re

import pytest
import torch

import bertviz_graph as bg
from bertviz_graph.app import make_app
from bertviz_graph.run.load import load_runnable

pytestmark = pytest.mark.browser

LINEAR = "encoder.layer.1.intermediate.dense"


@pytest.fixture(scope="module")
def minilm():
    return bg.trace("all-MiniLM-L6-v2")


def _select(page, node_id: str) -> None:
    """What a click in the graph does (the graph renderer writes the selection store)."""
    page.evaluate("([i]) => window.dash_clientside.set_props('bv-selected', {data: {id: i, nonce: Date.now()}})",
                  [node_id])


def test_run_attention_token_and_hover(minilm, page, serve_dash, console_errors):
    url = serve_dash(make_app(minilm))
    page.set_viewport_size({"width": 1500, "height": 1000})
    page.goto(url + "/")
    page.wait_for_selector("#bv-run-summary")
    page.click("#bv-tab-run")
    page.wait_for_function("document.querySelector('#bv-run-status') && "
                           "/op outputs captured/.test(document.querySelector('#bv-run-status').textContent)",
                           timeout=90000)
    assert "13 tokens" in page.text_content("#bv-run-status")  # the example sentence ran on load

    page.fill("#bv-run-text", "Dogs chase cats.")
    page.click("#bv-run-go")
    page.wait_for_function("/^6 tokens/.test(document.querySelector('#bv-run-status').textContent)", timeout=60000)
    assert "dogs" in page.text_content("#bv-run-tokens")

    # pick token 2 ('chase') and select a Linear: its output heatmap frames that token
    page.click("#bv-run-token")
    page.click("text=2: chase")
    _select(page, LINEAR)
    page.wait_for_selector("#bv-run-act .heatmaplayer", timeout=30000)
    page.wait_for_selector("#bv-run-neurons .scatterlayer", timeout=30000)
    info = page.text_content("#bv-run-neurons-info")
    assert "token 2 'chase'" in info and "of the total |w·x|" in info

    # hover one cell of the heatmap and read its value; compare with the model's own forward hook
    box = page.locator("#bv-run-act .nsewdrag").first.bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.3, box["y"] + box["height"] * (2.5 / 6))
    page.wait_for_selector("#bv-run-act .hovertext", timeout=10000)
    text = page.text_content("#bv-run-act .hovertext")
    m = re.search(r"token (\d+) (\S+)feature (\d+)value (-?[\d.e+-]+)", text.replace("\n", ""))
    assert m, text
    token, feature, value = int(m.group(1)), int(m.group(3)), float(m.group(4))
    run = load_runnable(minilm)
    seen = {}
    h = run.model.get_submodule(LINEAR).register_forward_hook(lambda _m, _i, o: seen.setdefault("y", o))
    with torch.no_grad():
        run.model(torch.tensor([run.tokenize("Dogs chase cats.").input_ids]))
    h.remove()
    assert token == 2 and m.group(2) == "chase"
    assert value == pytest.approx(float(seen["y"][0, token, feature]), rel=1e-3, abs=1e-4)

    # the model view: a 6 × 12 grid; clicking a tile opens that layer and head
    page.click("#bv-tab-attention")
    page.wait_for_selector("#bv-att-grid .heatmaplayer", timeout=60000)
    assert "6 layers × 12 heads" in page.text_content("#bv-att-info")
    grid = page.locator("#bv-att-grid .nsewdrag").first.bounding_box()
    # tile (layer 3, head 7): the grid is 12 tiles wide and 6 tall, equal steps
    page.mouse.click(grid["x"] + grid["width"] * (7.5 / 12), grid["y"] + grid["height"] * (3.5 / 6))
    page.wait_for_function("document.querySelector('#bv-att-slices') && "
                           "/Head 7 of layer 3 owns/.test(document.querySelector('#bv-att-slices').textContent)",
                           timeout=30000)
    assert "layer 3, head 7" in page.text_content("#bv-att-map .gtitle")
    assert "query.weight: rows 224:256" in page.text_content("#bv-att-slices")
    page.screenshot(path="/tmp/bvg-run-browser.png", full_page=True)
    assert "Traceback" not in page.content()
    assert console_errors == []


def test_structure_only_model_disables_running(tmp_path, page, serve_dash, console_errors):
    import json

    folder = tmp_path / "no-weights"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(bg.trace("bert-tiny").meta["config"]))
    url = serve_dash(make_app(bg.trace(folder)))
    page.goto(url + "/")
    page.wait_for_selector("#bv-run-summary")
    assert "running disabled" in page.text_content("#bv-run-summary")
    page.click("#bv-tab-run")
    page.wait_for_selector("#bv-run-status")
    assert "no *.safetensors weights" in page.text_content("#bv-run-status")
    assert "Traceback" not in page.content()
    assert console_errors == []


def test_switch_model_without_restarting(page, serve_dash, console_errors):
    app = make_app(bg.trace("bert-tiny"))
    url = serve_dash(app)
    page.set_viewport_size({"width": 1500, "height": 1000})
    page.goto(url + "/")
    page.click("#bv-tab-run")
    page.wait_for_selector("#bv-model-input")
    page.fill("#bv-model-input", "bert-tiny-typo")
    page.click("#bv-model-go")
    page.wait_for_function("/unknown model/.test(document.querySelector('#bv-model-status').textContent)",
                           timeout=30000)
    page.fill("#bv-model-input", "all-MiniLM-L6-v2")
    page.click("#bv-model-go")
    page.wait_for_function("document.title.length && document.querySelector('#bv-header') && "
                           "/all-MiniLM-L6-v2/.test(document.querySelector('#bv-header').textContent)",
                           timeout=90000)
    assert "model=all-MiniLM-L6-v2" in page.url  # the tab's own model, in its URL
    assert app.bv_context.graph.name == "bert-tiny"  # the server's model (other tabs') is untouched
    assert "random" not in page.text_content("#bv-header")  # trained weights now
    assert "Traceback" not in page.content()
    assert console_errors == []
