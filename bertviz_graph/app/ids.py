"""Component ids of the Dash app, in one place.

Panels import these instead of spelling strings, so a new panel (neurons, sunburst charts) can read the
selection or ask the graph to show a node without knowing how the other panels are built:

- read ``SELECTED`` (``{"id": node id, "nonce": ...}``) to follow what the user clicked;
- read ``WEIGHT_NAME`` (a parameter name or None) to follow the matrix shown in the weights panel;
- write ``VIEW_REQUEST`` (``{"action": "reveal" | "open" | "close" | "select", "id": ..., "nonce": ...}``,
  with ``allow_duplicate=True``) to open, reveal or select a node in the graph.
"""

from __future__ import annotations

# --- stores (browser-side state; the server keeps none per session) -----------------------------------
VIEW_STATE = "bv-view-state"  # ViewState.to_json_dict()
SELECTED = "bv-selected"  # {"id": node id | None, "nonce": int}
SEARCH = "bv-search"  # {"query": str, "matches": [ids], "index": int}
PENDING = "bv-pending"  # a large-view action waiting for the user's confirmation
FOCUS = "bv-focus"  # {"id", "mode": "fit" | "center" | "all", "nonce"}: where the viewport goes next
VIEW_REQUEST = "bv-view-request"  # written by other panels: reveal/open/close/select a node
WEIGHT_NAME = "bv-weight-name"  # parameter whose matrix the weights panel shows
WEIGHT_WINDOW = "bv-weight-window"  # {"name", "rows": [a, b], "cols": [c, d]}: the heatmap's window
MODEL = "bv-model"  # the tab's model spec ("" = the server's model): app/registry.py model_for(app, spec)
MODEL_NAME = "bv-model-name"  # the name of the model the page was built for (the page title)
TAB_SECRET = "bv-tab-secret"  # random per tab (made in the browser): owns the tab's jobs
URL = "bv-url"  # the page URL: ?model=spec is read on load
PAGE = "bv-page"  # everything below the URL: rebuilt for the tab's model

# --- header -------------------------------------------------------------------------------------------
HEADER = "bv-header"
NOTICE = "bv-notice"  # one line of feedback (bad search, stale click ...), never a traceback
RANDOM_BANNER = "bv-random-banner"

# --- graph panel ---------------------------------------------------------------------------------------
GRAPH = "bv-graph"  # the div the graph canvas (js/src/graph.js) draws into
GRAPH_PICTURE = "bv-graph-picture"  # store: {"svg": render.svg.to_svg(...), "marks": {"selected", "matches"}}
GRAPH_EVENT = "bv-graph-event"  # store written by the canvas: {"type": "click", "id", "toggle", "part", "nonce"}
BREADCRUMB = "bv-breadcrumb"
CRUMB = "bv-crumb"  # pattern id type: {"type": CRUMB, "id": group id}
SEARCH_INPUT = "bv-search-input"
SEARCH_GO = "bv-search-go"
SEARCH_NEXT = "bv-search-next"
SEARCH_INFO = "bv-search-info"
COLOR_BY = "bv-color-by"
LEGEND = "bv-legend"
FIT = "bv-fit"
ZOOM_IN = "bv-zoom-in"
ZOOM_OUT = "bv-zoom-out"
RESET = "bv-reset"
OPEN_ALL = "bv-open-all"
COLLAPSE_ALL = "bv-collapse-all"
UNFOLD = "bv-unfold"  # toggles: every ×N stack drawn as all its members, or folded again
CONFIRM = "bv-confirm"
DOWNLOAD_SVG = "bv-download-svg"
DOWNLOAD_SVG_FILE = "bv-download-svg-file"
SERIES_BOX = "bv-series-box"
SERIES_LABEL = "bv-series-label"
SERIES_SLIDER = "bv-series-slider"
SERIES_TARGET = "bv-series-target"  # store: id of the series the slider drives
VIEW_INFO = "bv-view-info"
DUMMY_FIT = "bv-dummy-fit"  # clientside outputs that change nothing
DUMMY_ZOOM = "bv-dummy-zoom"
DUMMY_FOCUS = "bv-dummy-focus"

# --- side panels ---------------------------------------------------------------------------------------
TABS = "bv-tabs"
TAB_DETAILS = "details"
TAB_WEIGHTS = "weights"
DETAILS = "bv-details"

WEIGHT_PICK = "bv-weight-pick"
WEIGHT_BODY = "bv-weight-body"
WEIGHT_EMPTY = "bv-weight-empty"
WEIGHT_TABS = "bv-weight-tabs"
HEATMAP = "bv-heatmap"
HEATMAP_READOUT = "bv-heatmap-readout"
HEATMAP_HOW = "bv-heatmap-how"
PER_HEAD = "bv-per-head"
PER_HEAD_BOX = "bv-per-head-box"
HISTOGRAM = "bv-histogram"
STATS = "bv-stats"
WEIGHT_BANNER = "bv-weight-banner"
DOWNLOAD_NPY = "bv-download-npy"
DOWNLOAD_PNG = "bv-download-png"
DOWNLOAD_PNG_FILE = "bv-download-png-file"
