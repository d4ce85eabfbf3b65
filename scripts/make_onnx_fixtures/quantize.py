"""int8 versions of the float fixtures, as onnxruntime's quantization tools make them: dynamic
(MatMulInteger + DynamicQuantizeLinear) and static QDQ (int8 initializers behind DequantizeLinear,
calibrated on the fixture's own sentence). The framework's parameter count is carried over from the
float file's JSON; the scales and zero points the quantizer adds are counted separately by the tests.

    /work/venvs/i23/bin/python scripts/make_onnx_fixtures/quantize.py
"""

from __future__ import annotations

import json

import numpy as np
from common import OUT, versions, write_json
from onnxruntime.quantization import (
    CalibrationDataReader,
    QuantFormat,
    QuantType,
    quantize_dynamic,
    quantize_static,
)

SOURCES = ("tf_function", "paddle")


class _Reader(CalibrationDataReader):
    def __init__(self, feed: dict[str, np.ndarray]):
        self.items = iter([feed])

    def get_next(self):
        return next(self.items, None)


def main() -> None:
    import onnx

    for src in SOURCES:
        rec = json.loads((OUT / f"{src}.json").read_text())
        model = onnx.load(str(OUT / f"{src}.onnx"))
        types = {i.name: onnx.helper.tensor_dtype_to_np_dtype(i.type.tensor_type.elem_type)
                 for i in model.graph.input}
        feed = {k: np.asarray(v, dtype=types[k]) for k, v in rec["inputs"].items()}
        base = {k: rec[k] for k in ("framework", "model", "spec", "params", "params_how", "inputs")}
        base["versions"] = {**rec["versions"], **versions("onnxruntime")}
        quantize_dynamic(str(OUT / f"{src}.onnx"), str(OUT / f"{src}_int8_dynamic.onnx"),
                         weight_type=QuantType.QInt8)
        write_json(f"{src}_int8_dynamic.json", {**base, "source": f"{src}.onnx",
                                                "exporter": rec["exporter"] + " + onnxruntime quantize_dynamic"})
        quantize_static(str(OUT / f"{src}.onnx"), str(OUT / f"{src}_int8_qdq.onnx"), _Reader(feed),
                        quant_format=QuantFormat.QDQ, weight_type=QuantType.QInt8,
                        activation_type=QuantType.QInt8)
        write_json(f"{src}_int8_qdq.json", {**base, "source": f"{src}.onnx",
                                            "exporter": rec["exporter"] + " + onnxruntime quantize_static (QDQ)"})


if __name__ == "__main__":
    main()
