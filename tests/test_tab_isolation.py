"""Many users on one server: each tab's model is the tab's (issue 19).

Two tabs drive the app through its real HTTP callback endpoint (Flask test client, as the browser posts):
tab 1 on the server's model A, tab 2 on model B (another size). Every answer is checked against the
model's own safetensors (numpy), so an answer computed on the other tab's model fails. Tab 2 switches and
prunes; tab 1's answers stay A's. Jobs: unguessable ids, owner-only polling, a zip download.
"""

from __future__ import annotations

import base64
import io
import json
import time
import zipfile
from urllib.parse import quote

import numpy as np
import pytest
from safetensors.numpy import load_file

import bertviz_graph as bg
from bertviz_graph.app import ids, make_app
from tests.tiny_models import tiny_model

W = "bert.encoder.layer.0.attention.self.query.weight"


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("tabs")
    a = tiny_model(root / "model-a")
    b = tiny_model(root / "model-b", hidden_size=48, num_hidden_layers=3, intermediate_size=96)
    return a, b


@pytest.fixture(scope="module")
def app(models):
    return make_app(bg.trace(str(models[0])))


def call(app, client, output_has: str, values: dict, changed: list[str]):
    """Post one server callback (found by an output it writes) as dash-renderer does; the parsed answer."""
    key = next(k for k in app.callback_map if output_has in k)
    cb = app.callback_map[key]
    outs = [o.rsplit(".", 1) for o in (key[2:-2].split("...") if key.startswith("..") else [key])]
    body = {"output": key,
            "outputs": [{"id": i, "property": p} for i, p in outs] if key.startswith("..")
            else {"id": outs[0][0], "property": outs[0][1]},
            "inputs": [{**d, "value": values.get(f"{d['id']}.{d['property']}")} for d in cb["inputs"]],
            "state": [{**d, "value": values.get(f"{d['id']}.{d['property']}")} for d in cb["state"]],
            "changedPropIds": changed}
    r = client.post("/_dash-update-component", data=json.dumps(body), content_type="application/json")
    assert r.status_code in (200, 204), r.data[:300]
    return r.get_json() if r.status_code == 200 else {}


def heatmap(app, client, spec: str) -> np.ndarray:
    res = call(app, client, "bv-heatmap.figure", {"bv-weight-name.data": W, ids.MODEL + ".data": spec},
               ["bv-weight-name.data"])
    z = res["response"][ids.HEATMAP]["figure"]["data"][0]["z"]
    if isinstance(z, dict):  # plotly's typed array: base64 of the values, with dtype and shape
        a = np.frombuffer(base64.b64decode(z["bdata"]), dtype=z["dtype"])
        return a.reshape([int(x) for x in str(z.get("shape", len(a))).split(",")]).astype(float)
    return np.asarray(z, dtype=float)


def test_two_tabs_each_see_their_own_model(app, models):
    a, b = models
    wa, wb = load_file(a / "model.safetensors")[W], load_file(b / "model.safetensors")[W]
    c1, c2 = app.server.test_client(), app.server.test_client()
    # tab 2 opens B by its URL: dash-renderer fetches the page's layout from the page (Referer = its URL)
    url = f"http://127.0.0.1/?model={quote(str(b), safe='')}"
    page = c2.get("/_dash-layout", headers={"Referer": url}).get_data(as_text=True)
    assert '"id":"bv-model-name","data":"model-b"' in page.replace(" ", "") and "model-a" not in page
    assert "1,558,170 parameters" in page  # B's header (the count transformers' B has, checked below)
    assert "model-b" not in c1.get("/_dash-layout", headers={"Referer": "http://127.0.0.1/"}).get_data(as_text=True)
    from transformers import BertForMaskedLM

    assert BertForMaskedLM.from_pretrained(b).num_parameters() == 1_558_170
    for _ in range(2):  # interleaved: every answer is computed on the asking tab's model
        assert np.allclose(heatmap(app, c1, ""), wa, atol=1e-6)
        assert np.allclose(heatmap(app, c2, str(b)), wb, atol=1e-6)
    # the npy download names its model too
    r = c2.get(f"/_bertviz/weights.npy?name={W}&model={quote(str(b))}")
    assert r.status_code == 200 and np.array_equal(np.load(io.BytesIO(r.data)), wb)
    # tab 2 opens another model through the Model box: the server's model (tab 1) is untouched
    res = call(app, c2, "bv-model-location.href", {"bv-model-input.value": "bert-tiny", ids.MODEL + ".data": str(b),
                                                   "bv-model-location.href": "http://x/?model=b"},
               ["bv-model-go.n_clicks"])
    assert res["response"]["bv-model-location"]["href"] == "/?model=bert-tiny"
    assert app.bv_context.graph.name == "model-a" and np.allclose(heatmap(app, c1, ""), wa, atol=1e-6)


