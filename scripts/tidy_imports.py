"""Move function-local imports of our own modules to the module top where that is safe; mark the rest.

    python scripts/tidy_imports.py            # rewrite bertviz_graph/ in place, print a summary
    python scripts/tidy_imports.py --check    # exit 1 if a run would change anything

After rewriting it loads every module of the package in a fresh module table (exit 1 if one fails).

A function-local ``from bertviz_graph... import`` (or a relative one) moves to the top of its module when
  - the move adds no third-party library to what loading the module loads (a cached trace imports no torch:
    every module keeps exactly the libraries it loaded before), and adds none of our modules to what
    ``import bertviz_graph.cli`` loads (measured when the script starts: the command line parses its
    arguments before it loads a command's modules),
  - it closes no loop in the load graph (top-level imports plus each module's parent packages),
  - the names it binds are free at module level (or bound there by the very same import),
  - it is not inside a ``try`` (a guarded import means to survive a failure) and has its lines to itself.
Every import that stays gets a ``# lazy: <reason>`` comment (``start-up (torch, dash)``, ``cycle (...)``,
``name clash (x)``, ``guarded (inside a try)``, ``shares its line``); a ``# lazy:`` comment with any other text was written
by hand and is left alone, the import too. The script repeats until nothing moves, so a second run changes
nothing; moved imports are sorted by ruff's isort rule (the project's ``I`` lint). tests/test_imports.py
checks that every function-local import of ours carries a ``# lazy:`` comment.
"""

from __future__ import annotations

import argparse
import ast
import builtins
import io
import os
import re
import subprocess
import sys
import textwrap
import tokenize
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PKG_NAME = "bertviz_graph"
GENERATED = ("start-up", "cycle", "name clash", "guarded", "shares its line")  # reasons this script writes
LAZY = re.compile(r"#\s*lazy:\s*(.*?)\s*(?=(#|$))")
STDLIB = set(sys.stdlib_module_names)
BUILTINS = set(dir(builtins))
# the entry point whose own load must not grow either (``bertviz-graph --help`` and argument errors stay instant)
ENTRY = "cli"
ENTRY_LOAD = """
import sys, {pkg}.{entry}
print("\\n".join(k.removeprefix("{pkg}").lstrip(".") for k in sys.modules if k == "{pkg}" or k.startswith("{pkg}.")))
"""


def entry_load(pkg: Path) -> set[str]:
    """Our modules that ``import bertviz_graph.cli`` loads, measured (its parser is built at import time)."""
    if not (pkg / f"{ENTRY}.py").exists():
        return set()
    env = {**os.environ, "PYTHONPATH": str(pkg.parent)}
    out = subprocess.run([sys.executable, "-c", ENTRY_LOAD.format(pkg=pkg.name, entry=ENTRY)], env=env,
                         cwd=pkg.parent, capture_output=True, text=True, check=True)
    return set(out.stdout.splitlines())


def module_name(pkg: Path, p: Path) -> str:
    parts = list(p.relative_to(pkg).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)  # "" is the package itself


def parents(mod: str) -> list[str]:
    """bertviz_graph.a.b loads bertviz_graph and bertviz_graph.a first."""
    parts = mod.split(".") if mod else []
    return [".".join(parts[:i]) for i in range(len(parts))]


@dataclass
class Local:
    """One function-local import statement of our own modules."""
    path: Path
    node: ast.Import | ast.ImportFrom
    targets: list[str]  # our modules it loads
    binds: list[tuple[str, tuple]]  # (name bound, identity of what is bound)
    guarded: bool
    alone: bool
    func_stores: set[str]
    comment: str  # the comment on its first line, "" if none
    reason: str = ""


@dataclass
class Module:
    name: str
    path: Path
    is_pkg: bool
    lines: list[str]
    tree: ast.Module
    own: set[str] = field(default_factory=set)  # our modules its top level loads
    third: set[str] = field(default_factory=set)  # third-party libraries its top level loads
    top_names: dict[str, set[tuple]] = field(default_factory=dict)  # name -> identities bound at top


def _comments(src: str) -> dict[int, str]:
    out: dict[int, str] = {}
    for tok in tokenize.generate_tokens(io.StringIO(src).readline):
        if tok.type == tokenize.COMMENT:
            out[tok.start[0]] = tok.string
    return out


