"""A training step drawn on the graph (issue 21, items 1-5): colour-by gradient / update per layer through the
×N slider in the app's controller and the widget, the backward edges and their tooltips against tensor hooks
on the plain model, head bands of ∂L/∂W against numpy, the optimizer named in Δw, progress of N steps."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
from tiny_models import tiny_model

import bertviz_graph as bg
from bertviz_graph.run.load import load_runnable
from bertviz_graph.train.step import train_step

TEXT = "The cat sat on the mat because it was tired."
DENSE = "bert.encoder.layer.1.intermediate.dense"


@pytest.fixture(scope="module")
def mlm(tmp_path_factory):
    g = bg.trace(str(tiny_model(tmp_path_factory.mktemp("train_graph") / "mlm")))
    return g, load_runnable(g)


@pytest.fixture(scope="module")
def plain(mlm):
    """The plain model's own MLM loss with a hook on DENSE's output: ({name: ∂L/∂W}, ∂L/∂DENSE-output)."""
    g, run = mlm
    toks = run.tokenize(TEXT)
    ids = torch.tensor([toks.input_ids])
    where = toks.tokens.index("tired")
    labels = torch.full_like(ids, -100)
    labels[0, where] = ids[0, where]
    ids[0, where] = run.tokenizer.mask_token_id
    seen = {}

    def keep(_m, _i, out) -> None:  # returns None: the output is left as it is
        out.register_hook(lambda gr: seen.__setitem__("g", gr.detach().clone()))

    hook = run.model.get_submodule(DENSE).register_forward_hook(keep)
    try:
        loss = run.model(ids, labels=labels).loss
        names, params = zip(*run.model.named_parameters())
        grads = torch.autograd.grad(loss, params, allow_unused=True)
    finally:
        hook.remove()
    return {n: gr for n, gr in zip(names, grads) if gr is not None}, seen["g"]


def _norm(names, grads) -> float:
    return sum(float(grads[n].double().pow(2).sum()) for n in names) ** 0.5


def test_backward_edges_and_their_tooltips_equal_a_tensor_hook(mlm, plain):
    from bertviz_graph.api import make_view
    from bertviz_graph.layout import layout_of
    from bertviz_graph.presenters.training_graph import EDGE_WIDTH, picture

    g, run = mlm
    grads, hooked = plain
    step = train_step(g, run, TEXT, objective="mlm", mask="tired")
    view = make_view(g, 3).unfold(all_series=True).reveal(DENSE)
    lv = layout_of(view)
    pic = picture(step, view, lv, "backward")
    out = [e for e in view.data().edges if e.source == DENSE]
    assert out, "the dense Linear's box has an edge out"
    want = float(hooked.double().norm())
    for e in out:  # what leaves the Linear is its output: ‖∂L/∂y‖ equals the hook's
        assert pic["values"][e.id] == pytest.approx(want, rel=1e-5)
        assert f"‖·‖ {want:.3g}" in pic["tips"]["edges"][e.id]
    hi = max(pic["values"].values())
    for eid, v in pic["values"].items():  # widths linear in the value, the largest the widest
        assert pic["strokes"][eid][1] == pytest.approx(EDGE_WIDTH[0] + v / hi * (EDGE_WIDTH[1] - EDGE_WIDTH[0]))
    # boxes stay neutral: the edges carry the colour
    assert set(pic["fills"].values()) == {"#f7f7f7"}


def test_app_colour_by_follows_the_tabs_step_per_layer_through_the_slider(mlm, plain):
    from bertviz_graph.app import graph_panel, ids
    from bertviz_graph.app.context import AppContext
    from bertviz_graph.presenters.training import FROZEN_FILL

    g, run = mlm
    grads, _ = plain
    C = AppContext(g)
    spec = {"text": TEXT, "pair": "", "target": None, "objective": "mlm", "mask": "tired", "set": "last:1", "lr": 0.01,
            "opt": "sgd", "steps": 0, "nonce": 1}
    # before the step is taken: no values, the legend says what to do
    out = graph_panel.controller(C, ids.COLOR_BY, color_by="grad", state=None, train=spec)
    assert "take a step in the Training tab" in str(out["legend"])
    C.train_session.step(spec)
    series = next(s for s, grp in C.h.groups.items() if grp.kind == "series")
    names = {k: [n for n in grads if n.startswith(f"bert.encoder.layer.{k}.attention.")] for k in (0, 1)}
    for k in (0, 1):  # the slider shows layer k: its attention box is coloured by layer k's own gradient
        state = {"opened": ["bert", "bert.encoder", series], "unfolded": [], "instance": {series: k}}
        out = graph_panel.controller(C, ids.COLOR_BY, color_by="grad", state=state, train=spec)
        r = C.render(C.state(state)[0], "grad", None, spec)
        box = f"bert.encoder.layer.{k}.attention"
        svg = out["picture"]["svg"]
        fill = re.search(rf'data-id="{re.escape(box)}".*?fill="(#[0-9a-f]+)"', svg, re.S).group(1)
        if k == 0:  # frozen under last:1: drawn as frozen, no value
            assert box not in r.values and fill == FROZEN_FILL
        else:
            assert r.values[box] == pytest.approx(_norm(names[1], grads), rel=1e-5)
            assert fill != FROZEN_FILL
            assert "frozen: no update in this step" in str(out["legend"])
    # relative update (SGD): ‖ΔW‖/‖W‖ = lr ‖g‖ / ‖W‖ over the box's weights
    r = C.render(C.state(state)[0], "update", None, spec)
    wn = sum(float(p.detach().double().pow(2).sum()) for n, p in run.model.named_parameters() if n in names[1]) ** 0.5
    assert r.values["bert.encoder.layer.1.attention"] == pytest.approx(0.01 * _norm(names[1], grads) / wn, rel=1e-4)
    assert r.tips["nodes"]["bert.encoder.layer.1.attention"].startswith("‖ΔW‖/‖W‖ (sgd, lr 0.01)")


def test_widget_colour_by_tab_data_head_bands_and_the_optimizer(mlm, plain):
    from bertviz_graph.presenters.training import grad_heads
    from bertviz_graph.widget import GraphWidget

    g, run = mlm
    grads, _ = plain
    w = GraphWidget(g)
    w.color_by = "grad"
    assert "train_step" in w.error  # no step yet: says what to call
    step = w.train_step(TEXT, objective="mlm", mask="tired", lr=0.01, optimizer="adamw")
    nodes = w._tips["nodes"]
    assert any(v.startswith("‖∂L/∂W‖") for v in nodes.values()) and any("passes the gradient on" in v
                                                                           for v in nodes.values())
    w.color_by = "backward"
    widths = [float(x) for x in re.findall(r'<g class="edge".*?stroke-width="([\d.]+)"', w.svg, re.S)]
    assert max(widths) > 2  # edges drawn by their gradient (the kinds' own widths are ≤ 1.6)
    q = "bert.encoder.layer.0.attention.self.query"
    w.select(q)
    tab = w.train_tab
    assert tab["lines"][0].startswith("mlm: loss") and tab["layers"][0]["group"] == "embeddings"
    # head bands: the query's rows split by the 4 heads (hierarchy/heads.py), norms against numpy
    ref = grads[f"{q}.weight"].double().numpy()
    split = grad_heads(step, f"{q}.weight")
    assert split.axis == 0 and split.count == 4
    assert np.allclose(tab["heads"], [np.linalg.norm(ref[8 * k:8 * k + 8]) for k in range(4)], rtol=1e-5)
    top = tab["top"][0]
    assert abs(top["grad"]) == pytest.approx(np.abs(ref).max(), rel=1e-5) and top["head"] == top["out"] // 8
    # the rule's Δw names the optimizer and equals AdamW's first step −lr·g/(|g|+ε) at that entry
    m = re.search(r"w\[(\d+),(\d+)\]", tab["rule"][0])
    j, i = int(m.group(1)), int(m.group(2))
    gji = ref[j, i]
    assert "AdamW, first step, lr 0.01" in tab["rule"][-1]
    assert float(tab["rule"][-1].rsplit("=", 1)[1]) == pytest.approx(-0.01 * gji / (abs(gji) + 1e-8), rel=1e-4)
    assert "SGD, lr 0.01" in step.edge(q, j, i).lines()[-1]
    # the neuron view's strongest-gradient edges: the largest |∂L/∂w_ji| first, their share of Σ|∂L/∂W|
    from bertviz_graph.presenters.training import grad_edges

    d = grad_edges(step, q, n_in=6, n_out=6, n_edges=10)
    i0, j0, g0 = d["edges"][0]
    assert (j0, i0) == np.unravel_index(np.abs(ref).argmax(), ref.shape) and g0 == pytest.approx(ref[j0, i0], rel=1e-5)
    assert d["share"] == pytest.approx(sum(abs(ref[jj, ii]) for ii, jj, _ in d["edges"]) / np.abs(ref).sum(), rel=1e-5)


def test_n_steps_report_progress_and_write_the_copy(mlm, tmp_path):
    """What the Training tab's job (train/job.py) runs: the steps report each loss as they go, the copy is written."""
    from bertviz_graph.train.update import save_trained, train_steps

    g, run = mlm
    seen = []
    model, losses = train_steps(run, [{"text": TEXT, "pair": None, "target": None}], 2, 0.01, "last:1", "adamw",
                                "mlm", progress=lambda k, n, loss: seen.append((k, n, loss)))
    assert [(k, n) for k, n, _ in seen] == [(1, 2), (2, 2)] and [x[2] for x in seen] == losses
    folder = save_trained(model, tmp_path / "after-2-steps", run)
    after = load_runnable(bg.trace(folder)).model.state_dict()
    before = run.model.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed and all(k.startswith("bert.encoder.layer.1.") for k in changed)  # last:1 only


