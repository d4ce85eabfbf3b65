"""A small labelled set for ``--steps``: ``SCORE<TAB>sentence<TAB>sentence`` (similarity, score in [-1, 1])
or ``LABEL<TAB>sentence`` (classify) lines; '#' starts a comment. A built-in default ships with the package."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bertviz_graph.errors import UserError

DEFAULT_PAIRS = [  # written for this project: near paraphrases score high, unrelated pairs low
    (0.9, "A man is playing a guitar.", "Someone plays an instrument."),
    (0.1, "A man is playing a guitar.", "The stock market fell today."),
    (0.8, "A child is reading a book.", "A kid reads a story."),
    (0.0, "A child is reading a book.", "Rain is expected tomorrow."),
]


def default_examples() -> list[dict[str, Any]]:
    return [{"text": a, "pair": b, "target": s} for s, a, b in DEFAULT_PAIRS]


def read_examples(path: str | Path) -> list[dict[str, Any]]:
    path = Path(path)
    if not path.is_file():
        raise UserError(f"no data file {path}", "give a text file of SCORE<TAB>sentence<TAB>sentence lines")
    out = []
    for k, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        parts = line.split("\t")
        try:
            if len(parts) == 3:
                out.append({"text": parts[1], "pair": parts[2], "target": float(parts[0])})
            elif len(parts) == 2:
                out.append({"text": parts[1], "label": int(parts[0])})
            else:
                raise ValueError
        except ValueError:
            raise UserError(f"{path}:{k}: expected SCORE<TAB>sentence<TAB>sentence or LABEL<TAB>sentence",
                            "separate the fields with one tab") from None
    if not out:
        raise UserError(f"{path} has no examples", "add SCORE<TAB>sentence<TAB>sentence lines")
    return out
