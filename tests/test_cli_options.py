"""CLI details a new user meets first: info's default depth, --seq-len 0, preset names, the note on random
weights. Runs the real CLI (``main``) on bert-tiny."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bertviz_graph.cli import main
from bertviz_graph.sources.presets import preset_names

README = Path(__file__).resolve().parents[1] / "README.md"


def test_info_default_depth_reaches_the_linears(capsys):
    assert main(["info", "bert-tiny"]) == 0
    out = capsys.readouterr()
    for linear in ("query (Linear 128→128)", "key (Linear", "value (Linear", "dense (Linear 128→512)",
                   "decoder (Linear 128→30522)"):
        assert linear in out.out, linear
    assert "weights shown are random" not in out.err  # a tree shows no weight value


def test_seq_len_zero_is_an_error(capsys):
    assert main(["info", "bert-tiny", "--seq-len", "0"]) == 2
    err = capsys.readouterr().err
    assert "--seq-len 0 is below 1" in err and "Traceback" not in err


def test_seq_len_zero_in_python_is_an_error():
    import bertviz_graph as bg
    from bertviz_graph.errors import UserError

    with pytest.raises(UserError, match="positive number"):
        bg.trace("bert-tiny", seq_len=0)


def test_preset_names_ignore_case(capsys):
    assert main(["info", "BERT-Tiny", "--depth", "1"]) == 0
    assert "bert-tiny" in capsys.readouterr().out


def test_the_error_lists_the_presets_the_readme_names(capsys):
    assert main(["info", "zzzz-no-such-model"]) == 2
    err = capsys.readouterr().err
    listed = re.search(r"presets: (.*)", err).group(1).split(", ")
    text = " ".join(README.read_text().split())
    readme = re.search(r"presets \(([^;)]*)", text).group(1).split(", ")
    assert listed == preset_names() and sorted(listed) == sorted(readme)


def test_random_note_only_where_weights_are_shown(capsys, tmp_path):
    import argparse

    from bertviz_graph.cli import _trace, build_parser

    assert main(["export", "bert-tiny", "-o", str(tmp_path / "m.svg")]) == 0
    assert "weights shown are random" not in capsys.readouterr().err  # a diagram shows no weight value
    args: argparse.Namespace = build_parser().parse_args(["serve", "bert-tiny"])
    _trace(args, shows_weights=True)  # what `serve` calls before starting the app
    assert "weights shown are random" in capsys.readouterr().err
