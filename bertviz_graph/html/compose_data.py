"""What the page needs to compose any combination of open groups itself (js/src/*_offline.js):

- the hierarchy as plain data (groups, children, series members, leaves, the graph's edges with their kinds
  and shapes) for the port of ``View._data`` (js/src/view_offline.js);
- each node's drawing record (label, role, tooltip, box and frame-title sizes) as ``View`` and
  ``render.svg`` make them, read from the stored views' own VNodes (so no rule is written twice here);
- a table of per-container local layouts (``dot_io.LocalLayout`` after ``wrap.wrap_stack``, what the layout
  cache stores), keyed by ``key_text(pieces.Builder.key)``: every container the file's views were laid out
  from, recorded while they were laid out (``Recorder``).

A container the table lacks (a combination whose frames' ports differ from every stored one) is laid out
in the page by Graphviz in WebAssembly, then wrapped as wrap.wrap_stack does (js/src/wrap_offline.js, which
reads ``module_heights``).
"""

from __future__ import annotations

import json
from collections.abc import Hashable
from typing import Any

from bertviz_graph.gc_pause import gc_paused
from bertviz_graph.hierarchy.style import EDGE_STYLE, ROLE_STYLE
from bertviz_graph.layout import LayoutCache, default_cache, layout_view, measure
from bertviz_graph.layout.wrap import (
    module_heights,  # wrap_offline.js recognises module boxes by the same heights
)
from bertviz_graph.render import svg as svgmod
from bertviz_graph.view import ROOT, is_trivial

# "N tensors" / "N tied weights" labels whose sizes the page can look up (an edge aggregating more is not
# composed: the page shows the closest stored view)
MAX_COUNT = 400


class Recorder(LayoutCache):
    """A layout cache that reads and writes through the process-wide one and remembers every container
    layout used: the table the page composes from."""

    def __init__(self, inner: LayoutCache | None = None):
        super().__init__()
        self.inner = inner if inner is not None else default_cache()
        self.seen: dict[Hashable, Any] = {}

    def get(self, key: Hashable, default: Any = None) -> Any:
        value = self.inner.get(key)
        if value is None:
            return default
        self.seen[key] = value
        return value

    def put(self, key: Hashable, value: Any) -> None:
        self.inner.put(key, value)
        self.seen[key] = value


def layout_recorded(view: Any, rec: Recorder) -> Any:
    """``layout_of(view)`` through ``rec`` (same process-wide cache, so the same layout)."""
    with gc_paused():
        return layout_view(view.data(), direction=view.direction, cache=rec)


def _plain(x: Any) -> Any:
    """A key as JSON the page writes identically (JSON.stringify): tuples as lists, whole floats as ints."""
    if isinstance(x, tuple | list):
        return [_plain(v) for v in x]
    if isinstance(x, float) and x.is_integer():
        return int(x)
    return x


def key_text(key: Hashable) -> str:
    """The text of a container's structural key; js/src/compose_offline.js keyText makes the same."""
    return json.dumps(_plain(key), separators=(",", ":"), allow_nan=False)


def layout_record(lay: Any) -> list[Any]:
    """[w, h, child_xy, in_border, out_border, pieces, piece_lp]: what composition reads of a LocalLayout."""
    return [lay.w, lay.h, [list(p) for p in lay.child_xy], list(lay.in_border), list(lay.out_border),
            [[c for p in pts for c in p] for pts in lay.pieces],
            [list(p) if p is not None else None for p in lay.piece_lp]]


def _node_record(n: Any) -> dict[str, Any]:
    """What layout and render.svg read of a VNode, with the tooltip as render.svg writes it."""
    rec: dict[str, Any] = {"kind": n.kind, "label": n.label, "sub": n.sublabel, "role": n.role,
                           "count": n.count, "exp": int(n.expandable), "tip": svgmod.tooltip(n)}
    if n.expanded:
        rec["title"] = list(measure.frame_title_size(n))
        rec["tw"] = measure.text_width(measure.display_label(n), measure.LABEL_PX, True)  # the sublabel's x
    else:
        rec["size"] = list(measure.node_size(n))
    return rec


