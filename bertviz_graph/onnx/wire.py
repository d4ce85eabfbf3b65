"""Parse an .onnx file without copying its weights: the protobuf wire format, walked over a memory map.

``onnx.load`` reads the whole file and then copies every initializer's bytes into the parsed proto (twice
the file in memory for a 440 MB BERT). Here the file is memory-mapped, the ModelProto -> GraphProto ->
TensorProto fields are walked, and each initializer's ``raw_data`` field (9) is cut out and its position
in the file remembered; what remains (the graph, dims, names) is parsed by protobuf as usual. Weights are
then read from the map, one tensor at a time, when shown. Field numbers are those of onnx.proto
(ModelProto.graph = 7, GraphProto.initializer = 5, TensorProto.raw_data = 9).
"""

from __future__ import annotations

import mmap
from pathlib import Path
from typing import Any

_GRAPH, _INITIALIZER, _RAW, _NAME = 7, 5, 9, 8
_MIN_CUT = 1024  # raw_data shorter than this stays in the proto


class WireError(ValueError):
    """The bytes are not a well-formed protobuf message."""


def _varint(buf: Any, i: int, end: int) -> tuple[int, int]:
    out = shift = 0
    while True:
        if i >= end:
            raise WireError("truncated varint")
        b = buf[i]
        i += 1
        out |= (b & 0x7F) << shift
        if not b & 0x80:
            return out, i
        shift += 7
        if shift > 63:
            raise WireError("varint too long")


def _fields(buf: Any, start: int, end: int):
    """Yield (field number, wire type, field start, value start, value end) for each field."""
    i = start
    while i < end:
        f0 = i
        tag, i = _varint(buf, i, end)
        num, wt = tag >> 3, tag & 7
        if num == 0:
            raise WireError("field number 0")
        if wt == 0:
            _, j = _varint(buf, i, end)
            yield num, wt, f0, i, j
        elif wt == 1:
            j = i + 8
            yield num, wt, f0, i, j
        elif wt == 2:
            n, i = _varint(buf, i, end)
            j = i + n
            yield num, wt, f0, i, j
        elif wt == 5:
            j = i + 4
            yield num, wt, f0, i, j
        else:
            raise WireError(f"unsupported wire type {wt}")
        if j > end:
            raise WireError("field runs past the end (truncated?)")
        i = j


def _encode_varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _length_field(num: int, payload: bytes) -> bytes:
    return _encode_varint((num << 3) | 2) + _encode_varint(len(payload)) + payload


def read_model(path: Path) -> tuple[Any, dict[str, tuple[int, int]]]:
    """(ModelProto without the large raw_data fields, {initializer name: (file offset, length)})."""
    import onnx

    cut: dict[str, tuple[int, int]] = {}
    with open(path, "rb") as fh:
        size = fh.seek(0, 2)
        if size == 0:
            raise WireError("empty file")
        mm = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
    try:
        model_parts: list[bytes] = []
        for num, wt, f0, v0, v1 in _fields(mm, 0, size):
            if num != _GRAPH or wt != 2:
                model_parts.append(mm[f0:v1])
                continue
            graph_parts: list[bytes] = []
            for gnum, gwt, g0, gv0, gv1 in _fields(mm, v0, v1):
                if gnum != _INITIALIZER or gwt != 2:
                    graph_parts.append(mm[g0:gv1])
                    continue
                tensor_parts: list[bytes] = []
                name = ""
                raw: tuple[int, int] | None = None
                for tnum, twt, t0, tv0, tv1 in _fields(mm, gv0, gv1):
                    if tnum == _RAW and twt == 2 and tv1 - tv0 >= _MIN_CUT:
                        raw = (tv0, tv1 - tv0)
                        continue
                    if tnum == _NAME and twt == 2:
                        name = bytes(mm[tv0:tv1]).decode("utf-8", "replace")
                    tensor_parts.append(mm[t0:tv1])
                if raw is not None:
                    cut[name] = raw
                graph_parts.append(_length_field(_INITIALIZER, b"".join(tensor_parts)))
            model_parts.append(_length_field(_GRAPH, b"".join(graph_parts)))
    finally:
        mm.close()
    model = onnx.ModelProto()
    model.ParseFromString(b"".join(model_parts))
    return model, cut
