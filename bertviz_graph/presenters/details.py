"""The Details panel: what the selected node or group is, as plain data both front ends format.

Built on ``bertviz_graph.details.node_details`` (title, rows, explanation, weight names) plus the
neural-network mapping, the breadcrumb, the role colour and, given the view, whether the node is drawn
and which folded series it sits in."""

from __future__ import annotations

import re
from typing import Any

from bertviz_graph.hierarchy.style import role_color, role_label
from bertviz_graph.hierarchy.tree import ROOT, Hierarchy
from bertviz_graph.presenters.common import breadcrumb


def weight_button_label(name: str) -> str:
    """ "query.weight" for "bert.encoder.layer.0.attention.self.query.weight"."""
    return name.rsplit(".", 2)[-2] + "." + name.rsplit(".", 1)[-1] if name.count(".") >= 1 else name


def series_info(h: Hierarchy, view: Any, nid: str) -> dict[str, Any] | None:
    """The folded series this node is (or sits in a member of), for the instance picker."""
    for sid in [nid, *h.ancestors(nid)]:
        grp = h.groups.get(sid)
        if grp is None or grp.kind != "series" or sid in view.state.unfolded:
            continue
        member = h.groups[grp.members[0]]
        word = re.sub(r"(?<!^)(?=[A-Z])", " ", member.cls).split()[-1].lower() if member.cls else "member"
        return {"id": sid, "label": grp.label, "count": len(grp.members), "index": view.instance_of(sid),
                "open": sid in view.state.opened, "member_label": word, "members": list(grp.members)}
    return None


def details(h: Hierarchy, node_id: str, view: Any = None) -> dict[str, Any]:
    """{'id', 'title', 'subtitle', 'role', 'role_label', 'color', 'rows', 'explanation', 'weights',
    'weight_labels', 'breadcrumb', 'mapping'} and, with a ``view``: 'visible', 'expandable', 'expanded',
    'series'. Rows are [key, value] lists (JSON-able)."""
    from bertviz_graph.details import node_details  # lazy: start-up (numpy)

    d = node_details(h, node_id)
    d["rows"] = [list(r) for r in d.get("rows", [])]
    d["color"] = role_color(d.get("role", "other"))
    d["role_label"] = role_label(d.get("role", "other"))
    d["weight_labels"] = [weight_button_label(w) for w in d["weights"]]
    d["breadcrumb"] = [list(c) for c in breadcrumb(h, node_id)[:-1]]  # the path above the node
    try:
        from bertviz_graph.neurons.mapping import mapping_text  # lazy: guarded (inside a try)

        d["mapping"] = [list(r) for r in mapping_text(h.graph, node_id)]
    except Exception:  # noqa: BLE001 - the details must show whatever else they have
        d["mapping"] = []
    if view is not None:
        vn = next((n for n in view.data().nodes if n.id == node_id), None)
        is_group = node_id in h.groups and node_id != ROOT
        d["visible"] = vn is not None
        d["expandable"] = bool(vn.expandable) if vn is not None else is_group
        d["expanded"] = bool(vn.expanded) if vn is not None else (
            node_id in view.state.opened or node_id in view.state.unfolded)
        d["series"] = series_info(h, view, node_id)
    return d
