"""Which views an offline explorer lays out when it is written (by the app's own ``layout_of``).

- the overview, and for every group the view with that group and the groups above it open (any group at any
  depth opens; the ×N slider picks any member): stored as pictures;
- for every group, that view with one more box open beside it: each sibling of the group, and each sibling of
  the frame holding it (open Self-attention, then Intermediate: both stay open): stored as pictures while a
  budget lasts (they carry colour-by and the sentence's edge values), laid out in any case;
- each group with 2-3 of its own boxes open (``frame_views``): laid out only.

Every container layout used goes into the file's table (``compose_data.py``), from which the page composes
any combination the reader opens (``js/src/offline_compose.js``); ``random_states`` samples such
combinations for the tests and ``benchmarks/html_bench.py``.
"""

from __future__ import annotations

from typing import Any

from bertviz_graph.view import ROOT

BESIDE_LEVELS = 2  # siblings of the group, and of the frame it sits in
# deflated bytes of the "beside" pictures a file may hold, shallow boxes first: the page composes every view
# itself (html/compose_data.py), so these stored pictures only carry colour-by and the sentence's edge values
# for those views; bert-base's file stays under its 5 MB goal with the WASM dot in it (benchmarks/html_bench.py).
# A file with a sentence (goal 10 MB) keeps all of MiniLM's (1.45 MB): their edge values are the sentence's.
BESIDE_BUDGET = 800_000
BESIDE_BUDGET_SENTENCE = 1_500_000


def openable(g: Any) -> bool:
    """A group drawn as a box that opens: a module or block with children, or a folded ×N series."""
    return bool(g.children) or g.kind == "series"


def _key(view: Any) -> tuple:
    st = view.state
    return (st.opened, st.instance)


def single_views(h: Any, base: Any) -> dict[str, Any]:
    """{state key: View}: "" is the overview, a group id the view with that group (and its ancestors) open."""
    out = {"": base}
    for gid, g in h.groups.items():
        if gid and openable(g):
            out[gid] = base.reveal(gid).open(gid)
    return out


def beside_views(h: Any, singles: dict[str, Any]) -> dict[str, Any]:
    """{"gid+sibling": View}: a group's view with one sibling (of it or of its frame) open too, shallow groups
    first (what a reader opens first; a budget keeps a prefix); views equal to one already stored are left out."""
    seen = {_key(v) for v in singles.values()}
    out: dict[str, Any] = {}
    singles = dict(sorted(singles.items(), key=lambda kv: len(h.ancestors(kv[0])) if kv[0] else 0))
    for gid, v in singles.items():
        if not gid:
            continue
        x = gid
        for _ in range(BESIDE_LEVELS):
            p = h.parent(x)
            if p is None:
                break
            grp = h.groups[p]
            if grp.kind != "series":  # a series' members are alternatives (the slider), never side by side
                for s in grp.children:
                    if s != x and s in h.groups and openable(h.groups[s]):
                        nv = v.open(s)
                        if _key(nv) not in seen:
                            seen.add(_key(nv))
                            out[f"{gid}+{s}"] = nv
            if p == ROOT:
                break
            x = p
    return out


def frame_views(h: Any, singles: dict[str, Any], most: int = 3, cap: int = 96) -> dict[str, Any]:
    """{"gid:a+b": View}: each group open with 2..``most`` of its own boxes open inside it, each of those
    either just open or with one of its own boxes open too (at most ``cap`` views per group), laid out when the
    file is written so the page composes such views from its table (their SVGs are not stored). A series'
    members other than its first are left out: their insides share the first's layouts."""
    from itertools import combinations, islice, product

    def kids(g: str) -> list[str]:
        return [c for c in h.groups[g].children if c in h.groups and openable(h.groups[c])]

    def later_member(gid: str) -> bool:
        up = h.ancestors(gid)
        return any(a in h.groups and h.groups[a].kind == "series" and h.groups[a].members.index(b) > 0
                   for b, a in zip([gid, *up], up, strict=False))

    out: dict[str, Any] = {}
    for gid, v in singles.items():
        if not gid or h.groups[gid].kind == "series" or later_member(gid):
            continue
        mine = kids(gid)
        ways = [(c,) for c in mine]  # one box open with one of its own
        ways += [(c, d) for c in mine if h.groups[c].kind != "series" for d in kids(c)]
        views = []
        for k in range(2, min(most, len(mine)) + 1):
            for sub in combinations(mine, k):
                choices = [[w for w in ways if w[0] == c] for c in sub]
                views += list(islice(product(*choices), cap))
        for pick in views[:cap]:
            opened = [g for w in pick for g in w]
            out[f"{gid}:{'+'.join(opened)}"] = v.open(*opened)
    return out


def random_states(h: Any, base: Any, n: int, seed: int = 0, boxes: tuple[int, int] = (2, 4)) -> list[Any]:
    """``n`` views with 2-4 groups open in different places, each with the groups above it (what a reader
    clicks open one after another), distinct: the sample benchmarks/html_compose.py and the tests compose."""
    import random

    rng = random.Random(seed)
    pool = sorted(g for g, grp in h.groups.items() if g and openable(grp))
    out: dict[tuple, Any] = {}
    for _ in range(50 * n):
        if len(out) >= n:
            break
        v = base
        for gid in rng.sample(pool, rng.randint(*boxes)):
            v = v.reveal(gid).open(gid)
        out.setdefault(_key(v), v)
    return list(out.values())
