"""One process-wide lock for work that runs a model through PyTorch: torch.export, the dispatch tracer
and forward passes started from app or widget threads.

Why: torch.export keeps its state in module globals (``torch.compiler._is_exporting_flag`` and
friends), and transformers reads them (``is_torchdynamo_compiling``) to choose code paths, e.g. whether
the attention mask is built. An export in one thread therefore changes what a forward pass or another
export in a second thread records: a trace beside a running export lost its attention-mask ops, and a
forward pass beside one returned no hidden states. The Dash server answers callbacks in threads and
pruning runs in a background thread, so every such entry point takes this lock.

Re-entrant: an export that runs a forward pass (or a capture that exports first) takes it twice.
"""

from __future__ import annotations

import threading

TORCH_LOCK = threading.RLock()


def torch_exclusive() -> threading.RLock:
    """The lock, as a context manager: ``with torch_exclusive(): ep = torch.export.export(...)``."""
    return TORCH_LOCK


def lock_each_call(module) -> tuple:
    """Hold the lock for each forward pass of ``module`` only, not between passes: a long job (pruning:
    scoring, masking, measuring) leaves it free for app clicks in between. ``always_call`` releases it even
    when the pass raises. Returns the hook handles (``.remove()`` them to undo)."""
    pre = module.register_forward_pre_hook(lambda _m, _a: TORCH_LOCK.acquire() and None)
    post = module.register_forward_hook(lambda _m, _a, _o: TORCH_LOCK.release(), always_call=True)
    return pre, post
