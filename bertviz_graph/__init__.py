"""bertviz_graph: see what a BERT model really is, from the whole model down to one weight matrix.

    import bertviz_graph as bg
    graph = bg.trace("bert-base-uncased")        # a Graph (OpGraph) with .hierarchy
    graph.view(depth=2).to_svg()                 # a picture of any cut through the hierarchy
    bg.show("bert-base-uncased")                 # the explorer as a notebook widget
    bg.app("bert-base-uncased").run(jupyter_mode="inline")   # the Dash app, in a notebook cell
"""

from __future__ import annotations

import sys as _sys
import types as _types
from typing import Any

from bertviz_graph.version import __version__

__all__ = ["trace", "show", "app", "Graph", "View", "__version__"]

_FACADE = ("trace", "show", "Graph", "View")


def __getattr__(name: str) -> Any:
    # the facade (bertviz_graph.api) is imported on first use: ``import bertviz_graph`` stays instant
    if name in _FACADE:
        from bertviz_graph import api

        return getattr(api, name)
    raise AttributeError(f"module 'bertviz_graph' has no attribute {name!r}")


def app(model: Any = None, example_inputs: Any = None, **kwargs: Any):
    """The Dash web app for ``model`` (not started); see ``bertviz_graph.api.app``."""
    from bertviz_graph.api import app as _app

    return _app(model, example_inputs, **kwargs)


# ``bertviz_graph.app`` is both this function and the subpackage holding the Dash app. Importing the
# subpackage makes Python set the package attribute ``app`` to the module, which would shadow the function;
# so that module is made callable, and ``bertviz_graph.app(...)`` works before and after the import.
_app_function = app


class _CallableModule(_types.ModuleType):
    def __call__(self, *args: Any, **kwargs: Any):
        return _app_function(*args, **kwargs)


class _Package(_types.ModuleType):
    def __setattr__(self, name: str, value: Any) -> None:
        if name == "app" and isinstance(value, _types.ModuleType) and type(value) is _types.ModuleType:
            value.__class__ = _CallableModule
        super().__setattr__(name, value)


_sys.modules[__name__].__class__ = _Package
