"""Pruning from the widget in a real JupyterLab: ``bg.show_pruning`` on a tiny checkpoint, Prune clicked in
the page, and the numbers the widget shows checked against the pruned copy's safetensors (zeros counted
here, heads read from the zeroed query rows); then ``bg.show_diff(original, pruned)`` drawn beside it.
Screenshots go to $TMPDIR/bertviz_graph_jupyterlab_prune_*.png for people to look at.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import numpy as np
import pytest
from safetensors.numpy import load_file
from test_jupyterlab import SHOTS, run_jupyterlab
from tiny_models import tiny_model

pytestmark = pytest.mark.browser

PRUNE = ".bvg-prune"
LAYERS, HEADS, HIDDEN = 2, 4, 32

CELLS = [
    "import bertviz_graph as bg\np = bg.show_pruning('tiny')\np",
    "d = bg.show_diff('tiny', str(p.job.folder))\nd",  # the last copy pruned: heads
]


@pytest.fixture(scope="module")
def lab_with_tiny():
    with run_jupyterlab() as (base, token, root):
        tiny_model(root / "tiny", num_hidden_layers=LAYERS, num_attention_heads=HEADS, hidden_size=HIDDEN)
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in CELLS])
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nbformat.write(nb, root / "prune.ipynb")
        yield base, token, root


def _shot(locator, name: str) -> Path:
    path = SHOTS / f"bertviz_graph_jupyterlab_prune_{name}.png"
    locator.screenshot(path=str(path))
    return path


def _run_cell(page, i: int) -> None:
    cell = page.locator(".jp-Notebook .jp-CodeCell").nth(i)
    cell.locator(".jp-InputArea-editor").click()
    page.keyboard.press("Shift+Enter")
    page.wait_for_function(
        "i => { const p = document.querySelectorAll('.jp-Notebook .jp-CodeCell .jp-InputPrompt')[i];"
        " return p && /\\[\\d+\\]/.test(p.textContent); }", arg=i, timeout=120_000)


def _prune(page, box, method: str, steps: int) -> str:
    """Pick the method, move the amount slider ``steps`` × 5 % with the keyboard and click Prune at once (no
    wait for the kernel to hear each key: the click must carry what the page shows), then wait for the result;
    the pruned copy's folder (read from the status line)."""
    box.locator("select").select_option(method)
    slider = box.locator("input[type=range]")
    slider.focus()
    for _ in range(abs(steps)):
        page.keyboard.press("ArrowRight" if steps > 0 else "ArrowLeft")
    shown = box.locator(".bvg-prune-ctl output").inner_text()
    status = box.locator(".bvg-prune-status")
    before = status.inner_text()
    box.get_by_role("button", name="Prune").click()
    # the job the kernel started names the method and amount the page showed at the click
    page.wait_for_function(
        "([sel, before]) => { const t = document.querySelector(sel)?.textContent;"
        " return t && t !== before && t.startsWith('pruning with'); }",
        arg=[f"{PRUNE} .bvg-prune-status", before], timeout=120_000)
    started = status.inner_text()
    assert started.startswith(f"pruning with {method} at {shown}"), (started, method, shown)
    page.wait_for_function(
        "sel => { const t = document.querySelector(sel)?.textContent;"
        " return t && /^Showing the pruned copy|cannot|error/.test(t); }",
        arg=f"{PRUNE} .bvg-prune-status", timeout=120_000)
    text = status.inner_text()
    m = re.search(r"\((/[^)]+)\)", text)
    assert m, f"no folder in the status line: {text!r}"
    return m.group(1)


def _layer_zeros(folder: str) -> tuple[int, int, dict[int, list[int]]]:
    """Zeros and size of the layers' 2-D matrices, and the heads whose query rows are all zero, per layer."""
    w = load_file(str(Path(folder) / "model.safetensors"))
    z = n = 0
    heads: dict[int, list[int]] = {}
    d = HIDDEN // HEADS
    for k, v in w.items():
        m = re.match(r"(?:bert\.)?encoder\.layer\.(\d+)\.", k)
        if m and v.ndim == 2:
            z += int((v == 0).sum())
            n += v.size
            if k.endswith("attention.self.query.weight"):
                dead = [h for h in range(HEADS) if not np.any(v[h * d:(h + 1) * d])]
                if dead:
                    heads[int(m.group(1))] = dead
    return z, n, heads


