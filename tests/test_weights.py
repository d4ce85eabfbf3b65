"""Lazy weight access (sources/weights.py) and matrix rendering (render/weights.py) on small real data."""

from __future__ import annotations

import io
import json
import time

import numpy as np
import pytest
from safetensors.numpy import save_file

from bertviz_graph.errors import UserError
from bertviz_graph.render import weight_figures as wfig
from bertviz_graph.render import weight_files as wfile
from bertviz_graph.render import weights as rw
from bertviz_graph.sources.weights import RandomWeights, WeightStore, init_kind, read_header, tied_aliases

RNG = np.random.default_rng(1234)
EMB = RNG.standard_normal((50, 12)).astype(np.float32)
Q = RNG.standard_normal((24, 24)).astype(np.float32)
OUT = RNG.standard_normal((24, 24)).astype(np.float32)
BIAS = RNG.standard_normal(24).astype(np.float32)
GAMMA = (1 + 0.1 * RNG.standard_normal(12)).astype(np.float32)


@pytest.fixture
def ckpt(tmp_path):
    """A checkpoint saved from a base model (no "bert." prefix), old-style LayerNorm gamma."""
    p = tmp_path / "model.safetensors"
    save_file(
        {
            "embeddings.word_embeddings.weight": EMB,
            "embeddings.LayerNorm.gamma": GAMMA,
            "encoder.layer.0.attention.self.query.weight": Q,
            "encoder.layer.0.attention.self.query.bias": BIAS,
            "encoder.layer.0.attention.output.dense.weight": OUT,
        },
        str(p),
    )
    return p


def test_get_and_slices_equal_source(ckpt):
    st = WeightStore.open([ckpt])
    assert st.trained is True and str(ckpt) in st.description
    assert "embeddings.word_embeddings.weight" in st.names()
    assert st.shape("embeddings.word_embeddings.weight") == (50, 12)
    assert st.dtype("embeddings.word_embeddings.weight") == "float32"
    np.testing.assert_array_equal(st.get("embeddings.word_embeddings.weight"), EMB)
    got = st.get_slice("embeddings.word_embeddings.weight", slice(7, 19), slice(3, 9))
    np.testing.assert_array_equal(got, EMB[7:19, 3:9])
    np.testing.assert_array_equal(st.get_slice("embeddings.word_embeddings.weight", slice(40, 60)), EMB[40:])
    np.testing.assert_array_equal(
        st.get_slice("encoder.layer.0.attention.self.query.bias", slice(5, 9)), BIAS[5:9]
    )
    assert st.get("embeddings.word_embeddings.weight").dtype == np.float32


def test_prefix_and_gamma_resolution(ckpt):
    st = WeightStore.open([ckpt])
    assert st.resolve("bert.embeddings.word_embeddings.weight") == "embeddings.word_embeddings.weight"
    assert st.resolve("bert.embeddings.LayerNorm.weight") == "embeddings.LayerNorm.gamma"
    assert st.resolve("embeddings.LayerNorm.weight") == "embeddings.LayerNorm.gamma"
    assert st.resolve("bert.pooler.dense.weight") is None
    np.testing.assert_array_equal(st.get("bert.embeddings.LayerNorm.weight"), GAMMA)
    assert st.shape("bert.embeddings.word_embeddings.weight") == (50, 12)
    with pytest.raises(KeyError):
        st.get("bert.pooler.dense.weight")
    with pytest.raises(KeyError):
        st.shape("nope")


def test_reverse_prefix_resolution(tmp_path):
    """A BertModel asking for embeddings.* finds bert.embeddings.* in a BertForMaskedLM checkpoint."""
    p = tmp_path / "mlm.safetensors"
    save_file({"bert.embeddings.word_embeddings.weight": EMB, "cls.predictions.bias": BIAS}, str(p))
    st = WeightStore.open([p])
    assert st.resolve("embeddings.word_embeddings.weight") == "bert.embeddings.word_embeddings.weight"


