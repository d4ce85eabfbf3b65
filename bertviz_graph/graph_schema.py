"""The versioned JSON schema of a graph file, plus the checks a schema cannot state (ids, references).

A graph file can come from anyone, so everything later stages trust is checked here, before an OpGraph is
built: types, no NaN or negative sizes, sizes a real model could have (so nothing later allocates
terabytes), unique ids, edges between existing nodes, module paths without '/' or '..' (they name files
in downloads), weight files that are .safetensors or .onnx. Errors name the field: ``nodes[3].shape[1]``.
"""

from __future__ import annotations

import math
import re
from typing import Any

from bertviz_graph.errors import UserError

SCHEMA_VERSION = 1
MAX_NODES = 2_000_000  # a 1T-parameter transformer at the primitive level has far fewer
MAX_DIM = 2**31  # one tensor dimension
MAX_NUMEL = 10**12  # one tensor: 4 TB in float32; random weights are only made for the part shown
MAX_TEXT = 4096

_INT = {"type": "integer", "minimum": 0}
# A dimension is a size, or the name of a symbolic one ("batch", "seq"; "?" unknown) as ONNX files have.
_DIM = {"anyOf": [{"type": "integer", "minimum": 0, "maximum": MAX_DIM},
                  {"type": "string", "pattern": r"^(\?|(?!(NaN|Infinity)$)[A-Za-z_][A-Za-z0-9_]{0,63})$"}]}
_SHAPE = {"anyOf": [{"type": "null"}, {"type": "array", "items": _DIM, "maxItems": 16}]}
_TEXT = {"type": "string", "maxLength": MAX_TEXT}
# Module instance paths: "encoder.layer.0", "...albert_layers.0@2"; never a file path.
_PATH = {"type": "string", "maxLength": MAX_TEXT, "pattern": r"^(?!.*\.\.)[^/\\\x00-\x1f]*$",
         "description": "a module path (no '/', '\\', '..' or control characters)"}

# A plain value (a size, a name, a list of sizes, a scale): never an object that could nest a location.
_PLAIN = {"anyOf": [{"type": ["null", "boolean", "integer", "number", "string"]},
                    {"type": "array", "items": {"type": ["null", "boolean", "integer", "number", "string", "array"]}}]}
# meta may carry more (model class, versions, notes), but a key that names a file, a folder or a byte position
# is refused unless it is one of these two, each checked against the model folder (graph_file.py)
META_FILES = ("weight_files", "onnx_file")
_FILE_KEY = re.compile(r"file|path|dir|folder|offset|byte|extern|location|url|uri|mmap", re.I)

SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": f"https://bertviz-graph/graph-file/v{SCHEMA_VERSION}",
    "type": "object",
    "required": ["format", "version", "meta", "modules", "nodes", "edges"],
    "properties": {
        "format": {"const": "bertviz_graph.OpGraph"},
        "version": {"const": SCHEMA_VERSION},
        "meta": {
            "type": "object",
            "properties": {
                "name": _TEXT,
                "params": _INT,
                "seq_len": {"anyOf": [{"type": "null"}, {"type": "integer", "minimum": 1, "maximum": MAX_DIM}]},
                "config": {"anyOf": [{"type": "null"}, {"type": "object"}]},
                "weight_files": {"type": "array", "maxItems": 10_000,
                                 "items": {"type": "string", "maxLength": MAX_TEXT, "pattern": r"\.(safetensors|onnx)$",
                                           "description": "a .safetensors or .onnx weight file"}},
                "notes": {"type": "array", "items": _TEXT},
            },
        },
        "modules": {
            "type": "array", "maxItems": MAX_NODES,
            "items": {
                "type": "object",
                "required": ["path", "cls"],
                "additionalProperties": False,
                "properties": {"path": _PATH, "cls": _TEXT, "qualname": _TEXT,
                               "attrs": {"type": "object", "additionalProperties": _PLAIN},
                               "parent": {"anyOf": [{"type": "null"}, _PATH]}},
            },
        },
        "nodes": {
            "type": "array", "maxItems": MAX_NODES,
            "items": {
                "type": "object",
                "required": ["id", "kind", "name", "module", "order"],
                "properties": {
                    "id": _TEXT,
                    "kind": {"enum": ["op", "input", "output", "param", "buffer"]},
                    "name": _TEXT, "op": _TEXT, "target": _TEXT, "module": _PATH, "dtype": _TEXT,
                    "order": _INT, "shape": _SHAPE,
                    "numel": {"type": "integer", "minimum": 0, "maximum": MAX_NUMEL},
                    "flops": {"anyOf": [{"type": "null"}, {"type": "integer", "minimum": 0}]},  # None: not countable
                    "params": {"type": "array", "items": _TEXT},
                    "tied": {"type": "array", "items": _TEXT},
                    "source": _TEXT, "code": {"type": "string"},
                    # what the tracers and the ONNX importer also write (never a file or a byte position:
                    # those are re-derived from the model file itself, and refused here)
                    "args": {}, "kwargs": {"type": "object"}, "consts": {}, "attrs": {"type": "object"},
                    "digest": _TEXT, "layout": {"anyOf": [{"type": "null"}, _TEXT]},
                    "note": {"anyOf": [{"type": "null"}, _TEXT]}, "onnx_name": _TEXT,
                    "onnx_output": {"anyOf": [{"type": "null"}, _TEXT, {"type": "integer"}]},
                    "quant": {"anyOf": [{"type": "null"}, {"type": "object", "additionalProperties": _PLAIN}]},
                    "role_hint": {"anyOf": [{"type": "null"}, _TEXT]}, "stored_shape": _SHAPE,
                },
                "additionalProperties": False,
            },
        },
        "edges": {
            "type": "array", "maxItems": 4 * MAX_NODES,
            "items": {
                "type": "object",
                "required": ["source", "target"],
                "properties": {"source": _TEXT, "target": _TEXT, "shape": _SHAPE, "dtype": _TEXT,
                               "index": _INT},
                "additionalProperties": False,
            },
        },
    },
}


