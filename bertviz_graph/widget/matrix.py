"""What the widget's weight pane shows: ``presenters.weights.matrix`` as PNG bytes plus its JSON meta.

The same presenter (and defaults: block max |w|, 384×384 cells) as the app's Weights tab, so one tensor
looks the same in both; a 30522×768 embedding is never sent whole."""

from __future__ import annotations

from typing import Any

from bertviz_graph.errors import UserError
from bertviz_graph.presenters import weights as pw
from bertviz_graph.presenters.common import HOW, MAX_PX, HeadCounts
from bertviz_graph.render import weights as rw


def matrix_payload(
    store: Any,
    name: str,
    *,
    head: int | None = None,
    rows: tuple[int, int] | list[int] | None = None,
    cols: tuple[int, int] | list[int] | None = None,
    num_heads: HeadCounts | int | None = None,
    stats_cache: Any = None,
    max_px: tuple[int, int] = MAX_PX,
    how: str = HOW,
    highlight: int | None = None,
) -> tuple[bytes, dict[str, Any]]:
    """(PNG bytes, JSON-able meta) for the weight pane. ``head`` picks one attention head's slice of a
    query/key/value/attention-output weight; ``rows``/``cols`` a window (half-open) of the 2-D view.
    ``stats_cache``: a ``memo.Memo`` keeping each tensor's statistics between calls."""
    if store.resolve(name) is None:
        pw.matrix(store, name)  # raises the UserError that names the problem
    if stats_cache is None:
        stats = rw.stats(store, name)
    else:
        stats = stats_cache.get_or_make(name, lambda: rw.stats(store, name))
    m = pw.matrix(store, name, rows=rows, cols=cols, how=how, head=head, num_heads=num_heads, max_px=max_px,
                  stats=stats)
    meta = m.meta()
    if highlight is not None:  # one head's slice outlined inside the picture (matrix.js draws the band)
        if not num_heads:

            raise UserError("this model has no attention-head count", "open a model whose config has the heads")
        mv = m.view
        meta["band"] = pw.head_band(name, tuple(mv.shape), num_heads, int(highlight), tuple(mv.rows), tuple(mv.cols))
    return m.png(), meta