def test_tied_weights(tmp_path):
    """A checkpoint stores a tied tensor once; the model's other name for it still resolves."""
    p = tmp_path / "mlm.safetensors"
    save_file({"bert.embeddings.word_embeddings.weight": EMB, "cls.predictions.bias": BIAS}, str(p))
    st = WeightStore.open([p])
    assert st.resolve("cls.predictions.decoder.weight") == "bert.embeddings.word_embeddings.weight"
    assert st.resolve("cls.predictions.decoder.bias") == "cls.predictions.bias"

    class FakeModule:  # what tied_aliases reads of a torch module (no torch import: keeps the test fast)
        def named_parameters(self, remove_duplicate=True):
            shared, bias = object(), object()
            return iter([("emb.weight", shared), ("head.weight", shared), ("head.bias", bias)])

    assert tied_aliases(FakeModule()) == {"head.weight": "emb.weight"}
    st.add_aliases({"head.weight": "bert.embeddings.word_embeddings.weight"})
    np.testing.assert_array_equal(st.get("head.weight"), EMB)


def test_sharded_index(tmp_path):
    save_file({"a.weight": EMB}, str(tmp_path / "model-00001-of-00002.safetensors"))
    save_file({"b.weight": Q}, str(tmp_path / "model-00002-of-00002.safetensors"))
    idx = tmp_path / "model.safetensors.index.json"
    idx.write_text(
        json.dumps(
            {
                "metadata": {},
                "weight_map": {
                    "a.weight": "model-00001-of-00002.safetensors",
                    "b.weight": "model-00002-of-00002.safetensors",
                },
            }
        )
    )
    for arg in ([idx], [tmp_path]):
        st = WeightStore.open(arg)
        assert st.names() == ["a.weight", "b.weight"]
        np.testing.assert_array_equal(st.get("b.weight"), Q)
        np.testing.assert_array_equal(st.get_slice("a.weight", slice(2, 4)), EMB[2:4])
    (tmp_path / "model-00002-of-00002.safetensors").unlink()
    with pytest.raises(UserError, match="model-00002-of-00002"):
        WeightStore.open([idx])


def test_truncated_file_is_detected(ckpt, tmp_path):
    data = ckpt.read_bytes()
    cut = tmp_path / "cut.safetensors"
    cut.write_bytes(data[:-10])
    with pytest.raises(UserError) as e:
        WeightStore.open([cut])
    assert str(cut) in str(e.value) and "truncated" in str(e.value)
    assert "save_pretrained" in str(e.value)


def test_garbage_and_short_files(tmp_path):
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"PK\x03\x04 this is a zip, not safetensors" * 10)
    with pytest.raises(UserError, match="junk.safetensors is not a valid safetensors file"):
        WeightStore.open([junk])
    short = tmp_path / "short.safetensors"
    short.write_bytes(b"abc")
    with pytest.raises(UserError, match="short.safetensors"):
        WeightStore.open([short])
    header = json.dumps({"x": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}).encode()
    badjson = tmp_path / "badjson.safetensors"
    badjson.write_bytes(len(header).to_bytes(8, "little") + header[:-1] + b"!" + b"\0" * 8)
    with pytest.raises(UserError, match="not valid JSON"):
        WeightStore.open([badjson])
    lst = json.dumps([1, 2]).encode()
    notdict = tmp_path / "list.safetensors"
    notdict.write_bytes(len(lst).to_bytes(8, "little") + lst)
    with pytest.raises(UserError, match="not an object"):
        WeightStore.open([notdict])
    h2 = json.dumps({"x": {"dtype": "Q9", "shape": [2], "data_offsets": [0, 8]}}).encode()
    baddt = tmp_path / "dtype.safetensors"
    baddt.write_bytes(len(h2).to_bytes(8, "little") + h2 + b"\0" * 8)
    with pytest.raises(UserError, match="dtype"):
        WeightStore.open([baddt])
    with pytest.raises(UserError, match="does not exist"):
        WeightStore.open([tmp_path / "missing.safetensors"])


def test_header_validation_reads_no_data(ckpt):
    entries, start = read_header(ckpt)
    assert entries["embeddings.word_embeddings.weight"].shape == (50, 12)
    assert start > 8


