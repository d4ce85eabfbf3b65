"""A bare page that hosts the notebook widget's ES module the way anywidget does (model get/set/on/send),
for browser tests of the widget without a Jupyter server (tests/test_jupyterlab.py covers the real host)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

from bertviz_graph.widget import GraphWidget
from bertviz_graph.widget.bundle import CSS, ESM

SYNCED = ("svg", "state", "selected", "details", "search", "matches", "matrix_meta", "error", "height", "panel",
          "_marks", "_focus", "_match_info", "_name", "_tips", "edge", "color_by", "train_tab")

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>host</title><link rel="stylesheet" href="widget.css"></head>
<body style="margin: 16px; width: 1100px">
<div id="out"></div>
<script type="module">
import widget from "./widget.js";
const listeners = {};
const state = {};
const bytes = (b64) => { const s = atob(b64); const a = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) a[i] = s.charCodeAt(i); return new DataView(a.buffer); };
window.sent = [];
window.model = {
  get: (k) => state[k],
  set: (k, v) => { state[k] = v; (listeners["change:" + k] || []).forEach((f) => f()); },
  on: (ev, f) => { (listeners[ev] = listeners[ev] || []).push(f); },
  off: (ev, f) => { listeners[ev] = (listeners[ev] || []).filter((g) => g !== f); },
  send: (msg) => window.sent.push(msg),
  save_changes: () => {},
};
window.push = (values, png) => {
  for (const [k, v] of Object.entries(values)) window.model.set(k, v);
  if (png !== null) window.model.set("matrix_png", bytes(png));
};
window.init = (values, png) => {
  Object.assign(state, values);
  state.matrix_png = png ? bytes(png) : new DataView(new ArrayBuffer(0));
  widget.render({ model: window.model, el: document.getElementById("out") });
  window.ready = true;
};
window.loaded = true;
</script></body></html>
"""


def values(w: GraphWidget) -> dict:
    return json.loads(json.dumps({k: getattr(w, k) for k in SYNCED}))


def png(w: GraphWidget) -> str | None:
    return base64.b64encode(w.matrix_png).decode() if w.matrix_png else None


def write_host(folder: Path) -> None:
    """index.html, widget.js and widget.css in ``folder`` (serve it with the ``serve_dir`` fixture)."""
    (folder / "index.html").write_text(PAGE, encoding="utf-8")
    (folder / "widget.js").write_bytes(ESM.read_bytes())
    (folder / "widget.css").write_bytes(CSS.read_bytes())
