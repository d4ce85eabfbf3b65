"""The data flows one way: sources -> tracer -> OpGraph -> hierarchy -> view -> layout -> presenters ->
renderers, with the Python facade (``bertviz_graph/__init__``, ``api``, the CLI) on top.

Walks every ``import`` in the package with ``ast`` (module level AND inside functions: a lazy import is
still a dependency) and fails on a stage importing a later one, on an import cycle between modules, and on
an import of another module's private name (``from x import _y``)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import networkx as nx
import pytest

PKG = Path(__file__).resolve().parents[1] / "bertviz_graph"

# stage of each module (longest matching prefix wins); a module may import its own stage or earlier ones.
# The OpGraph type (graph.py) comes before the tracer because the tracer builds one: it is the IR
# every later stage reads, as torch.fx.Graph is for fx passes.
STAGES: list[tuple[str, list[str]]] = [
    ("base", ["errors", "io", "format", "memo", "memsize", "threads", "torch_lock", "version", "gc_pause", "jobs"]),
    ("sources", ["sources"]),
    ("graph", ["graph", "graph_schema"]),
    ("tracer", ["tracer", "graph_file", "onnx"]),
    ("hierarchy", ["hierarchy"]),
    ("view", ["view", "view_types"]),
    ("layout", ["layout"]),
    # a run (one forward pass), pruning and diffs: data beside the graph, read by the panels
    ("analyses", ["run", "pruning", "comparison", "pipeline", "train", "analyze"]),
    ("presenters", ["presenters", "details", "neurons", "render.weights", "render.weight_figures",
                    "render.weight_files"]),
    ("renderers", ["render", "app", "widget", "html"]),
    ("facade", ["api", "cli", "__main__", ""]),  # "" = bertviz_graph/__init__
]
RANK = {name: i for i, (name, _) in enumerate(STAGES)}


def module_name(p: Path) -> str:
    parts = list(p.relative_to(PKG).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def stage_of(mod: str) -> str:
    best, best_len = None, -1
    for name, prefixes in STAGES:
        for pre in prefixes:
            if (mod == pre or mod.startswith(pre + ".") or pre == "") and len(pre) > best_len:
                best, best_len = name, len(pre)
    assert best is not None, mod
    return best


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def imports() -> tuple[set[str], list[tuple[str, str, int, list[str]]]]:
    """(package modules, [(importer, imported module, line, names imported)])."""
    files = sorted(PKG.rglob("*.py"))
    mods = {module_name(p) for p in files}
    out = []
    for p in files:
        me = module_name(p)
        pkg = me if p.name == "__init__.py" else me.rpartition(".")[0]
        tree = ast.parse(p.read_text(), str(p))
        typing_only = {id(n) for blk in ast.walk(tree) if isinstance(blk, ast.If) and _is_type_checking(blk.test)
                       for stmt in blk.body for n in ast.walk(stmt)}
        for node in ast.walk(tree):
            if id(node) in typing_only:
                continue  # ``if TYPE_CHECKING:`` imports are for annotations only, never run
            if isinstance(node, ast.Import):
                for a in node.names:
                    if a.name == "bertviz_graph" or a.name.startswith("bertviz_graph."):
                        out.append((me, a.name.removeprefix("bertviz_graph").lstrip("."), node.lineno, []))
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = pkg.split(".") if pkg else []
                    base = base[: len(base) - (node.level - 1)]
                    target = ".".join(base + ([node.module] if node.module else []))
                elif node.module == "bertviz_graph" or (node.module or "").startswith("bertviz_graph."):
                    target = node.module.removeprefix("bertviz_graph").lstrip(".")
                else:
                    continue
                names = [a.name for a in node.names]
                for n in names:  # "from pkg import submodule" depends on the submodule
                    sub = f"{target}.{n}" if target else n
                    out.append((me, sub if sub in mods else target, node.lineno, [] if sub in mods else [n]))
    return mods, out


def test_no_stage_imports_a_later_stage():
    _, found = imports()
    bad = [f"{a} ({stage_of(a)}) imports {b or 'bertviz_graph'} ({stage_of(b)}) at line {line}"
           for a, b, line, _ in found if a != b and RANK[stage_of(b)] > RANK[stage_of(a)]]
    assert bad == []


def test_no_import_cycles():
    mods, found = imports()
    g = nx.DiGraph()
    g.add_nodes_from(mods)
    for a, b, _, _ in found:
        # a package's __init__ re-exporting its own submodules is not a knot (bertviz_graph.layout -> .cache)
        if a != b and not (b.startswith(a + ".") or a == ""):
            g.add_edge(a, b)
    cycles = [c for c in nx.simple_cycles(g) if len(c) > 1]
    assert cycles == []


def test_no_private_names_across_modules():
    _, found = imports()
    bad = [f"{a} imports {b}.{n} at line {line}" for a, b, line, names in found for n in names
           if n.startswith("_") and not n.startswith("__") and b != a]
    assert bad == []


# private names of OTHER libraries' objects that are their public way in (an ATen op spelled with "_", the
# transformers config field that picks the attention kernel)
EXTERNAL_PRIVATE = {"aten._softmax", "config._attn_implementation", "op._schema"}


def test_no_reaching_into_private_attributes_of_other_objects():
    """``x._y`` on anything but ``self``/``cls`` (the widget read the view's ``_reps``, the network tab
    stored its figure as ``C._bv_textbook``)."""
    bad = []
    for p in sorted(PKG.rglob("*.py")):
        for node in ast.walk(ast.parse(p.read_text(), str(p))):
            if not (isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__")):
                continue
            if isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"):
                continue
            if node.attr.startswith(("_repr_", "_ipython_")):  # IPython's display protocol: public by design
                continue
            if ast.unparse(node) in EXTERNAL_PRIVATE:
                continue
            bad.append(f"{module_name(p)}:{node.lineno} {ast.unparse(node)}")
    assert bad == []


@pytest.mark.parametrize("case", ["stage", "cycle", "private"])
def test_the_checks_can_fail(case, monkeypatch, tmp_path):
    """The walker sees a planted violation (so a green run means something)."""
    import shutil

    fake = tmp_path / "bertviz_graph"
    shutil.copytree(PKG, fake, ignore=shutil.ignore_patterns("__pycache__", "static", "assets"))
    line = {"stage": "from bertviz_graph.app import ids\n",
            "cycle": "from bertviz_graph.view import View\n",
            "private": "from bertviz_graph.view import _is_trivial\n"}[case]
    target = fake / ("graph.py" if case != "cycle" else "hierarchy" / Path("tree.py"))
    if case == "cycle":  # view imports hierarchy.tree; make the tree import view back, same stage
        target = fake / "view_types.py"
        line = "from bertviz_graph.view import View\n"
    target.write_text(target.read_text() + "\n" + line)
    monkeypatch.setattr(__import__(__name__), "PKG", fake)
    check = {"stage": test_no_stage_imports_a_later_stage, "cycle": test_no_import_cycles,
             "private": test_no_private_names_across_modules}[case]
    with pytest.raises(AssertionError):
        check()


def local_own_imports(pkg: Path | None = None) -> dict[str, str]:
    """``file:line`` -> the first line of every import of one of our own modules inside a function."""
    out = {}
    for p in sorted((pkg or PKG).rglob("*.py")):
        lines = p.read_text().splitlines()
        tree = ast.parse("\n".join(lines), str(p))
        for fn in ast.walk(tree):
            if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for node in ast.walk(fn):
                if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").startswith("bertviz_graph")):
                    out[f"{module_name(p)}:{node.lineno}"] = lines[node.lineno - 1]
                elif isinstance(node, ast.Import) and any(a.name.startswith("bertviz_graph") for a in node.names):
                    out[f"{module_name(p)}:{node.lineno}"] = lines[node.lineno - 1]
    return out


LAZY_COMMENT = re.compile(r"#\s*lazy:\s*\S")


def test_every_function_local_import_of_ours_says_why():
    """Lazy imports of our own modules hide the dependency graph: each one left says why on its line
    (``# lazy: start-up (torch)``, ``cycle (...)``, ...). ``python scripts/tidy_imports.py`` moves the ones that
    can go to the module top (no new library at load time, no loop) and writes the comment on the rest."""
    found = local_own_imports()
    bad = [f"{k}: {line.strip()}" for k, line in found.items() if not LAZY_COMMENT.search(line)]
    assert bad == [], "run scripts/tidy_imports.py (or import at the module top): " + "; ".join(bad)
    assert len(found) > 50  # the walker sees them (a green run means something)


def test_a_function_local_import_without_a_reason_is_caught(monkeypatch, tmp_path):
    import shutil

    fake = tmp_path / "bertviz_graph"
    shutil.copytree(PKG, fake, ignore=shutil.ignore_patterns("__pycache__", "static", "assets"))
    target = fake / "graph_schema.py"
    target.write_text(target.read_text() + "\n\ndef _planted():\n    from bertviz_graph import errors\n\n"
                      "    return errors\n")
    monkeypatch.setattr(__import__(__name__), "PKG", fake)
    with pytest.raises(AssertionError):
        test_every_function_local_import_of_ours_says_why()
