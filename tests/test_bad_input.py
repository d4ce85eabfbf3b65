"""Bad input: every row of the README's bad-input table, hostile graph files, safetensors and configs,
a Hypothesis fuzz of the graph loader, and a pathological search regex."""

from __future__ import annotations

import contextlib
import io
import json
import shlex
import time
from pathlib import Path

import pytest
from bad_inputs import make_bad_inputs, valid_graph
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bertviz_graph.cli import main
from bertviz_graph.errors import UserError
from bertviz_graph.graph_file import load_graph_file
from bertviz_graph.hierarchy.tree import build_hierarchy

README = Path(__file__).resolve().parents[1] / "README.md"


def _table_rows() -> list[tuple[str, str, int]]:
    text = README.read_text()
    body = text.split("<!-- bad-input-table", 1)[1].split("<!-- /bad-input-table -->", 1)[0]
    rows = []
    for line in body.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 4 and cells[1].startswith("`bertviz-graph"):
            rows.append((cells[1].strip("`"), cells[2].strip("`"), int(cells[3])))
    return rows


ROWS = _table_rows()


def test_readme_table_is_there():
    assert len(ROWS) >= 25


@pytest.fixture(scope="module")
def bad_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("bad")
    make_bad_inputs(root)
    return root


@pytest.mark.parametrize("command,message,status", ROWS, ids=[r[0][14:60] for r in ROWS])
def test_readme_bad_input_row(command, message, status, bad_dir, monkeypatch):
    monkeypatch.chdir(bad_dir)
    argv = shlex.split(command)[1:]
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        try:
            rc = main(argv)
        except SystemExit as e:  # argparse's own errors
            rc = e.code
    assert rc == status, err.getvalue()
    assert message in err.getvalue()
    assert "Traceback" not in err.getvalue()
    assert not (bad_dir / "x.svg").exists() and not (bad_dir / "x.gif").exists()


def test_shard_index_may_not_point_outside_its_folder(tmp_path):
    from bertviz_graph.sources.weights import WeightStore

    secret = tmp_path / "secret.safetensors"
    secret.write_bytes(b"")
    model = tmp_path / "model"
    model.mkdir()
    for shard in ("../secret.safetensors", str(secret), "sub/x.safetensors", "/etc/passwd"):
        (model / "model.safetensors.index.json").write_text(json.dumps({"weight_map": {"w": shard}}))
        with pytest.raises(UserError, match="only name shard files in its own folder"):
            WeightStore.open(model)


def _mutations():
    """A path into the graph dict and a JSON value to put there."""
    json_values = st.recursive(
        st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=True) | st.text(max_size=20),
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
        max_leaves=8)
    return st.lists(st.tuples(st.lists(st.integers(0, 50) | st.sampled_from(
        ["nodes", "edges", "modules", "meta", "id", "kind", "shape", "module", "source", "target", "numel",
         "path", "parent", "order", "version", "format", "weight_files"]), min_size=1, max_size=4),
        json_values), min_size=1, max_size=4)


_GOOD = None


def _good() -> dict:
    global _GOOD
    if _GOOD is None:
        _GOOD = valid_graph()
    return json.loads(json.dumps(_GOOD))


def _apply(data, path, value):
    cur = data
    for key in path[:-1]:
        if isinstance(cur, list) and isinstance(key, int) and cur:
            cur = cur[key % len(cur)]
        elif isinstance(cur, dict) and isinstance(key, str) and key in cur:
            cur = cur[key]
        else:
            return
    key = path[-1]
    if isinstance(cur, list) and isinstance(key, int) and cur:
        cur[key % len(cur)] = value
    elif isinstance(cur, dict):
        cur[str(key)] = value


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(_mutations(), st.booleans())
def test_fuzz_graph_loader_only_accepts_or_says_why(tmp_path, mutations, as_text_garbage):
    """Whatever the bytes, the loader returns a graph the hierarchy can be built on, or a UserError."""
    data = _good()
    for path, value in mutations:
        _apply(data, path, value)
    text = json.dumps(data, allow_nan=True)
    if as_text_garbage:
        text = text[: len(text) // 2]
    f = tmp_path / "g.json"
    f.write_text(text)
    try:
        graph = load_graph_file(f)
    except UserError as e:
        assert str(e).strip()
        return
    build_hierarchy(graph)


def test_pathological_regex_does_not_stall_search():
    import bertviz_graph as bg

    graph = bg.trace("bert-tiny")
    view = graph.view(depth=9, unfold=True)
    t = time.perf_counter()
    for q in ("(a+)+$", "(x+x+)+y", "(.*a){20}", "(a|aa)+$", "(a)\\1"):
        view.find(q)
    assert time.perf_counter() - t < 1.0
    assert view.find("SOFTMAX")  # still case-insensitive regex search
    import re

    slow_text = "a" * 26 + "!"
    t = time.perf_counter()
    re.search("(a+)+$", slow_text)  # what Python's engine does with the same pattern, for comparison
    assert time.perf_counter() - t > 0.5
