"""The two codemods the lead re-runs after merging (scripts/tidy_imports.py, scripts/tidy_formats.py), on a
small package made here: what moves, what stays and why, that a second run changes nothing, and that a
rewritten format prints what the inline one printed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUFF = str(Path(sys.executable).with_name("ruff"))

FILES = {
    "__init__.py": "",
    "light.py": "def f():\n    return 1\n\n\ndef h():\n    return 2\n",
    "heavy.py": "import numpy as np\n\n\ndef g():\n    return int(np.int64(3))\n",
    "cyc.py": "from bertviz_graph.user import a\n\nx = 4\n",
    "user.py": ('"""A module with lazy imports."""\n\nimport os\n\n\n'
                "def a():\n    from bertviz_graph.light import f\n\n    return f()\n\n\n"
                "def b():\n    from bertviz_graph.heavy import g\n\n    return g()\n\n\n"
                "def c():\n    try:\n        from bertviz_graph.light import h\n    except ImportError:\n"
                "        return None\n    return h()\n\n\n"
                "def d():\n    from bertviz_graph.cyc import x\n\n    return x + len(os.sep)\n\n\n"
                "def e():\n    from bertviz_graph.light import h as max  # a builtin's name\n\n    return max()\n"),
    "cli.py": ("def main():\n    from bertviz_graph.light import h  # lazy: the parser stays instant (by hand)\n\n"
               "    return h()\n\n\nPARSER = None\n"),
}


def _make(tmp_path: Path) -> Path:
    pkg = tmp_path / "bertviz_graph"
    pkg.mkdir()
    for name, text in FILES.items():
        (pkg / name).write_text(text)
    return pkg


def _script(name: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "scripts" / name), "--ruff", RUFF, *args],
                          capture_output=True, text=True, timeout=300)


def test_tidy_imports_moves_what_may_move_and_says_why_for_the_rest(tmp_path):
    pkg = _make(tmp_path)
    out = _script("tidy_imports.py", "--pkg", str(pkg))
    assert out.returncode == 0, out.stdout + out.stderr
    assert "moved: 1" in out.stdout and "every module loads on its own" in out.stdout, out.stdout
    user = (pkg / "user.py").read_text()
    top = user.split("\ndef ")[0]
    assert "from bertviz_graph.light import f\n" in top  # light, no loop: at the top now
    assert "    from bertviz_graph.light import f" not in user
    assert "from bertviz_graph.heavy import g  # lazy: start-up (numpy)" in user
    assert "from bertviz_graph.light import h  # lazy: guarded (inside a try)" in user
    assert "from bertviz_graph.cyc import x  # lazy: cycle (bertviz_graph.cyc loads this module)" in user
    assert "from bertviz_graph.light import h as max  # lazy: name clash (max)  # a builtin's name" in user
    assert "# lazy: the parser stays instant (by hand)" in (pkg / "cli.py").read_text()  # left alone
    # the rewritten module still works, imported on its own in a fresh interpreter
    ran = subprocess.run([sys.executable, "-c", "import bertviz_graph.user as u; print(u.a(), u.b(), u.c(), u.e())"],
                         cwd=tmp_path, env={"PYTHONPATH": str(tmp_path), "PATH": ""}, capture_output=True, text=True)
    assert ran.stdout.split() == ["1", "3", "2", "2"], ran.stderr
    again = _script("tidy_imports.py", "--pkg", str(pkg), "--check")
    assert again.returncode == 0 and "nothing to change" in again.stdout, again.stdout + again.stderr


def test_tidy_formats_prints_the_same_text(tmp_path):
    pkg = tmp_path / "bertviz_graph"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "format.py").write_text((ROOT / "bertviz_graph" / "format.py").read_text())
    src = ('def text(n, d, x, rows):\n'
           '    return (f"{n:,} params, {d:+,} delta, {x:.1%} zero, {x:.0%}; "\n'
           '            f"{rows[\'k\']:,.0f} rows, {len(str(n)):,} digits, {n!r:>5}")\n')
    (pkg / "m.py").write_text(src)
    out = _script("tidy_formats.py", "--pkg", str(pkg))
    assert out.returncode == 0 and "rewrote 6 formats" in out.stdout, out.stdout + out.stderr
    new = (pkg / "m.py").read_text()
    assert "from bertviz_graph import format as fmt" in new and ":," not in new and ":.1%" not in new
    (tmp_path / "before_mod.py").write_text(src)  # outside the package: the script must not touch it
    check = ("import before_mod as before\nfrom bertviz_graph import m\n"
             "for args in [(1234567, -2048, 0.3125, {'k': 1e6 + 0.4}), (5, 0, 1.0, {'k': 2.6})]:\n"
             "    assert m.text(*args) == before.text(*args), (m.text(*args), before.text(*args))\n"
             "print(m.text(1234567, -2048, 0.3125, {'k': 2.6}))\n")
    ran = subprocess.run([sys.executable, "-c", check], cwd=tmp_path, env={"PYTHONPATH": str(tmp_path)},
                         capture_output=True, text=True)
    assert ran.stdout.strip() == "1,234,567 params, -2,048 delta, 31.2% zero, 31%; 3 rows, 7 digits, 1234567", \
        ran.stdout + ran.stderr
    assert _script("tidy_formats.py", "--pkg", str(pkg), "--check").returncode == 0
