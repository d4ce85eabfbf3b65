"""Any combination of open groups in the offline file, composed by the page itself (js/src/*_offline.js, a
port of view.py, layout/pieces.py + compose.py and render/svg.py over the file's table of container layouts;
Graphviz in WebAssembly for containers the table lacks). Guard of the port: the browser's SVG is
byte-for-byte Python's ``to_svg(layout_of(view))`` for every stored view of a tiny model, for a sample of
bert-base views, and for random combinations whose containers are all in the table."""

from __future__ import annotations

import html
import re

import pytest

import bertviz_graph as bg
from bertviz_graph.html.compose_data import Recorder, compose_payload, layout_recorded
from bertviz_graph.html.states import random_states
from bertviz_graph.layout import layout_of
from bertviz_graph.render.svg import to_svg
from bertviz_graph.view import View
from tests.test_html_export import decode
from tests.test_html_export_browser import NO_OVERLAP, node, open_page
from tests.tiny_models import tiny_model

pytestmark = pytest.mark.browser

COMPOSE_ALL = """async (cases) => cases.map(([opened, instance]) => {
    const r = window.bvgCompose(opened, instance);
    return r && [r.svg, r.inPage];
})"""


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    graph = bg.trace(str(tiny_model(tmp_path_factory.mktemp("tiny") / "m")))
    out = tmp_path_factory.mktemp("html") / "tiny.html"
    graph.save_html(out)
    return graph, out, decode(out)


def _case(v) -> list:
    return [sorted(v.state.opened), dict(v.state.instance)]


def test_page_composes_what_python_draws(tiny, base_graph, page, console_errors):
    graph, path, d = tiny
    requests: list[str] = []
    open_page(page, path, requests)
    # every stored view: composed from the table alone, the very bytes Python stored
    keys = list(d["states"])
    got = page.evaluate(COMPOSE_ALL, [[d["states"][k]["opened"], d["states"][k]["instance"]] for k in keys])
    for k, g in zip(keys, got, strict=True):
        assert g is not None and g[1] == 0, k
        assert g[0] == d["svgs"][d["states"][k]["svg"]], k
    # 3-4 groups open in different places: every one is drawn; those the table covers are Python's bytes
    h = graph.hierarchy
    sample = random_states(h, View.default(h), 24, seed=7, boxes=(3, 4))
    got = page.evaluate(COMPOSE_ALL, [_case(v) for v in sample])
    exact = 0
    for v, g in zip(sample, got, strict=True):
        assert g is not None, sorted(v.state.opened)
        if g[1] == 0:
            assert g[0] == to_svg(layout_of(v)), sorted(v.state.opened)
            exact += 1
        else:  # laid out by the WASM dot: the same boxes drawn, the groups asked for open
            drawn = {html.unescape(x) for x in re.findall(r'<g class="node" data-id="([^"]*)"', g[0])}
            assert drawn == {n.id for n in v.data().nodes}
            for x in v.state.opened:
                if f'data-id="{x}"' in g[0]:
                    assert re.search(f'data-id="{re.escape(x)}"[^>]*data-expanded="1"', g[0]), x
    assert exact >= 1
    # clicked open one after another, three groups in different places at different depths: all three open
    wanted = ["bert.embeddings", "bert.encoder.layer.0.attention", "cls.predictions.transform"]
    for x in ["bert.embeddings", "bert.encoder.layer[0-1]", "bert.encoder.layer.0.attention", "cls",
              "cls.predictions", "cls.predictions.transform"]:
        node(page, x).first.click()
        page.wait_for_selector(f'g.node[data-id="{x}"][data-expanded="1"]')
    for x in wanted:
        assert node(page, x).first.get_attribute("data-expanded") == "1", x
        assert page.locator(f'g.node[data-parent="{x}"]').count() >= 2, x
    assert page.evaluate(NO_OVERLAP) == []
    assert "closed" not in page.inner_text(".bvg-note")
    # bert-base's structure: the overview, deep groups and 3 boxes open at once, from their own table
    h = base_graph.hierarchy
    base = View.default(h)
    views = [base, base.reveal("bert.encoder.layer.7.attention.self.query").open("bert.encoder.layer.7.attention.self"),
             *random_states(h, base, 3, seed=3, boxes=(3, 3))]
    rec = Recorder()
    for v in views:
        layout_recorded(v, rec)
    data = compose_payload(h, views, rec, base)
    for v in views:
        g = page.evaluate("async ([data, c]) => window.bvgComposeWith(data, c[0], c[1])", [data, _case(v)])
        assert g["inPage"] == 0 and g["svg"] == to_svg(layout_of(v)), sorted(v.state.opened)
    assert requests == [] and console_errors == []
