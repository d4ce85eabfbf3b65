"""The one graph canvas: the app's bundle is built from the same js/src as the widget's, offline, and the old
cytoscape path (dash-cytoscape, graph.js polling, its private `_cyreg`) is gone."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from bertviz_graph.widget.bundle import ESM, JS_DIR, bundle_hash, source_hash

APP_ASSETS = Path(__file__).resolve().parents[1] / "bertviz_graph" / "app" / "assets"


def test_app_bundle_is_built_from_current_sources():
    want = source_hash()
    for built in (APP_ASSETS / "bvg-graph.js", APP_ASSETS / "bvg-graph.css"):
        assert bundle_hash(built) == want, f"{built.name} is stale against js/ (cd js && npm run build)"
    assert bundle_hash(ESM) == want  # the widget's bundle: the same sources, so the same graph canvas
    assert (JS_DIR / "src" / "graph.js").is_file()


def test_app_and_widget_bundles_hold_the_same_canvas():
    app, widget = (APP_ASSETS / "bvg-graph.js").read_text(), ESM.read_text()
    for marker in ("GraphCanvas = class", "PanZoom = class", "Minimap = class", "fitReadable", "showWithContext"):
        assert marker in app and marker in widget, marker
    for cdn in ("https://", "http://", "unpkg", "jsdelivr"):
        assert not [ln for ln in app.splitlines() if cdn in ln and "w3.org" not in ln], cdn


def test_no_cytoscape_left():
    assets = " ".join(p.read_text() for p in APP_ASSETS.glob("*.js"))
    assert "_cyreg" not in assets and "setInterval" not in assets and "cytoscape" not in assets.lower()
    code = ("import sys, bertviz_graph.app as a, bertviz_graph.app.graph_panel, bertviz_graph.app.layout;"
            "print('dash_cytoscape' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"
    pyproject = (Path(__file__).resolve().parents[1] / "pyproject.toml").read_text()
    assert "dash-cytoscape" not in pyproject