class Tree:
    """The package's modules and their load graph, re-read from disk on each pass."""

    def __init__(self, pkg: Path, entry: set[str] | None = None):
        self.pkg = pkg
        self.entry_load = entry or set()
        self.mods: dict[str, Module] = {}
        for p in sorted(pkg.rglob("*.py")):
            src = p.read_text()
            self.mods[module_name(pkg, p)] = Module(module_name(pkg, p), p, p.name == "__init__.py",
                                                    src.splitlines(keepends=True), ast.parse(src, str(p)))
        for m in self.mods.values():
            self._top_level(m)

    # -- resolving imports ------------------------------------------------------------------------
    def _base(self, m: Module, node: ast.ImportFrom) -> str | None:
        """Our module an ImportFrom reads from ("" = the package), None for third-party."""
        if node.level:
            pkg = m.name if m.is_pkg else m.name.rpartition(".")[0]
            base = pkg.split(".") if pkg else []
            base = base[: len(base) - (node.level - 1)]
            return ".".join(base + ([node.module] if node.module else []))
        mod = node.module or ""
        if mod == PKG_NAME or mod.startswith(PKG_NAME + "."):
            return mod.removeprefix(PKG_NAME).lstrip(".")
        return None

    def resolve(self, m: Module, node: ast.AST) -> tuple[list[str], list[str], list[tuple[str, tuple]]]:
        """(our modules loaded, third-party roots loaded, (name, identity) bound)."""
        own, third, binds = [], [], []
        if isinstance(node, ast.Import):
            for a in node.names:
                root = a.name.split(".")[0]
                if root == PKG_NAME:
                    own.append(a.name.removeprefix(PKG_NAME).lstrip("."))
                    binds.append((a.asname, ("mod", a.name)) if a.asname else (PKG_NAME, ("mod", PKG_NAME)))
                else:
                    if root not in STDLIB:
                        third.append(root)
                    binds.append((a.asname or root, ("mod", a.name if a.asname else root)))
        elif isinstance(node, ast.ImportFrom):
            base = self._base(m, node)
            if base is None:
                root = (node.module or "").split(".")[0]
                if root not in STDLIB and root != "__future__":
                    third.append(root)
                binds += [(a.asname or a.name, ("from", node.module, a.name)) for a in node.names]
            else:
                for a in node.names:
                    sub = f"{base}.{a.name}" if base else a.name
                    own.append(sub if sub in self.mods else base)
                    binds.append((a.asname or a.name, ("from", base, a.name)))
        return own, third, binds

    # -- what each module's top level does -------------------------------------------------------
    def _top_level(self, m: Module) -> None:
        def visit(stmts: list[ast.stmt], names: bool = True) -> None:
            bind = (lambda n, ident: m.top_names.setdefault(n, set()).add(ident)) if names else (lambda n, i: None)
            for s in stmts:
                if isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    bind(s.name, ("def",))
                    continue
                if isinstance(s, ast.If) and _is_type_checking(s.test):
                    continue
                if isinstance(s, (ast.Import, ast.ImportFrom)):
                    own, third, binds = self.resolve(m, s)
                    m.own.update(own)
                    m.third.update(third)
                    for n, ident in binds:
                        bind(n, ident)
                    continue
                if isinstance(s, ast.ClassDef):
                    bind(s.name, ("def",))
                    visit(s.body, names=False)  # a class body runs at load time; its names are not module names
                    continue
                for n in ast.walk(s):
                    if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store):
                        bind(n.id, ("assign",))
                for attr in ("body", "orelse", "finalbody", "handlers"):
                    sub = getattr(s, attr, None)
                    if sub and isinstance(sub, list) and not isinstance(s, ast.ClassDef):
                        visit([x for x in sub if isinstance(x, ast.stmt)] +
                              [y for h in sub if isinstance(h, ast.ExceptHandler) for y in h.body], names)
        visit(m.tree.body)

    def loads(self, mod: str) -> set[str]:
        """Every module of ours that loading ``mod`` runs (itself, its parents, their imports, ...)."""
        seen, todo = set(), [mod]
        while todo:
            x = todo.pop()
            if x in seen or x not in self.mods:
                continue
            seen.add(x)
            todo += parents(x) + sorted(self.mods[x].own)
        return seen

    def loops_back(self, target: str, mod: str) -> str | None:
        """The module through which loading ``target`` from ``mod``'s top level would come back to ``mod``.

        ``mod``'s parent packages are under way when ``mod`` loads, so reaching one as a parent is harmless;
        reaching ``mod`` by an import is a loop, and so is importing a parent whose own imports load ``mod``."""
        started = set(parents(mod)) | {mod}

        def walk(start: list[tuple[str, str, str]], stop: set[str]) -> str | None:
            seen, todo = set(), list(start)
            while todo:
                x, how, via = todo.pop()
                if x == mod and how == "import":
                    return via
                if x in started and x != mod and how == "import" and x not in stop:
                    hit = walk([(y, "import", x) for y in sorted(self.mods[x].own)], stop | {x})
                    if hit is not None:
                        return hit
                    continue
                if x in seen or x not in self.mods or x in started:
                    continue
                seen.add(x)
                todo += [(p, "parent", via) for p in parents(x)] + [(y, "import", x) for y in sorted(self.mods[x].own)]
            return None

        return walk([(target, "import", target)], set())

    def third_of(self, mod: str) -> set[str]:
        return set().union(*(self.mods[x].third for x in self.loads(mod)))

    # -- the function-local imports ----------------------------------------------------------------
    def locals(self) -> list[Local]:
        out = []
        for m in self.mods.values():
            comments = _comments("".join(m.lines))
            for fn in ast.walk(m.tree):
                if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    continue
                stores = {n.id for n in ast.walk(fn) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
                stores |= {a.arg for a in ast.walk(fn.args) if isinstance(a, ast.arg)}
                for node, guarded in _imports_in(fn.body, False):
                    own, third, binds = self.resolve(m, node)
                    if not own:
                        continue
                    alone = _alone(m.lines, node, fn) and not third
                    out.append(Local(m.path, node, own, binds, guarded, alone, stores,
                                     comments.get(node.lineno, "")))
        # a function nested in another is walked twice: keep one record per statement
        uniq = {(lo.path, lo.node.lineno): lo for lo in out}
        return [uniq[k] for k in sorted(uniq)]


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports_in(stmts: list[ast.stmt], guarded: bool):
    """Import statements directly in a function's body (not in nested functions: they are walked on their own)."""
    for s in stmts:
        if isinstance(s, (ast.Import, ast.ImportFrom)):
            yield s, guarded
        elif isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            continue
        else:
            g = guarded or isinstance(s, (ast.Try, getattr(ast, "TryStar", ast.Try)))
            for attr in ("body", "orelse", "finalbody"):
                yield from _imports_in(getattr(s, attr, []) or [], g)
            for h in getattr(s, "handlers", []) or []:
                yield from _imports_in(h.body, True)
            for c in getattr(s, "cases", []) or []:
                yield from _imports_in(c.body, g)


def _alone(lines: list[str], node: ast.stmt, fn: ast.AST) -> bool:
    """The statement has its lines to itself (no ``if x: import y``, no ``a; import b``)."""
    first = lines[node.lineno - 1]
    if first[: node.col_offset].strip():
        return False
    rest = lines[node.end_lineno - 1][node.end_col_offset:]
    return not rest.strip() or rest.strip().startswith("#")


def _reason_text(existing: str) -> str | None:
    m = LAZY.search(existing)
    return m.group(1) if m else None


def decide(tree: Tree, lo: Local, taken: dict[Path, dict[str, set[tuple]]]) -> str:
    """"" when the import may move to the top, else why it stays."""
    m = next(x for x in tree.mods.values() if x.path == lo.path)
    if lo.guarded:
        return "guarded (inside a try)"
    if not lo.alone:
        return "shares its line"
    added = set().union(*(tree.third_of(t) for t in lo.targets)) - tree.third_of(m.name)
    if added:
        return f"start-up ({', '.join(sorted(added))})"
    if m.name in tree.entry_load and not set().union(*(tree.loads(t) for t in lo.targets)) <= tree.entry_load:
        return f"start-up ({PKG_NAME}.{ENTRY} loads this module)"
    for t in lo.targets:
        via = tree.loops_back(t, m.name)
        if via is not None:
            return f"cycle ({'.'.join(x for x in (PKG_NAME, via) if x)} loads this module)"
    names = taken.setdefault(lo.path, {k: set(v) for k, v in m.top_names.items()})
    for n, ident in lo.binds:
        if n in BUILTINS:  # at module level it would hide the builtin from every function of the module
            return f"name clash ({n})"
        have = names.get(n, set())
        if (have and have != {ident} and not (n == PKG_NAME and all(h[0] == "mod" for h in have))) \
                or n in lo.func_stores - {n for n, _ in lo.binds}:
            return f"name clash ({n})"
    return ""


def one_pass(pkg: Path, entry: set[str]) -> tuple[int, dict[Path, list[tuple[Local, str]]]]:
    """Decide every local import against the tree as it is on disk; rewrite the files. (moves, decisions)"""
    tree = Tree(pkg, entry)
    taken: dict[Path, dict[str, set[tuple]]] = {}
    per_file: dict[Path, list[tuple[Local, str]]] = {}
    moves = 0
    for lo in tree.locals():
        hand = _reason_text(lo.comment)
        if hand is not None and not hand.startswith(GENERATED):
            continue  # a reason written by hand: left as it is
        reason = decide(tree, lo, taken)
        if not reason:
            moves += 1
            m = next(x for x in tree.mods.values() if x.path == lo.path)
            for t in lo.targets:
                m.own.add(t)  # later decisions see this move (loops, names)
            for n, ident in lo.binds:
                taken[lo.path].setdefault(n, set()).add(ident)
        per_file.setdefault(lo.path, []).append((lo, reason))
    for path, items in per_file.items():
        rewrite(path, items)
    return moves, per_file


def _with_lazy(line: str, reason: str) -> str:
    """``line`` with its ``# lazy:`` comment set to ``reason`` (other comments kept after it)."""
    body, nl = (line[:-1], "\n") if line.endswith("\n") else (line, "")
    code, comment = _split_comment(body)
    others = LAZY.sub("", comment).strip() if comment else ""
    others = re.sub(r"^#\s*", "", others).strip()
    tail = f"  # {others}" if others else ""
    return f"{code.rstrip()}  # lazy: {reason}{tail}{nl}"


def _split_comment(line: str) -> tuple[str, str]:
    try:
        for tok in tokenize.generate_tokens(io.StringIO(line).readline):
            if tok.type == tokenize.COMMENT:
                return line[: tok.start[1]], line[tok.start[1]:]
    except (tokenize.TokenError, IndentationError):
        pass
    i = line.find("#")
    return (line, "") if i < 0 else (line[:i], line[i:])


def rewrite(path: Path, items: list[tuple[Local, str]]) -> None:
    lines = path.read_text().splitlines(keepends=True)
    top: list[str] = []
    for lo, reason in sorted(items, key=lambda x: -x[0].node.lineno):
        a, b = lo.node.lineno - 1, lo.node.end_lineno
        if reason:
            if _reason_text(lo.comment) != reason:
                lines[a] = _with_lazy(lines[a], reason)
            continue
        text = textwrap.dedent("".join(lines[a:b]))
        code, comment = _split_comment(text.splitlines(keepends=True)[0])
        if comment and LAZY.search(comment):  # a generated reason no longer holds: drop it, keep the rest
            first = _with_lazy(text.splitlines(keepends=True)[0], "x").split("  # lazy: x", 1)
            text = first[0] + first[1] + "".join(text.splitlines(keepends=True)[1:])
        top.append(text if text.endswith("\n") else text + "\n")
        indent = lines[a][: len(lines[a]) - len(lines[a].lstrip())]
        del lines[a:b]
        if _empty_block(lines, a, indent):
            lines.insert(a, f"{indent}pass\n")
    if top:
        at = _top_insert_at(lines)
        seen, block = set(), []
        for t in reversed(top):  # first in the file first; one copy of each
            if t not in seen:
                seen.add(t)
                block.append(t)
        lines[at:at] = block
    path.write_text("".join(lines))


def _empty_block(lines: list[str], at: int, indent: str) -> bool:
    """Removing the statement left its block with nothing in it (the next code line is dedented)."""
    prev = next((x for x in reversed(lines[:at]) if x.strip() and not x.strip().startswith("#")), "")
    nxt = next((x for x in lines[at:] if x.strip() and not x.strip().startswith("#")), "")
    opens = prev.rstrip().endswith(":")
    nxt_indent = len(nxt) - len(nxt.lstrip())
    return opens and (not nxt or nxt_indent < len(indent))


def _top_insert_at(lines: list[str]) -> int:
    """After the last import of the module's leading block (docstring, imports, TYPE_CHECKING blocks)."""
    src = "".join(lines)
    tree = ast.parse(src)
    at = 0
    for i, s in enumerate(tree.body):
        if i == 0 and isinstance(s, ast.Expr) and isinstance(getattr(s, "value", None), ast.Constant):
            at = s.end_lineno
            continue
        if isinstance(s, (ast.Import, ast.ImportFrom)):
            at = s.end_lineno
            continue
        if isinstance(s, ast.If) and _is_type_checking(s.test):
            continue
        if isinstance(s, ast.Try) and all(isinstance(x, (ast.Import, ast.ImportFrom)) for x in s.body):
            continue
        break
    return at


def run(pkg: Path, ruff: str) -> dict[str, int]:
    before = {p: p.read_text() for p in pkg.rglob("*.py")}
    total = 0
    entry = entry_load(pkg)  # measured once, before any move: what the command line loads now
    for _ in range(20):
        moves, _decisions = one_pass(pkg, entry)
        total += moves
        changed = [str(p) for p in pkg.rglob("*.py") if p.read_text() != before.get(p)]
        if changed:  # moved imports join the sorted block (ruff's isort, the project's own rule)
            subprocess.run([ruff, "check", "--select", "I", "--fix", "--quiet", *changed],
                           cwd=ROOT, check=False, capture_output=True)
        if not moves:
            break
    kept: dict[str, int] = {}
    for lo in Tree(pkg).locals():
        r = _reason_text(lo.comment) or "(no comment)"
        key = r.split(" (")[0] if r.startswith(GENERATED) else "by hand"
        kept[key] = kept.get(key, 0) + 1
    return {"moved": total, **{f"kept: {k}": v for k, v in sorted(kept.items())}}


FRESH = """
import importlib, pkgutil, sys
import {pkg} as root
names = [m.name for m in pkgutil.walk_packages(root.__path__, "{pkg}.") if not m.name.endswith("__main__")]
bad = []
for name in names:  # each module loaded first, as an entry point would (libraries stay cached: fast)
    for k in [k for k in sys.modules if k == "{pkg}" or k.startswith("{pkg}.")]:
        del sys.modules[k]
    try:
        importlib.import_module(name)
    except Exception as e:
        bad.append(f"{{name}}: {{e!r}}")
print("\\n".join(bad))
"""


def verify(pkg: Path) -> list[str]:
    """Load every module of the package on its own (a loop shows up as an ImportError): the failures."""
    env = {**os.environ, "PYTHONPATH": str(pkg.parent)}
    out = subprocess.run([sys.executable, "-c", FRESH.format(pkg=pkg.name)], env=env, cwd=pkg.parent,
                         capture_output=True, text=True)
    if out.returncode:
        return [out.stderr.strip().splitlines()[-1] if out.stderr.strip() else "the check itself failed"]
    return [x for x in out.stdout.splitlines() if x.strip()]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pkg", type=Path, default=ROOT / PKG_NAME)
    ap.add_argument("--ruff", default=str(Path(sys.executable).with_name("ruff")))
    ap.add_argument("--check", action="store_true", help="change nothing; exit 1 if a run would")
    ap.add_argument("--no-verify", action="store_true", help="skip loading every module on its own after")
    args = ap.parse_args(argv)
    if args.check:
        import shutil
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            copy = Path(tmp) / PKG_NAME
            shutil.copytree(args.pkg, copy, ignore=shutil.ignore_patterns("__pycache__", "static", "assets"))
            run(copy, args.ruff)
            diff = [str(p.relative_to(copy)) for p in sorted(copy.rglob("*.py"))
                    if p.read_text() != (args.pkg / p.relative_to(copy)).read_text()]
        print("\n".join(diff) or "nothing to change")
        return 1 if diff else 0
    for k, v in run(args.pkg, args.ruff).items():
        print(f"{k}: {v}")
    if args.no_verify:
        return 0
    bad = verify(args.pkg)
    print("every module loads on its own" if not bad else "modules that fail to load:\n" + "\n".join(bad))
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
