"""The offline HTML explorer in a real browser (system Chromium, from file://): no request beyond the file,
no console error, first paint, open/close at depth, the ×N slider, search, details and a weight preview.
The file is the trained MiniLM with a sentence, the size the issue bounds (≤ 10 MB)."""

from __future__ import annotations

import pytest

import bertviz_graph as bg
from bertviz_graph.view import find
from tests.test_html_export import decode

pytestmark = pytest.mark.browser

SENTENCE = "The cat sat on the [MASK]."
SERIES = "encoder.layer[0-5]"


@pytest.fixture(scope="module")
def minilm(tmp_path_factory):
    graph = bg.trace("all-MiniLM-L6-v2")
    out = tmp_path_factory.mktemp("html") / "minilm.html"
    graph.save_html(out, text=SENTENCE)
    return graph, out


def open_page(page, path, requests):
    """Open the file, recording every request that is not the file itself or in-memory (blob:, data:)."""

    def check(route):
        url = route.request.url
        if url == path.as_uri() or url.startswith(("blob:", "data:")):
            route.continue_()
        else:
            requests.append(url)
            route.abort()

    page.route("**/*", check)
    page.set_viewport_size({"width": 1400, "height": 900})
    page.goto(path.as_uri())
    page.wait_for_selector("body[data-bvg-ready] svg g.node")


# pairs of boxes drawn in the same frame that overlap (data-box: left, top, width, height)
NO_OVERLAP = """() => {
    const boxes = [...document.querySelectorAll('svg g.node')].map((g) =>
        [g.dataset.id, g.dataset.parent || '', g.dataset.box.split(',').map(Number)]);
    const out = [];
    for (const [a, pa, [ax, ay, aw, ah]] of boxes) for (const [b, pb, [bx, by, bw, bh]] of boxes)
        if (a < b && pa === pb && ax < bx + bw - 0.5 && bx < ax + aw - 0.5 && ay < by + bh - 0.5 && by < ay + ah - 0.5)
            out.push([a, b]);
    return out;
}"""


def node(page, gid):
    return page.locator(f'g.node[data-id="{gid}"]')


def timed_click(page, gid, wait_for):
    """ms from the pointer going down on box ``gid`` until box ``wait_for`` is drawn (measured in the page:
    a capturing pointerdown listener starts the clock, a frame loop stops it when the box is there)."""
    page.evaluate(
        """(want) => {
            window.__bvgT = null;
            document.addEventListener('pointerdown', () => {
                const t0 = performance.now();
                const poll = () => [...document.querySelectorAll('g.node')].some((g) => g.dataset.id === want)
                    ? (window.__bvgT = performance.now() - t0) : requestAnimationFrame(poll);
                requestAnimationFrame(poll);
            }, {capture: true, once: true});
        }""",
        wait_for,
    )
    node(page, gid).first.click()
    page.wait_for_function("() => window.__bvgT !== null")
    return page.evaluate("() => window.__bvgT")


