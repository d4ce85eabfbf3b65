"""Parameter / FLOPs charts (neurons/charts.py): the numbers they show and the files they write."""

from __future__ import annotations

import re
import shutil
import xml.etree.ElementTree as ET
from io import BytesIO

import pytest

import bertviz_graph as bg
from bertviz_graph.cli import main
from bertviz_graph.errors import UserError
from bertviz_graph.hierarchy.tree import ROOT
from bertviz_graph.neurons.charts import (
    build_sectors,
    chart_figure,
    chart_pair,
    facts,
    write_chart,
)

BERT_BASE_PARAMS = 109_514_298  # BertForMaskedLM, decoder tied to the word embedding (counted once)
WORD_EMBEDDING = 30522 * 768  # 23,440,896


def _need_chromium():
    assert shutil.which("chromium") is not None, "system chromium not found (run `bash scripts/setup.sh --test`)"


def _check_tree(sectors):
    by_id = {s.id: s for s in sectors}
    assert len(by_id) == len(sectors)  # unique plotly ids
    for s in sectors:
        if s.parent:
            assert s.parent in by_id
        kids = sum(by_id[c].value for c in s.children)
        assert kids <= s.value + 1e-6, (s.id, kids, s.value)  # branchvalues="total" stays valid


def test_bert_base_parameter_numbers(base_graph):
    h = base_graph.hierarchy
    sectors = build_sectors(h, "params")
    _check_tree(sectors)
    by_gid = {s.gid: s for s in sectors}
    assert sectors[0].value == BERT_BASE_PARAMS == base_graph.param_count()
    word = by_gid["bert.embeddings.word_embeddings"]
    assert word.value == WORD_EMBEDDING
    assert word.value / sectors[0].value == pytest.approx(0.2140, abs=1e-4)
    # the tied decoder holds only its bias here: its weight IS the word embedding, counted once
    assert by_gid["cls.predictions.decoder"].value == 30522
    f = facts(h)
    assert f["embedding"]["value"] == WORD_EMBEDDING
    lay = f["layer"]
    assert lay["value"] == 7_087_872
    assert lay["feed-forward"] == 768 * 3072 + 3072 + 3072 * 768 + 768 + 2 * 768  # both Linears + LayerNorm
    assert lay["ffn_share"] == pytest.approx(2 / 3, abs=0.01)
    # the folded series sums its 12 layers
    series = by_gid["bert.encoder.layer[0-11]"]
    assert series.value == 12 * 7_087_872 and series.members == 12


def test_bert_base_chart_says_it(base_graph):
    fig = chart_figure(base_graph.hierarchy, "params", "sunburst")
    sub = fig.layout.title.subtitle.text
    assert "109,514,298 parameters" in sub and "23.4M = 21.4%" in sub and "feed-forward 66.6%" in sub
    tr = fig.data[0]
    i = list(tr.customdata).index("bert.embeddings.word_embeddings")
    assert "21.4%" in tr.text[i] and "23.4M" in tr.text[i]
    j = list(tr.customdata).index("bert.encoder.layer[0-11]")
    assert "feed-forward 66.6%" in tr.text[j]
    k = list(tr.customdata).index("bert.encoder.layer.0.intermediate")
    assert "33.3% of layer" in tr.text[k]  # expand; the output Linear is the other third
    assert "summed over 12 repeats" in tr.hovertext[k]


def test_flops_sum_op_estimates(base_graph):
    h = base_graph.hierarchy
    sectors = build_sectors(h, "flops")
    _check_tree(sectors)
    assert sectors[0].value == h.groups[ROOT].flops
    # independent: the matrix products of bert-base from its config (seq 16), which dominate the total
    cfg, seq = base_graph.meta["config"], 16
    hid, ffn, layers, vocab = cfg["hidden_size"], cfg["intermediate_size"], cfg["num_hidden_layers"], cfg["vocab_size"]
    per_layer = 2 * seq * (4 * hid * hid + 2 * hid * ffn) + 2 * 2 * seq * seq * hid  # linears + QKᵀ, ·V
    head = 2 * seq * (hid * hid + hid * vocab)  # transform + decoder
    matmuls = layers * per_layer + head
    assert matmuls < sectors[0].value < 1.02 * matmuls  # the rest (biases, norms, softmax) is small
    f = facts(h, "flops")
    assert 0.6 < f["layer"]["ffn_share"] < 0.7


