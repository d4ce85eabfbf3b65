"""The widget in a real JupyterLab: start it on loopback, open the tour in the system Chromium, run it.

Checks that the widget draws nodes, that clicking a closed layer box opens it (more nodes, the box now an
open frame), that selecting shows details and a weight heatmap, and that the browser console stays clean.
Screenshots go to $TMPDIR/bertviz_graph_jupyterlab_*.png for people to look at.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest
from conftest import free_port

ROOT = Path(__file__).resolve().parents[1]
TOUR = ROOT / "notebooks" / "tour.ipynb"
SHOTS = Path(tempfile.gettempdir())
WIDGET = ".bvg-root"

pytestmark = pytest.mark.browser


def _lab_notebook(dest: Path) -> Path:
    """The tour without cells that must not run unattended (the inline Dash app) or that fail on purpose
    (JupyterLab's "run all" stops at an error)."""
    nb = nbformat.read(TOUR, as_version=4)
    nb.cells = [c for c in nb.cells
                if not {"skip-in-tests", "raises-exception"} & set(c.metadata.get("tags", []))]
    path = dest / "tour.ipynb"
    nbformat.write(nb, path)
    return path


@contextlib.contextmanager
def run_jupyterlab():
    """A JupyterLab server on 127.0.0.1 (free port, random token, temporary root and settings) serving a copy
    of the tour; shut down at the end. Yields (base_url, token, root_dir)."""
    tmp = Path(tempfile.mkdtemp(prefix="bvg-lab-"))
    root = tmp / "root"
    root.mkdir()
    _lab_notebook(root)
    config = tmp / "config"
    (config / "labconfig").mkdir(parents=True)
    # no "would you like news?" toast and no "build recommended" dialog over the notebook
    (config / "labconfig" / "page_config.json").write_text(json.dumps(
        {"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": True},
         "buildCheck": False, "buildAvailable": False}))
    port, token = free_port(), secrets.token_hex(16)
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(config), "JUPYTER_RUNTIME_DIR": str(tmp / "runtime"),
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)}
    cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1",
           f"--ServerApp.port={port}", "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
           f"--ServerApp.root_dir={root}", f"--LabApp.user_settings_dir={tmp / 'settings'}",
           f"--LabApp.workspaces_dir={tmp / 'workspaces'}", "--LabApp.expose_app_in_browser=True",
           "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate", "--LabApp.extension_manager=readonly",
           "--ServerApp.terminals_enabled=False"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")  # CI containers often run as root
    log = open(tmp / "lab.log", "wb")
    proc = subprocess.Popen(cmd, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 90
        while True:
            try:
                with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.time() > deadline:
                raise RuntimeError("JupyterLab did not start:\n" + (tmp / "lab.log").read_text()[-3000:])
            time.sleep(0.3)
        yield base, token, root
    finally:
        try:
            req = urllib.request.Request(f"{base}/api/shutdown?token={token}", method="POST")
            urllib.request.urlopen(req, timeout=5).close()
        except OSError:
            pass
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
        log.close()
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture(scope="module")
def jupyterlab():
    with run_jupyterlab() as lab:
        yield lab


def _shot(page, name: str) -> Path:
    path = SHOTS / f"bertviz_graph_jupyterlab_{name}.png"
    page.screenshot(path=str(path))
    return path


def _widget_shot(page, locator, name: str) -> Path:
    path = SHOTS / f"bertviz_graph_jupyterlab_{name}.png"
    locator.screenshot(path=str(path))
    return path


def test_tour_in_jupyterlab(jupyterlab, page, console_errors):
    base, token, _root = jupyterlab
    page.set_viewport_size({"width": 1400, "height": 1000})
    page.set_default_timeout(60_000)
    page.goto(f"{base}/lab/tree/tour.ipynb?token={token}")
    page.wait_for_selector(".jp-NotebookPanel .jp-Cell", timeout=90_000)
    page.wait_for_function("window.jupyterapp && window.jupyterapp.commands.hasCommand('notebook:run-all-cells')")
    # a kernel must be up before "run all" (else JupyterLab asks which kernel to use)
    page.wait_for_function(
        "() => { const w = [...window.jupyterapp.shell.widgets('main')].find(x => x.sessionContext);"
        " return !!(w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel"
        " && w.sessionContext.session.kernel.connectionStatus === 'connected'); }", timeout=90_000)
    page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")

    widget = page.locator(WIDGET).first
    widget.wait_for(state="visible", timeout=180_000)
    page.wait_for_selector(f"{WIDGET} .bvg-canvas svg g.node", timeout=60_000)
    # all cells done: every code cell has an execution count, none is queued ("[*]")
    page.wait_for_function(
        "() => { const p = [...document.querySelectorAll('.jp-CodeCell .jp-InputPrompt')];"
        " return p.length > 0 && p.every(e => /\\[\\d+\\]/.test(e.textContent)); }", timeout=240_000)

    canvas = widget.locator(".bvg-canvas")
    n_before = canvas.locator("g.node").count()
    assert n_before >= 5, f"the widget drew only {n_before} nodes"
    widget.scroll_into_view_if_needed()
    _widget_shot(page, widget, "after_tour")

    # back to the overview, then click the folded layer stack: it opens
    widget.locator("button[data-action=reset]").click()
    page.wait_for_function(
        f"() => {{ const g = document.querySelector('{WIDGET} g.node[data-kind=series]');"
        " return g && g.getAttribute('data-expanded') === '0'; }")
    n_closed = canvas.locator("g.node").count()
    _widget_shot(page, widget, "overview")
    series = canvas.locator("g.node[data-kind=series]").first
    series_id = series.get_attribute("data-id")
    series.locator("text").first.click()
    page.wait_for_function(
        f"() => {{ const g = document.querySelector('{WIDGET} g.node[data-id=\"{series_id}\"]');"
        " return g && g.getAttribute('data-expanded') === '1'; }")
    n_open = canvas.locator("g.node").count()
    assert n_open > n_closed, (n_closed, n_open)
    # the picture and the details are two traitlets: wait for the details to follow the click too
    page.wait_for_function(
        f"() => {{ const t = document.querySelector('{WIDGET} .bvg-dtitle');"
        " return t && t.textContent.startsWith('BertLayer'); }")
    _widget_shot(page, widget, "layer_open")

    # click down to the query projection: attention -> self-attention -> query; details + weight heatmap
    for suffix in (".attention", ".attention.self"):
        box = canvas.locator(f"g.node[data-id$='{suffix}']").first
        box.wait_for(timeout=30_000)
        if box.get_attribute("data-expanded") == "0":
            gid = box.get_attribute("data-id")
            box.locator("text").first.click()
            page.wait_for_function(
                f"() => {{ const g = document.querySelector('{WIDGET} g.node[data-id=\"{gid}\"]');"
                " return g && g.getAttribute('data-expanded') === '1'; }")
    query = canvas.locator("g.node[data-id$='attention.self.query']")
    query.first.wait_for(timeout=30_000)
    query.first.locator("text").first.click()
    page.wait_for_function(
        f"() => {{ const t = document.querySelector('{WIDGET} .bvg-dtitle');"
        " const m = document.querySelector('" + WIDGET + " .bvg-mtitle');"
        " return t && t.textContent === 'query' && m && m.textContent.endsWith('query.weight'); }")
    page.wait_for_function(
        f"() => {{ const i = document.querySelector('{WIDGET} .bvg-heatmap');"
        " return i && i.src.startsWith('blob:') && i.complete && i.naturalWidth > 0; }")
    _widget_shot(page, widget, "query_selected")
    widget.locator(".bvg-tab[data-panel=matrix]").click()
    widget.locator(".bvg-heatmap").wait_for(state="visible")
    assert widget.locator(".bvg-notice").is_visible()  # preset: random weights, said plainly
    widget.locator(".bvg-headbar").nth(3).click()  # head 3 only
    page.wait_for_function(f"() => !!document.querySelector('{WIDGET} .bvg-headbar.bvg-active')")
    _widget_shot(page, widget, "query_weights")

    # search highlights matches
    widget.locator("input.bvg-search").fill("softmax")
    page.wait_for_selector(f"{WIDGET} .bvg-result", timeout=30_000)
    page.wait_for_selector(f"{WIDGET} g.node.bvg-match", timeout=30_000)
    _widget_shot(page, widget, "search")
    _shot(page, "page")

    # keys pressed in the widget stay there: no notebook shortcut ("d d" deletes a cell, "0 0" restarts)
    n_cells = page.locator(".jp-Cell").count()
    cbox = canvas.bounding_box()
    for target, where in ((canvas, {"x": cbox["width"] - 8, "y": cbox["height"] - 8}),
                          (widget.locator("button[data-action=fit]"), None), (widget.locator(".bvg-footer"), None)):
        target.click(position=where)
        for key in ("d", "d", "0", "0", "a", "b", "x"):
            page.keyboard.press(key)
    page.wait_for_timeout(500)
    assert page.locator(".jp-Cell").count() == n_cells
    assert page.locator(".jp-Dialog").count() == 0
    assert page.locator(WIDGET).count() >= 1

    assert console_errors == []
