"""The offline HTML explorer's file (bertviz_graph.html): the stored pictures are the
ones the notebook widget draws for the same clicks, the details and weight statistics are the model's,
the CLI writes it and refuses bad options with error/fix lines; and, in Chromium, the page composing any
combination of open groups itself exactly as Python draws it."""

from __future__ import annotations

import base64
import html
import json
import random
import re
import zlib
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import load_file

import bertviz_graph as bg
from bertviz_graph.html.compose_data import Recorder, compose_payload, layout_record, layout_recorded
from bertviz_graph.html.states import random_states
from bertviz_graph.layout import layout_of
from bertviz_graph.layout.dot_io import dot_source, local_layout
from bertviz_graph.layout.dot_runner import DotRunner
from bertviz_graph.layout.wrap import wrap_stack
from bertviz_graph.render.svg import to_svg
from bertviz_graph.view import View
from tests.tiny_models import tiny_model


def decode(path: Path) -> dict:
    """The page's payload, read back the way the browser does (base64 -> zlib deflate -> JSON)."""
    text = path.read_text(encoding="utf-8")
    out = {}
    for part in ("bvg-head", "bvg-data"):  # the first picture's block, then the rest
        blob = re.search(f'<script type="application/octet-stream" id="{part}">([^<]*)</script>', text).group(1)
        out.update(json.loads(zlib.decompress(base64.b64decode(blob))))
    first = out["states"][out["start"]]["svg"]
    assert out.pop("first") == {"svg": out["svgs"][first], "tips": out["tips"][first]}
    return out


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    folder = tiny_model(tmp_path_factory.mktemp("tiny") / "m")
    graph = bg.trace(str(folder))
    out = tmp_path_factory.mktemp("html") / "tiny.html"
    graph.save_html(out)
    return folder, graph, out, decode(out)


def test_pictures_are_what_the_widget_draws_for_the_same_clicks(tiny):
    from bertviz_graph.widget import GraphWidget

    _, graph, _, d = tiny
    h = graph.hierarchy
    assert d["svgs"][d["states"][""]["svg"]] == GraphWidget(graph).svg
    # every group at every depth: the widget opening it (and what is above it) draws the stored picture
    groups = [g for g in d["states"] if g]
    assert len(groups) >= 10 and any(h.groups[g].kind == "series" for g in groups)
    assert max(len(h.ancestors(g)) for g in groups) >= 4
    singles = [g for g in groups if g in h.groups]
    for gid in singles:
        w = GraphWidget(graph).open(gid)
        assert d["svgs"][d["states"][gid]["svg"]] == w.svg, gid
        assert set(d["states"][gid]["opened"]) == set(w.state["opened"])
    # a box open beside another (a sibling of the group or of its frame): the widget opening both
    beside = [g for g in groups if g not in h.groups]
    assert len(beside) >= 20
    for key in beside[::3]:  # a third of them (the widget lays each out: ~0.1 s)
        gid, sib = key.split("+")
        assert h.parent(sib) in (h.parent(gid), h.parent(h.parent(gid))), key
        w = GraphWidget(graph).open(gid).open(sib)
        assert d["svgs"][d["states"][key]["svg"]] == w.svg, key
        assert set(d["states"][key]["opened"]) == set(w.state["opened"]) >= {gid, sib}


def test_colour_by_is_the_apps_colouring_of_each_stored_picture(tiny):
    """Each mode's stored colours, put back into a stored picture as the page does, give render/svg.py's
    picture with the fills the app computes (AppContext.render: its values and scale, color_for)."""
    from bertviz_graph.app.context import NO_VALUE, AppContext, color_for
    from bertviz_graph.html.colours import COLOUR
    from bertviz_graph.render.svg import to_svg
    from bertviz_graph.view import ViewState

    _, graph, _, d = tiny
    c = d["colours"]
    assert [m for m, _ in c["modes"]] == ["flops", "params", "norm", "sparsity"]  # the app's, without a sentence
    ctx = AppContext(graph)
    for key, st in list(d["states"].items())[::6]:  # a sixth of the views (~20): each mode's picture is checked
        r_state = ViewState.from_json_dict({"opened": st["opened"], "instance": st["instance"]})
        for mode, _ in c["modes"]:
            parts = COLOUR.split(d["svgs"][st["svg"]])
            diff = c["diffs"][mode][st["svg"]]
            for i in range(0, len(diff), 2):
                parts[2 * diff[i] + 1] = c["palette"][diff[i + 1]]
            r = ctx.render(r_state, mode)
            lo, hi = r.vrange or (0, 0)
            fills = {n.id: color_for(r.values.get(n.id), lo, hi) if r.values else NO_VALUE for n in r.lv.view.nodes}
            assert "".join(parts) == to_svg(r.lv, fills=fills), (key, mode)
            assert c["ranges"][mode][st["svg"]] == ([lo, hi] if r.vrange else None)
    # hover: a box's value, as the app's legend formats it
    assert c["tips"]["params"]["bert.embeddings"].startswith("Parameters: ")
    assert max(len(v) for v in c["diffs"]["flops"]) > 0