@pytest.mark.browser
def test_widget_training_tab_in_a_browser(mlm, page, console_errors, serve_dir, tmp_path):
    """The widget's Training tab draws the presenter's data: one bar per layer group, the rule of the selected
    Linear with autograd's sum; its colour buttons set color_by, which the kernel turns into gradient fills."""
    from widget_host import png, values, write_host

    from bertviz_graph.presenters.training import layer_strip
    from bertviz_graph.widget import GraphWidget

    g, _ = mlm
    w = GraphWidget(g, height=560)
    step = w.train_step(TEXT, objective="mlm", mask="tired", trainable="last:1")
    w.select("bert.encoder.layer.1.attention.self.query")
    write_host(tmp_path)
    page.set_viewport_size({"width": 1140, "height": 640})
    page.goto(serve_dir(tmp_path) + "/index.html")
    page.wait_for_function("window.loaded === true")
    page.evaluate("([v, p]) => window.init(v, p)", [values(w), png(w)])
    page.click("button.bvg-tab[data-panel='training']")
    page.wait_for_selector(".bvg-train-bars[data-key='grad_norm']")
    rows = layer_strip(step)
    assert page.locator(".bvg-train-bars[data-key='grad_norm'] .bvg-train-row").count() == len(rows)
    assert page.locator(".bvg-train-bars[data-key='grad_norm'] .bvg-frozen").count() == sum(r["frozen"] for r in rows)
    rule = page.inner_text(".bvg-train-rule")
    m = re.search(r"sum = ([+-][\d.e+-]+)\s+\(autograd: ([+-][\d.e+-]+)\)", rule)
    assert m and float(m.group(1)) == pytest.approx(float(m.group(2)), rel=1e-5)
    page.click(".bvg-train button[data-mode='grad']")
    w.color_by = page.evaluate("window.model.get('color_by')")  # what the kernel receives from save_changes
    page.evaluate("(v) => window.push(v, null)", {k: v for k, v in values(w).items() if k in ("svg", "_tips")})
    page.wait_for_function("window.model.get('svg').includes('#d9d9d9')")  # frozen layer 0 drawn grey
    page.screenshot(path="/tmp/bvg-widget-training.png")


