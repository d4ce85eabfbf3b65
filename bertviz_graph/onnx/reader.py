"""Read an .onnx file into a ModelProto without its weights, with edge shapes from shape inference.

Why lazy: a BERT export is hundreds of MB of initializers, and the overview needs only their shapes. External
data is never loaded here (``load_external_data=False``); tensors stored inside the file have their bytes
dropped from the in-memory proto once their shapes are known (``sources``-style lazy reading happens in
``bertviz_graph.onnx.weights`` when a matrix is shown). Every way a file can be unreadable becomes a
``UserError`` naming the file and the fix.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bertviz_graph.errors import UserError
from bertviz_graph.onnx.wire import read_model
from bertviz_graph.sources.paths import inside

_FIX_EXPORT = "export the model again (torch.onnx.export, tf2onnx, paddle2onnx) and pass the .onnx file"
# Initializers larger than this are not kept in memory by the importer (their bytes are re-read on demand).
_KEEP_BYTES = 4096
# Names shape inference invents for dims it cannot name ("unk__7"): differ per layer, mean "unknown".
_ANON = re.compile(r"^unk__\d+$")


@dataclass
class TensorInfo:
    """What the importer knows about one initializer (or Constant node value) without holding big data."""

    name: str
    shape: list[int]
    dtype: str  # numpy-style name: "float32", "int8", ...
    value: Any = None  # numpy array when small (<= _KEEP_BYTES), else None
    external: dict[str, str] = field(default_factory=dict)  # location/offset/length when stored outside
    embedded: tuple[int, int] | None = None  # (offset, length) of its bytes inside the .onnx file


@dataclass
class OnnxFile:
    path: Path
    model: Any  # onnx.ModelProto, initializer bytes stripped
    tensors: dict[str, TensorInfo]
    value_shapes: dict[str, tuple[list[Any] | None, str]]  # value name -> (shape with symbolic dims, dtype)
    opsets: dict[str, int]
    notes: list[str]


def dtype_name(elem_type: int) -> str:
    import onnx

    try:
        return str(onnx.helper.tensor_dtype_to_np_dtype(elem_type))
    except (KeyError, ValueError, TypeError):
        try:
            return onnx.TensorProto.DataType.Name(elem_type).lower()
        except ValueError:
            return f"type{elem_type}"


def _type_shape(tp: Any) -> tuple[list[Any] | None, str]:
    """(shape, dtype) of an onnx TypeProto; symbolic dims stay as their names, unknown dims as '?'."""
    if not tp.HasField("tensor_type"):
        return None, ""
    tt = tp.tensor_type
    dtype = dtype_name(tt.elem_type) if tt.elem_type else ""
    if not tt.HasField("shape"):
        return None, dtype
    dims: list[Any] = []
    for d in tt.shape.dim:
        if d.HasField("dim_value"):
            dims.append(int(d.dim_value))
        elif d.HasField("dim_param") and not _ANON.match(d.dim_param):
            dims.append(d.dim_param)
        else:
            dims.append("?")
    return dims, dtype


def _parse(path: Path) -> tuple[Any, dict[str, tuple[int, int]]]:
    from google.protobuf.message import DecodeError


    size = path.stat().st_size
    if size == 0:
        raise UserError(f"{path} is empty, not an ONNX model", _FIX_EXPORT)
    try:
        model, cut = read_model(path)
    except (DecodeError, RuntimeError, ValueError, TypeError, UnicodeDecodeError, OSError) as e:
        first = str(e).strip().splitlines()[0][:160] if str(e).strip() else type(e).__name__
        raise UserError(f"{path} is not a readable ONNX model (truncated or another format?): {first}",
                        _FIX_EXPORT) from None
    except Exception as e:  # noqa: BLE001 - protobuf raises assorted types for garbage input
        raise UserError(f"{path} is not a readable ONNX model: {type(e).__name__}", _FIX_EXPORT) from None
    if not model.HasField("graph") or (not model.graph.node and not model.graph.output):
        raise UserError(f"{path} holds no ONNX graph (not an ONNX model, or truncated)", _FIX_EXPORT)
    return model, cut


def _check_text(path: Path, model: Any) -> None:
    """protobuf hands back invalid UTF-8 in string fields as bytes: such a file is damaged."""
    g = model.graph
    strings: list[Any] = [g.name]
    for n in g.node:
        strings += [n.name, n.op_type, n.domain, *n.input, *n.output]
        strings += [x for p in n.metadata_props for x in (p.key, p.value)]
        strings += [a.name for a in n.attribute]
    for vi in (*g.input, *g.output, *g.value_info):
        strings.append(vi.name)
    for t in g.initializer:
        strings += [t.name, *(x for e in t.external_data for x in (e.key, e.value))]
    strings += [o.domain for o in model.opset_import]
    if any(not isinstance(x, str) for x in strings):
        raise UserError(f"{path} has names that are not valid UTF-8 text (a damaged ONNX file)", _FIX_EXPORT)


def _check_external(path: Path, model: Any) -> None:
    """Every external-data file must exist and be long enough for the tensors it holds."""
    base = path.parent
    sizes: dict[str, int] = {}
    for t in model.graph.initializer:
        if t.data_location != 1:  # onnx.TensorProto.EXTERNAL
            continue
        info = {e.key: e.value for e in t.external_data}
        loc = info.get("location", "")

        # after symlinks: a linked .data leading out of the folder is refused too
        target = inside(loc, base, f"{path}: tensor {t.name!r} points at external data",
                        "keep the .data file next to the .onnx file (a relative name, no '..', no link out)")
        if loc not in sizes:
            if not target.is_file():
                raise UserError(f"{path}: external data file {loc!r} is missing (tensor {t.name!r})",
                                f"copy {loc} into {base} next to the .onnx file")
            sizes[loc] = target.stat().st_size
        end = int(info.get("offset", 0) or 0) + int(info.get("length", 0) or 0)
        if end > sizes[loc]:
            raise UserError(f"{path}: external data file {loc!r} is {sizes[loc]} bytes but tensor {t.name!r} "
                            f"ends at byte {end} (truncated?)", f"copy the whole {loc} again")


def _nbytes(info: TensorInfo) -> int:
    n = 1
    for d in info.shape:
        n *= d
    try:
        import numpy as np

        size = np.dtype(info.dtype).itemsize
    except TypeError:
        size = 2 if "16" in info.dtype else 1 if "8" in info.dtype or "4" in info.dtype else 8
    return n * size


def _tensor_info(t: Any) -> TensorInfo:
    import onnx.numpy_helper as nh

    shape = [int(d) for d in t.dims]
    info = TensorInfo(name=t.name, shape=shape, dtype=dtype_name(t.data_type))
    if t.data_location == 1:
        info.external = {e.key: e.value for e in t.external_data}
        return info
    if _nbytes(info) <= _KEEP_BYTES:  # (reading t.raw_data would copy the bytes; the size is enough)
        try:
            info.value = nh.to_array(t)
        except Exception:  # noqa: BLE001 - a malformed tensor is shown without values, not fatal
            info.value = None
    return info


def read_onnx(path: str | Path) -> OnnxFile:
    """Parse, check and shape-infer an ONNX file (external data is checked, never loaded)."""
    import onnx

    path = Path(path)
    if not path.exists():
        raise UserError(f"no such file: {path}", "check the path to the .onnx file")
    if path.is_dir():
        raise UserError(f"{path} is a folder, not an .onnx file", "pass the .onnx file itself")
    model, cut = _parse(path)
    _check_text(path, model)
    _check_external(path, model)
    tensors: dict[str, TensorInfo] = {}
    for t in model.graph.initializer:
        if t.name in cut:
            info = TensorInfo(name=t.name, shape=[int(d) for d in t.dims], dtype=dtype_name(t.data_type),
                              embedded=cut[t.name])
            if _nbytes(info) != cut[t.name][1]:
                raise UserError(f"{path}: tensor {t.name!r} has {cut[t.name][1]} bytes but its shape "
                                f"{info.shape} needs {_nbytes(info)}", _FIX_EXPORT)
            tensors[t.name] = info
        else:
            tensors[t.name] = info = _tensor_info(t)
        if t.name in cut or (t.data_location != 1 and _nbytes(info) > _KEEP_BYTES):
            t.ClearField("raw_data")  # shape inference needs dims only; the bytes are re-read when shown
            t.data_location = 1
            t.external_data.add(key="location", value="(stripped by bertviz_graph)")
    opsets = {o.domain or "ai.onnx": int(o.version) for o in model.opset_import}
    notes: list[str] = []
    newest = onnx.defs.onnx_opset_version()
    if opsets.get("ai.onnx", 0) > newest:
        notes.append(f"opset {opsets['ai.onnx']} is newer than this onnx package knows ({newest}); ops are read "
                     f"with their opset-{newest} meaning")
    try:
        inferred = onnx.shape_inference.infer_shapes(model, check_type=False, strict_mode=False,
                                                     data_prop=True)
    except Exception as e:  # noqa: BLE001 - unknown ops or opsets: keep going with the shapes the file has
        notes.append(f"shape inference failed ({str(e).strip().splitlines()[0][:120] if str(e).strip() else e}); "
                     "edge shapes are those stored in the file")
        inferred = model
    shapes: dict[str, tuple[list[Any] | None, str]] = {}
    for vi in (*inferred.graph.value_info, *inferred.graph.input, *inferred.graph.output):
        shapes[vi.name] = _type_shape(vi.type)
    # Symbolic dims mean something when the inputs declare them (batch, sequence); names an exporter
    # invented for one output ("LayerNormalizationonnx::Shape_422_dim_0") are just "unknown".
    declared = {d for vi in inferred.graph.input for d in (_type_shape(vi.type)[0] or []) if isinstance(d, str)}
    for name, (shape, dtype) in shapes.items():
        if shape and any(isinstance(d, str) and d not in declared for d in shape):
            shapes[name] = ([d if not isinstance(d, str) or d in declared else "?" for d in shape], dtype)
    for name, t in tensors.items():
        shapes[name] = (list(t.shape), t.dtype)
    # Keep the stripped model (not the inferred copy) so the graph's nodes are read once.
    return OnnxFile(path=path, model=model, tensors=tensors, value_shapes=shapes, opsets=opsets, notes=notes)