def _where(path: Any) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def parse(text: str) -> Any:
    """json.loads, with NaN and Infinity read as the strings 'NaN', 'Infinity' (Python's json would make
    floats of them), so the schema names the field that holds one: "nodes[3].shape[1]: 'NaN' is not ..."."""
    import json

    return json.loads(text, parse_constant=str)


def validate(data: Any, source: str = "graph file") -> None:
    """Raise a UserError naming the first bad field of a graph file's content."""
    import jsonschema

    fix = "pass a graph written by 'bertviz-graph trace -o FILE.json' (or trace the model again)"
    if isinstance(data, dict) and data.get("format") == "bertviz_graph.OpGraph" \
            and data.get("version") != SCHEMA_VERSION:
        raise UserError(f"{source}: graph file version {data.get('version')!r} is not supported "
                        f"(this bertviz_graph reads version {SCHEMA_VERSION})", "trace the model again")
    validator = jsonschema.Draft202012Validator(SCHEMA)
    error = jsonschema.exceptions.best_match(validator.iter_errors(data))
    if error is not None:
        message = error.message
        if error.instance in ("NaN", "Infinity", "-Infinity"):  # read from a bare NaN, see parse()
            message = f"{error.instance!r} is not of type 'integer'"
        elif error.validator == "pattern" and "description" in error.schema:
            message = f"{error.instance!r} is not {error.schema['description']}"
        if len(message) > 160:  # jsonschema quotes the whole value; a huge one is cut
            message = f"{repr(error.instance)[:60]}... does not match the schema ({error.validator})"
        raise UserError(f"{source}: {_where(error.absolute_path)}: {message}", fix)
    for key in data["meta"]:
        if key not in META_FILES and _FILE_KEY.search(str(key)):
            raise UserError(f"{source}: meta.{str(key)[:80]}: a graph file names no files or byte positions but "
                            f"{' and '.join(META_FILES)} (checked against the model folder)", fix)
    ids: set[str] = set()
    for i, node in enumerate(data["nodes"]):
        if node["id"] in ids:
            raise UserError(f"{source}: nodes[{i}].id: duplicate node id {node['id']!r}", fix)
        ids.add(node["id"])
        numel, shape = node.get("numel"), node.get("shape")
        sizes = [d for d in shape or () if isinstance(d, int)]  # symbolic dims ("batch") have no size
        if numel is not None and shape is not None and len(sizes) == len(shape) and numel != math.prod(sizes):
            raise UserError(f"{source}: nodes[{i}].numel: {numel} is not the product of its shape {shape}", fix)
        if math.prod(sizes) > MAX_NUMEL:
            raise UserError(f"{source}: nodes[{i}].shape: {shape} has more than {MAX_NUMEL:.0e} elements", fix)
    for i, edge in enumerate(data["edges"]):
        for end in ("source", "target"):
            if edge[end] not in ids:
                raise UserError(f"{source}: edges[{i}].{end}: no node has id {edge[end]!r}", fix)
    paths: set[str] = set()
    for i, mod in enumerate(data["modules"]):
        if mod["path"] in paths:
            raise UserError(f"{source}: modules[{i}].path: duplicate module {mod['path']!r}", fix)
        paths.add(mod["path"])
    for i, mod in enumerate(data["modules"]):
        if mod.get("parent") is not None and mod["parent"] not in paths:
            raise UserError(f"{source}: modules[{i}].parent: no module has path {mod['parent']!r}", fix)
    for i, node in enumerate(data["nodes"]):
        if node["kind"] == "op" and node["module"] not in paths:
            raise UserError(f"{source}: nodes[{i}].module: no module has path {node['module']!r}", fix)
