"""Hostile payloads at the app's endpoints (issue 19, item 6), driven by Hypothesis with bounded examples.

``/_dash-update-component`` gets every registered callback with inputs and states of the wrong type, huge
strings, unknown ids, paths and ``job:`` specs aimed outside; the download routes get the same names. The
app runs as on a shared host (allow-list). Never a traceback or Python internals in an answer, never a 5xx
other than the framework's bare "Internal Server Error" page, and an audit hook (every open() of the
process) proves no file outside the allowed folders was opened.
"""

from __future__ import annotations

import json
import os
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import bertviz_graph as bg
from bertviz_graph.app import make_app
from bertviz_graph.app.registry import Policy
from tests.tiny_models import tiny_model

_OPENED: list[str] = []
_WATCH: list[str] = []


def _hook(event: str, args: tuple) -> None:
    if event == "open" and _WATCH and args and isinstance(args[0], (str, bytes, os.PathLike)):
        p = os.fsdecode(args[0])
        if any(p.startswith(w) for w in _WATCH):
            _OPENED.append(p)


sys.addaudithook(_hook)

INTERNALS = ("Traceback", 'File "', "site-packages", "bertviz_graph/", "Error(")
PATHS = ["/etc/passwd", "../../../../etc/passwd", "job:../../etc", "job:AAAAAAAAAAAA", "~/.ssh/id_rsa",
         "/proc/self/environ", "..", "", "bert-tiny", "x" * 5000, "\x00", "%2e%2e%2f"]
LEAF = st.one_of(st.none(), st.booleans(), st.integers(-10**12, 10**12), st.floats(allow_nan=True),
                 st.text(max_size=30), st.sampled_from(PATHS), st.just("y" * 200_000))
VALUE = st.recursive(LEAF, lambda kids: st.one_of(st.lists(kids, max_size=4),
                                                   st.dictionaries(st.sampled_from(
                                                       ["id", "name", "rows", "cols", "text", "points", "action",
                                                        "opened", "instance", "spec", "nonce", "type"]), kids,
                                                       max_size=4)), max_leaves=8)


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    root = tmp_path_factory.mktemp("fuzz")
    models = root / "models"
    models.mkdir()
    app = make_app(bg.trace(str(tiny_model(models / "m"))), policy=Policy(any_path=False, models_dir=models))
    secret = root / "outside"
    secret.mkdir()
    _WATCH[:] = [str(secret), "/etc/", "/proc/self/environ", os.path.expanduser("~/.ssh")]
    return app, list(app.callback_map.items())


def _ok(r) -> None:
    body = r.get_data(as_text=True)
    assert not any(t in body for t in INTERNALS), body[:300]
    assert r.status_code < 500 or "Internal Server Error" in body, (r.status_code, body[:300])


@settings(max_examples=80, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large])
@given(data=st.data())
def test_callback_endpoint(shared, data):
    app, callbacks = shared
    key, cb = data.draw(st.sampled_from(callbacks))
    deps = [*cb["inputs"], *cb["state"]]
    values = {f"{d['id']}.{d['property']}": data.draw(VALUE) for d in deps}
    body = {"output": key, "outputs": {"id": "bv-x", "property": "children"},
            "inputs": [{**d, "value": values[f"{d['id']}.{d['property']}"]} for d in cb["inputs"]],
            "state": [{**d, "value": values[f"{d['id']}.{d['property']}"]} for d in cb["state"]],
            "changedPropIds": [data.draw(st.sampled_from([f"{d['id']}.{d['property']}" for d in cb["inputs"]]
                                                         or ["bv-unknown.data"]))]}
    mangle = data.draw(st.sampled_from(["none", "drop", "type", "unknown"]))
    if mangle == "drop":
        body.pop(data.draw(st.sampled_from(sorted(body))))
    elif mangle == "type":
        body[data.draw(st.sampled_from(sorted(body)))] = data.draw(VALUE)
    elif mangle == "unknown":
        body["output"] = "bv-no-such-component.children"
    r = app.server.test_client().post("/_dash-update-component", data=json.dumps(body, default=str),
                                      content_type="application/json")
    _ok(r)
    assert not _OPENED, _OPENED


@settings(max_examples=40, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(name=st.one_of(st.sampled_from(PATHS), st.text(max_size=40)),
       model=st.one_of(st.sampled_from(PATHS), st.text(max_size=40)))
def test_download_routes(shared, name, model):
    app, _ = shared
    c = app.server.test_client()
    for url, q in (("/_bertviz/weights.npy", {"name": name, "model": model}), ("/_bertviz/export.zip", {"job": name})):
        r = c.get(url, query_string=q)
        _ok(r)
        assert r.status_code in (200, 400, 404, 422), r.status_code
    assert not _OPENED, _OPENED
