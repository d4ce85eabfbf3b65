"""The Dash web app: explore a traced model from the whole network down to one weight matrix.

    from bertviz_graph.app import make_app, serve
    app = make_app(graph)            # a dash.Dash; app.server is the Flask app
    serve(graph, "127.0.0.1", 8050)  # a graph object from Python (`bertviz-graph serve`: app/startup.py)

The server holds immutable traced models keyed by spec (app/registry.py: LRU-bounded) with their weights
(read lazily) and bounded caches; each browser tab keeps its model spec (and ``?model=`` in its URL) and
its view state in dcc.Stores, and every callback resolves the tab's model from its store, so tabs never
interfere and memory does not grow with sessions.
Files: ``ids`` (component ids), ``context`` (server state), ``graph_panel`` (the graph: our SVG, drawn by
the same JS canvas as the notebook widget), ``details_panel``, ``weights_panel`` ... (layout + callbacks of
each panel), ``layout`` (the page and the list of side panels), ``assets/`` (CSS; ``bvg-graph.js/.css`` are
built from js/src by js/build.mjs, do not edit).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from bertviz_graph.app.serve_options import secure
from bertviz_graph.app.server_timing import install_server_timing

__all__ = ["make_app", "serve"]

ASSETS = Path(__file__).with_name("assets")


def make_app(graph: Any, *, direction: str = "TB", panels: list | None = None, policy: Any = None,
             **dash_kwargs: Any):
    """A ``dash.Dash`` app for ``graph`` (an OpGraph from ``bertviz_graph.trace``); each tab may open
    another model (``?model=``), as ``policy`` (app.registry.Policy) allows."""
    import dash

    from bertviz_graph.app import graph_panel  # lazy: start-up (PIL, cachetools, dash, networkx, numpy)
    from bertviz_graph.app.context import AppContext  # lazy: start-up (PIL, cachetools, networkx, numpy)
    from bertviz_graph.app.first_paint import (  # lazy: start-up (PIL, cachetools, dash, networkx, numpy, plotly)
        install as install_first_paint,  # lazy: start-up (PIL, cachetools, dash, networkx, numpy, plotly, rich)
    )
    from bertviz_graph.app.layout import (  # lazy: start-up (PIL, cachetools, dash, networkx, numpy, plotly)
        PANELS,
        tab_layout,
    )
    from bertviz_graph.app.layout import (  # lazy: start-up (PIL, cachetools, dash, networkx, numpy, plotly)
        register as register_page,  # lazy: start-up (PIL, cachetools, dash, networkx, numpy, plotly, rich)
    )
    from bertviz_graph.app.registry import (  # lazy: start-up (PIL, cachetools, networkx, numpy)
        Registry,
        install_model_header,
    )

    C = AppContext(graph, direction=direction)
    panels = list(PANELS if panels is None else panels)
    app = dash.Dash(
        __name__,
        assets_folder=str(ASSETS),
        title=f"bertviz-graph · {graph.name}",
        update_title=None,
        suppress_callback_exceptions=True,
        **dash_kwargs,
    )
    app.server.extensions["bertviz_graph.registry"] = Registry(C, policy)  # spec -> model (app/registry.py)
    install_model_header(app.server)  # every answer names the model it was computed on
    install_server_timing(app.server)  # and says how long the server took (Server-Timing)
    app.layout = tab_layout(app, panels)  # called per page load: the page of the model the tab's URL names
    install_first_paint(app)  # the index page carries the first picture: painted before any callback
    app.bv_panels = panels
    register_page(app)
    graph_panel.register(app, C)
    for p in panels:
        p.register(app, C)
    app.bv_context = C  # for tests and benchmarks
    return app


def serve(graph: Any, host: str = "127.0.0.1", port: int = 8050, open_browser: bool = False,
          policy: Any = None, token: str | None = None) -> None:
    """Serve the app until Ctrl+C. Prints the URL once the app is built (with ``?token=`` when one is
    required: app/access.py); ``policy`` says what tabs may open (app/registry.py)."""
    import gc
    import threading
    import webbrowser

    app = make_app(graph, policy=policy)
    secure(app.server, token)
    # the example sentence is run when the page asks for it, after its first graph is painted
    # (app/run_panel.py ``_example_after_first_draw``): nothing imports torch before then
    shown = "localhost" if host in ("127.0.0.1", "::1") else host
    url = f"http://{shown}:{port}/" + (f"?token={token}" if token else "")
    print(f"bertviz-graph: {graph.name} at {url}  (Ctrl+C to stop)", flush=True)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    if open_browser:
        threading.Timer(1.0, webbrowser.open, args=(url,)).start()
    # what start-up made lives as long as the server: out of the collector's way (cli serve turned it off
    # while starting; on here either way)
    gc.freeze()
    gc.enable()
    app.run(host=host, port=port, debug=False, threaded=True)
