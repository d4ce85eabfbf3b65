"""Every side panel of the app, screenshotted in headless Chromium (bert-base-uncased structure) and checked:
not blank, no title or label outside its box, the drawings the issue asked for above the fold, the Network
tab linked to the selection, the heatmap hover naming the cell and its value, no plotly toast over the tabs.

Screenshots land in $BV_SHOTS (default <tmp>/bertviz_graph_panel_shots) for a human to look at.
"""

from __future__ import annotations

import io
import os
import re
import tempfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytestmark = pytest.mark.browser

Q = "bert.encoder.layer.0.attention.self.query"
QW = Q + ".weight"
SHOTS = Path(os.environ.get("BV_SHOTS") or Path(tempfile.gettempdir()) / "bertviz_graph_panel_shots")
VIEW_H = 900

# JS: for every visible plotly figure under `sel`: its trace count and every text (title, subtitle, axis
# titles, annotations, tick labels) whose box leaves the figure's box; plus tab labels cut by their tab.
CHECK = """(sel) => {
  const root = document.querySelector(sel);
  const out = {plots: [], clipped: []};
  for (const gd of root.querySelectorAll('.js-plotly-plot')) {
    if (!gd.offsetParent || !gd.querySelector('.main-svg')) continue;
    const box = gd.querySelector('.main-svg').getBoundingClientRect();
    const title = gd.querySelector('.gtitle');
    const id = gd.parentElement.closest('[id]').id;
    out.plots.push({id: id, traces: (gd.data || []).length, top: box.top, bottom: box.bottom,
                    titleBottom: title ? title.getBoundingClientRect().bottom : null,
                    title: title ? title.textContent : ''});
    const texts = gd.querySelectorAll('.gtitle, .g-gtitle text, .annotation-text, .g-xtitle text, ' +
                                      '.g-ytitle text, .xtick text, .ytick text');
    for (const t of texts) {
      const r = t.getBoundingClientRect();
      if (!r.width) continue;
      if (r.left < box.left - 1 || r.right > box.right + 1 || r.top < box.top - 1 || r.bottom > box.bottom + 1)
        out.clipped.push(id + ': ' + t.textContent.slice(0, 60));
    }
  }
  for (const t of document.querySelectorAll('#bv-tabs .tab, #bv-weight-tabs .tab'))
    if (t.offsetParent && t.scrollWidth > t.clientWidth + 1) out.clipped.push('tab: ' + t.textContent);
  return out;
}"""

# JS: pairs of overlapping texts among a figure's title, subtitle and annotations (per-head panel titles)
OVERLAPS = """(id) => {
  const gd = document.querySelector('#' + id + ' .js-plotly-plot');
  const els = [...gd.querySelectorAll('.gtitle, .annotation-text')].filter(e => e.getBoundingClientRect().width);
  const bad = [];
  for (let i = 0; i < els.length; i++) for (let j = i + 1; j < els.length; j++) {
    const a = els[i].getBoundingClientRect(), b = els[j].getBoundingClientRect();
    if (a.left < b.right - 1 && b.left < a.right - 1 && a.top < b.bottom - 1 && b.top < a.bottom - 1)
      bad.push(els[i].textContent + ' / ' + els[j].textContent);
  }
  return bad;
}"""


@pytest.fixture
def app(serve_dash, base_graph):
    from bertviz_graph.app import make_app

    a = make_app(base_graph)
    return a, serve_dash(a)


def _select(page, node_id: str) -> None:
    page.evaluate("id => window.dash_clientside.set_props('bv-selected', {data: {id: id, nonce: Date.now()}})",
                  node_id)


