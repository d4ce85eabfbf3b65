"""The widget's JavaScript in a bare page, outside Jupyter: a minimal host implements only the anywidget model
API (get / set / on / off / send / save_changes, binary traitlets as DataView), as marimo and VS Code do.
Clicks must produce the right messages; the kernel's answer (GraphWidget.handle_message, then the changed
traitlets pushed back) must redraw. Also checks pan/zoom controls and the weight pane."""

from __future__ import annotations

import pytest
from widget_host import png, values, write_host

import bertviz_graph as bg

pytestmark = pytest.mark.browser

SERIES = "bert.encoder.layer[0-11]"
@pytest.fixture
def host(page, console_errors, serve_dir, tmp_path):
    write_host(tmp_path)
    w = bg.show("bert-base-uncased", height=600)
    page.set_viewport_size({"width": 1140, "height": 700})
    page.goto(serve_dir(tmp_path) + "/index.html")
    page.wait_for_function("window.loaded === true")
    page.evaluate("([v, p]) => window.init(v, p)", [values(w), png(w)])
    page.wait_for_selector(".bvg-canvas svg g.node")

    def roundtrip() -> list[dict]:
        """Hand the messages the page sent to the kernel side and push every changed traitlet back."""
        msgs = page.evaluate("window.sent.splice(0)")
        before, png_before = values(w), w.matrix_png
        for m in msgs:
            w.handle_message(m)
        after = values(w)
        changed = {k: v for k, v in after.items() if v != before[k]}
        page.evaluate("([v, p]) => window.push(v, p)", [changed, png(w) if w.matrix_png != png_before else None])
        return msgs

    yield page, w, roundtrip
    assert console_errors == []


def test_click_opens_and_redraws(host):
    page, w, roundtrip = host
    n0 = page.locator("g.node").count()
    page.locator(f"g.node[data-id='{SERIES}'] text").first.click()
    msgs = roundtrip()
    assert msgs == [{"type": "click", "id": SERIES, "toggle": True, "part": "box", "shift": False}]
    assert SERIES in w.state["opened"]
    page.wait_for_selector(f"g.node[data-id='{SERIES}'][data-expanded='1']")
    assert page.locator("g.node").count() > n0
    assert page.locator(f"g.node.bvg-selected[data-id='{SERIES}']").count() == 1
    assert page.locator(".bvg-dtitle").inner_text() == "BertLayer ×12"
    # clicking inside an open frame's body selects it without closing it
    page.locator(f"g.node[data-id='{SERIES}'] > rect").first.click(position={"x": 30, "y": 60})
    msgs = roundtrip()
    assert msgs[0]["toggle"] is False and SERIES in w.state["opened"]
    # its − badge closes it
    page.locator(f"g.node[data-id='{SERIES}'] .bvg-badge").click()
    roundtrip()
    page.wait_for_selector(f"g.node[data-id='{SERIES}'][data-expanded='0']")


def test_layer_picker_search_and_weights(host):
    page, w, roundtrip = host
    page.locator(f"g.node[data-id='{SERIES}'] text").first.click()
    roundtrip()
    page.locator(".bvg-instances button", has_text="6").first.click()
    assert roundtrip()[0] == {"type": "instance", "series": SERIES, "index": 5}
    page.wait_for_selector("g.node[data-id='bert.encoder.layer.5.attention']")

    page.locator("input.bvg-search").fill("query")
    page.wait_for_function("window.sent.length > 0")
    roundtrip()
    page.locator(".bvg-result").first.wait_for()
    page.locator(".bvg-result", has_text="query").first.click()
    roundtrip()
    assert w.selected.endswith("attention.self.query")
    page.wait_for_selector("g.node.bvg-selected")

    page.locator(".bvg-weight").first.click()
    roundtrip()
    assert w.panel == "matrix"
    img = page.locator(".bvg-heatmap")
    img.wait_for(state="visible")
    page.wait_for_function("document.querySelector('.bvg-heatmap').naturalWidth > 0")
    box = img.bounding_box()
    page.mouse.click(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.25)
    msg = roundtrip()[0]
    assert msg["type"] == "value" and 0 <= msg["row"] < 768 and 0 <= msg["col"] < 768
    page.wait_for_selector(".bvg-picked")
    assert str(w.matrix_meta["picked"]["value"])[:6] in page.locator(".bvg-picked").inner_text()
    page.locator(".bvg-headbar").nth(7).click()
    assert roundtrip()[0]["head"] == 7
    page.wait_for_selector(".bvg-headbar.bvg-active")
    page.locator(".bvg-root").screenshot(path="/tmp/bertviz_graph_widget_host.png")


def test_zoom_controls_and_wheel(host):
    page, _w, _roundtrip = host
    label = page.locator(".bvg-zoom")
    z0 = label.inner_text()
    page.locator("button[data-action=zoom-in]").click()
    assert label.inner_text() != z0
    canvas = page.locator(".bvg-canvas")
    box = canvas.bounding_box()
    page.mouse.move(box["x"] + 200, box["y"] + 200)
    before = label.inner_text()
    page.keyboard.down("Control")
    page.mouse.wheel(0, 300)
    page.keyboard.up("Control")
    page.wait_for_function(f"document.querySelector('.bvg-zoom').textContent !== '{before}'")
    transform = "document.querySelector('.bvg-canvas svg').style.transform"  # pan/zoom moves the painted layer
    vb = page.evaluate(transform)
    page.mouse.move(box["x"] + 300, box["y"] + 300)
    page.mouse.down()
    page.mouse.move(box["x"] + 360, box["y"] + 340, steps=4)
    page.mouse.up()
    assert page.evaluate(transform) != vb  # dragged: panned
    assert page.evaluate("window.sent.length") == 0  # a drag is not a click
    page.locator("button[data-action=fit]").click()
