"""The explorer as one offline HTML file: ``save_html(graph, "x.html")`` or ``bertviz-graph export M -o x.html``.

A front end beside the app and the widget (stage "renderers"): it serialises what their presenters produce
(pictures, details, weight previews) and a small bundle (js/src/html.js) draws it with the widget's own
canvas and panes; the file opens from disk with no server and no network.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bertviz_graph.html.page import page, write_page
from bertviz_graph.html.payload import WEIGHT_MODES, build_payload
from bertviz_graph.io import check_writable

__all__ = ["WEIGHT_MODES", "build_payload", "page", "save_html", "write_page"]


def save_html(graph: Any, path: str | Path, *, text: str | None = None, pair: str | None = None,
              weights: str = "preview", view: Any = None) -> Path:
    """Write the offline explorer of ``graph`` to ``path`` (atomically); returns the path."""

    check_writable(path)  # fail before the work, not after
    return write_page(build_payload(graph, text=text, pair=pair, weights=weights, view=view), path)
