"""Browser tests of the app's Neurons, Network and "Parameters & FLOPs" tabs (system chromium, Playwright)."""

from __future__ import annotations

import pytest

import bertviz_graph as bg

L0 = "bert.encoder.layer.0"


@pytest.fixture(scope="module")
def tiny():
    return bg.trace("bert-tiny")


@pytest.fixture
def app_url(serve_dash, tiny):
    from bertviz_graph.app import charts_panel, make_app, network_panel, neurons_panel
    from bertviz_graph.app.layout import PANELS

    panels = [*PANELS] + [p for p in (neurons_panel, network_panel, charts_panel) if p not in PANELS]
    return serve_dash(make_app(tiny, panels=panels))


@pytest.fixture(scope="module")
def ctx(tiny):
    from bertviz_graph.app.context import AppContext

    return AppContext(tiny)


def test_panel_helpers(ctx):
    from bertviz_graph.app import charts_panel, network_panel, neurons_panel

    opts, value, msg = neurons_panel.linear_options(ctx, f"{L0}.attention.self")
    assert [o["value"] for o in opts] == [f"{L0}.attention.self.{k}" for k in ("query", "key", "value")]
    assert value == f"{L0}.attention.self.query" and "3 fully-connected layers" in msg
    opts, value, msg = neurons_panel.linear_options(ctx, f"{L0}.output.LayerNorm")
    assert opts == [] and value is None and "Linear" in msg
    heads, disabled = neurons_panel.head_options(ctx, f"{L0}.attention.self.key")
    assert not disabled and [h["value"] for h in heads] == ["all", "0", "1"]
    assert neurons_panel.head_options(ctx, f"{L0}.intermediate.dense")[1] is True
    table = neurons_panel.mapping_table(ctx, "softmax")
    assert "computed from the input" in str(table)
    # clicks: a Linear band selects in place, a block or series opens, the model root does nothing
    assert network_panel.request_for(ctx, f"{L0}.intermediate.dense")["action"] == "select"
    assert network_panel.request_for(ctx, "bert.encoder.layer[0-1]")["action"] == "open"
    assert network_panel.request_for(ctx, "") is None and network_panel.request_for(ctx, "nope") is None
    fig = charts_panel.figure(ctx, "flops", "treemap")
    assert fig is charts_panel.figure(ctx, "flops", "treemap")  # cached
    assert all(g in ctx.h.groups for g in fig.data[0].customdata)
    assert all(g in ctx.h.groups for g in network_panel.figure(ctx).data[-1].customdata)


def _open(page, url):
    page.goto(url)
    page.wait_for_selector("#bv-graph svg", timeout=30_000)


def _select_by_search(page, query: str) -> None:
    page.fill("#bv-search-input", query)
    page.press("#bv-search-input", "Enter")
    page.wait_for_function("document.querySelector('#bv-search-info').textContent.includes('of')",
                           timeout=20_000)


@pytest.mark.browser
def test_neuron_view_and_incoming_weights(page, console_errors, app_url):
    _open(page, app_url)
    _select_by_search(page, r"intermediate\.dense")
    page.click("#bv-tab-neurons")
    page.wait_for_selector("#bv-n-fc .scatterlayer .trace", timeout=30_000)
    mapping = page.inner_text("#bv-n-mapping")
    assert "fully-connected layer: 128 input neurons → 512 output neurons, 65,536 weighted edges" in mapping
    assert "shared by all 16 token positions" in mapping
    page.wait_for_function("document.querySelector('#bv-n-fc').innerText.includes('of 65,536 edges')",
                           timeout=20_000)
    # click an output neuron (right column): all its incoming weights appear
    page.locator("#bv-n-fc .scatterlayer .trace").last.locator(".points path").nth(2).click(force=True)
    page.wait_for_selector("#bv-n-detail-box:visible", timeout=20_000)
    page.wait_for_function("document.querySelector('#bv-n-detail').innerText.includes('incoming weights of "
                           "output neuron')", timeout=20_000)
    assert page.locator("#bv-n-detail .barlayer .point").count() == 128  # every input neuron's weight
    assert console_errors == []


@pytest.mark.browser
def test_head_picker(page, console_errors, app_url):
    _open(page, app_url)
    _select_by_search(page, r"self\.query")
    page.click("#bv-tab-neurons")
    page.wait_for_function("document.querySelector('#bv-n-fc').innerText.includes('of 16,384 edges')",
                           timeout=30_000)
    page.click("#bv-n-head")
    page.get_by_text("head 1", exact=True).click()
    page.wait_for_function("document.querySelector('#bv-n-fc').innerText.includes('head 1: output neurons "
                           "64–127')", timeout=20_000)
    assert "of 8,192 edges" in page.inner_text("#bv-n-fc")
    assert console_errors == []


@pytest.mark.browser
def test_sunburst_opens_a_group(page, console_errors, app_url):
    _open(page, app_url)
    page.click("#bv-tab-charts")
    page.wait_for_selector("#bv-chart .sunburstlayer path.surface", timeout=30_000)
    assert page.locator("#bv-chart .sunburstlayer path.surface").count() >= 8
    assert "feed-forward 66.6%" in page.inner_text("#bv-chart")
    page.click("#bv-chart-metric input[value=flops]")
    page.wait_for_function("document.querySelector('#bv-chart').innerText.includes('FLOPs by group')",
                           timeout=20_000)
    page.click("#bv-chart-kind input[value=treemap]")
    page.wait_for_selector("#bv-chart .treemaplayer path.surface", timeout=20_000)
    # click the layer series: the graph opens it (breadcrumb follows the selection)
    page.locator("#bv-chart .treemaplayer g.slice", has_text="BertLayer ×2").first.click(force=True)
    page.wait_for_function("document.querySelector('.bv-breadcrumb') && "
                           "document.querySelector('.bv-breadcrumb').innerText.includes('BertLayer ×2')",
                           timeout=20_000)
    assert console_errors == []


@pytest.mark.browser
def test_network_band_selects_in_graph(page, console_errors, app_url):
    _open(page, app_url)
    page.click("#bv-tab-network")
    page.wait_for_selector("#bv-net-graph .barlayer .point", timeout=30_000)
    assert "textbook network" in page.inner_text("#bv-net-graph")
    # the widest band is the feed-forward expand (512 neurons): click it
    bars = page.locator("#bv-net-graph .barlayer .point path")
    widths = bars.evaluate_all("els => els.map(e => e.getBBox().width)")
    widest = max(range(len(widths)), key=lambda i: widths[i] if widths[i] < 0.9 * max(widths) else 0)
    bars.nth(widest).click(force=True)
    page.wait_for_function("document.querySelector('.bv-breadcrumb').innerText.includes('Feed-forward')",
                           timeout=20_000)
    assert console_errors == []
