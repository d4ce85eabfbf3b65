"""Presenters: one Python function per panel, shared by the Dash app and the notebook widget.

The stage between the laid-out view and the renderers (sources -> tracer -> OpGraph -> hierarchy -> view
-> layout -> **presenters** -> app / widget / export). A presenter takes the model's data (hierarchy,
weight store, view, selection, later a run result) and returns PLAIN DATA (dicts, lists of (key, value)
rows, dataclasses of numbers) or a ``plotly.graph_objects.Figure``. It never imports dash, anywidget or
the app/widget packages, and keeps no state: caching is the caller's (``bertviz_graph.memo.Memo``).

How a panel is written once and rendered by both front ends:

1. Write ``presenters/<panel>.py`` with a function ``<panel>(...) -> data | go.Figure`` (type hints,
   plain arguments: ``h: Hierarchy``, ``store: WeightSource``, ids as ``str``). Defaults that change the
   picture (block reduction, sizes, colours) come from ``presenters.common`` so both front ends agree.
2. App: a side-panel module ``app/<panel>_panel.py`` (``TAB_VALUE``, ``TAB_LABEL``, ``layout(C)``,
   ``register(app, C)``) whose callback calls the presenter and puts the figure in a ``dcc.Graph`` (or the
   rows in an ``html.Table``); add it to ``app.layout.PANELS``.
3. Widget: a method on ``GraphWidget`` (see ``widget/neurons.py``) that calls the same presenter and returns
   the figure (a ``go.FigureWidget`` when clicks should drive the graph), or a traitlet the JS side shows.
4. Clicks on a figure element whose ``customdata`` is a group id go through ``common.click_action`` in both
   front ends, so a click means the same thing everywhere.
5. Test the presenter on its own (its data against an independent computation), and add the panel to
   ``tests/test_panels_browser.py`` so its screenshot is checked for blank plots and clipped titles.

Panels here: ``details``, ``weights`` (matrix, per head, distribution), ``neurons``, ``network``, ``charts``,
``search``, ``activations`` and ``attention`` (a run), ``pruning``, ``diff``.
"""

from bertviz_graph.presenters import common

__all__ = ["common"]
