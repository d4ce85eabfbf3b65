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
    # N steps on a copy: a job in the server's jobs folder that the tab polls; its first loss is this step's
    page.fill("#bv-train-steps", "3")
    page.click("#bv-train-steps-go")
    page.wait_for_function("document.querySelector('#bv-train-job-status').textContent.includes('3 steps on a copy:"
                           " loss')", timeout=120000)
    m = re.search(r"loss ([\d.e-]+) → ([\d.e-]+)", page.text_content("#bv-train-job-status"))
    assert float(m.group(1)) == pytest.approx(want, rel=1e-3)
    page.wait_for_selector("#bv-train-compare", state="visible")
    done = [json.loads((d / "status.json").read_text()) for d in jobs.temp_root().iterdir() if (d / "status.json").exists()]
    done = [d for d in done if d.get("kind") == "train" and d["state"] == "done"]
    last = max(done, key=lambda d: d["time"])
    assert len(last["losses"]) == 3 and (Path(last["folder"]) / "config.json").is_file()
    assert Path(last["folder"]).resolve().is_relative_to(jobs.temp_root().resolve())
    # select a Linear: the rule on its strongest edge, sum = autograd
    page.fill("#bv-search-input", "layer.0.attention.self.query")
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