def test_offline_explorer_in_chromium(minilm, page, console_errors, tmp_path):
    graph, path = minilm
    size = path.stat().st_size
    assert size <= 10e6, f"{size / 1e6:.1f} MB"
    requests: list[str] = []
    open_page(page, path, requests)
    paint = int(page.get_attribute("body", "data-bvg-paint-ms"))
    assert paint <= 1000, f"first paint {paint} ms"

    # open the ×6 stack, then one layer's attention and self-attention: depth 4
    node(page, SERIES).first.click()
    page.wait_for_selector('g.node[data-id="encoder.layer.0.attention"]')
    t_open = timed_click(page, "encoder.layer.0.attention", "encoder.layer.0.attention.self")
    assert t_open <= 150, f"opening a group took {t_open:.0f} ms"
    node(page, "encoder.layer.0.attention.self").first.click()
    page.wait_for_selector('g.node[data-id="encoder.layer.0.attention.self.query"]')
    # a box beside: Intermediate opens and self-attention stays open
    node(page, "encoder.layer.0.intermediate").first.click()
    page.wait_for_selector('g.node[data-id="encoder.layer.0.intermediate.dense"]')
    assert node(page, "encoder.layer.0.attention.self.query").count() == 1
    assert page.inner_text(".bvg-note") == ""
    # colour-by FLOPs: the boxes take the app's colours (the stored diff), the legend says the scale, a box's
    # tooltip its value
    d = decode(path)
    page.select_option("select.bvg-colour-by", "flops")
    page.wait_for_function("() => document.querySelector('.bvg-colour-legend').textContent.includes('FLOPs')")
    st = d["states"]["encoder.layer.0.attention.self+encoder.layer.0.intermediate"]
    fill = page.get_attribute('g.node[data-id="encoder.layer.0.intermediate.dense"] rect', "fill")
    assert fill in d["colours"]["palette"] and fill != d["colours"]["none"]
    assert page.locator("svg g.legend").first.is_hidden()
    assert d["colours"]["ranges"]["flops"][st["svg"]] is not None
    page.screenshot(path=str(tmp_path / "colour.png"))
    page.select_option("select.bvg-colour-by", "role")
    page.wait_for_function("() => document.querySelector('.bvg-colour-legend').textContent === ''")
    # a third box open (not stored): the page composes it, all three stay open, no boxes overlap
    # (its time is benchmarks/html_bench.py's: a test waits for the state, not for a clock)
    timed_click(page, "encoder.layer.0.output", "encoder.layer.0.output.dense")
    for x in ("encoder.layer.0.attention.self.query", "encoder.layer.0.intermediate.dense"):
        assert node(page, x).count() == 1, x
    assert "closed" not in page.inner_text(".bvg-note")
    assert page.evaluate(NO_OVERLAP) == []
    page.click(".bvg-btn[data-action=fit]")  # the whole, larger picture in sight
    page.screenshot(path=str(tmp_path / "open.png"))

    # the ×N slider: layer 4 of 6 shows the same place (its self-attention open), details follow
    node(page, "encoder.layer.0.attention.self.query").first.click()
    page.wait_for_selector(".bvg-dtitle")
    page.click('.bvg-instances button[title$=" 4"]')
    page.wait_for_selector('g.node[data-id="encoder.layer.3.attention.self.query"]')
    assert node(page, "encoder.layer.0.attention.self.query").count() == 0
    assert "layer 4 of 6" in page.inner_text(".bvg-series .bvg-label")

    # the weight preview of the selected Linear
    page.click('button.bvg-tab[data-panel="matrix"]')
    page.wait_for_function("() => { const i = document.querySelector('.bvg-panel-matrix img, .bvg-panel-matrix canvas');"
                           " return i && (i.naturalWidth || i.width) > 0; }")
    assert "query.weight" in page.inner_text('button.bvg-tab[data-panel="matrix"]')

    # the Neurons tab: the selected Linear for a token of the sentence, exact values on hover
    nv = d["neurons"]["linears"]["encoder.layer.3.attention.self.query"][2]
    page.click('button.bvg-tab[data-panel="neurons"]')
    page.click('.bvg-neuron-tokens button[data-token="2"]')
    page.wait_for_selector(".bvg-neurons-svg circle.bvg-neuron-output")
    assert page.locator(".bvg-neurons-svg circle").count() == len(nv["ins"]) + len(nv["outs"])
    first = page.locator(".bvg-neurons-svg circle.bvg-neuron-output").first
    assert first.get_attribute("data-index") == str(nv["outs"][0])
    label, value = first.locator("title").text_content().split(" = ")
    assert label == f"output neuron {nv['outs'][0]}: y" and float(value) == pytest.approx(nv["y"][0], rel=1e-3)
    page.screenshot(path=str(tmp_path / "neurons.png"))

    # close it again from the details pane (− Close), back to the attention block
    page.click('button.bvg-tab[data-panel="details"]')
    page.click('.bvg-crumbs a[title="encoder.layer.3.attention.self"]')  # select the open frame
    page.wait_for_function("() => document.querySelector('.bvg-actions [data-action=toggle]')"
                           ".textContent.includes('Close')")
    page.click('.bvg-actions [data-action="toggle"]')
    page.wait_for_function("() => ![...document.querySelectorAll('g.node')]"
                           ".some((g) => g.dataset.id === 'encoder.layer.3.attention.self.query')")
    assert node(page, "encoder.layer.3.attention.self").count() == 1

    # search: the page finds what view.find finds
    page.fill("input.bvg-search", "softmax")
    page.keyboard.press("Enter")
    want = len(find(graph.hierarchy, "softmax"))
    page.wait_for_function(f"() => document.querySelector('.bvg-count').textContent.startsWith('{want} match')")

    # the sentence's predictions in the output's details
    page.click(".bvg-btn[data-action=reset]")
    node(page, "pooler").first.click()
    page.wait_for_function("() => document.querySelector('.bvg-details').textContent.includes('predictions')")

    # the Attention tab: the model view, a head's map and its summaries
    page.click('button.bvg-tab[data-panel="attention"]')
    page.locator('canvas.bvg-att-tile[data-layer="2"][data-head="5"]').click()
    page.wait_for_function("() => document.querySelector('.bvg-attention').textContent.includes('Layer 3, head 6')")
    assert page.locator("canvas.bvg-att-tile").count() == 6 * 12
    assert page.locator(".bvg-att-summary tr[data-head]").count() == 12  # the layer's per-head summaries
    assert page.locator(".bvg-head-view line").count() > 0
    page.screenshot(path=str(tmp_path / "attention.png"))


    assert requests == [], requests
    assert console_errors == []


