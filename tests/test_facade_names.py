"""``bg.prune`` and ``bg.diff`` are one thing each: the facade functions, whatever has been imported; their
packages are ``bertviz_graph.pruning`` and ``bertviz_graph.comparison``."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

def test_prune_and_diff_are_only_the_functions_after_their_packages_are_imported():
    import bertviz_graph as bg

    before = {n: getattr(bg, n) for n in ("prune", "diff")}
    for pkg in ("bertviz_graph.pruning", "bertviz_graph.comparison"):
        mod = importlib.import_module(pkg)
        for m in pkgutil.walk_packages(mod.__path__, pkg + "."):
            importlib.import_module(m.name)
    importlib.import_module("bertviz_graph.api")
    for n, f in before.items():
        got = getattr(bg, n)
        assert got is f and inspect.isfunction(got) and got.__module__ == "bertviz_graph", (n, got)
        assert "bertviz_graph." + n not in sys.modules, n
    assert inspect.ismodule(bg.pruning) and inspect.ismodule(bg.comparison)
    assert bg.pruning.sweep.to_csv is importlib.import_module("bertviz_graph.format").to_csv


def test_no_file_names_the_old_package_paths():
    # a branch merged after the rename may still import bertviz_graph.prune.X: say where and what it is now
    old = re.compile(r"bertviz_graph[./](prune|diff)\b(?!\()")
    files = [p for d in ("bertviz_graph", "tests", "benchmarks", "scripts", "notebooks") for p in (ROOT / d).rglob("*")
             if p.suffix in (".py", ".ipynb", ".md") and p.name != "test_facade_names.py"]
    files += [ROOT / "README.md", ROOT / "ARCHITECTURE.md"]
    bad = [f"{p.relative_to(ROOT)}:{i}" for p in files for i, line in enumerate(p.read_text().splitlines(), 1)
           if old.search(line)]
    assert not bad, ("the packages are bertviz_graph.pruning and bertviz_graph.comparison "
                     f"(bg.prune / bg.diff are the functions): {bad}")
    assert not (ROOT / "bertviz_graph" / "prune").exists() and not (ROOT / "bertviz_graph" / "diff").exists()
