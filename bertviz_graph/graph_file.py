"""Read a graph saved by ``bertviz-graph trace -o graph.json``, with a clear error when it is not one."""

from __future__ import annotations

import json
from pathlib import Path

from bertviz_graph.errors import UserError
from bertviz_graph.graph import OpGraph


def load_graph_file(path: Path) -> OpGraph:
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise UserError(f"{path} is not valid JSON ({e})", "pass a graph saved by 'bertviz-graph trace -o'") from e
    try:
        graph = OpGraph.from_json_dict(data)
    except (ValueError, KeyError, TypeError) as e:
        raise UserError(f"{path} is not a bertviz_graph graph: {e}",
                        "pass a graph saved by 'bertviz-graph trace -o FILE.json'") from e
    files = graph.meta.get("weight_files") or []
    if not isinstance(files, list) or not all(isinstance(f, str) for f in files):
        raise UserError(f"{path}: 'meta.weight_files' must be a list of file paths, not {type(files).__name__}",
                        "fix the file, or trace the model again with 'bertviz-graph trace -o'")
    from bertviz_graph.sources.status import weights_status

    status = weights_status(graph)
    if status.missing:  # the structure still opens; the weights are said to be unavailable
        graph.meta["warnings"] = [status.text]
    return graph
