"""Running a sentence through an imported ONNX file with onnxruntime, every op's value kept.

The file's own graph runs, not a re-creation (``onnx.session``: every intermediate value is an output of
one pass, nothing fused), and the values are keyed by the OpGraph's node ids through the output name the
importer recorded (``onnx_output``). The result is the same ``Activations`` a PyTorch run
makes, so activations, attention maps (the Softmax nodes' outputs) and predictions use the same panels.

Tokens: a tokenizer beside the .onnx file (tokenizer.json or vocab.txt), or one named by ``tokenizer``
(the CLI's ``--tokenizer DIR``); without one, text is refused with the fix (``--ids``).
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from bertviz_graph.errors import UserError
from bertviz_graph.graph import OpGraph
from bertviz_graph.onnx.session import AllValues
from bertviz_graph.run.capture import Activations
from bertviz_graph.run.load import Runnable, Tokens

_LOCK = threading.Lock()
_SESSIONS: dict[tuple, Any] = {}  # (path, size, mtime) -> AllValues: immutable, shared, keyed by content
_TOKENIZER_FILES = ("tokenizer.json", "vocab.txt")


def session_for(path: Path) -> Any:
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    with _LOCK:
        hit = _SESSIONS.get(key)
    if hit is None:

        hit = AllValues(path)
        with _LOCK:
            _SESSIONS.clear()  # one ONNX model in memory at a time
            _SESSIONS[key] = hit
    return hit


def tokenizer_beside(graph: OpGraph) -> bool:
    """Whether a tokenizer (tokenizer.json or vocab.txt) lies next to the graph's .onnx file."""
    path = Path(graph.meta.get("onnx_file") or "")
    return any((path.parent / f).is_file() for f in _TOKENIZER_FILES)


def load_tokenizer(folder: Path) -> Any | None:
    """A transformers tokenizer from a folder: its own config when it has one, else tokenizer.json, else a
    WordPiece vocab.txt (BERT's uncased rules); None when the folder has none of these."""
    from transformers import AutoTokenizer, BertTokenizer

    # AutoTokenizer on a folder with only vocab.txt makes an empty-vocabulary tokenizer: read it directly
    if (folder / "tokenizer.json").is_file() or (folder / "tokenizer_config.json").is_file():
        try:
            return AutoTokenizer.from_pretrained(folder, local_files_only=True, trust_remote_code=False)
        except (OSError, ValueError, KeyError, TypeError):
            pass
    if (folder / "vocab.txt").is_file():
        return BertTokenizer(str(folder / "vocab.txt"), do_lower_case=True)
    return None


class OnnxRunnable(Runnable):
    """A Runnable whose text needs a tokenizer the ONNX file does not carry: the error says where to get one."""

    def tokenize(self, text: str | None = None, pair: str | None = None, ids: list[int] | None = None) -> Tokens:
        if ids is None and self.tokenizer is None:
            raise UserError(f"no tokenizer for {self.name}: an ONNX file holds no vocabulary, and none is beside "
                            f"it in {self.folder}",
                            "pass token ids (--ids 2 10 11 3), or a tokenizer folder (--tokenizer DIR holding "
                            "tokenizer.json or vocab.txt), or put vocab.txt next to the .onnx file")
        return super().tokenize(text, pair, ids)


def onnx_runnable(graph: OpGraph, tokenizer: str | Path | None = None) -> Runnable:
    """A Runnable whose ``model`` is the onnxruntime session of the graph's file."""
    path = Path(graph.meta["onnx_file"])
    if not path.is_file():
        raise UserError(f"{path} is gone: the graph was imported from a file that is no longer there",
                        "import the .onnx file again")
    if tokenizer is not None:
        folder = Path(tokenizer)
        if not folder.is_dir():
            raise UserError(f"--tokenizer {folder}: no such folder", "pass the folder that holds tokenizer.json "
                            "or vocab.txt")
        tok = load_tokenizer(folder)
        if tok is None:
            raise UserError(f"{folder} holds no tokenizer (tokenizer.json or vocab.txt)",
                            "pass the folder the model's tokenizer was saved to (tokenizer.save_pretrained)")
    else:
        tok = load_tokenizer(path.parent)
    cfg = dict(graph.meta.get("config") or {})
    notes = [] if tok is not None else [
        f"no tokenizer beside {path.name}: pass token ids (--ids 2 10 11 3), or a tokenizer folder "
        "(--tokenizer DIR with tokenizer.json or vocab.txt)"]
    return OnnxRunnable(model=session_for(path), tokenizer=tok, trained=True, name=graph.name, head="custom",
                    config=cfg, attention="onnx", ops="onnx", weights=f"weights in {path.name} (onnxruntime)",
                    folder=path.parent, notes=notes)


def onnx_capture(graph: OpGraph, run: Runnable, tokens: Tokens) -> Any:
    """Run ``tokens`` once and key every op's output by the graph's node ids."""
    import torch


    t0 = time.perf_counter()
    ids = np.asarray([tokens.input_ids])
    got = run.model.run(ids, np.asarray([tokens.token_type_ids]) if tokens.token_type_ids else None)
    values: dict[str, Any] = {}
    unmatched: list[str] = []
    for nid, d in graph.nodes("op"):
        v = got.get(d.get("onnx_output", ""))
        if v is None:
            unmatched.append(nid)
            continue
        values[nid] = torch.from_numpy(np.ascontiguousarray(v))
    outputs = tuple(torch.from_numpy(np.ascontiguousarray(got[o])) for o in run.model.outputs)
    acts = Activations(tokens=tokens, values=values, outputs=outputs, trained=True, model_name=run.name,
                       unmatched=unmatched, stored_bytes=sum(t.numel() * t.element_size() for t in values.values()),
                       notes=list(tokens.notes) + [n for n in run.notes if "no tokenizer" not in n])
    acts.seconds = time.perf_counter() - t0
    return acts
