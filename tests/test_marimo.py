"""The widget in marimo: `marimo run` a one-cell app on loopback, open it in the system Chromium, click.

marimo implements the anywidget model API itself (no Jupyter widget manager), so this checks that the
bundle needs nothing beyond that API: it draws, clicks reach the kernel and come back as a new picture,
and the weight matrix (a binary traitlet) shows.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from conftest import free_port

pytestmark = pytest.mark.browser
marimo = pytest.importorskip("marimo")

ROOT = Path(__file__).resolve().parents[1]
APP = '''
import marimo

app = marimo.App()


@app.cell
def _():
    import marimo as mo

    import bertviz_graph as bg

    w = mo.ui.anywidget(bg.show("bert-base-uncased", height=560))
    w
    return (w,)


if __name__ == "__main__":
    app.run()
'''


@pytest.fixture
def marimo_app(tmp_path):
    (tmp_path / "app.py").write_text(APP, encoding="utf-8")
    port = free_port()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
           "MARIMO_SKIP_UPDATE_CHECK": "1"}
    log = open(tmp_path / "marimo.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "marimo", "run", "app.py", "--headless", "--host", "127.0.0.1",
                             "--port", str(port)], cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.time() + 60
        while True:
            try:
                with urllib.request.urlopen(url, timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.time() > deadline:
                raise RuntimeError("marimo did not start:\n" + (tmp_path / "marimo.log").read_text()[-3000:])
            time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def test_widget_in_marimo(marimo_app, page, console_errors):
    page.set_viewport_size({"width": 1300, "height": 900})
    page.goto(marimo_app)
    page.wait_for_selector(".bvg-canvas svg g.node", timeout=120_000)
    n0 = page.locator("g.node").count()
    series = page.locator("g.node[data-kind=series]").first
    series.locator("text").first.click()
    page.wait_for_selector("g.node[data-kind=series][data-expanded='1']", timeout=30_000)
    assert page.locator("g.node").count() > n0
    for suffix in (".attention", ".attention.self"):
        page.locator(f"g.node[data-id$='{suffix}'] text").first.click()
        page.wait_for_selector(f"g.node[data-id$='{suffix}'][data-expanded='1']", timeout=30_000)
    page.locator("g.node[data-id$='attention.self.query'] text").first.click()
    # marimo puts each widget in a shadow root: Playwright's locators pierce it, document.querySelector does not
    page.wait_for_selector(".bvg-dtitle:text-is('query')", timeout=30_000)
    page.locator(".bvg-tab[data-panel=matrix]").click()
    img = page.locator(".bvg-heatmap")
    img.wait_for(state="visible", timeout=30_000)
    deadline = time.time() + 30
    while img.evaluate("i => i.naturalWidth") == 0:
        assert time.time() < deadline, "the weight heatmap did not load"
        time.sleep(0.2)
    page.screenshot(path=str(Path(os.environ.get("TMPDIR", "/tmp")) / "bertviz_graph_marimo.png"))
    assert console_errors == []
