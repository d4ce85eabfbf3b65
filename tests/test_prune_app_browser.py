"""Prune from the app in the system Chromium: pick an amount, click Prune, the page shows the pruned copy
(the sparsity shown equals the zeros read back from its safetensors), export writes a folder, "Back"
returns to the original; a structure-only model has the controls disabled with the reason."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from safetensors.numpy import load_file
from tiny_models import tiny_model

import bertviz_graph as bg
from bertviz_graph.app import make_app

pytestmark = pytest.mark.browser
SHOTS = Path("/tmp/bvg-prune-shots")


def _pruning_tab(page) -> None:
    page.wait_for_selector("#bv-tab-pruning", timeout=60000)
    page.click("#bv-tab-pruning")
    page.wait_for_selector("#bv-prune-go", timeout=30000)


def test_prune_in_the_app_then_export_and_back(tmp_path, page, serve_dash, console_errors):
    SHOTS.mkdir(exist_ok=True)
    folder = tiny_model(tmp_path / "tiny")
    url = serve_dash(make_app(bg.trace(str(folder))))
    page.set_viewport_size({"width": 1500, "height": 1000})
    page.goto(url + "/")
    _pruning_tab(page)
    handle = page.locator("#bv-prune-amount [role=slider]")
    handle.focus()
    for _ in range(2):  # 30 % -> 40 % by keyboard, and Prune at once: the job takes what the handle shows
        page.keyboard.press("ArrowRight")
    assert handle.get_attribute("aria-valuenow") == "0.4"
    page.click("#bv-prune-go")  # the copy's record below says the job pruned at 40 %
    page.wait_for_url("**?model=**", timeout=180000)
    spec = unquote(urlsplit(page.url).query.split("model=", 1)[1].split("#")[0])
    assert spec.startswith("job:")  # the tab names the copy by its job id, never by a server path
    from bertviz_graph.pruning.job import result_folder

    copy = result_folder(spec[4:])
    assert copy is not None and copy.is_dir() and copy != folder and not str(copy).startswith(str(folder))
    page.wait_for_selector("#bv-prune-back", timeout=60000)  # the Pruning tab is in front again by itself
    page.wait_for_function("document.title.includes('-magnitude-')", timeout=30000)  # the title names the copy
    page.screenshot(path=str(SHOTS / "pruned.png"))
    text = page.text_content(".bv-side")
    m = re.search(r"([\d,]+) of ([\d,]+) weights in the layers' matrices are zero", text)
    assert m, text[:800]
    shown_zeros, shown_total = (int(x.replace(",", "")) for x in m.groups())
    w = load_file(copy / "model.safetensors")
    mats = [k for k, v in w.items() if ".encoder.layer." in k and v.ndim == 2]
    assert shown_zeros == sum(int((w[k] == 0).sum()) for k in mats)
    assert shown_total == sum(w[k].size for k in mats)
    assert abs(shown_zeros / shown_total - 0.4) <= len(mats) / shown_total  # the amount clicked
    assert "pruned with magnitude at 40%" in text and "embedding cosine to the unpruned model" in text
    assert load_file(folder / "model.safetensors").keys() == w.keys()  # the original is still there

    out = tmp_path / "exported"
    page.fill("#bv-prune-export-path", str(out))
    page.click("#bv-prune-export")
    page.wait_for_function("/wrote/.test((document.querySelector('#bv-prune-export-status') || {}).textContent || '')")
    assert (out / "model.safetensors").is_file() and (out / "config.json").is_file()
    page.click("#bv-prune-export")  # again: refused, a sentence
    page.wait_for_function("/already exists/.test((document.querySelector('#bv-prune-export-status') || {}).textContent || '')")

    page.click("#bv-prune-back")
    page.wait_for_url(re.compile(r".*model=.*tiny(#pruning)?$"), timeout=60000)
    page.wait_for_function("/no pruning record/.test((document.querySelector('.bv-side') || {}).textContent || '')",
                           timeout=60000)
    assert "this model carries no pruning record" in page.text_content(".bv-side")
    assert "Traceback" not in page.content()
    assert console_errors == []


def test_structure_only_model_has_the_controls_disabled(page, serve_dash, console_errors):
    url = serve_dash(make_app(bg.trace("bert-tiny")))
    page.goto(url + "/")
    _pruning_tab(page)
    assert page.is_disabled("#bv-prune-go")
    assert "structure only" in page.text_content("#bv-prune-status")
    page.screenshot(path=str(SHOTS / "structure-only.png"))
    assert console_errors == []
