"""The view: (hierarchy, opened groups) -> the visible nodes and edges. Every renderer reads this.

Each group is in one of four states for a given view:
- "frame": opened, drawn as a box around its visible children;
- "collapsed": drawn as one box (a series as a stack "BertLayer ×12");
- "transparent": not drawn, its children shown in its place (the root; an unfolded series; the member a
  folded series is currently showing; a module that wraps a single op, which is shown as that op);
- "hidden": inside a collapsed box (or a series member that is not the one shown).
An OpGraph edge whose ends are both hidden in the same box disappears; every other edge is drawn between
the visible representatives of its ends, aggregated (tensor count, shapes) when several share them.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from bertviz_graph import format as fmt
from bertviz_graph.errors import UserError
from bertviz_graph.hierarchy.tree import ROOT, Hierarchy
from bertviz_graph.view_types import VEdge, ViewData, VNode

# Above this many visible elements, the app and widget ask before opening everything.
LARGE_VIEW = 2000


@dataclass(frozen=True)
class ViewState:
    """What the user opened. Plain data: the app keeps it in a dcc.Store, the widget in a traitlet."""

    opened: frozenset[str] = frozenset()
    unfolded: frozenset[str] = frozenset()  # series drawn as all their members
    instance: tuple[tuple[str, int], ...] = ()  # series id -> index of the member shown when opened

    def to_json_dict(self) -> dict[str, Any]:
        return {"opened": sorted(self.opened), "unfolded": sorted(self.unfolded),
                "instance": dict(self.instance)}

    @classmethod
    def from_json_dict(cls, d: dict[str, Any] | None) -> ViewState:
        d = d or {}
        return cls(opened=frozenset(d.get("opened", ())), unfolded=frozenset(d.get("unfolded", ())),
                   instance=tuple(sorted((k, int(v)) for k, v in (d.get("instance") or {}).items())))


@dataclass
class View:
    hierarchy: Hierarchy
    state: ViewState = field(default_factory=ViewState)
    show_params: bool = True
    direction: str = "TB"

    # --- construction ----------------------------------------------------------------------------
    @classmethod
    def default(cls, h: Hierarchy, **kw: Any) -> View:
        """The overview: model wrappers and the encoder opened, so the ×N series is in sight."""
        opened = {gid for gid, g in h.groups.items() if g.kind == "module" and g.role in ("model", "encoder")
                  and gid != ROOT}
        return cls(h, ViewState(opened=frozenset(opened)), **kw)

    def _with(self, **changes: Any) -> View:
        state = ViewState(**{**{"opened": self.state.opened, "unfolded": self.state.unfolded,
                                "instance": self.state.instance}, **changes})
        # type(self): the facade's View subclass (bertviz_graph.api) stays itself through open/close
        return type(self)(self.hierarchy, state, self.show_params, self.direction)

    def _check(self, gid: str) -> None:
        if gid not in self.hierarchy.groups or gid == ROOT:
            raise UserError(f"no group '{gid}' in this model", nearby(self.hierarchy, gid))

    # --- operations (each returns a new View) ---------------------------------------------------
    def open(self, *gids: str) -> View:
        for gid in gids:
            self._check(gid)
        return self._with(opened=self.state.opened | set(gids))

    def close(self, *gids: str) -> View:
        return self._with(opened=self.state.opened - set(gids), unfolded=self.state.unfolded - set(gids))

    def toggle(self, gid: str) -> View:
        return self.close(gid) if gid in self.state.opened or gid in self.state.unfolded else self.open(gid)

    def open_instance(self, series_id: str, index: int) -> View:
        """Open a folded series showing member ``index`` (layer 5 of ×12)."""
        self._check(series_id)
        g = self.hierarchy.groups[series_id]
        if g.kind != "series":
            raise UserError(f"'{series_id}' is not a folded series", "pick a ×N group")
        if not 0 <= index < len(g.members):
            raise UserError(f"{series_id} has {len(g.members)} members; {index} is out of range",
                            f"use 0..{len(g.members) - 1}")
        inst = dict(self.state.instance)
        inst[series_id] = index
        return self._with(opened=self.state.opened | {series_id}, instance=tuple(sorted(inst.items())))

    def unfold(self, *series_ids: str, all_series: bool = False) -> View:
        ids = set(series_ids) | ({g.id for g in self.hierarchy.series()} if all_series else set())
        for s in ids:
            self._check(s)
        return self._with(unfolded=self.state.unfolded | ids)

    def open_depth(self, depth: int) -> View:
        """Open every group down to ``depth`` levels below the top (0 = only the top-level boxes)."""
        if depth < 0:
            raise UserError(f"depth {depth} is below 0", "use --depth 0 or more")
        h = self.hierarchy
        opened = set(self.state.opened)

        def visit(gid: str, level: int) -> None:
            for c in h.groups[gid].children:
                if c not in h.groups:
                    continue
                grp = h.groups[c]
                if grp.kind == "series" and c in self.state.unfolded:
                    visit(c, level)  # unfolded: its members stand in its place
                elif grp.kind == "series":
                    if level < depth:
                        opened.add(c)
                    visit(grp.members[self.instance_of(c)], level + 1)  # the shown member is transparent
                else:
                    if level < depth and not _is_trivial(h, c):
                        opened.add(c)
                    visit(c, level + 1)

        visit(ROOT, 0)
        return self._with(opened=frozenset(opened))

    def open_all(self) -> View:
        return self._with(opened=frozenset(g for g in self.hierarchy.groups if g != ROOT))

    def reveal(self, node: str) -> View:
        """Open every ancestor of ``node`` (and show the right member of any folded series on the way)."""
        h = self.hierarchy
        if node not in h.parent_of and node not in h.groups:
            raise UserError(f"no node '{node}' in this model", nearby(h, node))
        opened = set(self.state.opened)
        inst = dict(self.state.instance)
        chain = [node, *h.ancestors(node)]
        for below, above in zip(chain, chain[1:], strict=False):
            if above == ROOT:
                continue
            grp = h.groups[above]
            if grp.kind == "series" and above not in self.state.unfolded:
                inst[above] = grp.members.index(below)
            opened.add(above)
        return self._with(opened=frozenset(opened), instance=tuple(sorted(inst.items())))

    def instance_of(self, series_id: str) -> int:
        return dict(self.state.instance).get(series_id, 0)

    # --- the cut ------------------------------------------------------------------------------------
    @cached_property
    def _states(self) -> tuple[dict[str, str], dict[str, str | None]]:
        """(state of every group and visible leaf, display parent of every visible node)."""
        h = self.hierarchy
        state: dict[str, str] = {ROOT: "transparent"}
        frame_of: dict[str, str | None] = {ROOT: None}  # for shown/transparent ids: nearest frame above
        stack = [ROOT]
        while stack:
            p = stack.pop()
            frame = p if state[p] == "frame" else frame_of[p]
            grp = h.groups[p]
            for c in grp.children:
                if c not in h.groups:
                    if not self.show_params and h.graph.g.nodes[c]["kind"] in ("param", "buffer"):
                        state[c] = "hidden"
                        continue
                    state[c] = "leaf"
                    frame_of[c] = frame
                    continue
                cg = h.groups[c]
                if grp.kind == "series" and p not in self.state.unfolded:
                    shown = grp.members[min(self.instance_of(p), len(grp.members) - 1)]
                    state[c] = "transparent" if c == shown else "hidden"
                elif cg.kind == "series":
                    state[c] = ("transparent" if c in self.state.unfolded
                                else "frame" if c in self.state.opened else "collapsed")
                elif _is_trivial(h, c):
                    state[c] = "transparent"
                else:
                    state[c] = "frame" if c in self.state.opened else "collapsed"
                frame_of[c] = frame
                if state[c] in ("frame", "transparent"):
                    stack.append(c)
        return state, frame_of

    def rep(self, x: str) -> str | None:
        """The visible node that shows ``x`` (itself, or the collapsed box or series frame hiding it)."""
        return self._reps.get(x)

    @cached_property
    def _reps(self) -> dict[str, str | None]:
        h = self.hierarchy
        state, _ = self._states
        reps: dict[str, str | None] = {}  # None: filtered out of this view (hidden parameters)

        def rep(x: str) -> str | None:
            # up the parents until one is decided, then the same answer for all on the way (no recursive
            # closure: one is a reference cycle, freed only by the cyclic collector)
            chain: list[str] = []
            while x not in reps:
                s = state.get(x)
                p = h.parent(x)
                if s in ("leaf", "frame", "collapsed"):
                    reps[x] = x
                elif s == "hidden" and x not in h.groups:
                    reps[x] = None  # a leaf filtered out of this view (parameters hidden)
                elif s == "hidden" and p in h.groups and h.groups[p].kind == "series" and state.get(p) == "frame":
                    reps[x] = p  # a member the folded series is not showing: the series frame stands for it
                elif p is None:
                    reps[x] = ROOT
                else:
                    chain.append(x)
                    x = p
            for y in chain:
                reps[y] = reps[x]
            return reps[x]

        # parents before children (the walk's order): each node's rep from its parent's, without recursion
        groups, leafy = h.groups, ("leaf", "frame", "collapsed")
        for x, p in _tables(h).walk_parent:
            st = state.get(x)
            if st in leafy:
                reps[x] = x
            elif st == "hidden" and x not in groups:
                reps[x] = None
            elif st == "hidden" and p in groups and groups[p].kind == "series" and state.get(p) == "frame":
                reps[x] = p
            else:
                reps[x] = ROOT if p is None else reps[p] if p in reps else rep(p)
        for x in h.parent_of:  # anything the walk does not reach (a parent that does not list it)
            if x not in reps:
                rep(x)
        for x in groups:
            if x not in reps:
                rep(x)
        # A group wrapping a single op is shown as that op.
        for gid, s in state.items():
            if s == "transparent" and gid in h.groups and _is_trivial(h, gid):
                reps[gid] = h.groups[gid].children[0]
        return reps

    def data(self) -> ViewData:
        return self._data

    @cached_property
    def _data(self) -> ViewData:
        h = self.hierarchy
        state, frame_of = self._states
        nodes: list[VNode] = []
        tab = _tables(h)  # what every view of this hierarchy shares: walk order, leaf texts, attrs, edge kinds
        order = [x for x in tab.walk if state.get(x) in ("leaf", "frame", "collapsed")]
        for x in order:
            parent = frame_of.get(x)
            if x in h.groups:
                grp = h.groups[x]
                expanded = state[x] == "frame"
                label, sub = grp.label, grp.sublabel
                if grp.kind == "series" and expanded:
                    k = self.instance_of(x)
                    label = f"{grp.label} · showing {k + 1} of {len(grp.members)}"
                nodes.append(VNode(
                    id=x, kind=grp.kind if grp.kind == "series" else "group", label=label, sublabel=sub,
                    role=grp.role, parent=parent, expanded=expanded, expandable=True,
                    count=len(grp.members) if grp.kind == "series" else 1,
                    attrs=tab.group_attrs(x)))
            else:
                kind, label, sub, role, attrs = tab.leaf(x)
                nodes.append(VNode(id=x, kind=kind, label=label, sublabel=sub, role=role, parent=parent,
                                   attrs=attrs))
        visible = {n.id: n for n in nodes}
        frames_above: dict[str, list[str]] = {}

        def frames(x: str) -> list[str]:
            # up to a known one, then back down (no recursive closure: a reference cycle the collector frees)
            chain: list[str] = []
            y = x
            while y not in frames_above:
                p = visible[y].parent
                if p is None:
                    frames_above[y] = []
                    break
                chain.append(y)
                y = p
            for z in reversed(chain):
                p = visible[z].parent
                frames_above[z] = [p, *frames_above[p]]
            return frames_above[x]

        agg: dict[tuple[str, str, str], dict[str, Any]] = {}
        per_tensor: dict[tuple[str, str], dict[str, tuple[str, Any]]] = {}
        reps = self._reps
        for u, v, kind, rank, shape in tab.edges:
            ru, rv = reps.get(u), reps.get(v)
            if ru is None or rv is None or ru == rv or ru not in visible or rv not in visible:
                continue
            # a tensor that is both the data into a box and a skip inside it is drawn once, as data
            seen = per_tensor.setdefault((ru, rv), {})
            if u not in seen or rank < seen[u][2]:
                seen[u] = (kind, shape, rank)
        # one drawn edge per kind: shared weights never merge into the activation entering a layer
        order_of = tab.order
        for (ru, rv), tensors in per_tensor.items():
            for u, (kind, shape, _rank) in sorted(tensors.items(), key=lambda t: order_of[t[0]]):
                e = agg.setdefault((ru, rv, kind), {"tensors": set(), "shapes": []})
                e["tensors"].add(u)
                if shape and shape not in e["shapes"]:
                    e["shapes"].append(shape)
        edges: list[VEdge] = []
        first_kind: dict[tuple[str, str], str] = {}
        for ru, rv, kind in sorted(agg, key=lambda k: _KIND_ORDER.index(k[2])):
            first_kind.setdefault((ru, rv), kind)
        for (ru, rv, kind), e in agg.items():
            fu, fv = frames(ru), frames(rv)
            if rv in fu:
                container = rv
            elif ru in fv:
                container = ru
            else:
                fvs = set(fv)
                common = [f for f in fu if f in fvs]
                container = common[0] if common else None
            count = len(e["tensors"])
            eid = f"{ru}->{rv}" if first_kind[(ru, rv)] == kind else f"{ru}->{rv}#{kind}"
            edges.append(VEdge(id=eid, source=ru, target=rv, container=container, kind=kind,
                               count=count, shapes=e["shapes"], label=_edge_label(kind, count, e["shapes"])))
        meta = h.graph.meta
        params = h.groups[ROOT].params
        title = f"{meta.get('name', h.graph.name)} · {meta.get('model_class', h.groups[ROOT].cls)}"
        how = meta.get("ops_note") or f"{meta.get('attention', '?')} attention, {meta.get('ops', 'aten')} level"
        subtitle = f"{fmt.count(params)} parameters · {h.groups[ROOT].n_ops} ops ({how})"
        return ViewData(title=title, subtitle=subtitle, nodes=nodes, edges=edges)

    def size(self) -> int:
        d = self.data()
        return len(d.nodes) + len(d.edges)

    # --- search ----------------------------------------------------------------------------------------
    def find(self, query: str, limit: int = 200) -> list[str]:
        return find(self.hierarchy, query, limit)

    def highlight(self, matches: Iterable[str]) -> set[str]:
        """Visible nodes to highlight for these matches: the match itself or the box hiding it."""
        return {self._reps[m] for m in matches if self._reps.get(m) is not None}

class _Tables:
    """What every view of one hierarchy reads the same way, computed once: the walk order, each leaf's kind,
    texts, role and attrs, each group's attrs, and each graph edge's drawn kind. The attrs dicts are shared by
    the VNodes of every view (read-only, like the hierarchy), so a picture can memoise what it derives from
    them (render/svg.py's tooltips) by their identity."""

    def __init__(self, h: Hierarchy):
        g = h.graph.g
        self.h = weakref.ref(h)
        self.walk = [x for _, x in h.walk()]
        self.walk_parent = [(x, h.parent(x)) for x in self.walk]
        self.order = {x: d["order"] for x, d in g.nodes(data=True)}
        self.edges = []
        for u, v, d in g.edges(data=True):
            kind = (h.edge_kinds.get((u, v), "param") if g.nodes[u]["kind"] in ("param", "buffer")
                    else "residual" if h.is_residual(u, v) else "data")
            self.edges.append((u, v, kind, _KIND_ORDER.index(kind), d.get("shape")))
        self._leaf: dict[str, tuple[str, str, str, str, dict[str, Any]]] = {}
        self._gattrs: dict[str, dict[str, Any]] = {}

    def leaf(self, x: str) -> tuple[str, str, str, str, dict[str, Any]]:
        got = self._leaf.get(x)
        if got is None:
            h = self.h()
            assert h is not None
            d = h.graph.g.nodes[x]
            label = h.label_of(x)
            home = h.parent(x)
            if home in h.groups and _is_trivial(h, home):  # "dropout" op shown with its module name
                mod = h.groups[home]
                label = f"{mod.label} · {d['op']}" if mod.label != d.get("op") else label
            got = self._leaf[x] = (d["kind"], label, h.sublabel_of(x), h.role_of(x), _leaf_attrs(d))
        return got

    def group_attrs(self, gid: str) -> dict[str, Any]:
        got = self._gattrs.get(gid)
        if got is None:
            h = self.h()
            assert h is not None
            got = self._gattrs[gid] = _group_attrs(h.groups[gid])
        return got


# id(hierarchy) -> its tables; an entry leaves with its hierarchy (weakref.finalize), so an id is never
# reused while its entry lives. Derived from the (immutable) hierarchy alone: the same for every tab.
_TABLES: dict[int, _Tables] = {}


def _tables(h: Hierarchy) -> _Tables:
    t = _TABLES.get(id(h))
    if t is None or t.h() is not h:
        t = _TABLES[id(h)] = _Tables(h)
        weakref.finalize(h, _TABLES.pop, id(h), None)
    return t


def _is_trivial(h: Hierarchy, gid: str) -> bool:
    """A module that ran exactly one op and owns nothing (Dropout, GELU): showing it as a box adds nothing."""
    grp = h.groups.get(gid)
    if grp is None or grp.kind != "module" or gid == ROOT or len(grp.children) != 1:
        return False
    only = grp.children[0]
    return only not in h.groups and h.graph.g.nodes[only]["kind"] == "op"


is_trivial = _is_trivial  # public: the offline HTML file ships it per group (html/compose_data.py)


_KIND_ORDER = ("data", "residual", "param", "shared", "tied")


def _edge_label(kind: str, count: int, shapes: list[list[int]]) -> str:
    """What an aggregated edge says: its tensor's shape, a count, or which kind of weight it carries."""
    if kind == "param":
        return ""  # a weight's shape is on its own box
    if kind in ("tied", "shared"):
        what = "tied weight" if kind == "tied" else "shared weight"
        return what if count == 1 else f"{count} {what}s"
    return _shape_text(shapes[0]) if count == 1 and shapes else f"{count} tensors"


def _shape_text(shape: list[int]) -> str:
    return "[" + ", ".join(str(s) for s in shape) + "]"


def _group_attrs(grp) -> dict[str, Any]:
    return {"class": grp.cls, "path": grp.id, "params": grp.params, "flops": grp.flops,
            "flops_unknown": grp.flops_unknown or None, "ops": grp.n_ops,
            "inputs": grp.inputs, "outputs": grp.outputs, "members": len(grp.members) or None,
            "shared_weights": grp.shared_weights or None, **{k: v for k, v in grp.attrs.items()}}


def _leaf_attrs(d: dict[str, Any]) -> dict[str, Any]:
    keep = ("op", "target", "module", "shape", "dtype", "params", "flops", "source", "code", "numel", "tied",
            "name")
    out = {k: d[k] for k in keep if d.get(k) not in (None, [], "")}
    if d.get("kind") == "op" and d.get("flops", 0) is None:
        out["flops_unknown"] = 1  # an op we cannot count: shown as "unknown", never as a number
    return out


def search_pattern(query: str, max_length: int = 1000):
    """The user's regex, compiled by RE2: linear time, so no pattern (``(a+)+$``) can stall a server.
    Case-insensitive; plain text when RE2 cannot parse it (backreferences, lookaround) or it is too long."""
    import re2

    opts = re2.Options()
    opts.case_sensitive = False
    opts.log_errors = False
    query = query[:max_length]
    try:
        return re2.compile(query, opts)
    except re2.error:
        return re2.compile(re2.escape(query), opts)


def find(h: Hierarchy, query: str, limit: int = 200) -> list[str]:
    """Groups and nodes whose label, class, path, name or op matches ``query`` (regex, case-insensitive;
    plain text if the regex is invalid). Series members come after everything outside a hidden member."""
    query = query.strip()
    if not query:
        return []
    pat = search_pattern(query)
    out: list[str] = []
    for _, x in h.walk():
        if x == ROOT:
            continue
        if x in h.groups:
            grp = h.groups[x]
            fields = (grp.label, grp.cls, grp.id, grp.sublabel)
        else:
            d = h.graph.g.nodes[x]
            fields = (x, d.get("name", ""), d.get("op", ""), h.label_of(x), d.get("module", ""))
        if any(f and pat.search(str(f)) for f in fields):
            out.append(x)
            if len(out) >= limit:
                break
    return out


def nearby(h: Hierarchy, gid: str) -> str:
    """'groups nearby: a, b, c' for an id that is not in the model (the fix part of a UserError)."""
    import difflib

    names = [g for g in h.groups if g]
    close = difflib.get_close_matches(gid, names, n=3, cutoff=0.4)
    if not close:
        prefix = gid.rsplit(".", 1)[0]
        close = [g for g in names if g.startswith(prefix)][:3] or names[:3]
    return "groups nearby: " + ", ".join(close)
