"""Read a graph saved by ``bertviz-graph trace -o graph.json``, refusing anything that is not one.

The file is checked against the versioned schema (bertviz_graph.graph_schema) before anything is built
from it, so a malformed or hostile file ends in one UserError naming the field (exit 2 in the CLI).
"""

from __future__ import annotations

from pathlib import Path

from bertviz_graph.errors import UserError
from bertviz_graph.graph import OpGraph
from bertviz_graph.graph_schema import parse, validate

MAX_FILE_BYTES = 2 * 1024**3  # far above any real graph (bert-xl-48 primitive: ~5 MB)


def load_graph_file(path: Path) -> OpGraph:
    try:
        size = path.stat().st_size
    except OSError as e:
        raise UserError(f"cannot read {path}: {e.strerror}", "check the path") from e
    if size > MAX_FILE_BYTES:
        raise UserError(f"{path} is {size / 1024**3:.1f} GB, larger than any graph file",
                        "pass a graph saved by 'bertviz-graph trace -o'")
    try:
        data = parse(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError, RecursionError) as e:  # JSONDecodeError is a ValueError
        raise UserError(f"{path} is not valid JSON ({e})", "pass a graph saved by 'bertviz-graph trace -o'") from e
    except OSError as e:
        raise UserError(f"cannot read {path}: {e.strerror}", "check the path") from e
    validate(data, source=str(path))
    try:
        return OpGraph.from_json_dict(data)
    except (ValueError, KeyError, TypeError) as e:
        raise UserError(f"{path} is not a bertviz_graph graph: {e}",
                        "pass a graph saved by 'bertviz-graph trace -o FILE.json'") from e
