"""The notebook widget, Python side: traitlets follow open/close/select/search, the SVG has the right
nodes, weight images decode, browser messages are handled, bad input gives one short message, and the
committed JavaScript bundle matches its sources."""

from __future__ import annotations

import io
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import torch
import traitlets
from PIL import Image
from torch import nn

import bertviz_graph as bg
from bertviz_graph.errors import UserError
from bertviz_graph.widget import GraphWidget, ShowError
from bertviz_graph.widget.bundle import CSS, ESM, JS_DIR, bundle_hash, source_hash

SERIES = "bert.encoder.layer[0-11]"
QUERY = "bert.encoder.layer.0.attention.self.query"
QUERY_W = QUERY + ".weight"


@pytest.fixture(scope="module")
def bert():
    return bg.trace("bert-base-uncased")


@pytest.fixture
def w(bert):
    return GraphWidget(bert)


def svg_nodes(svg: str) -> dict[str, dict[str, str]]:
    """data-id -> attributes of every <g class="node"> in an SVG document."""
    root = ET.fromstring(svg.split("?>", 1)[-1])
    return {g.get("data-id"): dict(g.attrib) for g in root.iter("{http://www.w3.org/2000/svg}g")
            if g.get("class") == "node"}


# --- the bundle ------------------------------------------------------------------------------------------


def test_bundle_is_built_from_current_sources():
    """js/src, package.json, package-lock.json or build.mjs changed without `npm run build` in js/."""
    if not (JS_DIR / "src").is_dir():
        pytest.skip("not a source checkout (no js/ folder)")
    want = source_hash()
    for built in (ESM, CSS):
        assert bundle_hash(built) == want, (
            f"{built.name} is stale against js/ (run: cd js && npm ci && npm run build, then commit it)")


