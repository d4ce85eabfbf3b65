"""keras-hub BertBackbone (Keras 3) -> ONNX by tf2onnx, by both routes a TensorFlow user takes:
``tf2onnx.convert.from_function`` on a ``tf.function`` and the SavedModel CLI
(``model.export(dir, format="tf_saved_model")`` then ``python -m tf2onnx.convert --saved-model``).
Records Keras's own ``count_params()`` and the model's outputs on common.IDS beside each file.

Run with a venv that has tensorflow-cpu, keras-hub and tf2onnx (never the project's venv):
    /work/venvs/i23/bin/python scripts/make_onnx_fixtures/make_tf.py
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from common import IDS, OUT, SPEC, TYPES, random_like, versions, write_json  # noqa: E402

OPSET = 17


def build():
    import keras_hub

    keras_hub_model = keras_hub.models.BertBackbone(
        vocabulary_size=SPEC["vocab"], num_layers=SPEC["layers"], num_heads=SPEC["heads"],
        hidden_dim=SPEC["hidden"], intermediate_dim=SPEC["ffn"], max_sequence_length=SPEC["max_positions"],
        num_segments=SPEC["segments"], dropout=0.0)
    rng = np.random.default_rng(0)
    for v in keras_hub_model.weights:
        v.assign(random_like(tuple(v.shape), v.path, rng))
    return keras_hub_model


def main() -> None:
    import tf2onnx

    model = build()
    ids = np.asarray([IDS], dtype=np.int32)
    feed = {"token_ids": ids, "segment_ids": np.asarray([TYPES], dtype=np.int32),
            "padding_mask": np.ones_like(ids)}
    out = model(feed)
    record = {
        "framework": "keras", "model": "keras_hub.models.BertBackbone", "spec": SPEC,
        "params": int(model.count_params()), "params_how": "keras Model.count_params()",
        "inputs": {k: v.tolist() for k, v in feed.items()},
        "outputs": {"sequence_output": np.asarray(out["sequence_output"])[0].tolist(),
                    "pooled_output": np.asarray(out["pooled_output"])[0].tolist()},
        "versions": versions("tensorflow", "tensorflow-cpu", "keras", "keras-hub", "tf2onnx", "onnx"),
        "opset": OPSET,
    }
    spec = [tf.TensorSpec([None, None], tf.int32, name=k) for k in feed]

    @tf.function(input_signature=spec)
    def fn(token_ids, segment_ids, padding_mask):
        o = model({"token_ids": token_ids, "segment_ids": segment_ids, "padding_mask": padding_mask})
        return {"sequence_output": o["sequence_output"], "pooled_output": o["pooled_output"]}

    path = OUT / "tf_function.onnx"
    tf2onnx.convert.from_function(fn, input_signature=spec, opset=OPSET, output_path=str(path))
    write_json("tf_function.json", {**record, "exporter": "tf2onnx.convert.from_function"})

    with tempfile.TemporaryDirectory() as d:
        saved = os.path.join(d, "saved_model")
        model.export(saved, format="tf_saved_model")
        path = OUT / "tf_savedmodel.onnx"
        subprocess.run([sys.executable, "-m", "tf2onnx.convert", "--saved-model", saved, "--opset", str(OPSET),
                        "--output", str(path)], check=True)
    write_json("tf_savedmodel.json", {**record, "exporter": "python -m tf2onnx.convert --saved-model"})


if __name__ == "__main__":
    main()
