"""The command line: info, trace, export; every bad input gives a short message and exit status 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bertviz_graph.cli import main


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_info_prints_the_tree(capsys):
    code, out, err = run(capsys, "info", "bert-tiny", "--depth", "4")
    assert code == 0
    assert "BertLayer ×2" in out and "each of the 2" in out
    assert "Embeddings" in out and "4,416,698" in out.replace("\n", "")
    assert "weights shown are random" not in err  # a tree shows no weight value (issue 10)


def test_trace_writes_json_that_info_accepts(capsys, tmp_path):
    out_file = tmp_path / "g.json"
    code, _, err = run(capsys, "trace", "bert-tiny", "-o", str(out_file))
    assert code == 0 and "wrote" in err
    data = json.loads(out_file.read_text())
    assert data["format"] == "bertviz_graph.OpGraph"
    code, out, _ = run(capsys, "info", str(out_file), "--depth", "3")
    assert code == 0 and "BertLayer ×2" in out


def _bad(capsys, *argv: str) -> str:
    code, _, err = run(capsys, *argv)
    assert code == 2, err
    assert "Traceback" not in err and err.startswith("error: ")
    return err


def test_bad_models(capsys, tmp_path):
    assert "no such file" in _bad(capsys, "info", str(tmp_path / "missing"))
    empty = tmp_path / "empty"
    empty.mkdir()
    assert "has no config.json" in _bad(capsys, "info", str(empty))
    assert "did you mean bert-base-uncased" in _bad(capsys, "info", "bert-base-uncasd")
    pickled = tmp_path / "pickled"
    pickled.mkdir()
    (pickled / "config.json").write_text(json.dumps({"model_type": "bert"}))
    (pickled / "pytorch_model.bin").write_bytes(b"\x80\x04not really")
    err = _bad(capsys, "info", str(pickled))
    assert "pickle" in err and "save_pretrained" in err
    weird = tmp_path / "weird"
    weird.mkdir()
    (weird / "config.json").write_text(json.dumps({"model_type": "no-such-architecture"}))
    assert "unsupported config" in _bad(capsys, "info", str(weird))
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text("{not json")
    assert "not valid JSON" in _bad(capsys, "info", str(broken))


def test_corrupt_and_truncated_safetensors(capsys, tmp_path):
    import numpy as np
    from safetensors.numpy import save_file

    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"model_type": "bert", "hidden_size": 32,
                                                    "num_hidden_layers": 1, "num_attention_heads": 2,
                                                    "intermediate_size": 64, "vocab_size": 50}))
    save_file({"embeddings.word_embeddings.weight": np.zeros((50, 32), np.float32)}, folder / "model.safetensors")
    data = (folder / "model.safetensors").read_bytes()
    (folder / "model.safetensors").write_bytes(data[: len(data) - 100])
    err = _bad(capsys, "info", str(folder))
    assert "model.safetensors" in err and "not a valid safetensors file" in err
    (folder / "model.safetensors").write_bytes(b"garbage" * 10)
    assert "not a valid safetensors file" in _bad(capsys, "info", str(folder))


def test_config_without_weights_is_structure_only(capsys, tmp_path):
    folder = tmp_path / "cfg"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"model_type": "bert", "hidden_size": 64,
                                                    "num_hidden_layers": 2, "num_attention_heads": 2,
                                                    "intermediate_size": 128, "vocab_size": 100}))
    code, out, err = run(capsys, "info", str(folder))
    assert code == 0 and "structure only" in err and "BertLayer ×2" in out


def test_trace_output_errors_leave_no_file(capsys, tmp_path):
    assert "does not exist" in _bad(capsys, "trace", "bert-tiny", "-o", str(tmp_path / "nope" / "g.json"))
    assert "end in .json" in _bad(capsys, "trace", "bert-tiny", "-o", str(tmp_path / "g.txt"))
    assert not list(tmp_path.iterdir())


def test_module_both_tracers_reject():
    import torch

    import bertviz_graph as bg
    from bertviz_graph.errors import UserError

    class Broken(torch.nn.Module):
        def forward(self, x):
            raise RuntimeError("this model is broken")

    with pytest.raises(UserError, match="cannot trace Broken") as e:
        bg.trace(Broken(), (torch.ones(1),))
    assert "this model is broken" in str(e.value)
    with pytest.raises(UserError, match="needs example inputs"):
        bg.trace(Broken())
    with pytest.raises(UserError, match="cannot show a int"):
        bg.trace(42)


def test_real_process_exit_status(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "bertviz_graph", "info", "no-such-model"],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: unknown model 'no-such-model'") and "Traceback" not in proc.stderr
    proc = subprocess.run([sys.executable, "-m", "bertviz_graph", "--debug", "info", "no-such-model"],
                          capture_output=True, text=True)
    assert proc.returncode != 0 and "Traceback" in proc.stderr
    assert Path(sys.executable).exists()


def test_serve_on_a_busy_port_is_bad_input(capsys):
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        err = _bad(capsys, "serve", "bert-tiny", "--port", str(port))
    assert f"cannot serve on 127.0.0.1:{port}" in err and "--port" in err
