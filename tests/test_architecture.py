"""ARCHITECTURE.md stays true: every package folder is named in it (a new folder needs its paragraph)."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def package_folders(root: Path = ROOT) -> list[str]:
    return sorted(p.parent.relative_to(root).as_posix() for p in (root / "bertviz_graph").glob("*/__init__.py"))


def unnamed(root: Path = ROOT) -> list[str]:
    text = (root / "ARCHITECTURE.md").read_text(encoding="utf-8")
    return [f for f in package_folders(root) if f"`{f}/`" not in text]


def test_every_package_folder_is_named_in_architecture_md():
    assert len(package_folders()) >= 10  # the walk sees the package (app, hierarchy, layout, ...)
    assert unnamed() == [], "name these folders in ARCHITECTURE.md"


def test_the_check_can_fail(tmp_path):
    """A planted folder the map does not name is reported (so a green run means something)."""
    (tmp_path / "bertviz_graph" / "not_a_stage").mkdir(parents=True)
    (tmp_path / "bertviz_graph" / "not_a_stage" / "__init__.py").write_text("")
    (tmp_path / "bertviz_graph" / "hierarchy").mkdir()
    (tmp_path / "bertviz_graph" / "hierarchy" / "__init__.py").write_text("")
    (tmp_path / "ARCHITECTURE.md").write_text((ROOT / "ARCHITECTURE.md").read_text(encoding="utf-8"))
    assert unnamed(tmp_path) == ["bertviz_graph/not_a_stage"]