def test_bfloat16_and_float16(tmp_path):
    """bfloat16 (no numpy dtype) is decoded from its raw bits; float16 goes through numpy."""
    bits = (EMB.view(np.uint32) >> 16).astype("<u2")  # bfloat16 = top half of float32 (truncated)
    expect = (EMB.view(np.uint32) & 0xFFFF0000).view(np.float32)
    half = EMB.astype(np.float16)
    header = {
        "w": {"dtype": "BF16", "shape": [50, 12], "data_offsets": [0, bits.nbytes]},
        "h": {"dtype": "F16", "shape": [50, 12], "data_offsets": [bits.nbytes, bits.nbytes + half.nbytes]},
    }
    hb = json.dumps(header).encode()
    p = tmp_path / "bf.safetensors"
    p.write_bytes(len(hb).to_bytes(8, "little") + hb + bits.tobytes() + half.astype("<f2").tobytes())
    st = WeightStore.open([p])
    assert st.dtype("w") == "bfloat16"
    np.testing.assert_array_equal(st.get("w"), expect)
    np.testing.assert_allclose(st.get("w"), EMB, rtol=2**-7)
    np.testing.assert_array_equal(st.get_slice("w", slice(3, 8), slice(2, 5)), expect[3:8, 2:5])
    np.testing.assert_array_equal(st.get_slice("h", slice(0, 4)), half[:4].astype(np.float32))


def test_random_weights_init_and_determinism():
    shapes = {
        "bert.embeddings.word_embeddings.weight": (30522, 768),
        "bert.encoder.layer.0.intermediate.dense.weight": (3072, 768),
        "bert.encoder.layer.0.intermediate.dense.bias": (3072,),
        "bert.encoder.layer.0.output.LayerNorm.weight": (768,),
        "bert.encoder.layer.0.output.LayerNorm.bias": (768,),
    }
    a, b = RandomWeights(shapes, seed=7), RandomWeights(shapes, seed=7)
    assert a.trained is False and "NOT trained" in a.description
    w = a.get("bert.encoder.layer.0.intermediate.dense.weight")
    np.testing.assert_array_equal(w, b.get("bert.encoder.layer.0.intermediate.dense.weight"))
    assert w.dtype == np.float32 and abs(float(w.std()) - 0.02) < 5e-4 and abs(float(w.mean())) < 5e-4
    other = RandomWeights(shapes, seed=8).get("bert.encoder.layer.0.intermediate.dense.weight")
    assert not np.array_equal(w, other)
    assert not np.array_equal(w[:768], a.get("bert.embeddings.word_embeddings.weight")[:3072, :])  # per-name
    np.testing.assert_array_equal(a.get("bert.encoder.layer.0.intermediate.dense.bias"), np.zeros(3072))
    np.testing.assert_array_equal(a.get("bert.encoder.layer.0.output.LayerNorm.weight"), np.ones(768))
    np.testing.assert_array_equal(a.get("bert.encoder.layer.0.output.LayerNorm.bias"), np.zeros(768))
    assert (
        a.resolve("encoder.layer.0.output.LayerNorm.gamma") == "bert.encoder.layer.0.output.LayerNorm.weight"
    )
    assert (
        init_kind("x.gamma") == "ones"
        and init_kind("x.beta") == "zeros"
        and init_kind("x.weight") == "normal"
    )


def test_random_weights_slice_without_whole_tensor():
    name = "bert.embeddings.word_embeddings.weight"
    fresh = RandomWeights({name: (30522, 768)}, seed=3)
    t = time.perf_counter()
    part = fresh.get_slice(name, slice(20000, 20100), slice(10, 20))
    assert time.perf_counter() - t < 0.2  # only the touched row blocks are generated
    assert part.shape == (100, 10)
    assert not fresh._cache  # nothing whole was materialised
    full = RandomWeights({name: (30522, 768)}, seed=3).get(name)
    np.testing.assert_array_equal(part, full[20000:20100, 10:20])
    assert abs(float(full.std()) - 0.02) < 2e-4


# ---------------------------------------------------------------------------------------------------------
# render