def test_lora_adapters_colour_their_linears_with_peft_share(mlm):
    """trainable=lora:R: the adapted Linears are coloured by their adapters' gradient (the rest frozen), their
    tooltips name the adapters, and the share said is peft's own count."""
    from peft import LoraConfig, get_peft_model

    from bertviz_graph.api import make_view
    from bertviz_graph.layout import layout_of
    from bertviz_graph.presenters.training import FROZEN_FILL, lora_sentence
    from bertviz_graph.presenters.training_graph import picture
    from bertviz_graph.train.trainable import lora_targets

    g, run = mlm
    step = train_step(g, run, TEXT, objective="mlm", mask="tired", trainable="lora:4")
    view = make_view(g, 3).unfold(all_series=True).reveal("bert.encoder.layer.1.attention.self.query")
    lv = layout_of(view)
    pic = picture(step, view, lv, "grad")
    q, inter = "bert.encoder.layer.1.attention.self.query", "bert.encoder.layer.1.intermediate"
    assert pic["values"][q] > 0 and "LoRA r=4: 1 adapter pair(s) A·B, 256 numbers train" in pic["tips"]["nodes"][q]
    assert pic["fills"][inter] == FROZEN_FILL
    # drawn beside the frozen weight: one badge per visible adapted Linear, A·B's share of that Linear's numbers
    adapted = [n.id for n in lv.view.nodes if not n.expanded and n.id.startswith("bert.encoder.layer.1.attention.self.")
               and n.id.rsplit(".", 1)[-1] in ("query", "key", "value")]
    assert pic["overlay"].count("<rect") == len(adapted) >= 1
    assert f"LoRA A·B r=4: {100 * 256 / (32 * 32 + 32 + 256):.1f} %" in pic["overlay"]
    import copy

    ref = get_peft_model(copy.deepcopy(run.model), LoraConfig(r=4, lora_alpha=4, target_modules=lora_targets(run.model)))
    trainable, total = ref.get_nb_trainable_parameters()
    assert f"LoRA r=4: {100 * trainable / total:.2f} % of the weights train" in lora_sentence(step)
