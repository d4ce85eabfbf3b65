"""The app's Training tab in a browser: a step's counts and loss against torch, the edge rule of a selected
Linear, and bad input as one sentence."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import torch

import bertviz_graph as bg
from bertviz_graph import jobs
from bertviz_graph.app import make_app
from bertviz_graph.run.load import load_runnable

A, B = "A man is playing a guitar.", "Someone plays an instrument."


def test_training_tab_step_edge_rule_and_bad_input(page, serve_dash, console_errors):
    g = bg.trace("all-MiniLM-L6-v2")
    url = serve_dash(make_app(g))
    page.set_viewport_size({"width": 1500, "height": 1000})
    page.goto(url + "/")
    page.click("#bv-tab-training")
    page.click("#bv-train-go")
    page.wait_for_selector("#bv-train-strip .bars", timeout=120000)
    status = page.text_content("#bv-train-status")
    model = load_runnable(g).model
    n = sum(p.numel() for p in model.parameters())
    assert f"{n:,} of {n:,} numbers train" in status and "dropout off" in status
    # the loss against the plain model: mean-pooled last hidden states, (cos − 0.5)²
    tok = load_runnable(g).tokenizer
    with torch.no_grad():
        u, v = (model(**tok(s, return_tensors="pt")).last_hidden_state[0].mean(0) for s in (A, B))
    want = float((torch.cosine_similarity(u, v, dim=0) - 0.5) ** 2)
    got = float(re.search(r"loss ([\d.e-]+)", status).group(1))
    assert got == pytest.approx(want, rel=1e-3)
    # colour-by gradient: the embeddings box says ‖∂L/∂W‖ of its weights, against autograd on the plain model
    with torch.enable_grad():
        u, v = (model(**tok(s, return_tensors="pt")).last_hidden_state[0].mean(0) for s in (A, B))
        emb = [p for name, p in model.named_parameters() if name.startswith("embeddings.")]
        grads = torch.autograd.grad((torch.cosine_similarity(u, v, dim=0) - 0.5) ** 2, emb)
    want = float(sum(gr.double().pow(2).sum() for gr in grads) ** 0.5)
    page.click("#bv-color-by")
    page.click("text=Gradient ‖∂L/∂W‖ (this tab's training step)")
    page.wait_for_function("(window.bvgGraph.canvas.nodeTips['embeddings'] || '').startsWith('‖∂L/∂W‖')",
                           timeout=60000)
    tip = page.evaluate("window.bvgGraph.canvas.nodeTips['embeddings']")
    assert float(tip.rsplit(" ", 1)[1]) == pytest.approx(want, rel=5e-3)
    assert "frozen: no update" in page.text_content("#bv-legend")
    page.screenshot(path="/tmp/bvg-train-grad.png")
    # backward: edges drawn by the gradient they carry back, ∂L/∂x on their tooltips
    page.click("#bv-color-by")
    page.click("text=Backward: ‖∂L/∂x‖ on the edges (this tab's training step)")
    page.wait_for_function("[...document.querySelectorAll('#bv-graph g.edge path')]"
                           ".some((p) => +p.getAttribute('stroke-width') > 3)", timeout=60000)
    page.wait_for_function("Object.values(window.bvgGraph.canvas.edgeTips || {}).some((t) => t.includes('∂L/∂'))",
                           timeout=30000)
    page.screenshot(path="/tmp/bvg-train-backward.png")
    # N steps on a copy of the last two layers -> Compare: the trained copy beside the model, only they changed
    page.click("#bv-train-set")
    page.get_by_role("option", name="last:2", exact=True).click()
    page.fill("#bv-train-steps", "2")
    page.click("#bv-train-steps-go")
    # ... a job in the server's jobs folder that the tab polls; its first loss is the step's loss (checked above)
    page.wait_for_function("document.querySelector('#bv-train-job-status').textContent.includes('2 steps on a copy"
                           " (sgd): loss')", timeout=120000)
    m = re.search(r"loss ([\d.e-]+) → ([\d.e-]+)", page.text_content("#bv-train-job-status"))
    assert float(m.group(1)) == pytest.approx(got, rel=1e-3)
    page.wait_for_selector("#bv-train-compare", state="visible", timeout=60000)
    done = [json.loads((d / "status.json").read_text()) for d in jobs.temp_root().iterdir() if (d / "status.json").exists()]
    done = [d for d in done if d.get("kind") == "train" and d["state"] == "done"]
    last = max(done, key=lambda d: d["time"])
    assert len(last["losses"]) == 2 and (Path(last["folder"]) / "config.json").is_file()
    assert Path(last["folder"]).resolve().is_relative_to(jobs.temp_root().resolve())
    page.click("#bv-train-compare")
    page.wait_for_function("document.body.textContent.includes('Parameter modules that differ')", timeout=120000)
    folder = page.input_value("#bv-diff-input")
    from transformers import AutoModel

    after = AutoModel.from_pretrained(folder).state_dict()
    changed = {k.rsplit(".", 1)[0] for k, t in model.state_dict().items() if not torch.equal(t, after[k])}
    assert changed and {c.split(".")[2] for c in changed} == {"4", "5"}  # layers 4 and 5 only
    m = re.search(r"Parameter modules that differ \((\d+) of (\d+)\)", page.text_content("body"))
    assert m and int(m.group(1)) == len(changed)
    page.click("#bv-tab-training")
    # select a Linear: the rule on its strongest edge, sum = autograd
    page.fill("#bv-search-input", "layer.5.attention.self.query")
    page.press("#bv-search-input", "Enter")
    page.wait_for_function("document.querySelector('#bv-train-sel').textContent.includes('strongest edge')",
                           timeout=60000)
    text = page.text_content("#bv-train-sel")
    m = re.search(r"sum = ([+-][\d.e+-]+)\s+\(autograd: ([+-][\d.e+-]+)\)", text)
    assert m and float(m.group(1)) == pytest.approx(float(m.group(2)), rel=1e-5)
    page.wait_for_selector("#bv-train-heat .heatmaplayer", timeout=30000)
    page.wait_for_selector("#bv-train-wgrad .heatmaplayer", timeout=30000)
    assert "largest: [" in page.text_content("#bv-train-wgrad")
    # bad input: one sentence in the page
    page.fill("#bv-train-lr", "0")
    page.click("#bv-train-go")
    page.wait_for_function("document.querySelector('#bv-train-status').textContent.includes('must be > 0')",
                           timeout=60000)
    assert "Traceback" not in page.content()
    assert console_errors == []
