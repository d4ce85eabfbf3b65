"""What the search box says, for the app and the widget: "1 of 12: softmax in layer 3", or why nothing matched."""

from __future__ import annotations

import re

from bertviz_graph.hierarchy.tree import ROOT, Hierarchy


def regex_problem(query: str) -> str | None:
    """None when ``query`` is a valid regular expression, else the reason (the search then runs as plain text)."""
    try:
        re.compile(query)
    except re.error as e:
        return str(e)
    return None


def member_word(h: Hierarchy, member: str) -> str:
    """'layer' for a BertLayer member of a ×N series (the last word of its class name, lower case)."""
    cls = h.groups[member].cls or "member"
    return re.sub(r"(?<!^)(?=[A-Z])", " ", cls).split()[-1].lower()


def where(h: Hierarchy, x: str) -> str:
    """Where ``x`` sits, for a reader: 'layer 3' inside a folded series' member, else the enclosing group."""
    for a in h.ancestors(x):
        p = h.parent(a)
        if p in h.groups and h.groups[p].kind == "series":
            return f"{member_word(h, a)} {h.groups[p].members.index(a)}"
    parent = h.parent(x)
    if parent and parent != ROOT and parent in h.groups:
        return h.groups[parent].label
    return ""


def summary(h: Hierarchy, query: str, matches: list[str], index: int, limit: int = 200) -> str:
    """One line under the search box: 'k of n: label in layer 3' / 'no match for …' / invalid regex."""
    q = query.strip()
    if not q:
        return ""
    bad = regex_problem(q)
    note = f"not a regular expression ({bad}), searched as text: " if bad else ""
    if not matches:
        return f"{note}no match for “{q}”"
    m = matches[index]
    place = where(h, m)
    more = " (first 200)" if len(matches) >= limit else ""
    return f"{note}{index + 1} of {len(matches)}{more}: {h.label_of(m)}" + (f" in {place}" if place else "")