def test_details_are_the_widgets_and_search_fields_give_view_find(tiny):
    from bertviz_graph.view import find
    from bertviz_graph.widget import GraphWidget

    _, graph, _, d = tiny
    w = GraphWidget(graph)
    for x in ("bert.encoder.layer.1.attention.self.query", "bert.encoder.layer.0.intermediate", "bert.embeddings"):
        w.reveal(x).select(x)
        got = d["details"][x]
        for k in ("title", "subtitle", "rows", "weights", "explanation", "breadcrumb"):
            assert got.get(k) == w.details.get(k), (x, k)
    # the page matches a query against the stored fields as view.find does (regex, case-insensitive)
    for q in ("softmax", "query|key", "LayerNorm", "layer\\.1\\..*dense"):
        rx = re.compile(q, re.I)
        page = [x for x, fields, _ in d["search"] if any(rx.search(f) for f in fields)]
        assert page == find(graph.hierarchy, q), q


def test_weight_previews_describe_the_checkpoint(tiny):
    folder, _, _, d = tiny
    tensors = load_file(str(folder / "model.safetensors"))
    name = "bert.encoder.layer.0.attention.self.query.weight"
    meta = d["matrices"][name]["meta"]
    ref = next(v for k, v in tensors.items() if k.endswith(name)).astype(np.float64)
    assert meta["full"] == list(ref.shape)
    assert meta["stats"]["mean"] == pytest.approx(ref.mean(), abs=1e-6)
    assert meta["stats"]["std"] == pytest.approx(ref.std(), rel=1e-5)
    assert meta["stats"]["max"] == pytest.approx(ref.max(), rel=1e-6)
    png = base64.b64decode(d["matrices"][name]["png"])
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    rows, cols = meta["shown"] if "shown" in meta else (None, None)
    w, hgt = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
    assert w <= 64 and hgt <= 64, (w, hgt, rows, cols)  # a preview: at most 64×64 cells


def test_cli_writes_the_file_and_refuses_bad_options(tiny, tmp_path, capsys, monkeypatch):
    # in process (bertviz_graph.cli.main: what `python -m bertviz_graph` exits with); test_cli.py covers the
    # process boundary, this spares two interpreter starts with torch
    from bertviz_graph.cli import main

    folder = str(tiny[0])
    out = tmp_path / "x.html"
    monkeypatch.setattr("bertviz_graph.html.payload.BESIDE_BUDGET", 0)  # the CLI's options, not the views
    assert main(["export", folder, "-o", str(out), "--weights", "none"]) == 0
    assert "opens offline" in capsys.readouterr().err
    d = decode(out)
    assert d["matrices"] == {} and d["weights"] == "none"
    # the same pictures as the API's file (its views with a box beside come after these)
    assert d["svgs"] == tiny[3]["svgs"][: len(d["svgs"])] and len(d["svgs"]) >= 10

    bad = tmp_path / "x.svg"
    assert main(["export", folder, "-o", str(bad), "--text", "hi"]) == 2 and not bad.exists()
    err = capsys.readouterr().err
    lines = [ln.strip() for ln in err.strip().splitlines()]
    assert lines[0].startswith("error:") and lines[1].startswith("fix:") and "Traceback" not in err


def test_widget_save_html_button_sends_the_page_of_the_view_on_screen(tiny, tmp_path, monkeypatch):
    from bertviz_graph.widget import GraphWidget

    monkeypatch.setattr("bertviz_graph.html.payload.BESIDE_BUDGET", 0)  # the button, not the views (tested above)

    _, graph, _, _ = tiny
    w = GraphWidget(graph).open("bert.encoder.layer.0.attention")
    sent = []
    w.send = sent.append  # what the kernel sends the browser (the button's answer)
    w.handle_message({"type": "save_html"})
    assert w.error == "" and [m["type"] for m in sent] == ["html"]
    out = tmp_path / "w.html"
    out.write_text(sent[0]["text"], encoding="utf-8")
    d = decode(out)
    assert d["svgs"][d["states"][""]["svg"]] == w.svg  # it opens on the picture the widget shows


def test_explorer_bundle_is_current_and_names_no_network():
    from bertviz_graph.html.page import STATIC
    from bertviz_graph.widget.bundle import bundle_hash, source_hash

    js, css = Path(str(STATIC / "explorer.js")), Path(str(STATIC / "explorer.css"))
    for built in (js, css):
        assert bundle_hash(built) == source_hash(), f"{built.name} is stale (cd js && npm run build)"
    text = js.read_text(encoding="utf-8")
    hits = [ln for ln in text.splitlines() if re.search(r"https?://|cdn\.|unpkg|jsdelivr", ln) and "w3.org" not in ln]
    assert not hits, hits[:2]


COMPOSE_ALL = """async (cases) => cases.map(([opened, instance]) => {
    const r = window.bvgCompose(opened, instance);
    return r && [r.svg, r.inPage];
})"""


def _tuple(x):
    """A key read back from the file's JSON as the tuple pieces.Builder.key made."""
    return tuple(_tuple(v) for v in x) if isinstance(x, list) else x


