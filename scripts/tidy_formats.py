"""Route inline thousands and percent formats through bertviz_graph/format.py.

    python scripts/tidy_formats.py           # rewrite bertviz_graph/ in place, print what changed
    python scripts/tidy_formats.py --check   # exit 1 if a run would change anything

Rewrites, inside f-strings outside format.py (the text they print stays the same):
    {n:,}  {n:,.0f}  ->  {fmt.count(n)}        {d:+,}  ->  {fmt.signed(d)}
    {x:.1%}          ->  {fmt.percent(x, 1)}   (any number of digits)
and adds ``from bertviz_graph import format as fmt`` at the top of the module (``numfmt`` where ``fmt`` names
something else; sorted by ruff's isort rule). A format it cannot rewrite safely (a nested spec, a conversion) is
listed and left for a hand edit; tests/test_formats.py fails on any that remain. Running it twice changes
nothing the second time.
"""

from __future__ import annotations

import argparse
import ast
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NAMES = ("fmt", "numfmt")  # what the module is imported as: the first one the module does not use otherwise
SPECS = [(re.compile(r"^,(\.0f)?$"), "fmt.count({})"), (re.compile(r"^\+,$"), "fmt.signed({})"),
         (re.compile(r"^\.(\d)%$"), "fmt.percent({}, {d})")]


def _offsets(lines: list[str]) -> list[int]:
    out, at = [], 0
    for line in lines:
        out.append(at)
        at += len(line)
    return out


def _spec(fv: ast.FormattedValue) -> str | None:
    if fv.format_spec is None:
        return None
    parts = fv.format_spec.values
    return parts[0].value if len(parts) == 1 and isinstance(parts[0], ast.Constant) else None


def edits_for(src: str, name: str = "fmt") -> tuple[list[tuple[int, int, str]], list[str]]:
    """([(start, end, replacement)], [formats left for a hand edit]) in the text ``src``.

    Each ``{expr:spec}`` is found as text inside its string (Python 3.11 gives a format field the position
    of the whole string) and checked to parse to the very expression ast saw."""
    lines = src.splitlines(keepends=True)
    off = _offsets(lines)
    edits, left, used = [], [], set()
    for node in ast.walk(ast.parse(src)):
        if not isinstance(node, ast.FormattedValue) or node.format_spec is None:
            continue
        raw = "".join(v.value if isinstance(v, ast.Constant) else "{...}" for v in node.format_spec.values)
        if not ("," in raw or raw.endswith("%")):
            continue
        spec = _spec(node)
        rule = next(((r, t) for r, t in SPECS if spec is not None and r.match(spec)), None)
        where = f"line {node.value.lineno}: {{{ast.unparse(node.value)}:{raw}}}"
        if node.conversion != -1 or rule is None:
            left.append(where)
            continue
        lo = off[node.lineno - 1] + node.col_offset
        hi = off[node.end_lineno - 1] + node.end_col_offset
        want = ast.dump(node.value)
        hit = None
        for m in re.finditer(r"\{([^{}]+?):" + re.escape(spec) + r"\}", src[lo:hi]):
            try:
                got = ast.dump(ast.parse(m.group(1).strip(), mode="eval").body)
            except SyntaxError:
                continue
            if got == want and lo + m.start() not in used:
                hit = m
                break
        if hit is None:
            left.append(where)
            continue
        used.add(lo + hit.start())
        d = rule[0].match(spec)
        text = "{" + rule[1].replace("fmt.", name + ".").format(hit.group(1).strip(), d=d.group(1) if d.groups() else "") + "}"
        edits.append((lo + hit.start(), lo + hit.end(), text))
    return edits, left


def _taken(tree: ast.Module, name: str) -> bool:
    """``name`` means something else somewhere in the module (a variable, a parameter, another import)."""
    for n in ast.walk(tree):
        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store) and n.id == name:
            return True
        if isinstance(n, ast.arg) and n.arg == name:
            return True
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and n.name == name:
            return True
        if isinstance(n, (ast.Import, ast.ImportFrom)):
            for a in n.names:
                if (a.asname or a.name) == name and not (isinstance(n, ast.ImportFrom) and n.module == "bertviz_graph"
                                                         and a.name == "format"):
                    return True
    return False


def _insert_import(src: str, name: str) -> str:
    tree = ast.parse(src)
    if any(isinstance(n, ast.ImportFrom) and n.module == "bertviz_graph" and n.col_offset == 0
           and any(a.name == "format" and a.asname == name for a in n.names) for n in tree.body):
        return src
    at = 0
    for i, s in enumerate(tree.body):
        if i == 0 and isinstance(s, ast.Expr) and isinstance(getattr(s, "value", None), ast.Constant):
            at = s.end_lineno
        elif isinstance(s, (ast.Import, ast.ImportFrom)):
            at = s.end_lineno
        elif not (isinstance(s, ast.If) or isinstance(s, ast.Try)):
            break
    lines = src.splitlines(keepends=True)
    lines.insert(at, f"from bertviz_graph import format as {name}\n")
    return "".join(lines)


def tidy(path: Path) -> tuple[int, list[str]]:
    src = path.read_text()
    tree = ast.parse(src)
    name = next((n for n in NAMES if not _taken(tree, n)), None)
    edits, left = edits_for(src, name or "fmt")
    if not edits:
        return 0, left
    if name is None:
        return 0, left + [f"{len(edits)} formats: the module uses every name of {NAMES} for something else"]
    for start, end, text in sorted(edits, reverse=True):
        src = src[:start] + text + src[end:]
    path.write_text(_insert_import(src, name))
    return len(edits), left


def run(pkg: Path, ruff: str) -> tuple[int, dict[str, list[str]]]:
    total, left, changed = 0, {}, []
    for p in sorted(pkg.rglob("*.py")):
        if p.name == "format.py" and p.parent == pkg:
            continue
        n, rest = tidy(p)
        total += n
        if n:
            changed.append(str(p))
        if rest:
            left[str(p.relative_to(pkg.parent))] = rest
    if changed:
        subprocess.run([ruff, "check", "--select", "I", "--fix", "--quiet", *changed], cwd=ROOT, check=False,
                       capture_output=True)
    return total, left


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pkg", type=Path, default=ROOT / "bertviz_graph")
    ap.add_argument("--ruff", default=str(Path(sys.executable).with_name("ruff")))
    ap.add_argument("--check", action="store_true", help="change nothing; exit 1 if a run would")
    args = ap.parse_args(argv)
    if args.check:
        n = sum(len(edits_for(p.read_text())[0]) for p in args.pkg.rglob("*.py")
                if not (p.name == "format.py" and p.parent == args.pkg))
        print(f"{n} formats to rewrite")
        return 1 if n else 0
    total, left = run(args.pkg, args.ruff)
    print(f"rewrote {total} formats")
    for f, items in left.items():
        for x in items:
            print(f"left for a hand edit: {f}: {x}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
