"""A cached trace needs neither torch nor transformers: `info` and `export` on it never import them (their
import is seconds of a start-up), and they print the same as the process that traced."""

from __future__ import annotations

import os
import subprocess
import sys

CHECK = """
import sys
from bertviz_graph.cli import main
code = main(sys.argv[1:])
assert code in (0, None), code
bad = [m for m in ("torch", "transformers") if m in sys.modules]
print("IMPORTED:" + ",".join(bad))
"""


PAGE = """
import sys
import bertviz_graph as bg
from bertviz_graph.app import make_app
from bertviz_graph.app.run_panel import RUN, RUN_EXAMPLE
app = make_app(bg.trace("bert-tiny"))
with app.server.test_request_context("/_dash-layout"):
    page = app.layout()
stores = {c.id: c.data for c in page._traverse() if getattr(c, "id", None) in (RUN, RUN_EXAMPLE)}
index = app.server.test_client().get("/").data.decode()  # carries the first picture (app/first_paint.py)
bad = [m for m in ("torch", "transformers") if m in sys.modules]
print("IMPORTED:" + ",".join(bad) + " RUN:" + repr(stores[RUN]) + " EXAMPLE:" + repr(stores[RUN_EXAMPLE]["text"])
      + " PICTURE:" + str(index.count('id="bv-first-picture"')))
"""


def _run(args, cache, check=False):
    env = {**os.environ, "BERTVIZ_GRAPH_CACHE": str(cache)}
    cmd = [sys.executable, "-c", CHECK, *args] if check else [sys.executable, "-m", "bertviz_graph", *args]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, check=True, timeout=600).stdout


def test_info_and_export_on_a_cached_trace_import_neither_torch_nor_transformers(tmp_path):
    cache = tmp_path / "cache"
    first = _run(["info", "bert-tiny"], cache)  # traces (imports torch) and fills the cache
    assert "BertLayer" in first
    again = _run(["info", "bert-tiny"], cache, check=True)
    assert again.splitlines()[-1] == "IMPORTED:" and again.rsplit("\n", 2)[0].strip() == first.strip()
    out = tmp_path / "m.svg"
    shown = _run(["export", "bert-tiny", "-o", str(out)], cache, check=True)
    assert shown.splitlines()[-1] == "IMPORTED:" and out.read_text().startswith("<?xml")
    # `serve` shows the first graph before anything imports torch: the app's page is built from the cached
    # trace alone, its run store starts empty (the example enters it after the first paint, in the browser)
    env = {**os.environ, "BERTVIZ_GRAPH_CACHE": str(cache)}
    page = subprocess.run([sys.executable, "-c", PAGE], env=env, capture_output=True, text=True, check=True,
                          timeout=600).stdout.strip().splitlines()[-1]
    from bertviz_graph.presenters.run_session import EXAMPLE

    assert page == f"IMPORTED: RUN:None EXAMPLE:{EXAMPLE!r} PICTURE:1"