def _case(v) -> list:
    return [sorted(v.state.opened), dict(v.state.instance)]


@pytest.mark.browser
def test_page_composes_what_python_draws(tiny, base_graph, page, console_errors):
    """Any combination of open groups, composed by the page itself (js/src/*_offline.js: a port of view.py,
    layout/pieces.py + compose.py and render/svg.py over the file's table of container layouts; Graphviz in
    WebAssembly for containers the table lacks). The port's guard: the browser's SVG is byte for byte Python's
    to_svg(layout_of(view)) for every stored view, for a bert-base sample and for random combinations whose
    containers are all in the table; the others are drawn with the boxes asked for open."""
    # that module imports this one: imported when the test runs
    from tests.test_html_export_browser import NO_OVERLAP, node, open_page

    _, graph, path, d = tiny
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
    sample = random_states(h, View.default(h), 8, seed=7, boxes=(3, 4))
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
    # colour-by on combinations the file does not store (js/src/colour_offline.js): the app's fills (the
    # function the stored pictures' colours come from) drawn byte for byte, and the app's own range
    from bertviz_graph.app.context import AppContext, color_for
    from bertviz_graph.html.colours import view_fills

    ctx = AppContext(graph)
    stored = {frozenset(s["opened"]) for s in d["states"].values()}
    more = random_states(h, View.default(h), 12, seed=11, boxes=(2, 3))
    done = page.evaluate(COMPOSE_ALL, [_case(v) for v in more])
    fresh = [v for v, g in zip(sample + more, got + done, strict=True)
             if g and g[1] == 0 and frozenset(v.state.opened) not in stored]
    assert len(fresh) >= 2
    # the port of color_for (plotly's interpolation, rounding half to even) on every kind of value: the
    # stops, just either side of them, tiny, and random fractions of a range
    rng = random.Random(5)
    vs = [k / 20 for k in range(1, 21)] + [k / 4 + e for k in range(1, 4) for e in (-1e-12, 1e-12)]
    vs += [1e-9, 0.5 / 255, 3.7, 0.0, -1.0] + [rng.random() * 2.3 for _ in range(300)]
    assert page.evaluate("([vs, hi]) => window.bvgColorFor(vs, hi)", [vs, 2.3]) == [
        color_for(v, 0.0, 2.3) for v in vs]
    for v in fresh[:3]:
        lv = layout_of(v)
        for mode in ("flops", "params"):
            c = page.evaluate("([o, i, m]) => window.bvgComposeColoured(o, i, m)", [*_case(v), mode])
            fills, r = view_fills(ctx, lv, mode)
            assert c["svg"] == to_svg(lv, fills=fills) != to_svg(lv), (mode, sorted(v.state.opened))
            app = ctx.render(v.state, mode)
            assert r is not None and [c["legend"]["lo"], c["legend"]["hi"]] == r == list(app.vrange)
            assert not c["roleOnly"] and set(app.values) <= set(c["tips"])
    # the WASM route's port of dot_io: the same DOT text from a key, the same layout from dot's answer
    keys = [json.loads(k) for k in d["compose"]["table"]]
    keys = [k for k in keys if len(k[2]) > 1 or k[5]][::20]
    # and bert-base's unfolded stack with its middle or last layer opened (a frame among boxes, wrapped all the same)
    grown = Recorder()
    unfolded = View(base_graph.hierarchy).unfold(all_series=True).open_depth(2)
    for layer in ("bert.encoder.layer.6", "bert.encoder.layer.11"):
        layout_recorded(unfolded.open(layer), grown)
    keys += [json.loads(json.dumps(k)) for k in grown.seen if len(k[2]) == 12]
    runner = DotRunner()
    try:
        results = runner.layout([dot_source(_tuple(k)) for k in keys])
    finally:
        runner.close()
    mh = d["compose"]["module_heights"]
    wrapped = 0
    for k, res in zip(keys, results, strict=True):
        src, lay, final = page.evaluate("([k, r, mh]) => window.bvgDotPort(k, r, mh)", [k, res, mh])
        assert src == dot_source(_tuple(k))
        local = local_layout(_tuple(k), res)
        assert lay == json.loads(json.dumps(layout_record(local)))
        # then wrap.wrap_stack's port (js/src/wrap_offline.js), as compose._layout does: the same record
        stacked = wrap_stack(_tuple(k), local)
        assert final == json.loads(json.dumps(layout_record(stacked))), k
        wrapped += stacked.child_xy != local.child_xy
    assert wrapped >= 1  # the sample holds stacks the port rearranged
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
             *random_states(h, base, 1, seed=3, boxes=(3, 3))]
    rec = Recorder()
    for v in views:
        layout_recorded(v, rec)
    data = compose_payload(h, views, rec, base)
    for v in views:
        g = page.evaluate("async ([data, c]) => window.bvgComposeWith(data, c[0], c[1])", [data, _case(v)])
        assert g["inPage"] == 0 and g["svg"] == to_svg(layout_of(v)), sorted(v.state.opened)
    assert requests == [] and console_errors == []
