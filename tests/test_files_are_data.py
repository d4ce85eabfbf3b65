"""Files are data (issue 19, item 4): crafted model files never make the app read a file outside the model.

Each crafted file is refused with one UserError, and an audit hook (sys.addaudithook: every open() and
mmap of the process) proves the outside file was never opened.
"""

from __future__ import annotations

import json
import os
import sys

import numpy as np
import onnx
import pytest

import bertviz_graph as bg
from bertviz_graph.errors import UserError
from tests.onnx_models import bert_like
from tests.tiny_models import tiny_model

_OPENED: list[str] = []
_WATCH: set[str] = set()


def _hook(event: str, args: tuple) -> None:
    if event == "open" and args and isinstance(args[0], (str, bytes, os.PathLike)):
        p = os.fsdecode(args[0])
        if p in _WATCH:
            _OPENED.append(p)


sys.addaudithook(_hook)  # cannot be removed: it only compares paths with the (small) watched set


@pytest.fixture()
def secret(tmp_path):
    """A file outside every model folder, which no crafted file may get read."""
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    s = outside / "secret.bin"
    s.write_bytes(np.arange(4096, dtype=np.float32).tobytes())
    _WATCH.clear()
    _WATCH.update({str(s), str(s.resolve())})
    _OPENED.clear()
    yield s
    assert not _OPENED, f"read {_OPENED}"


@pytest.fixture(scope="module")
def ext_onnx(tmp_path_factory):
    d = tmp_path_factory.mktemp("onnx")
    onnx.save(bert_like("tf", layers=1).model, str(d / "m.onnx"), save_as_external_data=True,
              all_tensors_to_one_file=True, location="m.onnx.data", size_threshold=0)
    return d / "m.onnx"


def _copy_onnx(src, dst_dir, location=None):
    dst_dir.mkdir(exist_ok=True)
    m = onnx.load(str(src), load_external_data=False)
    if location is not None:
        for t in m.graph.initializer:
            for e in t.external_data:
                if e.key == "location":
                    e.value = location
    onnx.save(m, str(dst_dir / "m.onnx"))
    return dst_dir / "m.onnx"


def test_onnx_external_data_symlinked_out_of_the_folder(ext_onnx, secret, tmp_path):
    from bertviz_graph.onnx import import_onnx

    bad = _copy_onnx(ext_onnx, tmp_path / "linked")
    (tmp_path / "linked" / "m.onnx.data").symlink_to(secret)
    with pytest.raises(UserError, match="outside") as e:
        import_onnx(bad)
    assert "\n" not in e.value.problem


@pytest.mark.parametrize("where", ["../elsewhere/secret.bin", "ABS"])
def test_onnx_external_data_dotdot_and_absolute(ext_onnx, secret, tmp_path, where):
    from bertviz_graph.onnx import import_onnx

    loc = str(secret) if where == "ABS" else where
    bad = _copy_onnx(ext_onnx, tmp_path / "m", location=loc)
    with pytest.raises(UserError, match="not a file name inside"):
        import_onnx(bad)


def test_saved_graph_pointing_at_a_system_file(ext_onnx, secret, tmp_path):
    """graph.json of an ONNX import, edited: onnx_file and a node's offset aimed at another file."""
    graph = bg.trace(ext_onnx)
    saved = tmp_path / "g.json"
    graph.save(saved)
    d = json.loads(saved.read_text())
    link = tmp_path / "evil.onnx"
    link.symlink_to(secret)
    for crafted in ({"onnx_file": str(secret)}, {"onnx_file": str(link), "weight_files": [str(link)]}):
        bad = dict(d, meta={**d["meta"], **crafted})
        (tmp_path / "bad.json").write_text(json.dumps(bad))
        with pytest.raises(UserError) as e:
            bg.trace(tmp_path / "bad.json")
        assert "\n" not in e.value.problem and ("weight files" in e.value.problem or "refused" in e.value.problem)
    # a saved graph names no byte positions (the .onnx file itself locates its tensors): the same matrix
    from bertviz_graph.details import weights_for

    assert not any("file_offset" in n or "external" in n for n in d["nodes"])
    name = next(n["name"] for n in d["nodes"] if n["kind"] == "param" and len(n.get("shape") or []) == 2)
    assert np.array_equal(weights_for(bg.trace(saved)).get(name), weights_for(graph).get(name))
    # offsets or external-data entries written into it are refused (closed schema), nothing read
    for key, value in (("file_offset", [0, 64]), ("external", {"location": "../elsewhere/secret.bin"})):
        crafted = dict(d, nodes=[dict(n, **{key: value}) if n["kind"] == "param" else n for n in d["nodes"]])
        (tmp_path / "offsets.json").write_text(json.dumps(crafted))
        with pytest.raises(UserError, match=f"'{key}' was unexpected") as e:
            bg.trace(tmp_path / "offsets.json")
        assert "\n" not in e.value.problem


