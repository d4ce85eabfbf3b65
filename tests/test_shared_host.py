"""A server others can reach (issue 19, items 2-3): token, path allow-list, bounded bodies, the jobs folder."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time

import pytest

import bertviz_graph as bg
from bertviz_graph.app import ids, make_app
from bertviz_graph.app.serve_options import secure, serve_options
from bertviz_graph.errors import UserError
from tests.test_tab_isolation import call
from tests.tiny_models import tiny_model


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    """An app as `serve --host 0.0.0.0 --models DIR` builds it: allow-list and a token."""
    root = tmp_path_factory.mktemp("shared")
    models = root / "models"
    models.mkdir()
    a = tiny_model(models / "a")
    shutil.copytree(a, models / "b")
    outside = tiny_model(root / "private")
    (models / "link").symlink_to(outside)  # inside by name, outside after the link
    opts = serve_options("0.0.0.0", "t0ken-for-tests", str(models), False, loopback=False)
    app = make_app(bg.trace(str(a)), policy=opts["policy"])
    secure(app.server, opts["token"])
    return app, models, outside, opts


def test_options_per_host(tmp_path, capsys):
    local = serve_options("127.0.0.1", None, None, False, loopback=True)
    assert local["token"] is None and local["policy"].any_path
    shared = serve_options("0.0.0.0", None, None, False, loopback=False)
    assert len(shared["token"]) >= 24 and not shared["policy"].any_path and shared["policy"].models_dir is None
    assert serve_options("0.0.0.0", None, None, True, loopback=False)["policy"].any_path
    assert "--allow-any-path" in capsys.readouterr().err
    with pytest.raises(UserError, match="not a folder"):
        serve_options("0.0.0.0", None, str(tmp_path / "none"), False, loopback=False)
    with pytest.raises(UserError, match="shorter"):
        serve_options("0.0.0.0", "abc", None, False, loopback=False)


def test_token_is_required(shared):
    app, *_ = shared
    c = app.server.test_client()
    r = c.get("/")
    assert r.status_code == 403 and r.text.startswith("error: ") and "\nfix: " in r.text
    assert c.get("/?token=wrong").status_code == 403
    assert c.post("/_dash-update-component", json={}).status_code == 403
    r = c.get("/?token=t0ken-for-tests&model=bert-tiny")
    assert r.status_code == 302 and r.headers["Location"] == "/?model=bert-tiny"  # token out of the address bar
    assert "HttpOnly" in r.headers["Set-Cookie"] and "SameSite=Strict" in r.headers["Set-Cookie"]
    assert c.get("/").status_code == 200  # the cookie from now on
    c2 = app.server.test_client()
    assert c2.get("/_dash-layout", headers={"Authorization": "token t0ken-for-tests"}).status_code == 200
    big = c.post("/_dash-update-component", data=b"x" * (5 * 1024**2), content_type="application/json")
    assert big.status_code == 413


def test_tabs_open_only_allowed_models(shared):
    app, models, outside, _ = shared
    c = app.server.test_client()
    c.get("/?token=t0ken-for-tests")

    def open_model(spec):
        res = call(app, c, "bv-model-location.href", {"bv-model-input.value": spec, ids.MODEL + ".data": "",
                                                      "bv-model-location.href": "http://h/"},
                   ["bv-model-go.n_clicks"])["response"]
        return res.get("bv-model-location", {}).get("href"), res.get("bv-model-status", {}).get("children", "")

    for bad in ("/etc", str(outside), "../private", str(models / "link"), "x" * 5000):
        href, msg = open_model(bad)
        assert href is None and msg and ("opens presets" in msg or "characters" in msg), (bad, msg)
    assert open_model("bert-tiny")[0] == "/?model=bert-tiny"
    assert open_model("b")[0] == "/?model=b"  # a folder under --models, by its name
    # the Compare box obeys the same list; the download route too
    res = call(app, c, "bv-diff-state.data", {"bv-diff-input.value": str(outside), ids.MODEL + ".data": ""},
               ["bv-diff-go.n_clicks"])
    assert "opens presets" in json.dumps(res)
    r = c.get(f"/_bertviz/weights.npy?name=x&model={outside}")
    assert r.status_code == 400 and "opens presets" in r.text and "Traceback" not in r.text


def test_jobs_folder_limits(tmp_path, monkeypatch):
    from bertviz_graph.pruning import job as J

    root = tmp_path / "bvg-jobs-test"
    root.mkdir()
    monkeypatch.setenv(J.ENV_ROOT, str(root))
    monkeypatch.setenv("BERTVIZ_GRAPH_MAX_JOBS", "2")
    monkeypatch.setenv("BERTVIZ_GRAPH_MAX_QUEUE", "2")
    for name, state in (("aaaaaaaaaaaa", "running"), ("bbbbbbbbbbbb", "running")):
        (root / name).mkdir()
        (root / name / "status.json").write_text(json.dumps({"state": state, "pid": os.getpid(), "owner": "x"}))
    # over the limit a job is queued, its place shown to its tab; a full queue refuses with a sentence
    first = J.start("no-such-model", "magnitude", 0.3, "no-such-model", owner="someone")
    second = J.start("no-such-model", "magnitude", 0.3, "no-such-model", owner="another")
    from bertviz_graph.app.pruning_panel import status_text

    assert [J.status(j, owner=o)["position"] for j, o in ((first, "someone"), (second, "another"))] == [1, 2]
    assert status_text(J.status(second, owner="another")).startswith("queued (2nd)")
    with pytest.raises(UserError, match=r"2 wait \(at most 2\)"):
        J.start("bert-tiny", "magnitude", 0.3, "bert-tiny", owner="a third")
    with pytest.raises(UserError, match="already pruning"):
        J.start("bert-tiny", "magnitude", 0.3, "bert-tiny", owner="someone")
    # a slot frees: the first in line runs (here it fails at once: no such model), then the second
    (root / "aaaaaaaaaaaa" / "status.json").write_text(json.dumps({"state": "done", "pid": os.getpid()}))
    deadline = time.time() + 60
    while J.status(first, owner="someone")["state"] in ("queued", "running") and time.time() < deadline:
        time.sleep(0.05)  # waits for the job's state, bounded
    assert J.status(first, owner="someone")["state"] == "error"
    (root / "bbbbbbbbbbbb" / "status.json").write_text(json.dumps({"state": "done", "pid": os.getpid()}))
    while J.status(second, owner="another")["state"] in ("queued", "running") and time.time() < deadline:
        time.sleep(0.05)
    assert J.status(second, owner="another")["state"] == "error"
    for name in (first, second, "aaaaaaaaaaaa", "bbbbbbbbbbbb"):
        shutil.rmtree(root / name)
    # finished copies beyond the size cap go, oldest first
    for i, name in enumerate(("old000000000", "new000000000")):
        (root / name).mkdir()
        (root / name / "blob").write_bytes(b"0" * 1000)
        (root / name / "status.json").write_text(json.dumps({"state": "done", "pid": 1, "time": i}))
    J._trim(root, cap=1500)
    assert not (root / "old000000000").exists() and (root / "new000000000").exists()
    # stale folders of dead servers go at start-up, live ones stay
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale, live = tmp_path / "bvg-jobs-stale", tmp_path / "bvg-jobs-live"
    for d, pid in ((stale, dead.pid), (live, os.getpid())):
        d.mkdir()
        (d / "pid").write_text(str(pid))
    assert J.clean_stale(tmp_path) == [stale] and live.exists()
    # a job whose process is gone reads as an error, not as running for ever
    (root / "cccccccccccc").mkdir()
    (root / "cccccccccccc" / "status.json").write_text(json.dumps({"state": "running", "pid": dead.pid,
                                                                    "owner": J._owner_hash("me"), "time": time.time()}))
    st = J.status("cccccccccccc", owner="me")
    assert st["state"] == "error" and "stopped" in st["error"]
    assert J.status("cccccccccccc", owner="not me") is None