def test_downsample_mean_and_signed_maxabs():
    a = np.arange(16, dtype=np.float32).reshape(4, 4)
    small, re_, ce = rw.downsample(a, 2, 2, "mean")
    np.testing.assert_allclose(small, [[2.5, 4.5], [10.5, 12.5]])
    assert list(re_) == [0, 2, 4] and list(ce) == [0, 2, 4]
    b = np.array([[1, -5, 2, 0], [3, 4, 0, 0], [0, 0, -1, 0.75], [0, 0, 0.5, -0.25]], np.float32)
    small, _, _ = rw.downsample(b, 2, 2, "maxabs")
    np.testing.assert_array_equal(small, [[-5, 2], [0, -1]])
    # uneven: 5 rows into at most 2 -> blocks of 3 and 2
    c = np.arange(5, dtype=np.float32).reshape(5, 1)
    small, re_, _ = rw.downsample(c, 2, 1, "mean")
    np.testing.assert_allclose(small.ravel(), [1.0, 3.5])
    assert list(re_) == [0, 3, 5]
    # 1-D is 1xN
    small, re_, ce = rw.downsample(np.arange(6, dtype=np.float32), 10, 3)
    assert small.shape == (1, 3) and list(ce) == [0, 2, 4, 6]
    np.testing.assert_allclose(small, [[0.5, 2.5, 4.5]])


def test_downsample_matches_bruteforce():
    a = RNG.standard_normal((103, 57)).astype(np.float32)
    for how in ("mean", "maxabs"):
        z, re_, ce = rw.downsample(a, 10, 8, how)
        assert z.shape[0] <= 10 and z.shape[1] <= 8
        for i in range(len(re_) - 1):
            for j in range(len(ce) - 1):
                blk = a[re_[i] : re_[i + 1], ce[j] : ce[j + 1]].ravel()
                want = blk.mean() if how == "mean" else blk[np.argmax(np.abs(blk))]
                assert z[i, j] == pytest.approx(want, abs=1e-6)


EMB_NAME = "bert.embeddings.word_embeddings.weight"


@pytest.fixture(scope="module")
def big():
    return RandomWeights(
        {EMB_NAME: (30522, 768), "bert.encoder.layer.0.attention.self.query.bias": (768,)}, seed=0
    )


def test_matrix_view_overview_and_zoom(big):
    mv = rw.matrix_view(big, EMB_NAME, max_px=(600, 800))
    assert mv.z.shape[0] <= 600 and mv.z.shape[1] <= 800 and mv.z.size <= 600 * 800
    assert mv.exact is False and mv.block == (51, 1)
    assert mv.row_edges[0] == 0 and mv.row_edges[-1] == 30522
    assert mv.vmax_scope == "tensor" and mv.trained is False
    full = big.get(EMB_NAME)
    np.testing.assert_allclose(mv.z[3], full[153:204].mean(axis=0), atol=1e-6)
    assert mv.vmax == pytest.approx(float(np.abs(full).max()))
    zoom = rw.matrix_view(big, EMB_NAME, rows=(1000, 1040), cols=(700, 768))
    assert zoom.exact and zoom.block == (1, 1)
    np.testing.assert_array_equal(zoom.z, full[1000:1040, 700:768])
    assert list(zoom.row_centres[:2]) == [1000, 1001]
    assert zoom.vmax == pytest.approx(mv.vmax)  # same colour scale while zooming
    clamped = rw.matrix_view(big, EMB_NAME, rows=(-5, 3), cols=(760, 900))
    assert clamped.rows == (0, 3) and clamped.cols == (760, 768)
    with pytest.raises(UserError, match="empty"):
        rw.matrix_view(big, EMB_NAME, rows=(50, 50))
    with pytest.raises(UserError, match="no weight tensor"):
        rw.matrix_view(big, "nope.weight")
    vec = rw.matrix_view(big, "bert.encoder.layer.0.attention.self.query.bias")
    assert vec.z.shape == (1, 768) and vec.is_vector and vec.exact
    assert vec.all_zero and vec.vmax == 1.0  # biases start at 0
    assert "all values are 0" in wfig.heatmap_figure(vec).layout.title.subtitle.text
    cells = rw.matrix_view(big, EMB_NAME, scale="cells")
    assert cells.vmax_scope == "cells" and cells.vmax == pytest.approx(float(np.abs(mv.z).max()))
    assert cells.vmax < mv.vmax / 2  # block means are much smaller than single weights
    win = rw.matrix_view(big, EMB_NAME, rows=(5, 9), cols=(0, 3), scale="window")
    assert win.vmax == pytest.approx(float(np.abs(full[5:9, :3]).max()))
    mx = rw.matrix_view(big, EMB_NAME, rows=(0, 102), cols=(0, 2), max_px=(2, 2), how="maxabs")
    blk = full[0:51, 0]
    assert mx.z[0, 0] == blk[np.argmax(np.abs(blk))] and "largest |w|" in mx.cell_label