@pytest.mark.parametrize("kind", ["sunburst", "treemap"])
@pytest.mark.parametrize("metric", ["params", "flops"])
@pytest.mark.parametrize("series", ["fold", "layers"])
def test_customdata_ids_exist(tiny_graph, kind, metric, series):
    h = tiny_graph.hierarchy
    fig = chart_figure(h, metric, kind, series=series)
    tr = fig.data[0]
    assert tr.type == kind and tr.branchvalues == "total"
    assert len(tr.customdata) == len(tr.ids) == len(tr.values) > 5
    assert all(gid in h.groups for gid in tr.customdata)
    assert tr.customdata[0] == ROOT


def test_layers_mode_shows_each_layer(tiny_graph):
    h = tiny_graph.hierarchy
    sectors = build_sectors(h, "params", series="layers")
    _check_tree(sectors)
    series = next(s for s in sectors if s.gid == "bert.encoder.layer[0-1]")
    kids = [s for s in sectors if s.parent == series.id]
    assert [k.gid for k in kids] == h.groups["bert.encoder.layer[0-1]"].members
    assert all(k.value == h.groups[k.gid].params for k in kids)


def test_albert_shared_layer_counted_once():
    g = bg.trace("albert-base-v2")
    h = g.hierarchy
    sectors = build_sectors(h, "params")
    _check_tree(sectors)
    assert sectors[0].value == g.param_count()
    s = next(s for s in sectors if h.groups[s.gid].kind == "series")
    assert s.value == h.groups[h.groups[s.gid].members[0]].params == 7_087_872  # one layer, not 12
    assert "share these weights" in s.note
    # FLOPs: all 12 calls compute
    f = next(x for x in build_sectors(h, "flops") if x.gid == s.gid)
    assert f.value == h.groups[s.gid].flops


def test_bad_arguments(tiny_graph, tmp_path):
    h = tiny_graph.hierarchy
    with pytest.raises(UserError):
        chart_figure(h, "weights")
    with pytest.raises(UserError):
        chart_figure(h, kind="pie")
    with pytest.raises(UserError):
        write_chart(h, tmp_path / "c.pdf")
    with pytest.raises(UserError):
        write_chart(h, tmp_path / "missing" / "c.html")
    assert not list(tmp_path.iterdir())


def test_html_is_self_contained(tiny_graph, tmp_path):
    out = write_chart(tiny_graph.hierarchy, tmp_path / "chart.html")
    html = out.read_text()
    assert not re.search(r"<script[^>]+src=[\"']https?:", html)
    assert "Plotly.newPlot" in html and len(html) > 1_000_000  # plotly.js inline
    assert "bert.encoder.layer[0-1]" in html  # customdata travel with it
    assert [p.name for p in tmp_path.iterdir()] == ["chart.html"]  # no temp file left


def test_svg_and_png(tiny_graph, tmp_path):
    _need_chromium()
    from PIL import Image

    svg = write_chart(tiny_graph.hierarchy, tmp_path / "chart.svg")
    root = ET.fromstring(svg.read_bytes())
    assert root.tag.endswith("svg")
    assert "word_embeddings" in svg.read_text()
    png = write_chart(tiny_graph.hierarchy, tmp_path / "chart.png", kind="treemap")
    img = Image.open(BytesIO(png.read_bytes()))
    img.load()
    assert img.size[0] >= 1000 and img.size[1] >= 600


def test_cli_info_chart(capsys, tmp_path):
    out = tmp_path / "c.html"
    assert main(["info", "bert-tiny", "--depth", "1", "--chart", str(out)]) == 0
    assert "wrote" in capsys.readouterr().err and out.stat().st_size > 100_000


def test_pair_has_both_metrics(tiny_graph):
    fig = chart_pair(tiny_graph.hierarchy)
    assert [t.name for t in fig.data] == ["parameters", "FLOPs"]
    assert fig.data[0].domain.x[1] <= fig.data[1].domain.x[0]
