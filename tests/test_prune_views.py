"""A pruned model seen in the graph: the presenter's numbers against direct counts, the app's Pruning tab and
sparsity colour-by, the classifier agreement metric."""

from __future__ import annotations

import json

import numpy as np
import pytest
from safetensors.numpy import load_file
from tiny_models import tiny_model  # noqa: E402

import bertviz_graph as bg
from bertviz_graph.cli import main


@pytest.fixture(scope="module")
def pruned(tmp_path_factory):
    root = tmp_path_factory.mktemp("pv")
    folder = tiny_model(root / "tiny")
    out = root / "tiny-heads"
    assert main(["prune", str(folder), "--method", "heads-importance", "--amount", "0.25", "-o", str(out)]) == 0
    return folder, out


def test_presenter_counts_match_the_weights(pruned):
    from bertviz_graph.details import weights_for
    from bertviz_graph.presenters.pruning import group_sparsity, head_grid_figure, pruning_panel

    folder, out = pruned
    g = bg.trace(str(out))
    p = pruning_panel(g, weights_for(g))
    rec = json.loads((out / "config.json").read_text())["bertviz_graph_pruning"]
    assert p.pruned and p.method == "heads-importance"
    heads = {gs.group: gs.heads for gs in p.groups if gs.heads}
    assert heads == {f"bert.encoder.layer.{k}": v for k, v in rec["heads"].items()}
    # zeros per layer = what the safetensors file holds, counted directly
    t = load_file(out / "model.safetensors")
    for gs in p.groups:
        i = gs.group.rsplit(".", 1)[-1]
        ks = [k for k, v in t.items() if f"encoder.layer.{i}." in k and v.ndim == 2]
        assert gs.zeros == sum(int((t[k] == 0).sum()) for k in ks)
        # a pruned head of d_head 8 removes its 8 rows of Q, K, V (+ biases) and 8 columns of the output
        assert gs.params_removable == len(gs.heads) * (3 * (8 * 32 + 8) + 32 * 8)
        assert (gs.flops_removable > 0) == bool(gs.heads)
    assert any("cutting them out saves" in s for s in p.summary)
    assert "no FLOPs in dense kernels" in p.notes[0]
    fig = head_grid_figure(p.head_grid)
    assert np.asarray(fig.data[0].z).shape == (2, 4)
    assert sum(list(row).count("✕") for row in fig.data[0].text) == 2
    gsp = group_sparsity(g, p.sparsity)
    q = "bert.encoder.layer.0.attention.self.query"
    assert gsp[q] == pytest.approx(float((t[q + ".weight"] == 0).mean()))
    # an unpruned model says so, and reports no savings
    g0 = bg.trace(str(folder))
    p0 = pruning_panel(g0, weights_for(g0))
    assert not p0.pruned and p0.head_grid is None


def test_app_pruning_tab_and_sparsity_colour(pruned):
    from bertviz_graph.app import attention_panel, ids, make_app, pruning_panel

    _folder, out = pruned
    app = make_app(bg.trace(str(out)))
    C = app.bv_context
    r = C.render(C.default_state, "sparsity")
    assert r.vrange is not None and 0 < r.vrange[0] <= r.vrange[1] < 1
    text = json.dumps(app.layout().to_plotly_json(), default=str)  # the page of a tab on the server's model
    assert "2 of 8 attention heads pruned" in text and "no FLOPs in dense kernels" in text
    cb = next(v for k, v in app.callback_map.items() if attention_panel.LAYER in k and ids.VIEW_REQUEST in k)
    res = cb["callback"].__wrapped__({"points": [{"customdata": [1, 3]}]})
    assert res[1:] == (1, 3, attention_panel.TAB_VALUE)
    assert res[0]["id"] == "bert.encoder.layer.1.attention.self.query"
    zc = next(v for k, v in app.callback_map.items() if pruning_panel.ZEROS in k)
    graph = zc["callback"].__wrapped__("bert.encoder.layer.0.attention.self.value.weight")
    assert "exactly zero" in json.dumps(graph.to_plotly_json()["props"]["figure"].to_plotly_json()["layout"])


def test_notebook_pruning_widget(pruned):
    _folder, out = pruned
    box = bg.show_pruning(str(out))
    controls, _status, body = box.children  # method / amount / Prune, progress, the panel
    assert type(controls).__name__ == "PruneControls" and "heads-random" in controls.methods
    assert "2 of 8 attention heads pruned" in body.children[0].value
    assert len(body.children) == 2 and body.children[1].data[0].type == "heatmap"


def test_classifier_logits_agreement(tmp_path):
    folder = tiny_model(tmp_path / "cls", cls="BertForSequenceClassification", num_labels=3)
    p0 = bg.prune(str(folder), "magnitude", 0.0)
    assert p0.metrics()["logits_top1_agreement"] == 1.0
    p = bg.prune(str(folder), "magnitude", 0.9)
    m = p.metrics()
    assert 0.0 <= m["logits_top1_agreement"] <= 1.0 and m["embedding_cosine"] < 1.0