def test_heatmap_figure_payload_and_hover(big):
    mv = rw.matrix_view(big, EMB_NAME)
    fig = wfig.heatmap_figure(mv, "word embeddings")
    hm = fig.data[0]
    assert hm.type == "heatmap" and hm.zmid == 0 and hm.zmin == -mv.vmax and hm.zmax == mv.vmax
    assert hm.colorscale[0][1] == rw.DIVERGING[0] and "51×1" in hm.hovertemplate
    assert fig.layout.yaxis.autorange == "reversed"
    assert "NOT trained" in fig.layout.title.subtitle.text or "not trained" in fig.layout.title.subtitle.text
    assert len(fig.to_json()) < 3_000_000
    zoom = wfig.heatmap_figure(rw.matrix_view(big, EMB_NAME, rows=(0, 10), cols=(0, 10)), "zoom")
    assert "value" in zoom.data[0].hovertemplate and list(zoom.data[0].y) == list(range(10))


def test_value_at_and_stats(ckpt):
    st = WeightStore.open([ckpt])
    name = "encoder.layer.0.attention.self.query.weight"
    assert rw.value_at(st, name, 5, 7) == float(Q[5, 7])
    assert rw.value_at(st, "encoder.layer.0.attention.self.query.bias", 0, 3) == float(BIAS[3])
    with pytest.raises(UserError, match="outside"):
        rw.value_at(st, name, 24, 0)
    s = rw.stats(st, name)
    q64 = Q.astype(np.float64)
    assert s["numel"] == 576 and s["shape"] == [24, 24]
    assert s["mean"] == pytest.approx(q64.mean()) and s["std"] == pytest.approx(q64.std())
    assert s["min"] == pytest.approx(q64.min()) and s["max"] == pytest.approx(q64.max())
    assert s["fro_norm"] == pytest.approx(np.linalg.norm(q64))
    assert s["near_zero_share"] == pytest.approx(np.mean(np.abs(Q) < 1e-3))


def test_stats_and_histogram_chunked(monkeypatch, big):
    monkeypatch.setattr(rw, "CHUNK_ELEMS", 1000)  # force many chunks on a small tensor
    st = RandomWeights({"w": (300, 77)}, seed=5)
    w = st.get("w").astype(np.float64)
    s = rw.stats(st, "w")
    assert s["mean"] == pytest.approx(w.mean(), abs=1e-12) and s["std"] == pytest.approx(w.std(), rel=1e-9)
    assert s["fro_norm"] == pytest.approx(np.linalg.norm(w), rel=1e-9)
    counts, edges = rw.histogram(st, "w", bins=60)
    ref, ref_edges = np.histogram(st.get("w"), bins=60, range=(s["min"], s["max"]))
    np.testing.assert_array_equal(counts, ref)
    np.testing.assert_allclose(edges, ref_edges)
    assert counts.sum() == 300 * 77
    fig = wfig.histogram_figure(st, "w")
    assert fig.data[0].type == "bar" and len(fig.data[0].x) == 60
    ln = RandomWeights({"x.LayerNorm.weight": (8,)})
    c, e = rw.histogram(ln, "x.LayerNorm.weight", bins=4)
    assert c.sum() == 8 and e[0] < 1 < e[-1]


