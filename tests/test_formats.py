"""Numbers a user reads are written by bertviz_graph/format.py only: no inline thousands separators or
percentages elsewhere in the package (``python scripts/tidy_formats.py`` rewrites most of them)."""

from __future__ import annotations

import ast
import csv
import io
from pathlib import Path

from bertviz_graph import format as fmt

PKG = Path(__file__).resolve().parents[1] / "bertviz_graph"

# file -> why an inline format must stay there (none today: CSV cells use format.to_csv)
ALLOWED: dict[str, str] = {}


def _spec(fv: ast.FormattedValue) -> str:
    if fv.format_spec is None:
        return ""
    return "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in fv.format_spec.values)


def inline_formats(src: str) -> list[str]:
    """Thousands and percent formats written in place: f"{n:,}", f"{x:.1%}", f"{100 * x:.1f}%",
    format(n, ","), "{:,}".format(n)."""
    out = []
    for node in ast.walk(ast.parse(src)):
        if isinstance(node, ast.JoinedStr):
            for i, v in enumerate(node.values):
                if not isinstance(v, ast.FormattedValue):
                    continue
                spec = _spec(v)
                after = node.values[i + 1] if i + 1 < len(node.values) else None
                if "," in spec or "_" in spec or spec.endswith("%") or (
                        isinstance(after, ast.Constant) and str(after.value).startswith("%")):
                    out.append(f"line {v.value.lineno}: {{{ast.unparse(v.value)}:{spec}}}")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "format" \
                and len(node.args) == 2 and isinstance(node.args[1], ast.Constant):
            spec = str(node.args[1].value)
            if "," in spec or spec.endswith("%"):
                out.append(f"line {node.lineno}: format(..., {spec!r})")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "format" \
                and isinstance(node.func.value, ast.Constant) and isinstance(node.func.value.value, str):
            text = node.func.value.value
            if ":," in text or "%}" in text:
                out.append(f"line {node.lineno}: {text!r}.format(...)")
    return out


def test_no_inline_thousands_or_percent_formats_outside_format_py():
    bad = []
    for p in sorted(PKG.rglob("*.py")):
        rel = str(p.relative_to(PKG.parent))
        if p == PKG / "format.py" or rel in ALLOWED:
            continue
        bad += [f"{rel} {x}" for x in inline_formats(p.read_text())]
    assert bad == [], "use bertviz_graph.format (count, signed, percent, pct, human, nbytes, seconds); " \
                      "python scripts/tidy_formats.py rewrites most: " + "; ".join(bad)


def test_the_scan_sees_each_kind():
    src = ('a = f"{n:,} {d:+,} {x:.1%} {100 * y:.2f}% {z}"\n'
           'b = format(n, ",")\nc = "{:,}".format(n)\nd = f"{w:.3g} {v}"\n')
    found = inline_formats(src)
    assert [f.split(": ", 1)[1] for f in found] == [
        "{n:,}", "{d:+,}", "{x:.1%}", "{100 * y:.2f}", "format(..., ',')", "'{:,}'.format(...)"]


def test_the_functions_write_what_a_reader_expects():
    assert fmt.count(589824) == "589,824" and fmt.count(2.6) == "3" and fmt.count(-1500) == "-1,500"
    assert fmt.signed(1024) == "+1,024" and fmt.signed(-3) == "-3" and fmt.signed(0) == "+0"
    assert fmt.percent(0.25) == "25.0%" and fmt.percent(0.0312, 2) == "3.12%" and fmt.percent(0.3, 0) == "30%"
    assert fmt.nbytes(512) == "512 B" and fmt.nbytes(1_400_000) == "1.4 MB" and fmt.nbytes(2.1e9) == "2.1 GB"
    assert fmt.seconds(0.4213) == "0.42 s" and fmt.seconds(61.4, 0) == "61 s"


def test_csv_rows_read_back_with_six_significant_digits():
    rows = [{"method": "magnitude", "amount": 0.1, "cosine": 0.123456789}, {"method": "random", "extra": 7}]
    back = list(csv.DictReader(io.StringIO(fmt.to_csv(rows))))
    assert list(back[0]) == ["method", "amount", "cosine", "extra"]
    assert float(back[0]["cosine"]) == float(f"{0.123456789:.6g}") != 0.123456789
    assert back[1]["method"] == "random" and back[1]["extra"] == "7" and back[1]["cosine"] == ""
