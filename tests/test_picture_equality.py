"""The app, the widget and `export` draw the same picture: same node ids, boxes, fills and labels.

Each picture is read back from the DOM of a real Chromium page by one piece of JavaScript (the drawn shapes'
getBBox, their fill, the texts), so this checks what is on screen, not what the Python side meant to draw:
the app (Dash, served, opened by real clicks), the widget (its bundle in a bare anywidget host) and the SVG
file `export` writes (render/export.write_view), loaded as a page of its own.
"""

from __future__ import annotations

import json

import pytest

import bertviz_graph as bg
from bertviz_graph.app import make_app
from bertviz_graph.layout import layout_of
from bertviz_graph.render.export import write_view
from bertviz_graph.view import View
from bertviz_graph.widget import GraphWidget
from bertviz_graph.widget.bundle import CSS, ESM

pytestmark = pytest.mark.browser

SERIES = "bert.encoder.layer[0-1]"
ATTN = "bert.encoder.layer.0.attention"
SELF = "bert.encoder.layer.0.attention.self"

READ = """(root) => { const out = {};
  for (const g of document.querySelectorAll(root + ' g.node')) {
    const shapes = [...g.querySelectorAll(':scope > rect, :scope > path')];
    let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
    for (const s of shapes) { const b = s.getBBox();
      x0 = Math.min(x0, b.x); y0 = Math.min(y0, b.y); x1 = Math.max(x1, b.x + b.width); y1 = Math.max(y1, b.y + b.height); }
    out[g.getAttribute('data-id')] = {box: [x0, y0, x1 - x0, y1 - y0].map((v) => Math.round(v * 10) / 10),
      fill: shapes.length ? getComputedStyle(shapes[shapes.length - 1]).fill : null,
      labels: [...g.querySelectorAll(':scope > text')].map((t) => t.textContent)};
  } return out; }"""

HOST = """<!doctype html><html><head><meta charset="utf-8"><link rel="stylesheet" href="widget.css"></head>
<body style="margin: 0; width: 1400px"><div id="out"></div><script type="module">
import widget from "./widget.js";
const state = {}, listeners = {};
window.model = { get: (k) => state[k], set: (k, v) => { state[k] = v; (listeners["change:" + k] || []).forEach((f) => f()); },
  on: (ev, f) => { (listeners[ev] = listeners[ev] || []).push(f); }, off: () => {}, send: () => {}, save_changes: () => {} };
window.init = (values) => { Object.assign(state, values); state.matrix_png = new DataView(new ArrayBuffer(0));
  widget.render({ model: window.model, el: document.getElementById("out") }); };
window.loaded = true;
</script></body></html>"""


def _view(graph) -> View:
    v = View.default(graph.hierarchy)
    return v.open_instance(SERIES, 0).open(ATTN, SELF)


def test_app_widget_and_export_draw_the_same_picture(page, console_errors, serve_dash, serve_dir, tmp_path):
    graph = bg.trace("bert-tiny")
    view = _view(graph)

    # export: the SVG file `bertviz-graph export` writes
    svg_file = tmp_path / "export.svg"
    write_view(layout_of(view), svg_file)
    page.set_viewport_size({"width": 1400, "height": 900})
    page.set_content("<html><body style='margin:0'>" + svg_file.read_text().split("?>", 1)[1] + "</body></html>")
    exported = page.evaluate(READ, "body")

    # widget: its bundle in a bare host, given the widget's traitlets
    w = GraphWidget(graph, view=view)
    (tmp_path / "index.html").write_text(HOST, encoding="utf-8")
    (tmp_path / "widget.js").write_bytes(ESM.read_bytes())
    (tmp_path / "widget.css").write_bytes(CSS.read_bytes())
    page.goto(serve_dir(tmp_path) + "/index.html")
    page.wait_for_function("window.loaded === true")
    values = json.loads(json.dumps({k: getattr(w, k) for k in ("svg", "state", "selected", "details", "search",
                                                                  "matches", "matrix_meta", "error", "height",
                                                                  "panel", "_marks", "_focus", "_match_info")}))
    page.evaluate("(v) => window.init(v)", values)
    page.wait_for_selector(".bvg-canvas svg g.node")
    widget = page.evaluate(READ, ".bvg-canvas")

    # app: served, the same groups opened by clicks on the drawn boxes
    page.goto(serve_dash(make_app(graph)) + "/")
    page.wait_for_function("window.bvgGraph && window.bvgGraph.firstDraw !== null", timeout=20000)
    for gid in (SERIES, ATTN, SELF):
        n = page.evaluate("window.bvgGraph.draws")
        page.evaluate("""([i]) => { const c = window.bvgGraph.canvas; c.pz.center(c.box(i)); }""", [gid])
        page.locator(f"#bv-graph g.node[data-id='{gid}'] > text").first.click()
        page.wait_for_function("([n]) => window.bvgGraph.draws > n", arg=[n], timeout=15000)
    page.wait_for_selector(f"#bv-graph g.node[data-id='{SELF}'][data-expanded='1']")
    app = page.evaluate(READ, "#bv-graph")

    want = {n.id for n in view.data().nodes}
    assert set(exported) == want
    assert set(widget) == want and set(app) == want
    for nid in sorted(want):
        assert widget[nid] == exported[nid], nid
        assert app[nid] == exported[nid], nid
    assert exported[SELF]["labels"] and exported["softmax"]["labels"]
    assert console_errors == []