def test_prune_in_jupyterlab(lab_with_tiny, page, console_errors):
    base, token, _root = lab_with_tiny
    page.set_viewport_size({"width": 1400, "height": 2000})  # tall: element shots are clipped to the viewport
    page.set_default_timeout(60_000)
    page.goto(f"{base}/lab/tree/prune.ipynb?token={token}")
    page.wait_for_selector(".jp-NotebookPanel .jp-Cell", timeout=90_000)
    page.wait_for_function(
        "() => { const w = [...window.jupyterapp.shell.widgets('main')].find(x => x.sessionContext);"
        " return !!(w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel"
        " && w.sessionContext.session.kernel.connectionStatus === 'connected'); }", timeout=90_000)
    _run_cell(page, 0)
    box = page.locator(PRUNE).first
    box.wait_for(state="visible", timeout=60_000)
    _shot(box, "before")

    # magnitude pruning at 40 %: the summary's zero count is the safetensors' zero count
    folder = _prune(page, box, "magnitude", 2)
    summary = box.locator(".bvg-prune-summary").inner_text()
    z, n, heads = _layer_zeros(folder)
    assert heads == {}
    assert f"{z:,} of {n:,} weights" in summary, (z, n, summary)
    assert abs(z / n - 0.4) < 0.01
    assert "pruned with magnitude at 40%" in summary
    assert re.search(r"embedding cosine to the unpruned model \d\.\d{3}", summary)
    box.scroll_into_view_if_needed()
    _shot(box, "magnitude")

    # feed-forward neurons by weight norm at 25 %: the count shown is the count of zeroed intermediate rows
    folder = _prune(page, box, "neurons-weight", -3)
    summary = box.locator(".bvg-prune-summary").inner_text()
    w = load_file(str(Path(folder) / "model.safetensors"))
    dead = {i: int((~w[f"bert.encoder.layer.{i}.intermediate.dense.weight"].any(axis=1)).sum()) for i in range(LAYERS)}
    ffn = w["bert.encoder.layer.0.intermediate.dense.weight"].shape[0]
    assert sum(dead.values()) == round(0.25 * LAYERS * ffn), dead
    assert f"{sum(dead.values())} of {LAYERS * ffn} feed-forward neurons pruned" in summary, (dead, summary)
    rows = box.locator(".bvg-prune-table tr")
    shown = [rows.nth(i).locator("td").nth(2).inner_text() for i in range(1, rows.count())]
    assert shown == [str(dead[i]) for i in range(LAYERS)], (shown, dead)
    box.scroll_into_view_if_needed()
    _shot(box, "neurons")

    # head pruning at 50 %: the heads shown crossed out are the heads whose query rows are zero
    folder = _prune(page, box, "heads-random", 5)
    summary = box.locator(".bvg-prune-summary").inner_text()
    _z, _n, heads = _layer_zeros(folder)
    n_heads = sum(len(v) for v in heads.values())
    assert n_heads == LAYERS * HEADS // 2, heads
    assert f"{n_heads} of {LAYERS * HEADS} attention heads pruned" in summary
    rows = box.locator(".bvg-prune-table tr")
    shown = {}
    for i in range(1, rows.count()):
        cells = rows.nth(i).locator("td").all_inner_texts()
        layer = int(re.search(r"(\d+)$", cells[0]).group(1))
        if cells[1] != "–":
            shown[layer] = [int(x) for x in cells[1].split(",")]
    assert shown == heads
    # the pruned copy's graph: its attention heads greyed where pruned
    graph = box.locator(".bvg-root")
    graph.wait_for(state="visible", timeout=60_000)
    page.wait_for_selector(f"{PRUNE} .bvg-root .bvg-canvas svg g.node", timeout=60_000)
    # opened down to a self-attention box whose strip greys exactly that layer's pruned heads
    strip = page.locator(f"{PRUNE} .bvg-root g.node[data-id$='attention.self'] g.prune-strip").first
    strip.wait_for(state="attached", timeout=60_000)
    gid = strip.locator("xpath=..").get_attribute("data-id")
    layer = int(re.search(r"layer\.(\d+)\.", gid).group(1))
    gone = [float(v) for v in strip.locator("rect").evaluate_all("rs => rs.map(r => r.dataset.pruned)")]
    assert len(gone) == HEADS, gone
    assert [h for h, v in enumerate(gone) if v == 1.0] == heads.get(layer, []), (gid, gone, heads)
    assert all(v in (0.0, 1.0) for v in gone)
    box.scroll_into_view_if_needed()
    _shot(box, "heads")

    _run_cell(page, 1)
    diff = page.locator(".bvg-diff").first
    diff.wait_for(state="visible", timeout=60_000)
    page.wait_for_function("() => document.querySelectorAll('.bvg-diff .bvg-root .bvg-canvas svg g.node').length"
                           " >= 10", timeout=60_000)
    # both pictures opened down to a layer whose heads were removed: its query matrix drawn on each side
    for side in (0, 1):
        q = diff.locator(".bvg-root").nth(side).locator("g.node[data-id$='attention.self.query']")
        assert q.count() == 1, side
    assert "heads removed:" in diff.locator(".bvg-diff-legend").inner_text()
    diff.scroll_into_view_if_needed()
    _shot(diff, "diff")
    assert console_errors == []
