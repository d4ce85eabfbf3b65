"""An onnxruntime session over an .onnx file with every intermediate value exposed as an output.

One implementation for the two things that execute the file: ``onnx.dims`` (the concrete shape of every
value at batch 1 and the chosen sequence length, for FLOPs) and ``run.onnx_run`` (a sentence's values).
Every node output is made a graph output, so one pass hands back all intermediates; optimisations are off,
so no node is fused away and each value is the one the drawn op computes. Graph inputs are fed by their
names: ``*mask*`` ones, ``*type*``/``*segment*`` the token types, ``*position*`` 0..T-1, the rest the token
ids, each in the dtype the file declares.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bertviz_graph.errors import UserError

_NP = {"tensor(int64)": np.int64, "tensor(int32)": np.int32, "tensor(float)": np.float32,
       "tensor(bool)": np.bool_, "tensor(double)": np.float64, "tensor(float16)": np.float16}


class AllValues:
    """``run(ids, types) -> {value name: array}`` for every value the file's nodes compute."""

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
        opts.intra_op_num_threads = 1
        try:
            self.session = ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
        except Exception as e:  # noqa: BLE001 - onnxruntime raises its own exception types
            raise UserError(f"onnxruntime cannot load {path.name}: {str(e).strip().splitlines()[0][:200]}",
                            "check the file with onnx.checker.check_model, or export it again") from None
        self.inputs = [(i.name, i.type, len(i.shape)) for i in self.session.get_inputs()]
        self.names = [o.name for o in self.session.get_outputs()]

    def feed(self, ids: np.ndarray, types: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """Inputs by name from [batch, T] token ids (and token types)."""
        types = np.zeros_like(ids) if types is None else types
        out: dict[str, np.ndarray] = {}
        for name, typ, rank in self.inputs:
            low = name.lower()
            if "mask" in low:
                v = np.ones_like(ids)
            elif "type" in low or "segment" in low:
                v = types
            elif "position" in low:
                v = np.broadcast_to(np.arange(ids.shape[1]), ids.shape)
            else:
                v = ids
            v = v[0] if rank == 1 else v
            out[name] = np.ascontiguousarray(v.astype(_NP.get(typ, np.int64)))
        return out

    def run(self, ids: np.ndarray, types: np.ndarray | None = None) -> dict[str, np.ndarray]:
        try:
            values = self.session.run(None, self.feed(ids, types))
        except Exception as e:  # noqa: BLE001 - e.g. a sequence longer than the position table
            raise UserError(f"onnxruntime could not run this input: {str(e).strip().splitlines()[0][:200]}",
                            "try a shorter sentence, or token ids the model's vocabulary has") from None
        return dict(zip(self.names, values))
