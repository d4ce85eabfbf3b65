"""Colour-by from the analyses (presenters/analysis_colors.py): effective rank / full rank per weight and the
FFN ablation's effect per layer, checked against numpy's SVD and a hooked transformers model with the kernel
form of CKA; the app and the widget colour the same boxes with the same values."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import transformers

from tests.tiny_models import tiny_model

SENTENCES = ["The cat sat on the mat.", "A storm closed the airport, sadly!",
             "She finished the marathon in just under four hours.", "Why did the train stop?",
             "Rain fell on the quiet town all night.", "He sold his bike to buy a guitar."]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return tiny_model(tmp_path_factory.mktemp("tiny") / "m", cls="BertModel", num_hidden_layers=3,
                      initializer_range=0.5)


@pytest.fixture(scope="module")
def graph(tiny):
    import bertviz_graph as bg

    return bg.trace(str(tiny))


def _eff_over_full(w: np.ndarray) -> float:
    s = np.linalg.svd(w.astype(np.float64), compute_uv=False)
    p = s / s.sum()
    return float(np.exp(-(p * np.log(p)).sum()) / min(w.shape))


def test_rank_colour_by_in_app_and_widget(graph, tiny):
    from bertviz_graph.app.context import COLOR_MODES, AppContext
    from bertviz_graph.layout import layout_of
    from bertviz_graph.view import View
    from bertviz_graph.widget import GraphWidget

    params = dict(transformers.BertModel.from_pretrained(tiny).named_parameters())
    assert "rank" in COLOR_MODES and "ffn_cka" in COLOR_MODES
    C = AppContext(graph)
    view = View.default(graph.hierarchy).reveal("param:encoder.layer.0.attention.self.query.weight")
    nodes = {n.id: n for n in view.data().nodes}
    q = nodes["param:encoder.layer.0.attention.self.query.weight"]
    want_q = _eff_over_full(params["encoder.layer.0.attention.self.query.weight"].detach().numpy())
    assert C.node_value(q, "rank") == pytest.approx(want_q, rel=1e-5)
    # closed groups: the mean over the Linear weights beneath them (biases and LayerNorms have no rank)
    for gid, names in (("encoder.layer.0.attention.self.key", ["encoder.layer.0.attention.self.key.weight"]),
                       ("encoder.layer.0.attention.output", ["encoder.layer.0.attention.output.dense.weight"])):
        want = np.mean([_eff_over_full(params[n].detach().numpy()) for n in names])
        assert C.node_value(nodes[gid], "rank") == pytest.approx(want, rel=1e-5)
    assert C.node_value(nodes["softmax"], "rank") is None  # an op holds no weight
    r = C.render(view.state, "rank")
    assert r.vrange is not None and 0 < r.vrange[0] <= r.vrange[1] <= 1
    # the widget colours the same boxes, with the value in each tooltip
    w = GraphWidget(graph)
    w._set_view(view)
    w.color_by = "rank"
    assert not w.error
    tips = w._tips["nodes"]
    assert tips[q.id] == f"Effective rank / full rank: {want_q:.3f}"
    fills = {n.id for n in layout_of(view).view.nodes if n.id in r.values}
    assert fills and all(f"{r.values[i]:.3f}" in tips[i] for i in fills)


def _kernel_cka(x: np.ndarray, y: np.ndarray) -> float:
    """Kornblith et al.'s HSIC form with linear kernels (independent of analyze.cka's feature form)."""
    n = len(x)
    h = np.eye(n) - 1.0 / n
    k, m = h @ (x @ x.T) @ h, h @ (y @ y.T) @ h
    return float((k * m).sum() / np.sqrt((k * k).sum() * (m * m).sum()))


def test_ffn_colour_by_is_one_minus_last_layer_cka(graph, tiny):
    from bertviz_graph.analyze.ablation import ablation_study
    from bertviz_graph.presenters.analysis_colors import param_values
    from bertviz_graph.pruning.holdout import split

    study = ablation_study(str(tiny), SENTENCES, keeps=(0.5,), task=None)
    values, _notes = param_values(graph, "ffn_cka", study)
    tok = transformers.AutoTokenizer.from_pretrained(tiny)
    model = transformers.BertModel.from_pretrained(tiny).eval()
    meas = split(SENTENCES).measuring

    def last_states() -> np.ndarray:
        enc = tok(meas, padding=True, return_tensors="pt")
        with torch.no_grad():
            out = model(**enc).last_hidden_state
        return out[enc["attention_mask"].bool()].double().numpy()

    base = last_states()
    for k in range(3):
        hook = model.encoder.layer[k].output.dense.register_forward_hook(lambda _m, _a, o: torch.zeros_like(o))
        want = 1.0 - _kernel_cka(base, last_states())
        hook.remove()
        for name in (f"encoder.layer.{k}.intermediate.dense.weight", f"encoder.layer.{k}.output.dense.weight"):
            assert values[name] == pytest.approx(want, abs=1e-6)
    assert not any(".attention." in n for n in values)  # the attention block is not what was removed


def test_clicking_a_head_in_the_widget_opens_its_map_and_slices(graph, tiny):
    from plotly.callbacks import InputDeviceState, Points

    from bertviz_graph.presenters.analysis import clicked_head
    from bertviz_graph.pruning.data import BUILTIN_SENTENCES
    from bertviz_graph.widget import GraphWidget

    w = GraphWidget(graph)
    box = w.analysis("heads", sentences=SENTENCES)
    fw = box.children[2].children[0]
    layer1 = next(t for t in fw.data if t.name == "layer 1")
    # what a click on the map's 2nd point of layer 1 sends (plotly's own callback objects)
    layer1._dispatch_on_click(Points(point_inds=[1], xs=[0.0], ys=[0.0], trace_name="layer 1", trace_index=2),
                              InputDeviceState())
    assert w.selected == "encoder.layer.1.attention.self.query" and w._matrix_args["highlight"] == 1
    figs = box.children[3].children
    assert len(figs) >= 5  # the map, then Q, K, V and the output projection with the head outlined
    tok = transformers.AutoTokenizer.from_pretrained(tiny)
    model = transformers.BertModel.from_pretrained(tiny, attn_implementation="eager").eval()
    with torch.no_grad():
        att = model(**tok(BUILTIN_SENTENCES[0], return_tensors="pt"), output_attentions=True).attentions
    assert np.allclose(np.asarray(figs[0].data[0].z, float), att[1][0, 1].numpy(), atol=1e-5)
    # the app reads the same clicks: a map point's customdata, a matrix cell's row head
    assert clicked_head({"points": [{"customdata": [2, 3], "x": 0.1}]}) == (2, 3)
    assert clicked_head({"points": [{"x": "L0.H1", "y": "L1.H0", "z": 0.2}]}) == (1, 0)
    assert clicked_head({"points": []}) is None
