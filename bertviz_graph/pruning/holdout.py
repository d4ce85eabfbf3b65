"""Held-out by default: heads and neurons are scored on one set of sentences and the pruned model is
measured on a disjoint one, so a data-driven method is not flattered by being judged on the sentences it
chose with. The split alternates lines (1st, 3rd, ... score; 2nd, 4th, ... measure) so both halves cover
the file's topics and lengths; duplicate sentences stay on the scoring side only."""

from __future__ import annotations

from dataclasses import dataclass

from bertviz_graph.errors import UserError


@dataclass(frozen=True)
class Sets:
    scoring: list[str]
    measuring: list[str]
    source: str

    @property
    def scoring_name(self) -> str:
        return f"scoring set: {len(self.scoring)} of {self.source} (lines 1, 3, 5, ...)"

    @property
    def measuring_name(self) -> str:
        return f"measuring set: the other {len(self.measuring)} (lines 2, 4, 6, ...), never scored on"


def split(texts: list[str], source: str = "the sentences") -> Sets:
    """Alternate lines into a scoring and a measuring set with no sentence in both."""
    scoring = texts[0::2]
    seen = set(scoring)
    measuring = [t for t in texts[1::2] if t not in seen]
    if len(scoring) < 2 or len(measuring) < 2:
        raise UserError(f"{len(texts)} sentences cannot be split into two held-out sets of 2 or more "
                        "different sentences", "give at least 4 different sentences (one a line), or none "
                        "for the 48 built-in ones")
    return Sets(scoring, measuring, source)