def _not_blank(png: bytes) -> tuple[float, int]:
    a = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).reshape(-1, 3)
    inked = float((a.min(axis=1) < 235).mean())  # share of pixels that are not (near) white
    return inked, len(np.unique(a[:: max(1, len(a) // 200_000)], axis=0))


def _shot_and_check(page, name: str, min_plots: int = 1) -> dict:
    SHOTS.mkdir(parents=True, exist_ok=True)
    png = page.locator(".bv-side").screenshot(path=str(SHOTS / f"{name}.png"))
    inked, colours = _not_blank(png)
    res = page.evaluate(CHECK, ".bv-side")
    assert inked > 0.04 and colours > 40, f"{name}: looks blank ({inked:.3f} inked, {colours} colours)"
    assert len(res["plots"]) >= min_plots and all(p["traces"] > 0 for p in res["plots"]), (name, res["plots"])
    assert res["clipped"] == [], f"{name}: text outside its box: {res['clipped']}"
    return res


def _wait_plot(page, sel: str, timeout: int = 60_000) -> None:
    page.wait_for_function(f"(() => {{ const g = document.querySelector('{sel} .js-plotly-plot'); "
                           "return g && g.data && g.data.length > 0 && g.querySelector('.main-svg'); })()",
                           timeout=timeout)


def test_every_panel_is_drawn_readable(page, console_errors, app):
    dash_app, url = app
    page.set_viewport_size({"width": 1440, "height": VIEW_H})
    page.goto(url)
    page.wait_for_selector("#bv-tab-network", timeout=60_000)
    # the textbook picture is one click from the first screen, its tab in sight
    tab = page.locator("#bv-tab-network").bounding_box()
    assert tab is not None and tab["y"] + tab["height"] < VIEW_H

    _select(page, Q)
    page.wait_for_function("document.querySelector('.bv-d-title') && "
                           "document.querySelector('.bv-d-title').innerText === 'query'", timeout=30_000)
    _shot_and_check(page, "details", min_plots=0)

    # Network: the selected Linear's band is outlined; labelled LayerNorm and GELU bands
    page.click("#bv-tab-network")
    page.wait_for_function("(() => { const g = document.querySelector('#bv-net-graph .js-plotly-plot');"
                           " return g && g.data && g.data.some(t => t.name === 'selected'); })()", timeout=30_000)
    _shot_and_check(page, "network")
    sel = page.evaluate("document.querySelector('#bv-net-graph .js-plotly-plot').data"
                        ".find(t => t.name === 'selected').customdata")
    assert set(sel) == {Q}
    notes = page.evaluate("[...document.querySelectorAll('#bv-net-graph .annotation-text')].map(e => e.textContent)")
    assert "LayerNorm" in notes and "GELU" in notes

    # Weights: matrix, per head (above the fold, separated titles), distribution
    page.click("#bv-tab-weights")
    _wait_plot(page, "#bv-heatmap")
    _shot_and_check(page, "weights_matrix")
    _check_hover(page, dash_app)
    page.click("#bv-wtab-heads")
    _wait_plot(page, "#bv-per-head")
    res = _shot_and_check(page, "weights_per_head")
    ph = next(p for p in res["plots"] if p["id"] == "bv-per-head")
    assert ph["titleBottom"] < VIEW_H, "per-head title below the fold"
    assert page.evaluate(OVERLAPS, "bv-per-head") == []
    # 64×768 slices are drawn wider than tall
    w, h = page.evaluate("(() => { const r = document.querySelector('#bv-per-head .heatmaplayer image, "
                         "#bv-per-head .hm image').getBoundingClientRect(); return [r.width, r.height]; })()")
    assert w > 1.5 * h
    page.click("#bv-wtab-hist")
    _wait_plot(page, "#bv-histogram")
    _shot_and_check(page, "weights_distribution")

    # Neurons: the drawing above the fold, title not clipped
    page.click("#bv-tab-neurons")
    _wait_plot(page, "#bv-n-fc")
    res = _shot_and_check(page, "neurons")
    fc = next(p for p in res["plots"] if p["id"] == "bv-n-fc")
    assert fc["top"] < VIEW_H / 2 and fc["titleBottom"] < VIEW_H

    # Parameters & FLOPs: sunburst and treemap, each with its own footer
    page.click("#bv-tab-charts")
    _wait_plot(page, "#bv-chart")
    page.wait_for_selector("#bv-chart .sunburstlayer path.surface", timeout=30_000)
    _shot_and_check(page, "charts_sunburst")
    assert "click the centre" in page.inner_text("#bv-chart-footer")
    page.click("#bv-chart-kind input[value=treemap]")
    page.wait_for_selector("#bv-chart .treemaplayer path.surface", timeout=30_000)
    _shot_and_check(page, "charts_treemap")
    footer = page.inner_text("#bv-chart-footer")
    assert "centre" not in footer and "path bar" in footer
    assert console_errors == []


def _check_hover(page, dash_app) -> None:
    """The heatmap's tooltip names the cell's rows and columns and its value (block max |w|, signed) right
    away, checked against the tensor itself; zooming shows no plotly toast over the tab headers."""
    box = page.locator("#bv-heatmap .nsewdrag").first.bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.37, box["y"] + box["height"] * 0.61)
    page.wait_for_selector("#bv-heatmap .hovertext", timeout=5_000)
    text = page.evaluate("document.querySelector('#bv-heatmap .hovertext').textContent")
    m = re.search(r"rows (\d+)–(\d+), cols (\d+)–(\d+).*?: (-?[\d.e+-]+)", text.replace("\n", " "))
    assert m, text
    r0, r1, c0, c1 = (int(x) for x in m.groups()[:4])
    store = dash_app.bv_context.weights
    block = np.asarray(store.get_slice(QW, slice(r0, r1 + 1)))[:, c0:c1 + 1]
    expect = float(block.flat[int(np.argmax(np.abs(block)))])
    assert float(m.group(5)) == pytest.approx(expect, rel=1e-3, abs=1e-6)
    page.mouse.move(box["x"] + 20, box["y"] + 20)
    page.mouse.down()
    page.mouse.move(box["x"] + 120, box["y"] + 120, steps=5)
    page.mouse.up()
    page.wait_for_timeout(600)
    assert page.locator(".notifier-note").count() == 0