def node_records(views: list[Any]) -> dict[str, dict[str, Any]]:
    """{"id|0": collapsed, "id|1": opened, "id|1|k": series opened on member k} from the views' VNodes."""
    out: dict[str, dict[str, Any]] = {}
    for v in views:
        for n in v.data().nodes:
            k = f"{n.id}|{int(n.expanded)}"
            if n.kind == "series" and n.expanded:
                k += f"|{v.instance_of(n.id)}"
            if k not in out:
                out[k] = _node_record(n)
    return out


def hierarchy_data(h: Any) -> dict[str, Any]:
    """The hierarchy and graph as view.py reads them (js/src/view_offline.js mirrors View._data)."""
    g = h.graph.g
    groups = {gid: [grp.kind, list(grp.children), list(grp.members), int(is_trivial(h, gid))]
              for gid, grp in h.groups.items()}
    order = {x: i for i, x in enumerate(g.nodes)}
    edges = []
    for u, v, d in g.edges(data=True):
        kind = (h.edge_kinds.get((u, v), "param") if g.nodes[u]["kind"] in ("param", "buffer")
                else "residual" if h.is_residual(u, v) else "data")
        edges.append([order[u], order[v], kind, d.get("shape") or None])
    nodes = list(g.nodes)
    return {"root": ROOT, "groups": groups, "nodes": nodes,
            "order": [g.nodes[x]["order"] for x in nodes],
            "edges": edges}


def label_sizes(views: list[Any]) -> dict[str, list[float]]:
    """Room of every edge label the page may draw: the stored views' and the counted ones."""
    texts = {e.label for v in views for e in v.data().edges if e.label}
    for n in range(2, MAX_COUNT + 1):
        texts |= {f"{n} tensors", f"{n} tied weights", f"{n} shared weights"}
    texts |= {"tied weight", "shared weight"}
    return {t: list(measure.edge_label_size(t)) for t in sorted(texts)}


def style_data(base: Any) -> dict[str, Any]:
    """render.svg's constants and text widths the page's port (js/src/svg_offline.js) cannot measure."""
    d = base.data()
    tw = 0.0
    if d.title:
        tw = max(tw, measure.text_width(d.title, measure.TITLE_PX, True) + 2 * svgmod.PAGE_PAD)
    if d.subtitle:
        tw = max(tw, measure.text_width(d.subtitle, measure.SUBTITLE_PX) + 2 * svgmod.PAGE_PAD)
    roles = [[r, c, lbl, measure.text_width(lbl, svgmod.LEGEND_PX)] for r, (c, lbl) in ROLE_STYLE.items()]
    edges = [[k, c, str(w), dash, lbl, measure.text_width(lbl, svgmod.LEGEND_PX)]  # str: as svg.py writes it
             for k, (c, w, dash, lbl) in EDGE_STYLE.items()]
    return {"title": d.title, "subtitle": d.subtitle, "title_w": tw, "roles": roles, "edges": edges,
            "markers": svgmod.markers(), "font": measure.FONT_FAMILY}


def compose_payload(h: Any, views: list[Any], rec: Recorder, base: Any) -> dict[str, Any] | None:
    """Everything js/src/compose_offline.js reads, or None when the page cannot compose this model's
    views (parameters hidden, an unfolded series, LR, pruned boxes: not ported)."""
    if not base.show_params or base.direction != "TB" or any(v.state.unfolded for v in views):
        return None
    if any(n.attrs.get("prune_mask") for v in views for n in v.data().nodes):
        return None
    return {"h": hierarchy_data(h), "nodes": node_records(views), "labels": label_sizes(views),
            "style": style_data(base), "module_heights": sorted(module_heights()),  # wrap_offline.js
            "table": {key_text(k): layout_record(lay) for k, lay in rec.seen.items()}}
