"""bertviz_graph: see what a BERT model really is, from the whole model down to one weight matrix.

    import bertviz_graph as bg
    graph = bg.trace("bert-base-uncased")        # a Graph (OpGraph) with .hierarchy
    graph.view(depth=2).to_svg()                 # a picture of any cut through the hierarchy
    graph.run("The cat sat on the mat.")         # a real forward pass: every op's value, attention maps
    bg.show("bert-base-uncased")                 # the explorer as a notebook widget
    bg.app("bert-base-uncased").run(jupyter_mode="inline")   # the Dash app, in a notebook cell
"""

from __future__ import annotations

import sys as _sys
import types as _types
from typing import Any

from bertviz_graph.version import __version__

__all__ = ["trace", "show", "show_diff", "show_pruning", "app", "prune", "diff", "Graph", "View",
           "__version__"]

_FACADE = ("trace", "show", "show_diff", "show_pruning", "Graph", "View")


def __getattr__(name: str) -> Any:
    # the facade (bertviz_graph.api) is imported on first use: ``import bertviz_graph`` stays instant
    if name in _FACADE:
        from bertviz_graph import api  # lazy: start-up (PIL, cachetools, networkx, numpy, plotly)

        return getattr(api, name)
    raise AttributeError(f"module 'bertviz_graph' has no attribute {name!r}")


def app(model: Any = None, example_inputs: Any = None, **kwargs: Any):
    """The Dash web app for ``model`` (not started); see ``bertviz_graph.api.app``."""
    from bertviz_graph.api import (  # lazy: start-up (PIL, cachetools, networkx, numpy, plotly)
        app as _app,  # lazy: start-up (PIL, cachetools, networkx, numpy, plotly, rich)
    )

    return _app(model, example_inputs, **kwargs)


def prune(model: Any, method: str = "magnitude", amount: float = 0.3, **kwargs: Any):
    """Prune a trained model; see ``bertviz_graph.api.prune``."""
    from bertviz_graph.api import (  # lazy: start-up (PIL, cachetools, networkx, numpy, plotly)
        prune as _prune,  # lazy: start-up (PIL, cachetools, networkx, numpy, plotly, rich)
    )

    return _prune(model, method, amount, **kwargs)


def diff(a: Any, b: Any, **kwargs: Any):
    """Compare two models aligned by structure and role; see ``bertviz_graph.api.diff``."""
    from bertviz_graph.api import (  # lazy: start-up (PIL, cachetools, networkx, numpy, plotly)
        diff as _diff,  # lazy: start-up (PIL, cachetools, networkx, numpy, plotly, rich)
    )

    return _diff(a, b, **kwargs)


# ``bg.prune`` and ``bg.diff`` are only these functions: their packages are ``bertviz_graph.pruning`` and
# ``bertviz_graph.comparison``. ``bertviz_graph.app`` is still both this function and the subpackage holding the
# Dash app: importing a subpackage makes Python set the package attribute to the module, which would shadow the
# function; so that module is made callable, and ``bertviz_graph.app(...)`` works before and after.
_FACADES = {"app": app}


class _CallableModule(_types.ModuleType):
    def __call__(self, *args: Any, **kwargs: Any):
        return _FACADES[self.__name__.rsplit(".", 1)[-1]](*args, **kwargs)


class _Package(_types.ModuleType):
    def __setattr__(self, name: str, value: Any) -> None:
        if name in _FACADES and isinstance(value, _types.ModuleType) and type(value) is _types.ModuleType:
            value.__class__ = _CallableModule
        super().__setattr__(name, value)


_sys.modules[__name__].__class__ = _Package
