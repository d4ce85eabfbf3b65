"""Number formatting, in one place, for every front end (CLI tree, app, widget, SVG, figures).

- ``human(n)``: a count with a unit and 3 significant digits (23.4M, 590k, 3.51G): parameters, FLOPs.
- ``size(n)``: a size as a config writes it (768, 30522), big counts with separators (2,359,296).
- ``count(n)``: always with thousands separators (589,824); ``signed(d)`` a delta (+1,024, -3).
- ``value(x)``: a weight value, 6 significant digits; ``short(x)`` 4 digits (block means, bin edges).
- ``pct(x)``: a fraction as a percentage (0.031 -> "3.1%"); ``percent(x, digits)`` with fixed digits (3.10%).
- ``nbytes(n)``: a size in bytes (1.4 MB); ``seconds(t)``: a duration (0.42 s).
- ``flops_text(n, unknown)``: FLOPs, or 'unknown' for what cannot be counted.
- ``to_csv(rows)``: rows of dicts as CSV text, floats with 6 significant digits (sweeps, analyses).
"""

from __future__ import annotations

import csv
import io
import math
from typing import Any


def human(n: float) -> str:
    """3 significant digits with a unit: 23.4M, 7.09M, 590k, 3.51G."""
    for unit, div in (("T", 1e12), ("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(n) >= div:
            v = n / div
            return f"{v:.3g}{unit}" if abs(v) < 100 else f"{v:.0f}{unit}"
    return f"{int(n)}"


def size(v: Any) -> str:
    """Sizes as plain digits (768, 30522, as in configs); big counts with separators (2,359,296)."""
    if isinstance(v, int) and not isinstance(v, bool) and abs(v) >= 100_000:
        return f"{v:,}"
    return str(v)


def count(n: int | float) -> str:
    """589,824; a float is rounded to the nearest whole number."""
    return f"{round(n):,}"


def signed(n: int | float) -> str:
    """A difference with its sign: +1,024, -3, +0."""
    return f"{round(n):+,}"


def value(x: float | None) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "nan"
    return f"{x:.6g}"


def short(x: float) -> str:
    return f"{x:.4g}"


def pct(x: float) -> str:
    """0 -> "0%", 0.25 -> "25%", 0.00031 -> "0.031%"."""
    p = 100.0 * x
    if p == 0:
        return "0%"
    if p >= 10:
        return f"{p:.0f}%"
    return f"{p:.2g}%"


def percent(x: float, digits: int = 1) -> str:
    """A fraction as a percentage with fixed digits: percent(0.25) -> "25.0%", percent(0.0312, 2) -> "3.12%"."""
    return f"{x:.{digits}%}"


def nbytes(n: int | float) -> str:
    """A size in bytes, decimal units as file managers show them: 512 B, 1.4 MB, 2.1 GB."""
    for unit, div in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if abs(n) >= div:
            return f"{n / div:.1f} {unit}"
    return f"{int(n)} B"


def seconds(t: float, digits: int = 2) -> str:
    """A duration: seconds(0.4213) -> "0.42 s"."""
    return f"{t:.{digits}f} s"


def shape(s: list[int] | tuple[int, ...] | None) -> str:
    """[1, 16, 768]; "-" when unknown."""
    return "[" + ", ".join(map(str, s)) + "]" if s else "-"


def flops_text(flops: int | None, unknown: int = 0, short: bool = False) -> str:
    """'1,234 (1.2k)' or '1.2k'; 'unknown' for an op we cannot count, and a note when a total leaves some out."""
    if flops is None or (unknown and not flops):
        return "unknown" + (f" ({unknown} ops not countable)" if unknown > 1 else "")
    text = human(flops) if short else f"{flops:,} ({human(flops)})"
    return text + (f" + unknown ({unknown} ops not countable)" if unknown else "")


def to_csv(rows: list[dict[str, Any]]) -> str:
    """Rows of dicts as CSV text (columns in first-seen order); floats with 6 significant digits."""
    keys = list(dict.fromkeys(k for r in rows for k in r))
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=keys)
    w.writeheader()
    for r in rows:
        w.writerow({k: (value(v) if isinstance(v, float) else v) for k, v in r.items()})
    return buf.getvalue()
