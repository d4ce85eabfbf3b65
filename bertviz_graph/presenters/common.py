"""What every panel shares: the picture defaults, the trained-or-not flag, breadcrumb and click rule."""

from __future__ import annotations

from typing import Any

from bertviz_graph.hierarchy.heads import HeadCounts, head_counts
from bertviz_graph.hierarchy.tree import ROOT, Hierarchy
from bertviz_graph.sources.status import weights_status

# A weight matrix is block-reduced to at most MAX_PX cells. "maxabs" keeps each block's largest-|w| weight
# (signed): a single large weight stays visible, where a block mean of 0.02-std noise fades to grey.
HOW = "maxabs"
HOWS = ("mean", "maxabs")
MAX_PX = (384, 384)  # (rows, cols) of cells at most: about the side panel's size in pixels
PLOT_CONFIG: dict[str, Any] = {
    "displaylogo": False,
    "modeBarButtonsToRemove": ["select2d", "lasso2d", "autoScale2d"],
    "toImageButtonOptions": {"format": "png"},
    "doubleClick": "reset",
    # plotly's "Double-click to zoom back out" toast sits at the top of the plot, over our tab headers
    "showTips": False,
}
RANDOM_NOTE = ("These are RANDOM initial weights, not trained ones: no checkpoint was found for this model, "
               "so the values only show what an untrained (random) network looks like (normal, std 0.02). "
               "Serve or show a local model folder with .safetensors to see trained weights.")


def how_or_default(how: Any) -> str:
    return how if how in HOWS else HOW


def is_trained(graph: Any, store: Any) -> bool:
    """True when the weights shown come from a checkpoint (or an in-memory module), not random values.

    One rule for every panel: the store says so (``store.trained``); a graph traced on the meta device
    without weight files can only have a random store."""
    if store is None:

        return weights_status(graph).trained
    return bool(getattr(store, "trained", True))


def breadcrumb(h: Hierarchy, node_id: str | None) -> list[tuple[str, str]]:
    """[(group id, label), ...] from the top group down to ``node_id`` itself (the root left out)."""
    if not node_id or (node_id not in h.groups and node_id not in h.parent_of):
        return []
    chain = [a for a in reversed(h.ancestors(node_id)) if a != ROOT]
    if node_id != ROOT:
        chain.append(node_id)
    return [(x, h.label_of(x)) for x in chain]


def click_action(h: Hierarchy, gid: Any) -> dict[str, str] | None:
    """What a click on a figure element naming group ``gid`` does, in the app and the widget alike:
    a leaf module (Linear, LayerNorm, activation) is selected and revealed in place; a block (attention,
    a layer, the ×N series, embeddings) is opened. None for anything that is not a group of this model."""
    if not isinstance(gid, str) or gid == ROOT or gid not in h.groups:
        return None
    grp = h.groups[gid]
    leafish = grp.kind == "module" and not any(c in h.groups for c in grp.children)
    return {"action": "select" if leafish else "open", "id": gid}


def num_heads(h: Hierarchy) -> int | None:
    """The model's query heads (what a head picker lists)."""
    heads = h.ctx.get("heads")
    return int(heads) if heads else None


def heads_of(h: Hierarchy) -> HeadCounts | None:
    """Query heads, key/value heads and d_head: what every per-head slice is cut by."""
    return head_counts(h.ctx)


def same_place(h: Hierarchy, x: str, src: str, dst: str) -> str | None:
    """The node of series member ``dst`` at the place ``x`` has in member ``src`` (members share one
    structure), or None when ``x`` is not inside ``src``."""
    path: list[int] = []
    while x != src:
        p = h.parent(x)
        if p is None or p not in h.groups:
            return None
        path.append(h.groups[p].children.index(x))
        x = p
    y = dst
    for i in reversed(path):
        kids = h.groups[y].children if y in h.groups else []
        if i >= len(kids):
            return None
        y = kids[i]
    return y
