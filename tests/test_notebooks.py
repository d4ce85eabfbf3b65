"""The notebooks in notebooks/ run headless from top to bottom (nbclient), and are stored without outputs.

Cells tagged ``skip-in-tests`` are dropped (the tour's inline Dash app would start a server); cells tagged
``raises-exception`` must fail, with the short message ``show()`` gives for bad input instead of a traceback.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def test_both_notebooks_exist():
    assert {p.name for p in NOTEBOOKS} >= {"tour.ipynb", "your_own_model.ipynb"}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_stored_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, f"{path.name} cell {i} has outputs"
    assert "widgets" not in nb.metadata, f"{path.name} stores widget state"


SLOW = {"pruning_what_if": 900,  # runs a real sweep on the trained MiniLM (seconds on a quiet machine)
        "is_all_of_bert_needed": 900}  # heads, ablations and spectra of the trained MiniLM


@pytest.mark.parametrize("path", [pytest.param(p, marks=pytest.mark.timeout(SLOW[p.stem])) if p.stem in SLOW
                                  else p for p in NOTEBOOKS], ids=lambda p: p.stem)
def test_notebook_runs(path, tmp_path):
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    nb.cells = [c for c in nb.cells if "skip-in-tests" not in c.metadata.get("tags", [])]
    client = NotebookClient(nb, timeout=SLOW.get(path.stem, 300), kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}})
    client.execute()  # raises CellExecutionError on any error outside a "raises-exception" cell
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        errors = [o for o in cell.outputs if o.output_type == "error"]
        if "raises-exception" in cell.metadata.get("tags", []):
            assert len(errors) == 1, f"cell {i} should fail on purpose"
            lines = [ANSI.sub("", s) for s in errors[0].traceback]
            assert 1 <= len(lines) <= 3, f"a wall of traceback instead of a message: {lines}"
            assert lines[0].startswith("bertviz_graph: ") and "fix:" in "\n".join(lines)
        else:
            assert not errors, f"cell {i}: {errors}"
