"""The model registry's byte budget follows what each model holds as it grows (issue 19, item 5).

A model's size is re-read at every lookup (``AppContext.nbytes``): its caches, its runs and its loaded model
count, not only the graph it held when it was added. Checked against sizes computed independently (numpy's
and torch's own byte counts of the arrays, tensors and parameters involved).
"""

from __future__ import annotations

import numpy as np
import pytest

import bertviz_graph as bg
from bertviz_graph.app.context import AppContext
from bertviz_graph.app.registry import Registry
from tests.tiny_models import tiny_model

MB = 1024**2


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("budget")
    return [tiny_model(root / f"m{i}", hidden_size=32 + 16 * i) for i in range(2)]


def test_a_run_counts_its_outputs_and_the_loaded_model(folders):
    C = AppContext(bg.trace(str(folders[0])))
    before = C.nbytes
    acts = C.run_session.run("The cat sat on the mat.")
    model = C.run_session.runnable.model
    # independent: torch's own byte counts of the parameters and buffers, and of every distinct storage kept
    params = sum(t.numel() * t.element_size() for t in [*model.parameters(), *model.buffers()])
    storages = {v.untyped_storage().data_ptr(): v.untyped_storage().nbytes()
                for v in acts.values.values() if hasattr(v, "untyped_storage")}
    outs = acts.outputs if isinstance(acts.outputs, (tuple, list)) else tuple(acts.outputs.values())
    logits = sum(o.numel() * o.element_size() for o in outs if hasattr(o, "numel"))
    grown = C.nbytes - before
    expected = params + sum(storages.values()) + logits
    assert logits > 0 and sum(storages.values()) > 0
    assert expected <= grown <= expected * 1.05 + 64 * 1024, (grown, expected)


def test_the_registry_drops_the_least_recently_used_model_when_caches_grow(folders):
    default = AppContext(bg.trace("bert-tiny"))
    folders = ["", *map(str, folders)]  # the default, then two folders
    reg = Registry(default, size=6, max_bytes=10**12)
    b, c = reg.model_for(str(folders[1])), reg.model_for(str(folders[2]))
    base = reg.trim()
    reg.max_bytes = base + 30 * MB  # room for 30 MB more than the three graphs
    arrays = [np.ones((5 * MB,), np.float32) for _ in range(2)]  # 20 MB each (numpy's own nbytes)
    b.matrix_cache.put("w", arrays[0])
    assert reg.model_for(folders[0]) is default
    assert str(folders[1]) in reg and str(folders[2]) in reg  # 20 MB more: within the budget
    assert reg.held - base == pytest.approx(arrays[0].nbytes, rel=0.01)
    c.matrix_cache.put("w", arrays[1])  # both grew after they were added: 40 MB more, over the budget
    assert reg.model_for(str(folders[2])) is c  # c is in use now: b, the least recently used, goes
    assert str(folders[1]) not in reg and str(folders[2]) in reg
    assert reg.evicted == 1 and reg.held <= reg.max_bytes
    assert reg.held - (base - b.nbytes + arrays[0].nbytes) == pytest.approx(arrays[1].nbytes, rel=0.01)
    again = reg.model_for(str(folders[1]))  # a fresh entry, built again from the trace cache
    assert again is not b and again.nbytes < b.nbytes - arrays[0].nbytes // 2


def test_the_default_model_empties_its_caches_when_it_alone_is_over(folders):
    default = AppContext(bg.trace(str(folders[0])))
    reg = Registry(default, max_bytes=10**12)
    other = reg.model_for(str(folders[1]))
    reg.max_bytes = reg.trim() + 10 * MB
    default.figures.put("big", np.ones((4 * MB,), np.float32))  # 16 MB in the default's own cache
    assert reg.model_for(str(folders[1])) is other  # the default cannot be dropped: its caches are emptied
    assert len(default.figures) == 0 and reg.held <= reg.max_bytes
    default.figures.put("big", np.ones((4 * MB,), np.float32))
    assert reg.model_for("") is default and len(default.figures) == 1  # never while it is the one in use
