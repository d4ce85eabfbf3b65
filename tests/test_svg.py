"""SVG and file export: valid XML with one g.node per VNode and one g.edge per VEdge; PDF, PNG, DOT, JSON."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from synthetic_views import bert_like  # noqa: E402

from bertviz_graph.errors import UserError  # noqa: E402
from bertviz_graph.hierarchy.style import role_label  # noqa: E402
from bertviz_graph.layout import DotRunner, LaidOutView, LayoutCache, layout_view, measure  # noqa: E402
from bertviz_graph.render import export  # noqa: E402
from bertviz_graph.render.export import to_dot, write_view  # noqa: E402
from bertviz_graph.render.svg import to_svg  # noqa: E402
from bertviz_graph.view_types import VEdge, ViewData, VNode  # noqa: E402
from tests.svg_coords import edge_paths  # noqa: E402

NS = {"s": "http://www.w3.org/2000/svg"}


@pytest.fixture(scope="module")
def lv() -> LaidOutView:
    r = DotRunner()
    try:
        return layout_view(bert_like(1), cache=LayoutCache(), runner=r)
    finally:
        r.close()


def groups(root: ET.Element, cls: str) -> list[ET.Element]:
    return [g for g in root.iter("{http://www.w3.org/2000/svg}g") if g.get("class") == cls]


def texts(el: ET.Element) -> list[str]:
    return ["".join(t.itertext()) for t in el.iter("{http://www.w3.org/2000/svg}text")]


def test_svg_structure(lv):
    svg = to_svg(lv)
    root = ET.fromstring(svg.encode())
    nodes, edges = groups(root, "node"), groups(root, "edge")
    view = lv.view
    assert sorted(g.get("data-id") for g in nodes) == sorted(n.id for n in view.nodes)
    assert sorted(g.get("data-id") for g in edges) == sorted(e.id for e in view.edges)
    frames = [g for g in nodes if g.get("data-expanded") == "1"]
    assert len(frames) == sum(1 for n in view.nodes if n.expanded)
    by = {n.id: n for n in view.nodes}
    for g in nodes:
        n = by[g.get("data-id")]
        assert g.get("data-kind") == n.kind
        assert g.get("data-expandable") == str(int(n.expandable))
        assert g.find("s:title", NS) is not None
        assert measure.display_label(n) in texts(g)  # every label drawn inside its own group
        if n.sublabel:
            assert n.sublabel in texts(g)
    for g in edges:
        e = next(x for x in view.edges if x.id == g.get("data-id"))
        assert (g.get("data-source"), g.get("data-target")) == (e.source, e.target)
        assert g.find("s:title", NS) is not None
        path = g.find("s:path", NS)
        assert path is not None and path.get("d").startswith("M") and "url(#arrow-" in path.get("marker-end")
    # the series is a stack of three boxes and says how many
    series = next(g for g in nodes if g.get("data-id") == "enc.series")
    assert len(series.findall("s:rect", NS)) == 3 and "BertLayer ×11" in texts(series)
    # residual edges look different from data edges
    res = next(g for g in edges if g.get("data-id") == "enc.series->enc.layer.0.add").find("s:path", NS)
    data = next(g for g in edges if g.get("data-id") == "e_in").find("s:path", NS)
    assert res.get("stroke-dasharray") and not data.get("stroke-dasharray")
    assert res.get("stroke") != data.get("stroke")
    # shape labels on edges
    all_text = texts(root)
    assert "[1, 16, 768]" in all_text and "[1, 16]" in all_text
    # title, subtitle and a legend of the roles present (and no others)
    assert view.title in all_text and view.subtitle in all_text
    legend = groups(root, "legend")[0]
    assert role_label("attention") in texts(legend) and role_label("param") in texts(legend)
    assert role_label("head") not in texts(legend)
    assert "Residual (skip) connection" in texts(legend)


def test_svg_options_and_size(lv):
    bare = ET.fromstring(to_svg(lv, legend=False, title=False).encode())
    assert not groups(bare, "legend") and lv.view.title not in texts(bare)
    assert float(bare.get("width")) == lv.width and float(bare.get("height")) == lv.height
    full = ET.fromstring(to_svg(lv).encode())
    assert float(full.get("height")) > lv.height


def test_svg_escapes_everything():
    nasty = "<script>&\"'</script>\x01\x0b"
    view = ViewData(
        nasty,
        "a & b < c",
        [
            VNode('x"<&>', "op", nasty, nasty, "softmax", attrs={"note": nasty}),
            VNode("g&", "group", "F<>", "&", "layer", expanded=True, expandable=True),
            VNode("g&.y", "param", "w'", "[2, 2]", "param", "g&"),
        ],
        [VEdge('e"1', 'x"<&>', "g&.y", None, "data", 2, [], "<shape & co>")],
    )
    r = DotRunner()
    try:
        lv = layout_view(view, cache=LayoutCache(), runner=r)
    finally:
        r.close()
    svg = to_svg(lv)
    root = ET.fromstring(svg.encode())  # parses: everything escaped
    assert {g.get("data-id") for g in groups(root, "node")} == {'x"<&>', "g&", "g&.y"}
    assert "<script>&\"'</script>" in texts(root)
    assert "<script>" not in svg


def test_export_all_formats(lv, tmp_path):
    Image = pytest.importorskip("PIL.Image")
    out = {}
    for ext in (".svg", ".pdf", ".png", ".dot", ".json"):
        p = write_view(lv, tmp_path / f"view{ext}")
        out[ext] = p.read_bytes()
    ET.fromstring(out[".svg"])
    assert out[".pdf"].startswith(b"%PDF")
    img = Image.open(io.BytesIO(out[".png"]))
    img.load()
    svg_w = float(ET.fromstring(out[".svg"]).get("width"))
    assert abs(img.size[0] - 2 * svg_w) <= 2  # PNG at 2x
    back = LaidOutView.from_json_dict(json.loads(out[".json"]))
    assert back == lv
    # the format can also be given explicitly
    p = write_view(lv, tmp_path / "noext", fmt="svg")
    ET.fromstring(p.read_bytes())
    assert sorted(f.name for f in tmp_path.iterdir()) == sorted(
        ["view.svg", "view.pdf", "view.png", "view.dot", "view.json", "noext"]
    )


def test_dot_export_has_clusters_and_parses(lv, tmp_path):
    dot = to_dot(lv.view, lv)
    n_frames = sum(1 for n in lv.view.nodes if n.expanded)
    assert dot.count('subgraph "cluster_') == n_frames
    assert "pos=" in dot and 'label="BertLayer ×11\\nlayers 0-10"' in dot
    assert shutil.which("dot") is not None, "graphviz's dot not found (run `bash scripts/setup.sh --test`)"
    res = subprocess.run(["dot", "-Tsvg"], input=dot.encode(), capture_output=True, timeout=60)
    assert res.returncode == 0, res.stderr.decode()
    root = ET.fromstring(res.stdout)
    clusters = [g for g in root.iter("{http://www.w3.org/2000/svg}g") if g.get("class") == "cluster"]
    assert len(clusters) == n_frames
    # and without a layout (the view alone) it is still valid DOT
    assert (
        subprocess.run(["dot", "-Tjson0"], input=to_dot(lv.view).encode(), capture_output=True).returncode
        == 0
    )


def test_unknown_format_is_a_user_error_and_writes_nothing(lv, tmp_path):
    with pytest.raises(UserError, match=r"unknown format '\.xyz'") as info:
        write_view(lv, tmp_path / "view.xyz")
    assert ".graphml" in str(info.value) and ".svg" in str(info.value)
    with pytest.raises(UserError):
        write_view(lv, tmp_path / "view")  # no suffix, no fmt
    with pytest.raises(UserError):
        write_view(lv, tmp_path / "missing-dir" / "view.svg")
    assert list(tmp_path.iterdir()) == []


def test_failed_render_leaves_no_file(lv, tmp_path, monkeypatch):
    target = tmp_path / "view.png"
    target.write_bytes(b"old")

    def boom(*_a, **_k):
        raise RuntimeError("renderer died")

    import cairosvg

    monkeypatch.setattr(cairosvg, "svg2png", boom)
    with pytest.raises(RuntimeError):
        write_view(lv, target)
    assert target.read_bytes() == b"old"  # untouched, and no temporary file left behind
    assert [f.name for f in tmp_path.iterdir()] == ["view.png"]


def test_huge_png_is_scaled_to_fit(lv, monkeypatch):
    calls = {}

    def fake(bytestring: bytes, scale: float) -> bytes:
        calls["scale"] = scale
        return b"png"

    import cairosvg

    monkeypatch.setattr(cairosvg, "svg2png", fake)
    monkeypatch.setattr(export, "_svg_size", lambda _svg: (400.0, 40_000.0))
    export.render_bytes(lv, ".png")
    assert calls["scale"] < 1.0


def test_plain_leaves_and_edges_are_the_general_code_byte_for_byte(base_graph):
    """render/svg.py draws the common leaf from per-content static parts (leaf_into) and edges straight into
    the picture's list (edge_into): each leaf is what the general leaf writes (sublabels, pills, op and module
    boxes, colour-by fills), and the picture holds each edge's tag, path and label as written from its route."""

    from bertviz_graph.layout import layout_of
    from bertviz_graph.render import svg as S
    from bertviz_graph.render import svg_shapes
    from bertviz_graph.view import View

    h = base_graph.hierarchy
    lv = layout_of(View(h).unfold(all_series=True).open_depth(3).open_instance(next(iter(h.series())).id, 2))
    fills = {n.id: f"#{(37 * i) % 256:02x}80c0" for i, n in enumerate(lv.view.nodes) if i % 3}
    parents = {n.id for n in lv.view.nodes}
    plain = kinds = 0
    for n in lv.view.nodes:
        if n.expanded or n.count > 1 or n.kind in ("param", "buffer") or n.id not in lv.boxes:
            continue
        if any(m.parent == n.id for m in lv.view.nodes):
            continue
        fill = fills.get(n.id) or S.role_color(n.role)
        parent = n.parent if n.parent in parents else None
        out: list[str] = []
        S.leaf_into(n, lv.boxes[n.id], fill, parent, out)
        assert out == S.leaf(n, lv.boxes[n.id], fill, parent), n.id
        plain += 1
        kinds |= {"input": 1, "output": 2, "group": 4, "op": 8}.get(n.kind, 0) | (16 if n.sublabel else 0)
    assert plain > 50 and kinds == 31, (plain, kinds)
    svg = S.to_svg(lv, fills=fills)
    drawn = edge_paths(svg)
    labelled = 0
    for e in lv.view.edges:
        # each edge's tag as the general code writes it, its path at its route (in its frame's coordinates)
        head, _tail = svg_shapes._edge_tag(e.id, e.source, e.target, e.kind, e.label, e.count, "", "", None)
        assert head.split("<title>")[0] in svg, e.id
        assert [v for p in drawn[e.id] for v in p] == pytest.approx([v for p in lv.routes[e.id] for v in p], abs=0.011)
        labelled += e.id in lv.label_pos and bool(e.label)
    assert labelled > 10
