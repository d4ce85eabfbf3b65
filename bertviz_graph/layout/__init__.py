"""Layout: positions for a view, computed container by container with Graphviz dot and cached.

``layout_view(view)`` returns a ``LaidOutView`` (boxes, routes, label positions); its
``to_json_dict()`` is what the app and the widget read.
"""

from bertviz_graph.gc_pause import gc_paused
from bertviz_graph.layout.cache import LayoutCache, default_cache
from bertviz_graph.layout.compose import layout_view
from bertviz_graph.layout.dot_runner import DotRunner, default_runner
from bertviz_graph.layout.types import LaidOutView, NodeBox

__all__ = [
    "DotRunner",
    "LaidOutView",
    "LayoutCache",
    "NodeBox",
    "default_cache",
    "default_runner",
    "layout_of",
    "layout_view",
]


def layout_of(view) -> LaidOutView:
    """Positions for a ``View`` (anything with ``data()`` and ``direction``), through the one process-wide
    layout cache: what the app, the widget, ``export`` and ``view.layout()`` all call."""
    with gc_paused():  # the view's data too: short-lived objects beside the model's big heap
        return layout_view(view.data(), direction=view.direction, cache=default_cache())