CRAFTED = [("meta", {"data_file": "/etc/passwd"}), ("meta", {"tokenizer_path": "../x"}), ("meta", {"mmap_offset": 0}),
           ("node", {"path": "/etc/passwd"}), ("edge", {"location": "/etc/passwd"}),
           ("module", {"file": "/etc/passwd"}), ("module.attrs", {"weights": {"location": "/etc/passwd"}})]


def test_graph_file_schema_is_closed(tmp_path):
    """Crafted graph files with a key that could name a file or bytes: one-line error (exit 2 in the CLI)."""
    import subprocess

    g = bg.trace("bert-tiny")
    g.save(tmp_path / "ok.json")
    bg.trace(tmp_path / "ok.json")  # the file as written loads
    for where, crafted in CRAFTED:
        d = json.loads((tmp_path / "ok.json").read_text())
        if where == "meta":
            d["meta"].update(crafted)
        elif where in ("node", "edge", "module"):
            d[where + "s"][0].update(crafted)
        else:
            d["modules"][0]["attrs"] = {**(d["modules"][0].get("attrs") or {}), **crafted}
        bad = tmp_path / f"bad-{where}.json"
        bad.write_text(json.dumps(d))
        with pytest.raises(UserError) as e:
            bg.trace(bad)
        assert "\n" not in e.value.problem and e.value.fix, (where, crafted)
        assert next(iter(crafted)) in e.value.problem or "is not valid" in e.value.problem, e.value.problem
    r = subprocess.run([sys.executable, "-m", "bertviz_graph", "info", str(tmp_path / "bad-meta.json")],
                       capture_output=True, text=True)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert [ln.split(":")[0].strip() for ln in r.stderr.strip().splitlines()] == ["error", "fix"]


def test_weight_files_elsewhere_are_refused(secret, tmp_path):
    folder = tiny_model(tmp_path / "m")
    saved = tmp_path / "g.json"
    bg.trace(str(folder)).save(saved)
    d = json.loads(saved.read_text())
    other = tmp_path / "elsewhere" / "model.safetensors"
    other.write_bytes(b"")
    cases = [[str(folder / "model.safetensors"), str(other)],          # two folders
             [str(folder / "../elsewhere/model.safetensors")]]          # '..'
    link = folder / "stolen.safetensors"
    link.symlink_to(secret)
    cases.append([str(link)])                                          # a link to a non-weight file
    for files in cases:
        (tmp_path / "bad.json").write_text(json.dumps(dict(d, meta={**d["meta"], "weight_files": files})))
        with pytest.raises(UserError):
            bg.trace(tmp_path / "bad.json")
    # a model folder whose weight file is a link out of it
    link.unlink()
    (folder / "model.safetensors").rename(tmp_path / "elsewhere" / "real.safetensors")
    (folder / "model.safetensors").symlink_to(tmp_path / "elsewhere" / "real.safetensors")
    from bertviz_graph.sources.resolve import resolve

    with pytest.raises(UserError, match="outside"):
        resolve(str(folder))


def test_shard_index_linking_out_is_refused(secret, tmp_path):
    from bertviz_graph.sources.weights import WeightStore

    folder = tmp_path / "sharded"
    folder.mkdir()
    (folder / "model-00001.safetensors").symlink_to(secret)
    (folder / "model.safetensors.index.json").write_text(json.dumps({"weight_map": {"w": "model-00001.safetensors"}}))
    with pytest.raises(UserError, match="outside"):
        WeightStore.open([folder / "model.safetensors.index.json"])