def test_stored_attention_is_transformers_own(minilm):
    import numpy as np
    import torch
    import transformers

    from tests.tiny_models import MINILM

    d = decode(minilm[1])
    tok = transformers.AutoTokenizer.from_pretrained(MINILM)
    model = transformers.AutoModel.from_pretrained(MINILM, attn_implementation="eager").eval()
    enc = tok(SENTENCE, return_tensors="pt")
    with torch.no_grad():
        att = model(**enc, output_attentions=True).attentions
    ref = np.stack([a[0].numpy() for a in att])  # [layers, heads, tokens, tokens]
    got = np.array(d["attention"]["maps"])
    assert got.shape == ref.shape
    np.testing.assert_allclose(got, ref, atol=6e-5)  # stored with 4 decimals
    assert d["attention"]["tokens"] == tok.convert_ids_to_tokens(enc["input_ids"][0])

    # the neuron view's numbers: a forward hook on the Linear (its own input and output), not our capture
    seen = {}
    lin = model.encoder.layer[2].intermediate.dense
    lin.register_forward_hook(lambda m, i, o: seen.update(x=i[0][0].numpy(), y=o[0].numpy()))
    with torch.no_grad():
        model(**enc)
    W = lin.weight.detach().numpy()
    for t in (0, 3):
        nv = d["neurons"]["linears"]["encoder.layer.2.intermediate.dense"][t]
        np.testing.assert_allclose(nv["x"], seen["x"][t, nv["ins"]], rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(nv["y"], seen["y"][t, nv["outs"]], rtol=1e-4, atol=1e-4)
        assert np.argsort(-np.abs(seen["y"][t]))[0] == nv["outs"][0]  # the strongest output first
        for j, i, c in nv["edges"][:5]:
            assert c == pytest.approx(W[i, j] * seen["x"][t, j], rel=1e-3, abs=1e-6)


def test_payload_holds_the_sentence(minilm):
    graph, path = minilm
    d = decode(path)
    assert d["sentence"]["text"] == SENTENCE
    assert any(t.get("edges") for t in d["tips"])
    # every group of the model has its stored view: the overview plus one per group that opens, and views
    # with a box open beside it (all of MiniLM's fit a file with a sentence's budget); the page composes any
    # other combination itself, from the table of container layouts (every laid-out view's)
    openable = [g for g, grp in graph.hierarchy.groups.items() if g and (grp.children or grp.kind == "series")]
    assert {"", *openable} <= set(d["states"])
    beside = [k for k in d["states"] if "+" in k]
    assert len(beside) >= 200
    assert len(d["compose"]["table"]) >= 300
    # colour-by: the app's modes, the run's included
    assert [m for m, _ in d["colours"]["modes"]] == ["flops", "params", "norm", "sparsity", "activation", "change"]


def test_widget_save_html_button_downloads_the_offline_page(minilm, page, console_errors, serve_dir, tmp_path,
                                                          monkeypatch):
    """The notebook widget's button: the kernel builds the page of the view on screen and the browser saves it."""
    monkeypatch.setattr("bertviz_graph.html.payload.BESIDE_BUDGET", 0)  # the button, not the views (tested above)
    from widget_host import png, values, write_host

    from bertviz_graph.widget import GraphWidget

    graph, _ = minilm
    write_host(tmp_path)
    w = GraphWidget(graph, height=600)
    page.goto(serve_dir(tmp_path) + "/index.html")
    page.wait_for_function("window.loaded === true")
    # the host's model keeps its listeners private: collect the widget's custom-message handler
    page.evaluate("""() => { const on = window.model.on; window.custom = [];
        window.model.on = (ev, f) => { if (ev === 'msg:custom') window.custom.push(f); on(ev, f); }; }""")
    page.evaluate("([v, p]) => window.init(v, p)", [values(w), png(w)])
    page.wait_for_selector(".bvg-canvas svg g.node")
    page.click("button[data-action=save-html]")
    msgs = page.evaluate("window.sent.splice(0)")
    assert msgs == [{"type": "save_html"}]
    replies = []
    w.send = replies.append
    w.handle_message(msgs[0])
    with page.expect_download() as dl:
        page.evaluate("(m) => window.custom.forEach((f) => f(m))", replies[0])
    saved = tmp_path / "saved.html"
    dl.value.save_as(saved)
    assert dl.value.suggested_filename == "all-MiniLM-L6-v2.html"
    assert decode(saved)["svgs"][0] == w.svg
    assert page.locator("button[data-action=save-html]").is_enabled()
    assert console_errors == []


def test_the_file_paints_the_graph_in_firefox(minilm, tmp_path):
    """Real Firefox (Debian's firefox-esr; Playwright cannot drive it without its own build): the file from
    file:// in headless Firefox's screenshot mode shows the overview, its boxes in their role colours. The
    screenshot is taken at the load event; the page paints after decoding its data (a promise), so a
    screenshot taken before that is taken again (state, not time: up to 3 fresh runs)."""
    import shutil
    import subprocess

    import numpy as np
    from PIL import Image

    from bertviz_graph.hierarchy.style import role_color

    firefox = shutil.which("firefox-esr") or shutil.which("firefox")
    assert firefox, "firefox-esr is missing: scripts/setup.sh --test installs it"
    _, path = minilm
    want = [role_color(r) for r in ("embeddings", "layer")]  # the overview's Embeddings and BertLayer ×6 boxes
    rgb = [np.array([int(c[i:i + 2], 16) for i in (1, 3, 5)]) for c in want]
    for attempt in range(3):
        shot, profile = tmp_path / f"ff{attempt}.png", tmp_path / f"profile{attempt}"
        profile.mkdir()
        subprocess.run([firefox, "--headless", "--no-remote", "--profile", str(profile), "--screenshot", str(shot),
                        "--window-size=1400,900", path.as_uri()], env={"HOME": str(profile), "PATH": "/usr/bin:/bin"},
                       capture_output=True, timeout=120, check=False)
        px = np.asarray(Image.open(shot).convert("RGB")).astype(int)
        counts = [int((np.abs(px - c).max(axis=2) <= 2).sum()) for c in rgb]
        if min(counts) >= 500:  # each box's fill: thousands of pixels once painted
            break
    assert px.shape[:2] == (900, 1400)
    assert min(counts) >= 500, (want, counts)
    assert len(np.unique(px.reshape(-1, 3), axis=0)) > 50  # a picture, not a blank or an error page