def test_head_slices_match_rows_and_columns(ckpt):
    st = WeightStore.open([ckpt])
    qn, on = "encoder.layer.0.attention.self.query.weight", "encoder.layer.0.attention.output.dense.weight"
    hs = rw.head_slices(qn, (24, 24), 4)
    assert [(h.head, h.dim, h.start, h.stop) for h in hs] == [
        (0, 0, 0, 6),
        (1, 0, 6, 12),
        (2, 0, 12, 18),
        (3, 0, 18, 24),
    ]
    ho = rw.head_slices(on, (24, 24), 4)
    assert all(h.dim == 1 for h in ho) and ho[2].range == range(12, 18)
    # per-head views read exactly those rows / columns
    fig = wfig.per_head_figure(st, qn, 4, max_px=(64, 64))
    np.testing.assert_array_equal(np.asarray(fig.data[2].z), Q[12:18, :])
    fig = wfig.per_head_figure(st, on, 4, max_px=(64, 64))
    np.testing.assert_array_equal(np.asarray(fig.data[1].z), OUT[:, 6:12])
    assert fig.layout.coloraxis.cmin == -float(np.abs(OUT).max())
    norms = rw.head_norms(st, on, 4)
    np.testing.assert_allclose(
        norms, [np.linalg.norm(OUT[:, h * 6 : (h + 1) * 6]) for h in range(4)], rtol=1e-6
    )
    bias = rw.head_slices("encoder.layer.0.attention.self.query.bias", (24,), 4)
    assert bias[1].dim == 0 and bias[1].range == range(6, 12)
    with pytest.raises(UserError, match="not split by attention head"):
        rw.head_slices("encoder.layer.0.intermediate.dense.weight", (96, 24), 4)
    with pytest.raises(UserError, match="not divisible"):
        rw.head_slices(qn, (24, 24), 5)


def test_npy_and_png_exports(ckpt, tmp_path):
    st = WeightStore.open([ckpt])
    name = "embeddings.word_embeddings.weight"
    np.testing.assert_array_equal(np.load(io.BytesIO(wfile.to_npy_bytes(st, name))), EMB)
    np.testing.assert_array_equal(
        np.load(io.BytesIO(wfile.to_npy_bytes(st, name, (3, 9), (1, 4)))), EMB[3:9, 1:4]
    )
    np.testing.assert_array_equal(
        np.load(io.BytesIO(wfile.to_npy_bytes(st, "encoder.layer.0.attention.self.query.bias", None, (2, 5)))),
        BIAS[2:5],
    )
    from PIL import Image

    mv = rw.matrix_view(st, name, max_px=(20, 6))
    img = Image.open(io.BytesIO(wfile.to_png_bytes(mv)))
    assert img.format == "PNG" and img.size == (mv.z.shape[1], mv.z.shape[0]) == (6, 17)
    assert Image.open(io.BytesIO(wfile.to_png_bytes(mv, scale=3))).size == (18, 51)
    # colour map: -vmax -> dark blue end, +vmax -> dark red end, 0 -> near white
    rgb = wfile.colorize(np.array([[-1.0, 0.0, 1.0, np.nan]]), 1.0)
    assert tuple(rgb[0, 0]) == (5, 48, 97) and tuple(rgb[0, 2]) == (103, 0, 31)
    assert min(rgb[0, 1]) > 240 and tuple(rgb[0, 3]) == (160, 160, 160)
    out = wfile.save_png(mv, tmp_path / "w.png")
    assert Image.open(out).size == (6, 17)


def test_albert_attention_output_projection_splits_by_columns():
    from bertviz_graph.hierarchy.heads import head_axis as head_split_dim
    from bertviz_graph.render.weights import head_slices

    name = "albert.encoder.albert_layer_groups.0.albert_layers.0.attention.dense.weight"
    assert head_split_dim(name) == 1
    slices = head_slices(name, (768, 768), 12)
    assert [(s.dim, s.start, s.stop) for s in slices[:2]] == [(1, 0, 64), (1, 64, 128)]
    assert head_split_dim("bert.encoder.layer.0.intermediate.dense.weight") is None
