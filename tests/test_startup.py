"""serve's start-up (app/startup.py, app/early_page.py): the recorded page answered before the app exists,
refused when anything it was drawn from changed; bad input after the port is bound still the CLI's one-line
error."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path

from flask import Flask

from bertviz_graph.app.early_page import load_page, page_key, record_page, without_end_id
from bertviz_graph.app.startup import Gate, listen

INDEX = '<html><link href="/assets/a.css?m=1"><script src="/_dash-component-suites/dash/x.v1.js"></script></html>'


def _server() -> Flask:
    app = Flask("fake")
    app.add_url_rule("/", "index", lambda: INDEX)
    app.add_url_rule("/assets/a.css", "css", lambda: ("body{}", 200, {"Content-Type": "text/css"}))
    app.add_url_rule("/_dash-component-suites/dash/x.v1.js", "js",
                     lambda: ("var x=1;", 200, {"Content-Type": "application/javascript"}))
    return app


def _recorded(tmp_path: Path) -> tuple[Path, str]:
    trace = tmp_path / "0123abcd.json"
    trace.write_text("{}")
    key = page_key({"model_type": "bert"}, "mlm", {"seq_len": 16})
    assert record_page(_server(), tmp_path, key, trace, None)
    return trace, key


def test_recorded_page_is_answered_only_while_everything_matches(tmp_path):
    trace, key = _recorded(tmp_path)
    page = load_page(tmp_path, key)
    assert page is not None and page.index == INDEX
    assert page.body("/assets/a.css?m=1") == (b"body{}", "text/css", "no-cache")  # as the app answered
    assert page.body("/_dash-component-suites/dash/x.v1.js")[0] == b"var x=1;"
    assert page.body("/assets/a.css") is None  # only the exact URLs the page names
    assert not record_page(_server(), tmp_path, key, trace, page)  # the same index: nothing rewritten
    # another model, head or option: another key, nothing recorded under it
    assert page_key({"model_type": "bert"}, "mlm", {"seq_len": 8}) != key
    assert page_key({"model_type": "bert"}, "cls", {"seq_len": 16}) != key
    assert load_page(tmp_path, page_key({"model_type": "roberta"}, "mlm", {"seq_len": 16})) is None
    # a file changed on disk after it was recorded is not served
    blob = next((tmp_path / "serve-pages" / "blobs").iterdir())
    good = blob.read_bytes()
    blob.write_bytes(good.replace(b"1", b"2") if b"1" in good else good + b" ")
    changed = load_page(tmp_path, key)
    assert None in (changed.body("/assets/a.css?m=1"), changed.body("/_dash-component-suites/dash/x.v1.js"))
    blob.write_bytes(good)
    # the trace it was drawn from traced again (new size / time): the page is refused
    trace.write_text('{"again": 1}')
    assert load_page(tmp_path, key) is None


def test_files_no_record_names_are_pruned_once_old(tmp_path):
    """A new Dash or asset version records new files; the old ones (~1.3 MB a version) go once no record names
    them and they are an hour old (a file another start has just written, before its record, stays)."""
    import os
    import time

    trace, key = _recorded(tmp_path)
    blobs = tmp_path / "serve-pages" / "blobs"
    named = {b.name for b in blobs.iterdir()}
    old, fresh = blobs / ("a" * 64), blobs / ("b" * 64)
    old.write_bytes(b"an old version's script")
    fresh.write_bytes(b"another start's script, its record not yet written")
    hours_ago = time.time() - 7200
    for b in [old, *(blobs / n for n in named)]:
        os.utime(b, (hours_ago, hours_ago))
    other = page_key({"model_type": "bert"}, "cls", {"seq_len": 16})
    assert record_page(_server(), tmp_path, other, trace, None)  # a second model's page: prunes
    assert {b.name for b in blobs.iterdir()} == named | {fresh.name}
    assert load_page(tmp_path, key).body("/assets/a.css?m=1") is not None  # the first page still whole


def test_a_record_naming_a_file_outside_the_cache_is_refused(tmp_path):
    trace, key = _recorded(tmp_path)
    rec_file = tmp_path / "serve-pages" / f"{key}.json"
    rec = json.loads(rec_file.read_text())
    outside = tmp_path.parent / "elsewhere.json"
    outside.write_text("{}")
    st = outside.stat()
    rec["trace"] = ["../elsewhere.json", st.st_size, st.st_mtime_ns]
    rec_file.write_text(json.dumps(rec))
    assert load_page(tmp_path, key) is None
    rec["trace"] = json.loads(json.dumps([trace.name, trace.stat().st_size, trace.stat().st_mtime_ns]))
    rec["files"] = {"/etc/passwd": ["0" * 64, "text/plain", "no-cache"], **rec["files"]}
    rec_file.write_text(json.dumps(rec))
    page = load_page(tmp_path, key)
    assert page is not None and "/etc/passwd" not in page.files  # only what the index loads may be answered


def test_gate_answers_the_page_at_once_and_everything_else_once_the_app_is_built(tmp_path):
    _, key = _recorded(tmp_path)
    gate = Gate()
    gate.page = load_page(tmp_path, key)
    server = listen("127.0.0.1", 0, gate)
    base = f"http://127.0.0.1:{server.port}"
    try:
        # no app yet: the index page and the files it names come from the record
        with urllib.request.urlopen(base + "/", timeout=30) as r:
            assert r.read().decode() == INDEX
        with urllib.request.urlopen(base + "/assets/a.css?m=1", timeout=30) as r:
            assert r.read() == b"body{}"
        # anything else waits for the app: the answer can only be the app's, which exists after open()
        got: dict[str, str] = {}

        def ask(path: str) -> None:
            with urllib.request.urlopen(base + path, timeout=60) as r:
                got[path] = r.read().decode()

        waiting = [threading.Thread(target=ask, args=(p,)) for p in ("/_dash-layout", "/?model=bert-tiny")]
        for t in waiting:
            t.start()
        app = Flask("built")
        app.add_url_rule("/_dash-layout", "layout", lambda: "from the app")
        app.add_url_rule("/", "index", lambda: "the app's index")
        gate.open(app)
        for t in waiting:
            t.join(60)
        assert got == {"/_dash-layout": "from the app", "/?model=bert-tiny": "the app's index"}
        with urllib.request.urlopen(base + "/", timeout=30) as r:  # once built, the app answers everything
            assert r.read().decode() == "the app's index"
    finally:
        server.shutdown()
        server.server_close()


def _port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_first_ever_records_its_page_and_the_next_start_answers_it(tmp_path):
    """Bad input after the port is bound (here --seq-len 0): the CLI's one-line error, exit 2. Then bert-tiny
    twice: the first start traces (the trace cache gets the graph) and records the page; the second start
    answers it (the same page, no end_id of another page load)."""
    env = {**os.environ, "BERTVIZ_GRAPH_CACHE": str(tmp_path / "cache")}
    out = subprocess.run([sys.executable, "-m", "bertviz_graph", "serve", "bert-tiny", "--seq-len", "0", "--port",
                          str(_port())], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 2, out.stderr
    assert out.stderr.splitlines() == ["error: --seq-len 0 is below 1", "  fix: use --seq-len 1 or more (default 16)"]

    indexes = []
    for _ in range(2):
        port = _port()
        proc = subprocess.Popen([sys.executable, "-m", "bertviz_graph", "serve", "bert-tiny", "--port", str(port)],
                                env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        try:
            assert "at http://" in proc.stdout.readline()  # printed once the app answers and its page is recorded
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=60) as r:
                indexes.append(r.read().decode())
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_dash-layout", timeout=60) as r:
                assert r.status == 200
        finally:
            proc.terminate()
            proc.wait(30)
    traces = [p for p in (tmp_path / "cache").glob("*.json") if not p.name.startswith("heads-")]
    assert len(traces) == 1  # written at the first start; a cache hit at the second
    (record,) = (tmp_path / "cache" / "serve-pages").glob("*.json")
    recorded = json.loads(record.read_text())["index"]
    assert '"end_id":null' in recorded and "bv-first-picture" in recorded and "bv-first-view" in recorded
    assert [without_end_id(i) for i in indexes] == [recorded, recorded]  # the app's own pages: fresh end_ids
    assert all('"end_id":"' in i for i in indexes)
