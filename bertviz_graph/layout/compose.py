"""Lay out a view container by container, then compose the pieces into one picture.

One ``dot`` run over a whole model with nested clusters explodes with size, so instead:

1. every expanded VNode (and the top level) is a *container*; its direct children are laid out on their
   own by dot, an expanded child being one fixed-size box (its already-computed frame);
2. a VEdge is cut into *pieces*, one per container level it crosses: at its container the piece joins the
   two children holding its ends; inside such a child it runs from the deep end to an invisible *port*
   node on the child's border (in-ports at the top, rank=source; out-ports at the bottom, rank=sink).
   Pieces that share a source, kind and ends are laid out once, so fan-outs leave a frame as one line;
3. the parent sees each port as an HTML-table cell at the same border offset, so the outer piece meets
   the inner piece at the same point on the frame border;
4. containers are processed bottom-up by height, all those of one height in one dot batch; each result
   is cached under the container's structural content (sizes, ports, pieces; never ids), so identical
   layers are laid out once and a re-layout only runs dot for containers that changed;
5. composition walks top-down adding frame offsets, and concatenates each VEdge's pieces; each container's
   part (its children's boxes, the routes it owns) is memoised in exact local units and placed by translation
   (``subtree.py``), so a click recomputes only the parts from the opened box to the root.

Step 2 and the keys live in ``pieces.py``, dot's input and output in ``dot_io.py``; this module runs the
batches and composes.
"""

from __future__ import annotations

from collections.abc import Hashable

from bertviz_graph.errors import UserError
from bertviz_graph.gc_pause import gc_paused
from bertviz_graph.layout.cache import LayoutCache, default_cache
from bertviz_graph.layout.dot_io import dot_source, local_layout
from bertviz_graph.layout.dot_runner import DotRunner, default_runner
from bertviz_graph.layout.pieces import Builder, Container
from bertviz_graph.layout.subtree import PartMemo, compose_parts, default_parts
from bertviz_graph.layout.types import LaidOutView
from bertviz_graph.layout.wrap import wrap_stack
from bertviz_graph.view_types import ViewData


# ---- the whole thing --------------------------------------------------------------------------------
def layout_view(
    view: ViewData,
    direction: str = "TB",
    cache: LayoutCache | None = None,
    *,
    runner: DotRunner | None = None,
    parts: PartMemo | None = None,
) -> LaidOutView:
    """Positions for every VNode and a route for every VEdge of ``view``.

    ``direction`` is "TB" (data flows down) or "LR". ``cache`` defaults to a process-wide cache, so
    re-laying out after one click only runs dot for the containers that changed; ``parts`` (the composed
    parts of containers, ``subtree.py``) too — an empty ``PartMemo()`` composes everything from scratch.
    """
    if direction not in ("TB", "LR"):

        raise UserError(f"unknown layout direction {direction!r}", "use 'TB' (top to bottom) or 'LR'")
    cache = default_cache() if cache is None else cache
    runner = default_runner() if runner is None else runner
    with gc_paused():  # ~10^5 short-lived, cycle-free objects: no heap walks while we make them
        return _layout(view, direction, cache, runner, parts)


def _layout(view: ViewData, direction: str, cache: LayoutCache, runner: DotRunner,
            parts: PartMemo | None = None) -> LaidOutView:
    b = Builder(view, direction)
    b.split_edges()
    for level in b.compute_heights():
        todo: dict[Hashable, list[Container]] = {}
        for c in level:
            b.canonical_ports(c)
            k = b.key(c)
            if k in todo:  # same structure as one already queued in this batch
                todo[k].append(c)
                cache.hits += 1
                continue
            hit = cache.get(k)
            if hit is not None:
                c.layout = hit
            else:
                todo[k] = [c]
        need_dot = [k for k in todo if len(k[2]) > 1 or k[5]]
        results = dict(zip(need_dot, runner.layout([dot_source(k) for k in need_dot])))
        for k, conts in todo.items():
            # The one place a container's children get their positions (frame-local, cached by key): a
            # different placement of a stack's members belongs here, keyed like dot's result.
            lay = wrap_stack(k, local_layout(k, results.get(k)))  # unfolded layers: columns, not a strip
            cache.put(k, lay)
            for c in conts:
                c.layout = lay
    return _compose(b, parts)


def _compose(b: Builder, parts: PartMemo | None = None) -> LaidOutView:
    """Absolute positions from the local layouts: each container's part by translation (``subtree.py``)."""
    root = b.conts[None]
    assert root.layout is not None
    boxes, routes, label_pos, tree = compose_parts(b, default_parts() if parts is None else parts)
    return LaidOutView(
        view=b.view,
        width=root.layout.w,
        height=root.layout.h,
        boxes=boxes,
        routes=routes,
        label_pos=label_pos,
        direction=b.direction,
        parts=tree,
    )