def test_bundle_rebuild_is_identical():
    """With Node and js/node_modules present, a fresh esbuild build equals the committed files byte for byte."""
    node = shutil.which("node")
    assert node is not None and (JS_DIR / "node_modules" / "esbuild").is_dir(), (
        "node or js/node_modules missing: run `bash scripts/setup.sh --test` (it runs npm ci in js/)")
    r = subprocess.run([node, "build.mjs", "--check"], cwd=JS_DIR, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr


def test_bundle_is_self_contained():
    text = ESM.read_text(encoding="utf-8")
    assert "export default" in text or "export {" in text
    for cdn in ("http://", "https://", "cdn.", "unpkg", "jsdelivr"):
        hits = [line for line in text.splitlines() if cdn in line and "w3.org" not in line]
        assert not hits, f"the bundle refers to the network: {hits[:2]}"
    assert "import " not in "\n".join(line for line in text.splitlines() if line.startswith("import "))


# --- picture and state -----------------------------------------------------------------------------------


def test_initial_svg_has_the_visible_nodes(w):
    nodes = svg_nodes(w.svg)
    assert set(nodes) == {n.id for n in w.view.data().nodes}
    assert nodes[SERIES]["data-kind"] == "series"
    assert nodes[SERIES]["data-expandable"] == "1" and nodes[SERIES]["data-expanded"] == "0"
    assert w.state == {"opened": ["bert", "bert.encoder"], "unfolded": [], "instance": {}}
    assert w.selected == "" and w.details == {}


def test_open_and_close_change_state_and_svg(w):
    n0 = len(svg_nodes(w.svg))
    w.open(SERIES)
    assert SERIES in w.state["opened"]
    nodes = svg_nodes(w.svg)
    assert nodes[SERIES]["data-expanded"] == "1" and len(nodes) > n0
    w.open("bert.encoder.layer.0.attention.self")  # opens everything above it as well
    assert {"bert.encoder.layer.0", "bert.encoder.layer.0.attention"} <= set(w.state["opened"])
    assert QUERY in svg_nodes(w.svg)
    w.close(SERIES)
    assert SERIES not in w.state["opened"]
    assert svg_nodes(w.svg)[SERIES]["data-expanded"] == "0"
    w.toggle(SERIES)
    assert SERIES in w.state["opened"]
    w.reset()
    assert w.state["opened"] == ["bert", "bert.encoder"]


def test_state_set_from_outside_redraws(w):
    w.state = {"opened": ["bert", "bert.encoder", SERIES], "unfolded": [], "instance": {SERIES: 3}}
    assert w.view.instance_of(SERIES) == 3
    assert "showing 4 of 12" in w.svg


def test_unknown_group_is_a_user_error(w):
    with pytest.raises(UserError, match="no group"):
        w.close("bert.nope")
    with pytest.raises(UserError):
        w.open("bert.encoder.layer.99")
    with pytest.raises(UserError, match="no node or group"):
        w.select("nope")
    with pytest.raises(traitlets.TraitError):
        w.selected = "nope"


def test_to_svg_saves_what_is_shown(w, tmp_path):
    w.open(SERIES)
    assert w.to_svg() == w.svg
    path = w.to_svg(tmp_path / "shown.svg")
    assert Path(path).read_text(encoding="utf-8") == w.svg
    assert svg_nodes(Path(path).read_text(encoding="utf-8"))[SERIES]["data-expanded"] == "1"


# --- selection, details, weights ------------------------------------------------------------------------


def test_select_shows_details_and_weight_matrix(w):
    w.select(QUERY)
    d = w.details
    assert d["id"] == QUERY and d["title"] == "query" and d["expandable"] and not d["visible"]
    assert d["weights"] == [QUERY_W, QUERY + ".bias"]
    assert [c[0] for c in d["breadcrumb"]][:3] == ["bert", "bert.encoder", SERIES]
    assert d["series"]["id"] == SERIES and d["series"]["count"] == 12
    assert "fully-connected" in d["explanation"]
    assert w._marks["selected"] == SERIES  # hidden inside the folded stack: the stack is marked
    meta = w.matrix_meta
    assert meta["name"] == QUERY_W and meta["shape"] == [768, 768]
    assert meta["trained"] is False and "random" in meta["notice"]  # preset: said plainly
    assert meta["heads"]["count"] == 12 and len(meta["heads"]["norms"]) == 12
    img = Image.open(io.BytesIO(w.matrix_png))
    assert img.format == "PNG" and img.size == (meta["cells"][1], meta["cells"][0])
    assert max(img.size) <= 384
    assert w.panel == "details"  # selecting does not push the weight pane to the front
    w.select(None)
    assert w.details == {} and w._marks["selected"] == ""


def test_matrix_head_window_and_exact_value(w):
    w.show_matrix(QUERY_W, head=3)
    assert w.panel == "matrix"
    assert w.matrix_meta["rows"] == [192, 256] and w.matrix_meta["heads"]["head"] == 3
    v = w.value(200, 5)
    assert v == pytest.approx(float(w.weights.get(QUERY_W)[200, 5]))
    assert w.matrix_meta["picked"] == {"row": 200, "col": 5, "value": v}
    w.handle_message({"type": "matrix", "name": QUERY_W, "rows": [0, 16], "cols": [0, 32]})
    assert w.matrix_meta["rows"] == [0, 16] and w.matrix_meta["exact"]
    assert Image.open(io.BytesIO(w.matrix_png)).size == (32, 16)
    with pytest.raises(UserError, match="not split by attention head"):
        w.show_matrix("bert.embeddings.LayerNorm.weight", head=0)


def test_big_embedding_is_downsampled(w):
    w.show_matrix("bert.embeddings.word_embeddings.weight")
    meta = w.matrix_meta
    assert meta["shape"] == [30522, 768] and not meta["exact"]
    assert max(Image.open(io.BytesIO(w.matrix_png)).size) <= 384


def test_search_sets_matches_and_highlights(w):
    found = w.find("softmax")
    assert found == w.matches and len(found) == 12
    assert w._marks["matches"] == [SERIES]  # all inside the folded stack
    assert len(w._match_info) == 12 and w._match_info[0][0].startswith("softmax")
    w.open(SERIES, "bert.encoder.layer.0.attention.self")
    assert "softmax" in w._marks["matches"]
    assert w.find("") == [] and w._marks["matches"] == []


def test_open_instance_follows_selection_and_open_groups(w):
    w.open("bert.encoder.layer.0.attention.self")
    w.select(QUERY)
    w.show_matrix(QUERY_W, head=2)
    w.open_instance(SERIES, 5)
    assert w.state["instance"] == {SERIES: 5}
    assert "bert.encoder.layer.5.attention.self" in w.state["opened"]
    assert w.selected == "bert.encoder.layer.5.attention.self.query"
    assert w.matrix_meta["name"] == "bert.encoder.layer.5.attention.self.query.weight"
    assert w.matrix_meta["heads"]["head"] == 2
    assert "bert.encoder.layer.5.attention.self.query" in svg_nodes(w.svg)


# --- messages from the browser ------------------------------------------------------------------------


def test_click_messages(w):
    w.handle_message({"type": "click", "id": SERIES, "toggle": True})
    assert SERIES in w.state["opened"] and w.selected == SERIES and w.error == ""
    w.handle_message({"type": "click", "id": "bert.encoder.layer.0.attention", "toggle": False})
    assert "bert.encoder.layer.0.attention" not in w.state["opened"]  # a plain click only selects
    assert w.selected == "bert.encoder.layer.0.attention"
    w.handle_message({"type": "dblclick", "id": SERIES})
    assert SERIES not in w.state["opened"]
    w.handle_message({"type": "toggle", "id": SERIES})
    assert SERIES in w.state["opened"]
    w.handle_message({"type": "instance", "series": SERIES, "index": 7})
    assert w.state["instance"] == {SERIES: 7}
    w.handle_message({"type": "reset"})
    assert SERIES not in w.state["opened"]


def test_select_message_reveals_and_focuses(w):
    n = w._focus.get("n", 0)
    w.handle_message({"type": "select", "id": "param:bert.encoder.layer.9.output.dense.weight", "reveal": True})
    assert w.error == ""
    assert w.state["instance"] == {SERIES: 9}
    assert "bert.encoder.layer.9.output.dense" in w.state["opened"]
    assert w.details["visible"] is True
    assert w._focus == {"id": "param:bert.encoder.layer.9.output.dense.weight", "n": n + 1}
    assert w.matrix_meta["name"] == "bert.encoder.layer.9.output.dense.weight"


def test_search_and_value_messages(w):
    w.handle_message({"type": "search", "q": "LayerNorm"})
    assert w.search == "LayerNorm" and "bert.embeddings.LayerNorm" in w.matches
    w.handle_message({"type": "matrix", "name": QUERY_W})
    w.handle_message({"type": "value", "name": QUERY_W, "row": 1, "col": 2})
    assert w.matrix_meta["picked"]["row"] == 1


def test_bad_messages_set_error_not_raise(w):
    w.handle_message({"type": "click", "id": "no.such.node"})
    assert "no node" in w.error
    w.handle_message({"type": "instance", "series": SERIES, "index": 40})
    assert "out of range" in w.error
    w.handle_message({"type": "click", "id": SERIES, "toggle": True})
    assert w.error == ""  # cleared by the next good action
    w.handle_message({"type": "unknown-kind"})
    w.handle_message("not a dict")


def test_extra_message_handlers(w):
    seen = []
    w.on_message("neurons", lambda widget, content: seen.append((widget, content["k"])))
    w.handle_message({"type": "neurons", "k": 3})
    assert seen == [(w, 3)]


# --- show() ------------------------------------------------------------------------------------------------


def test_show_accepts_names_graphs_and_views(bert):
    w = bg.show(bert, open=[SERIES], select=QUERY, height=500)
    assert isinstance(w, GraphWidget) and w.height == 500
    assert SERIES in w.state["opened"] and w.selected == QUERY
    v = bert.view(depth=1)
    w2 = bg.show(v)
    assert w2.view.state == v.state
    w3 = bg.show("bert-base-uncased")
    assert w3.graph.name == "bert-base-uncased"


class Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.hidden = nn.Linear(4, 8)
        self.out = nn.Linear(8, 3)

    def forward(self, x):
        return self.out(torch.relu(self.hidden(x)))


def test_show_module_uses_its_own_weights():
    m = Tiny()
    w = bg.show(m, example_inputs=(torch.randn(1, 4),))
    w.select("hidden")
    assert w.matrix_meta["trained"] is True and w.matrix_meta["shape"] == [8, 4]
    assert w.value(2, 3) == pytest.approx(m.hidden.weight[2, 3].item())


class Untraceable(nn.Module):
    def forward(self, x):
        raise RuntimeError("this model cannot run")


@pytest.mark.parametrize("bad, example, pattern", [
    (42, None, "cannot show a int"),
    ("bert-bsae-uncased", None, "unknown model"),
    ("/no/such/folder", None, "no such file or folder"),
    (Tiny(), None, "needs example inputs"),
    (Untraceable(), (torch.randn(1, 4),), "cannot trace"),
])
def test_show_bad_input_is_one_short_message(bad, example, pattern):
    with pytest.raises(ShowError, match=pattern) as info:
        bg.show(bad, example)
    err = info.value
    assert isinstance(err, UserError)
    assert err.__cause__ is None and err.__suppress_context__  # no chained traceback either
    lines = err._render_traceback_()  # what IPython/Jupyter prints instead of a traceback
    assert 1 <= len(lines) <= 3
    assert pattern in lines[0] and not any("Traceback" in s or 'File "' in s for s in lines)


def test_show_unknown_option():
    with pytest.raises(ShowError, match="unknown option"):
        bg.show("bert-base-uncased", colour="red")


def test_app_is_exported():
    assert "show" in bg.__all__ and "app" in bg.__all__
    import bertviz_graph.app  # noqa: F401  (sets bg.app to the subpackage: it must stay callable)

    assert callable(bg.app)
    from bertviz_graph.app import make_app  # a missing Dash app is a failure, not a skip

    assert callable(make_app)
    app = bg.app("bert-base-uncased")
    assert hasattr(app, "run")
