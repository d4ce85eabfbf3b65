"""Running a sentence through an imported ONNX file with onnxruntime, every op's value kept.

The file's own graph runs, not a re-creation: every node output is made a graph output (so onnxruntime
hands back all intermediates from ONE pass), optimisations are off (so no node is fused away and each
value is the one the drawn op computes), and the values are keyed by the OpGraph's node ids through the
output name the importer recorded (``onnx_output``). The result is the same ``Activations`` a PyTorch run
makes, so activations, attention maps (the Softmax nodes' outputs) and predictions use the same panels.

Tokens: a tokenizer beside the .onnx file (tokenizer.json or vocab.txt), or one named by ``tokenizer``
(the CLI's ``--tokenizer DIR``); without one, text is refused with the fix (``--ids``). Graph inputs are
fed by their names: ``*mask*`` ones, ``*type*``/``*segment*`` the token types, ``*position*`` 0..T-1, the
rest the token ids, each in the dtype the file declares.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from bertviz_graph.errors import UserError
from bertviz_graph.graph import OpGraph
from bertviz_graph.run.load import Runnable, Tokens

_LOCK = threading.Lock()
_SESSIONS: dict[tuple, Any] = {}  # (path, size, mtime) -> OnnxModel: immutable, shared, keyed by content
_TOKENIZER_FILES = ("tokenizer.json", "vocab.txt")


class OnnxModel:
    """An onnxruntime session over the file with every intermediate value exposed as an output."""

    def __init__(self, path: Path):
        import onnx
        import onnxruntime as ort

        model = onnx.load(str(path))  # external data, if any, from the file's own folder
        declared = {o.name for o in model.graph.output}
        self.outputs = [o.name for o in model.graph.output]
        for node in model.graph.node:
            if node.op_type == "Constant":
                continue
            for o in node.output:
                if o and o not in declared:
                    model.graph.output.append(onnx.ValueInfoProto(name=o))
                    declared.add(o)
        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        opts.log_severity_level = 3
        try:
            self.session = ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
        except Exception as e:  # noqa: BLE001 - onnxruntime raises its own exception types
            raise UserError(f"onnxruntime cannot load {path.name}: {str(e).strip().splitlines()[0][:200]}",
                            "check the file with onnx.checker.check_model, or export it again") from None
        self.inputs = [(i.name, i.type) for i in self.session.get_inputs()]
        self.names = [o.name for o in self.session.get_outputs()]

    def feed(self, tokens: Tokens) -> dict[str, np.ndarray]:
        ids = np.asarray([tokens.input_ids])
        types = np.asarray([tokens.token_type_ids or [0] * len(tokens)])
        out: dict[str, np.ndarray] = {}
        for name, typ in self.inputs:
            low = name.lower()
            if "mask" in low:
                v = np.ones_like(ids)
            elif "type" in low or "segment" in low:
                v = types
            elif "position" in low:
                v = np.arange(len(tokens))[None, :]
            else:
                v = ids
            out[name] = v.astype(_np_dtype(typ))
        return out

    def run(self, tokens: Tokens) -> dict[str, np.ndarray]:
        try:
            values = self.session.run(None, self.feed(tokens))
        except Exception as e:  # noqa: BLE001 - e.g. a sequence longer than the position table
            raise UserError(f"onnxruntime could not run this input: {str(e).strip().splitlines()[0][:200]}",
                            "try a shorter sentence, or token ids the model's vocabulary has") from None
        return dict(zip(self.names, values))


def _np_dtype(ort_type: str) -> Any:
    return {"tensor(int64)": np.int64, "tensor(int32)": np.int32, "tensor(float)": np.float32,
            "tensor(bool)": np.bool_, "tensor(double)": np.float64}.get(ort_type, np.int64)


def session_for(path: Path) -> OnnxModel:
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    with _LOCK:
        hit = _SESSIONS.get(key)
    if hit is None:
        hit = OnnxModel(path)
        with _LOCK:
            _SESSIONS.clear()  # one ONNX model in memory at a time
            _SESSIONS[key] = hit
    return hit


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
    return Runnable(model=session_for(path), tokenizer=tok, trained=True, name=graph.name, head="custom",
                    config=cfg, attention="onnx", ops="onnx", weights=f"weights in {path.name} (onnxruntime)",
                    folder=path.parent, notes=notes)


def onnx_capture(graph: OpGraph, run: Runnable, tokens: Tokens) -> Any:
    """Run ``tokens`` once and key every op's output by the graph's node ids."""
    import torch

    from bertviz_graph.run.capture import Activations

    t0 = time.perf_counter()
    got = run.model.run(tokens)
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
