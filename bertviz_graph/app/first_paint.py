"""The first graph painted without waiting for Dash: the index page carries the tab's first picture.

Dash paints a page in steps (index -> scripts -> /_dash-layout -> async components -> callbacks), and the
canvas used to draw only when the draw callback fired, after the page's first server callbacks had answered
(~0.4 s of a 2-core start-up). The index page now carries the same picture as the graph store, as JSON in a
``<script type="application/json">``; js/src/first_paint.js draws it the moment Dash mounts the graph's host
element. The draw callback later finds the same SVG on the canvas and only sets the marks.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from bertviz_graph.app.graph_panel import first_picture
from bertviz_graph.app.layout import spec_of_request
from bertviz_graph.app.registry import model_for

TAG_ID = "bv-first-picture"  # js/src/first_paint.js reads it
VIEW_ID = "bv-first-view"  # the picture as plain SVG until Dash mounts the graph (js/src/first_paint.js removes it)
log = logging.getLogger(__name__)
# Where the graph's host sits in the page once Dash has built it (app.css: the graph panel is 64 % wide, below
# the header, toolbar and breadcrumb): the plain picture is drawn there, so it does not jump when the canvas
# takes over. Above everything, no pointer events (the page under it works as soon as it exists).
_VIEW_STYLE = ("position:fixed;left:0;top:177px;width:64%;bottom:44px;z-index:10;pointer-events:none;background:#fff;"
               "display:flex;align-items:center;justify-content:center;overflow:hidden")
# Parsed and drawn at once, before the page's scripts (React, Dash) have loaded; ``bvgFirstView`` is the
# frame it is painted in (tests and benchmarks/serve_bench.py read it).
_VIEW_SCRIPT = (
    "(function(){try{var t=document.getElementById('" + TAG_ID + "'),v=document.getElementById('" + VIEW_ID
    + "');v.innerHTML=JSON.parse(t.textContent).svg;var s=v.firstElementChild;if(s){s.style.maxWidth='100%';"
    "s.style.maxHeight='100%';s.style.height='auto';}requestAnimationFrame(function(){window.bvgFirstView="
    "performance.now();});}catch(e){}})();")


def picture_tag(picture: dict[str, Any]) -> str:
    """``picture`` as an inert JSON script element: <, > and & written as JSON escapes (as Django's
    json_script does), so no text in the SVG can close the element or open a comment in it."""
    text = json.dumps(picture, separators=(",", ":"))
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return (f'<script type="application/json" id="{TAG_ID}">{text}</script>'
            f'<div id="{VIEW_ID}" style="{_VIEW_STYLE}"></div><script>{_VIEW_SCRIPT}</script>')


def install(app: Any) -> None:
    """Every index page of ``app`` carries its model's first picture (the model its ``?model=`` names)."""
    plain = app.interpolate_index

    def interpolate_index(**kw: Any) -> str:
        try:
            kw["app_entry"] = kw.get("app_entry", "") + picture_tag(first_picture(model_for(app, spec_of_request())))
        except Exception as e:  # noqa: BLE001 - a bad ?model=: the page says why once Dash builds it
            log.debug("no first picture in the index page: %s", e)
        return plain(**kw)

    app.interpolate_index = interpolate_index