def test_prune_in_one_tab_never_reaches_the_other(app, models):
    from bertviz_graph.pruning import job as J

    a, _b = models
    wa = load_file(a / "model.safetensors")[W]
    c1, c2 = app.server.test_client(), app.server.test_client()
    res = call(app, c2, "bv-prune-job.data", {"bv-prune-go.n_clicks": 1, "bv-prune-method.value": "magnitude",
                                              "bv-prune-amount.value": 0.5, ids.MODEL + ".data": "",
                                              ids.TAB_SECRET + ".data": "secret-of-tab-2"}, ["bv-prune-go.n_clicks"])
    jid = res["response"]["bv-prune-job"]["data"]
    assert len(jid) >= 16 and jid.replace("-", "").replace("_", "").isalnum()  # token_urlsafe, not j1, j2 ...
    # a second job of the same tab is refused while the first runs (one per tab)
    again = call(app, c2, "bv-prune-job.data", {"bv-prune-go.n_clicks": 2, "bv-prune-method.value": "random",
                                                "bv-prune-amount.value": 0.5, ids.MODEL + ".data": "",
                                                ids.TAB_SECRET + ".data": "secret-of-tab-2"}, ["bv-prune-go.n_clicks"])
    if J.status(jid)["state"] in ("queued", "running"):
        assert "already pruning" in json.dumps(again)

    def poll(client, secret):
        return call(app, client, "bv-prune-location.href", {"bv-prune-poll.n_intervals": 1, "bv-prune-job.data": jid,
                                                            "bv-prune-location.href": "http://x/",
                                                            ids.TAB_SECRET + ".data": secret},
                    ["bv-prune-poll.n_intervals"])

    assert "gone" in json.dumps(poll(c1, "secret-of-tab-1"))  # tab 1 cannot poll tab 2's job
    deadline = time.monotonic() + 120
    while True:  # wait for the job's state (read from its status.json), not for a time
        res = poll(c2, "secret-of-tab-2")
        href = res["response"].get("bv-prune-location", {}).get("href")
        if href or J.status(jid)["state"] == "error" or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert href == f"/?model={quote('job:' + jid, safe='')}#pruning", J.status(jid)
    pruned = heatmap(app, c2, f"job:{jid}")
    assert abs((pruned == 0).mean() - 0.5) < 0.2 and not np.allclose(pruned, wa)
    assert np.allclose(heatmap(app, c1, ""), wa, atol=1e-6)  # tab 1 still computes on A
    # the copy: a zip download by job id, equal to the folder in the jobs folder
    folder = J.result_folder(jid)
    assert folder is not None and folder.is_relative_to(J.temp_root())
    r = c2.get(f"/_bertviz/export.zip?job={jid}")
    zf = zipfile.ZipFile(io.BytesIO(r.data))
    st = next(n for n in zf.namelist() if n.endswith("model.safetensors"))
    assert zf.read(st) == (folder / "model.safetensors").read_bytes()
    assert c2.get("/_bertviz/export.zip?job=../../etc").status_code == 404
    assert J.result_folder("../" + jid) is None and J.status(jid + "x") is None
