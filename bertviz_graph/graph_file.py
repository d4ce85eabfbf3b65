"""Read a graph saved by ``bertviz-graph trace -o graph.json``, refusing anything that is not one.

The file is checked against the versioned schema (bertviz_graph.graph_schema) before anything is built
from it, so a malformed or hostile file ends in one UserError naming the field (exit 2 in the CLI).
"""

from __future__ import annotations

from pathlib import Path

from bertviz_graph import format as fmt
from bertviz_graph.errors import UserError
from bertviz_graph.graph import OpGraph
from bertviz_graph.graph_schema import parse, validate
from bertviz_graph.sources.paths import same_folder
from bertviz_graph.sources.status import weights_status

MAX_FILE_BYTES = 2 * 1024**3  # far above any real graph (bert-xl-48 primitive: ~5 MB)


def load_graph_file(path: Path) -> OpGraph:
    try:
        size = path.stat().st_size
    except OSError as e:
        raise UserError(f"cannot read {path}: {e.strerror}", "check the path") from e
    if size > MAX_FILE_BYTES:
        raise UserError(f"{path} is {fmt.nbytes(size)}, larger than any graph file",
                        "pass a graph saved by 'bertviz-graph trace -o'")
    try:
        data = parse(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError, RecursionError) as e:  # JSONDecodeError is a ValueError
        raise UserError(f"{path} is not valid JSON ({e})", "pass a graph saved by 'bertviz-graph trace -o'") from e
    except OSError as e:
        raise UserError(f"cannot read {path}: {e.strerror}", "check the path") from e
    validate(data, source=str(path))
    try:
        graph = OpGraph.from_json_dict(data)
    except (ValueError, KeyError, TypeError) as e:
        raise UserError(f"{path} is not a bertviz_graph graph: {e}",
                        "pass a graph saved by 'bertviz-graph trace -o FILE.json'") from e
    files = graph.meta.get("weight_files") or []
    if not isinstance(files, list) or not all(isinstance(f, str) for f in files):
        raise UserError(f"{path}: 'meta.weight_files' must be a list of file paths, not {type(files).__name__}",
                        "fix the file, or trace the model again with 'bertviz-graph trace -o'")
    # What points at bytes on disk is checked or re-derived: weight files are files of one model folder
    # (after links); an ONNX file must be one of them; node offsets/external entries are dropped (the ONNX
    # reader takes them from the .onnx file itself).

    same_folder(files, (".safetensors", ".onnx"), f"{path}: meta.weight_files")
    onnx_file = graph.meta.get("onnx_file")
    if onnx_file is not None and (not isinstance(onnx_file, str) or Path(onnx_file).resolve() not in {Path(f).resolve() for f in files}
                                  or not onnx_file.endswith(".onnx")):
        raise UserError(f"{path}: meta.onnx_file {str(onnx_file)[:200]!r} is not one of its weight files",
                        "import the .onnx file again (bertviz-graph trace model.onnx -o graph.json)")
    for _n, d in graph.nodes():
        d.pop("file_offset", None)
        d.pop("external", None)

    status = weights_status(graph)
    if status.missing:  # the structure still opens; the weights are said to be unavailable
        graph.meta["warnings"] = [status.text]
    return graph
