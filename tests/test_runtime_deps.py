"""The user's install runs everything (issue 19, item 7): every third-party module that the package or a
notebook imports comes with the README's first command (``pip install -e .``, no test extras).

Executing each notebook again in a second, fresh venv would cost minutes of CI (a torch install); this
check is the cheap honest one: every import in bertviz_graph (including imports inside functions) and in
every notebook's code cells is mapped to its distribution (importlib.metadata.packages_distributions), and
that distribution must be in the runtime closure of pyproject.toml's ``dependencies`` (their own
requirements, recursively, without extras). It fails when a runtime import is only a test extra: that is
how gensim (notebooks/pruning_what_if.ipynb) was missed. The notebooks themselves run in
tests/test_notebooks.py.
"""

from __future__ import annotations

import ast
import functools
import importlib.metadata as md
import json
import re
import sys
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parents[1]
def _name(req: str) -> str:
    return re.split(r"[\s\[<>=!~;(]", req.strip(), maxsplit=1)[0].lower().replace("_", "-")


def runtime_deps() -> list[str]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]


def runtime_closure(deps: list[str]) -> set[str]:
    todo, seen = [_name(d) for d in deps], set()
    while todo:
        n = todo.pop()
        if n in seen:
            continue
        seen.add(n)
        try:
            reqs = md.requires(n) or []
        except md.PackageNotFoundError:
            continue
        for r in reqs:
            marker = r.split(";", 1)[1] if ";" in r else ""
            if "extra" in marker:
                continue  # an extra of that package: not installed by a plain install
            from packaging.markers import Marker

            if marker and not Marker(marker).evaluate():
                continue
            todo.append(_name(r))
    return seen


def _imports(tree: ast.AST) -> set[str]:
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module.split(".")[0])
    return out


@functools.cache
def third_party_imports() -> dict[str, set[str]]:
    """top-level module -> where it is imported (package files and notebooks)."""
    found: dict[str, set[str]] = {}
    sources = [(p, p.read_text()) for p in (ROOT / "bertviz_graph").rglob("*.py")]
    for nb in sorted((ROOT / "notebooks").glob("*.ipynb")):
        cells = json.loads(nb.read_text())["cells"]
        code = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
        sources.append((nb, "\n".join(ln for ln in code.splitlines() if not ln.lstrip().startswith(("%", "!")))))
    for path, text in sources:
        for mod in _imports(ast.parse(text)):
            if mod not in sys.stdlib_module_names and mod not in ("bertviz_graph", "__future__"):
                found.setdefault(mod, set()).add(str(path.relative_to(ROOT)))
    return found


@functools.cache
def _dists() -> dict[str, list[str]]:
    return md.packages_distributions()


def missing(deps: list[str]) -> dict[str, tuple]:
    """Imported modules whose distribution a plain install of ``deps`` does not bring."""
    closure = runtime_closure(deps)
    dists = _dists()
    out = {}
    for mod, where in sorted(third_party_imports().items()):
        names = {_name(d) for d in dists.get(mod, [])}
        if not names & closure:
            out[mod] = (sorted(names) or ["(not installed)"], sorted(where)[:3])
    return out


def test_every_runtime_import_is_a_runtime_dependency():
    assert not missing(runtime_deps()), "imported but not installed by `pip install -e .`"


def test_the_check_fails_on_a_test_only_dependency():
    """With gensim and scikit-learn back among the test extras (as before this issue), gensim is caught
    (scikit-learn already came with another runtime dependency's requirements)."""
    old = [d for d in runtime_deps() if _name(d) not in ("gensim", "scikit-learn")]
    got = missing(old)
    assert set(got) == {"gensim"}, got
    assert got["gensim"][1] == ["bertviz_graph/pruning/data.py"]  # what pruning_what_if.ipynb runs
    assert any(w.startswith("notebooks/") for ws in third_party_imports().values() for w in ws)
    assert "pytest" not in runtime_closure(runtime_deps())  # test extras stay out of the closure
