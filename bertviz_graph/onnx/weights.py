"""Weights of an imported ONNX model, read from the file only when a matrix is shown.

Same API as ``sources.weights.WeightStore`` (names, resolve, shape, dtype, get, get_slice), so heatmaps,
per-head splits and the neuron view need nothing ONNX-specific. Two differences are made invisible here:
- a MatMul weight is stored [in, out] (y = x·W); it is shown as [out, in], PyTorch's Linear layout
  (rows = output neurons), and the parameter's ``note`` says so;
- an int8/uint8 weight read through DequantizeLinear is shown dequantized, (q - zero_point) · scale.
External data is memory-mapped (only the rows shown are touched); tensors stored inside the .onnx file are
read from the parsed file, which is loaded the first time a weight is asked for.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np

from bertviz_graph.errors import UserError
from bertviz_graph.onnx.wire import read_model
from bertviz_graph.sources.paths import inside


class OnnxWeights:
    trained = True

    def __init__(self, path: str | Path, params: dict[str, dict[str, Any]]):
        """``params``: shown name -> {"onnx_name", "shape", "dtype", "layout", "quant"} (from the OpGraph)."""
        self.path = Path(path)
        if not str(self.path).lower().endswith(".onnx") or not self.path.resolve().name.lower().endswith(".onnx"):
            raise UserError(f"{self.path} is not an .onnx file (after links); refused, nothing read",
                            "import the .onnx file itself")
        if not self.path.is_file():
            raise UserError(f"the ONNX file {self.path} this graph was imported from is gone",
                            "import the .onnx file again (or move it back)")
        self._params = params
        self._by_onnx = {p["onnx_name"]: n for n, p in params.items()}
        self._proto: dict[str, Any] | None = None
        self._cut: dict[str, tuple[int, int]] = {}
        self._maps: dict[Path, np.memmap] = {}
        self._lock = threading.Lock()
        flipped = any(p.get("layout") == "in,out" for p in params.values())
        self.description = f"weights from {self.path.name}" + (
            " (MatMul weights stored [in, out], shown transposed as [out, in] like PyTorch)" if flipped else "")

    @classmethod
    def for_graph(cls, graph: Any) -> OnnxWeights:
        params = {d["name"]: {"onnx_name": d.get("onnx_name", d["name"]),
                              "shape": list(d.get("stored_shape") or d.get("shape") or []),
                              "dtype": d.get("dtype", ""), "layout": d.get("layout"), "quant": d.get("quant"),
                              "file_offset": d.get("file_offset"), "external": d.get("external"),
                              "note": d.get("note")}
                  for _, d in graph.nodes() if d["kind"] in ("param", "buffer")}
        return cls(graph.meta["onnx_file"], params)

    # --- names and shapes -----------------------------------------------------------------------------
    def names(self) -> list[str]:
        return sorted(self._params)

    def resolve(self, name: str) -> str | None:
        if name in self._params:
            return name
        return self._by_onnx.get(name)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.resolve(name) is not None

    def _info(self, name: str) -> dict[str, Any]:
        key = self.resolve(name)
        if key is None:
            raise KeyError(f"no tensor named {name!r} in {self.description}")
        return self._params[key]

    def shape(self, name: str) -> tuple[int, ...]:
        p = self._info(name)
        s = tuple(int(d) for d in p["shape"])
        return s[::-1] if p.get("layout") == "in,out" and len(s) == 2 else s

    def dtype(self, name: str) -> str:
        p = self._info(name)
        return f"{p['dtype']} (dequantized)" if p.get("quant") else str(p["dtype"] or "float32")

    def note(self, name: str) -> str | None:
        """How the shown matrix differs from what the file stores (transposed, dequantized), or None."""
        return self._info(name).get("note")

    def quantization(self, name: str) -> dict[str, Any] | None:
        """Scale and zero point of a quantized weight (as small lists), or None."""
        p = self._info(name)
        q = p.get("quant")
        if not q:
            return None
        out: dict[str, Any] = {"axis": q.get("axis", 1)}
        for k in ("scale", "zero_point"):
            arr = self._raw(q[k]) if q.get(k) else None
            out[k] = None if arr is None else np.asarray(arr).reshape(-1)[:16].tolist()
        return out

    # --- values -----------------------------------------------------------------------------------------
    def _tensors(self) -> dict[str, Any]:
        with self._lock:
            if self._proto is None:

                model, self._cut = read_model(self.path)  # large tensors' bytes stay in the file
                found: dict[str, Any] = {t.name: t for t in model.graph.initializer}
                for node in model.graph.node:
                    if node.op_type == "Constant" and node.output:
                        for a in node.attribute:
                            if a.name == "value":
                                found[node.output[0]] = a.t
                self._proto = found
            return self._proto

    def _mapped(self, file: Path, offset: int, dtype: str, shape: list[int]) -> np.ndarray:
        mm = self._maps.get(file)
        if mm is None:
            mm = self._maps[file] = np.memmap(file, dtype=np.uint8, mode="r")
        dt = np.dtype(dtype)
        n = int(np.prod(shape)) if shape else 1
        if offset + n * dt.itemsize > mm.size:
            raise UserError(f"{file} is shorter than the tensors it should hold (changed since import?)",
                            "import the .onnx file again")
        return mm[offset: offset + n * dt.itemsize].view(dt).reshape(tuple(shape))

    def _raw(self, onnx_name: str) -> np.ndarray:
        """The stored array (not transposed, not dequantized), memory-mapped when it is large."""
        import onnx.numpy_helper as nh
        from onnx.helper import tensor_dtype_to_np_dtype

        # Where the bytes are is read from the .onnx file itself, never from the graph (a saved graph.json
        # could name any offset or file): the parsed file's own offsets and external-data entries.
        t = self._tensors().get(onnx_name)
        if t is None:
            raise KeyError(f"tensor {onnx_name!r} is not in {self.path}")
        if onnx_name in self._cut:
            return self._mapped(self.path, self._cut[onnx_name][0],
                                str(np.dtype(tensor_dtype_to_np_dtype(t.data_type))), list(t.dims))
        if t.data_location == 1:

            info = {e.key: e.value for e in t.external_data}
            file = inside(info.get("location", ""), self.path.parent, f"{self.path.name}: external data")
            return self._mapped(file, int(info.get("offset", 0) or 0),
                                str(np.dtype(tensor_dtype_to_np_dtype(t.data_type))), list(t.dims))
        return nh.to_array(t)

    def _value(self, name: str) -> np.ndarray:
        p = self._info(name)
        arr = self._raw(p["onnx_name"])
        q = p.get("quant")
        if q:
            arr = _dequantize(arr, self._raw(q["scale"]) if q.get("scale") else None,
                              self._raw(q["zero_point"]) if q.get("zero_point") else None, int(q.get("axis", 1)))
        if p.get("layout") == "in,out" and arr.ndim == 2:
            arr = arr.T
        return arr

    def get(self, name: str) -> np.ndarray:
        return np.asarray(self._value(name), dtype=np.float32)

    def get_slice(self, name: str, rows: slice, cols: slice | None = None) -> np.ndarray:
        arr = self._value(name)
        if arr.ndim == 0:
            raise ValueError("a 0-d tensor has no rows to slice; use get()")
        if arr.ndim == 1:
            if cols is not None:
                raise ValueError("a 1-D tensor has no columns; pass cols=None")
            return np.asarray(arr[rows], dtype=np.float32)
        return np.asarray(arr[rows, cols if cols is not None else slice(None)], dtype=np.float32)

    def close(self) -> None:
        self._maps.clear()
        self._proto = None


def _dequantize(q: np.ndarray, scale: np.ndarray | None, zero: np.ndarray | None, axis: int) -> np.ndarray:
    x = q.astype(np.float32)
    if zero is not None:
        x = x - _along(np.asarray(zero, dtype=np.float32), x.ndim, axis)
    if scale is not None:
        x = x * _along(np.asarray(scale, dtype=np.float32), x.ndim, axis)
    return x


def _along(v: np.ndarray, ndim: int, axis: int) -> np.ndarray:
    """A per-tensor scalar as is; a per-axis vector shaped to broadcast along ``axis``."""
    if v.size <= 1 or ndim == 0:
        return v.reshape(())
    shape = [1] * ndim
    shape[axis % ndim] = v.size
    return v.reshape(shape)
