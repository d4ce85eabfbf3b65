"""Checks the browser-test harness itself (system chromium via pytest-playwright).

If these fail, every other browser test would fail too: look here first.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from PIL import Image

PAGE = """<!doctype html>
<html>
<head><meta charset="utf-8"><title>harness</title>
<style>
  body { font-family: "DejaVu Sans", sans-serif; background: #f4f4f4; margin: 40px; }
  #go { background: #1f77b4; color: white; font-size: 24px; padding: 12px 24px; border: 0; }
  #out { font-size: 32px; color: #d62728; }
</style></head>
<body>
  <h1>bertviz_graph browser harness</h1>
  <button id="go" onclick="document.getElementById('out').textContent = 'clicked'">Click me</button>
  <p id="out">waiting</p>
</body>
</html>
"""

BROKEN_PAGE = """<!doctype html>
<html><body><p>broken</p>
<script>console.error("boom from console"); undefinedFunction();</script>
</body></html>
"""


@pytest.mark.browser
def test_click_changes_text_and_screenshot(page, console_errors, serve_dir, tmp_path):
    (tmp_path / "index.html").write_text(PAGE, encoding="utf-8")
    base = serve_dir(tmp_path)

    page.goto(f"{base}/index.html")
    assert page.title() == "harness"
    assert page.text_content("#out") == "waiting"
    page.click("#go")
    page.wait_for_function("document.getElementById('out').textContent === 'clicked'")
    assert page.text_content("#out") == "clicked"

    shot = Path(tempfile.gettempdir()) / "bertviz_graph_browser_harness.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 2000
    with Image.open(shot) as img:
        assert img.format == "PNG"
        assert img.width >= 300 and img.height >= 200
        colors = img.convert("RGB").getcolors(maxcolors=1 << 20)
        assert colors is not None and len(colors) > 10, "screenshot is (nearly) a single colour"

    assert console_errors == []


@pytest.mark.browser
def test_console_errors_fixture_catches_errors(page, console_errors, serve_dir, tmp_path):
    (tmp_path / "broken.html").write_text(BROKEN_PAGE, encoding="utf-8")
    page.goto(f"{serve_dir(tmp_path)}/broken.html")
    page.wait_for_function("document.readyState === 'complete'")
    page.wait_for_timeout(200)  # let the event listeners deliver both events
    assert any("boom from console" in e for e in console_errors), console_errors
    assert any(e.startswith("pageerror:") and "undefinedFunction" in e for e in console_errors), (
        console_errors
    )


@pytest.mark.browser
def test_dash_app_in_thread(page, console_errors, serve_dash):
    from dash import Dash, Input, Output, html

    app = Dash(__name__)
    app.layout = html.Div([html.Button("Go", id="go", n_clicks=0), html.P("waiting", id="out")])

    @app.callback(Output("out", "children"), Input("go", "n_clicks"), prevent_initial_call=True)
    def on_click(n_clicks):
        return f"clicked {n_clicks}"

    page.goto(serve_dash(app))
    page.wait_for_selector("#go")
    page.click("#go")
    page.wait_for_function("document.getElementById('out').textContent === 'clicked 1'")
    assert console_errors == []
