"""Lazy access to a model's weights, one tensor (or one row range) at a time.

Why: a BERT checkpoint is hundreds of MB and the app only ever shows one matrix, or a window of one.
``WeightStore`` memory-maps ``.safetensors`` files (never unpickles, never loads everything) and reads
only the rows asked for. ``RandomWeights`` offers the same API for structure-only models that have no
checkpoint: deterministic BERT-style initial values, clearly marked as untrained.

Both return float32 numpy arrays whatever the stored dtype (bfloat16 and float8 are converted).
"""

from __future__ import annotations

import json
import math
import struct
import threading
import zlib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from bertviz_graph.errors import UserError
from bertviz_graph.sources.paths import inside

# safetensors dtype tag -> (bytes per element, readable name, numpy dtype or None when numpy has none)
_DTYPES: dict[str, tuple[int, str, str | None]] = {
    "BOOL": (1, "bool", "bool"),
    "U8": (1, "uint8", "uint8"),
    "I8": (1, "int8", "int8"),
    "U16": (2, "uint16", "uint16"),
    "I16": (2, "int16", "int16"),
    "F16": (2, "float16", "float16"),
    "BF16": (2, "bfloat16", None),
    "U32": (4, "uint32", "uint32"),
    "I32": (4, "int32", "int32"),
    "F32": (4, "float32", "float32"),
    "U64": (8, "uint64", "uint64"),
    "I64": (8, "int64", "int64"),
    "F64": (8, "float64", "float64"),
    "F8_E4M3": (1, "float8_e4m3fn", None),
    "F8_E5M2": (1, "float8_e5m2", None),
}
_MAX_HEADER = 100 * 1024 * 1024  # the limit safetensors itself enforces
_FIX_FILE = "re-save it with model.save_pretrained(dir, safe_serialization=True), or re-download it"

# LayerNorm parameter spellings: new <-> old (TF-era checkpoints say gamma/beta)
_ALIASES = ((".weight", ".gamma"), (".bias", ".beta"))
# BERT's masked-LM decoder is tied to the word embeddings; save_pretrained stores only the latter
_DEFAULT_TIED = {
    "cls.predictions.decoder.weight": "bert.embeddings.word_embeddings.weight",
    "cls.predictions.decoder.bias": "cls.predictions.bias",
}


def tied_aliases(module) -> dict[str, str]:
    """{other name: first name} for parameters a torch module shares (tied), from its own structure."""
    first: dict[int, str] = {}
    out: dict[str, str] = {}
    for n, p in module.named_parameters(remove_duplicate=False):
        if id(p) in first:
            out[n] = first[id(p)]
        else:
            first[id(p)] = n
    return out


@runtime_checkable
class WeightSource(Protocol):
    """What renderers need from a weight provider (``WeightStore`` or ``RandomWeights``)."""

    trained: bool
    description: str

    def names(self) -> list[str]: ...
    def resolve(self, name: str) -> str | None: ...
    def shape(self, name: str) -> tuple[int, ...]: ...
    def dtype(self, name: str) -> str: ...
    def get(self, name: str) -> np.ndarray: ...
    def get_slice(self, name: str, rows: slice, cols: slice | None = None) -> np.ndarray: ...


def _norm_slice(s: slice | None, n: int) -> slice:
    """Clamp a slice to ``range(n)``; steps other than 1 are refused (windows are contiguous)."""
    if s is None:
        return slice(0, n)
    if not isinstance(s, slice):
        raise TypeError(f"expected a slice, got {type(s).__name__}")
    start, stop, step = s.indices(n)
    if step != 1:
        raise ValueError("only contiguous slices (step 1) are supported")
    return slice(start, max(start, stop))


class _Resolver:
    """Name resolution shared by both sources: exact, base-model prefix, gamma/beta aliases."""

    _keys: dict[str, object]
    _aliases: dict[str, str]

    def add_aliases(self, aliases: Mapping[str, str]) -> None:
        """Extra names for stored tensors, e.g. tied weights: {"cls.predictions.decoder.weight": "bert...."}.

        Checkpoints store a tied tensor once; ``tied_aliases(model)`` finds such pairs in a torch model.
        """
        self._aliases.update(aliases)

    def _build_index(self) -> None:
        if not hasattr(self, "_aliases"):
            self._aliases = dict(_DEFAULT_TIED)
        # key without its first component -> key (only when unambiguous), for "model asks without prefix"
        stripped: dict[str, str | None] = {}
        for k in self._keys:
            if "." in k:
                rest = k.split(".", 1)[1]
                stripped[rest] = None if rest in stripped else k
        self._stripped = {k: v for k, v in stripped.items() if v is not None}

    def _resolve_one(self, name: str) -> str | None:
        if name in self._keys:
            return name
        if "." in name:  # model says bert.embeddings..., checkpoint (saved from BertModel) says embeddings...
            rest = name.split(".", 1)[1]
            if rest in self._keys:
                return rest
        return self._stripped.get(name)  # model is BertModel, checkpoint from BertForMaskedLM

    def resolve(self, name: str) -> str | None:
        """The checkpoint key holding the parameter ``name``, or None when there is none."""
        found = self._resolve_one(name)
        if found is not None:
            return found
        for new, old in _ALIASES:
            for a, b in ((new, old), (old, new)):
                if name.endswith(a):
                    found = self._resolve_one(name[: -len(a)] + b)
                    if found is not None:
                        return found
        for alias, target in self._aliases.items():  # tied weights, stored once under another name
            if name == alias or name.endswith("." + alias):
                prefix = name[: len(name) - len(alias)]
                found = self._resolve_one(prefix + target) or self._resolve_one(target)
                if found is not None:
                    return found
        return None

    def _key(self, name: str) -> str:
        key = self.resolve(name)
        if key is None:
            raise KeyError(f"no tensor named {name!r} in {self.description}")  # type: ignore[attr-defined]
        return key

    def names(self) -> list[str]:
        """Checkpoint keys, sorted."""
        return sorted(self._keys)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.resolve(name) is not None


class _Entry:
    __slots__ = ("path", "dtype", "shape", "begin", "end")

    def __init__(self, path: Path, dtype: str, shape: tuple[int, ...], begin: int, end: int):
        self.path, self.dtype, self.shape, self.begin, self.end = path, dtype, shape, begin, end


def _bad(path: Path, what: str) -> UserError:
    return UserError(f"{path} is not a valid safetensors file: {what}", _FIX_FILE)


def read_header(path: Path) -> tuple[dict[str, _Entry], int]:
    """Parse and validate a safetensors header without touching tensor data.

    Returns (entries, data_start). Checks what a truncated or foreign file would break: header length,
    JSON dict, known dtypes, shapes, and that every tensor's bytes lie inside the file.
    """
    path = Path(path)
    if not path.exists():
        raise UserError(f"{path} does not exist", "check the path to the .safetensors file")
    if path.is_dir():
        raise UserError(
            f"{path} is a folder, not a .safetensors file", "pass the file, or the folder's index.json"
        )
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(8)
        if len(head) < 8:
            raise _bad(path, f"only {size} bytes, too short for the 8-byte header length")
        (n,) = struct.unpack("<Q", head)
        if n == 0 or n > _MAX_HEADER:
            raise _bad(path, f"header length {n} is impossible (file may be another format)")
        if 8 + n > size:
            raise _bad(
                path, f"header says {n} bytes but the file has only {size - 8} after the length (truncated?)"
            )
        raw = f.read(n)
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise _bad(path, f"header is not valid JSON ({e})") from None
    if not isinstance(header, dict):
        raise _bad(path, f"header is a JSON {type(header).__name__}, not an object")
    data_start = 8 + n
    data_len = size - data_start
    entries: dict[str, _Entry] = {}
    for key, info in header.items():
        if key == "__metadata__":
            continue
        if not isinstance(info, dict):
            raise _bad(path, f"entry {key!r} is not an object")
        dtype, shape, offs = info.get("dtype"), info.get("shape"), info.get("data_offsets")
        if dtype not in _DTYPES:
            raise _bad(path, f"tensor {key!r} has unknown or unsupported dtype {dtype!r}")
        if not (isinstance(shape, list) and all(isinstance(d, int) and d >= 0 for d in shape)):
            raise _bad(path, f"tensor {key!r} has a malformed shape {shape!r}")
        if not (isinstance(offs, list) and len(offs) == 2 and all(isinstance(o, int) for o in offs)):
            raise _bad(path, f"tensor {key!r} has malformed data_offsets {offs!r}")
        begin, end = offs
        if not 0 <= begin <= end:
            raise _bad(path, f"tensor {key!r} has data_offsets {offs} out of order")
        if end > data_len:
            raise _bad(
                path,
                f"tensor {key!r} ends at byte {end} of the data but the file holds only {data_len} (truncated?)",
            )
        need = math.prod(shape) * _DTYPES[dtype][0]
        if end - begin != need:
            raise _bad(path, f"tensor {key!r} has {end - begin} bytes but its shape {shape} needs {need}")
        entries[key] = _Entry(path, dtype, tuple(shape), begin, end)
    # Lying offsets: two tensors claiming the same bytes mean the header does not describe the data.
    spans = sorted((e.begin, e.end, k) for k, e in entries.items() if e.end > e.begin)
    for (_, end_a, a), (begin_b, _, b) in zip(spans, spans[1:]):
        if begin_b < end_a:
            raise _bad(path, f"tensors {a!r} and {b!r} overlap in the data (data_offsets lie)")
    return entries, data_start


def _expand_paths(paths: Iterable[str | Path]) -> list[Path]:
    """Files to open: .safetensors files as given; an index.json or a folder brings in its shards."""
    out: list[Path] = []
    for p in paths:
        p = Path(p)
        if p.is_dir():
            idx = sorted(p.glob("*.safetensors.index.json"))
            files = sorted(p.glob("*.safetensors"))
            if idx:
                out.extend(_expand_paths(idx))
            elif files:
                out.extend(files)
            else:
                raise UserError(
                    f"{p} holds no .safetensors file", "pass the folder written by save_pretrained"
                )
        elif p.name.endswith(".json"):
            if not p.exists():
                raise UserError(f"{p} does not exist", "check the path to model.safetensors.index.json")
            try:
                wm = json.loads(p.read_text("utf-8"))["weight_map"]
                shards = sorted(set(wm.values()))
            except (ValueError, KeyError, TypeError, AttributeError):
                raise UserError(
                    f"{p} is not a valid safetensors index: no 'weight_map' object", _FIX_FILE
                ) from None
            for s in shards:
                # a shard is a file next to the index: no folder part, no '..', nothing absolute
                if not isinstance(s, str) or not s.endswith(".safetensors") or Path(s).name != s or s in (".", ".."):
                    raise UserError(f"{p} lists shard {s!r}, which is not a .safetensors file in {p.parent}",
                                    "an index may only name shard files in its own folder")
                sp = p.parent / s
                if sp.is_symlink():

                    inside(s, p.parent, f"{p} lists shard")  # a link leading out of the folder is refused
                if not sp.exists():
                    raise UserError(f"{p} lists shard {s} but {sp} does not exist", "download all shards")
                out.append(sp)
        else:
            out.append(p)
    seen: set[Path] = set()
    uniq = []
    for p in out:
        r = p.resolve()
        if r not in seen:
            seen.add(r)
            uniq.append(p)
    return uniq


def _bf16_to_f32(a: np.ndarray) -> np.ndarray:
    """bfloat16 is the top half of a float32: shift the raw uint16 bits up."""
    return (a.astype(np.uint32) << 16).view(np.float32)


class WeightStore(_Resolver):
    """Weights from one or more .safetensors files, read lazily (memory-mapped, row slices only)."""

    trained = True

    def __init__(self, entries: dict[str, _Entry], data_starts: dict[Path, int], paths: list[Path]):
        self._keys = entries  # type: ignore[assignment]
        self._entries = entries
        self._data_starts = data_starts
        self.paths = paths
        self._handles: dict[tuple[Path, str], object] = {}
        self._maps: dict[Path, np.memmap] = {}
        where = str(paths[0]) if len(paths) == 1 else f"{len(paths)} files in {paths[0].parent}"
        self.description = f"weights from {where}"
        self._build_index()

    @classmethod
    def open(cls, paths: list[Path] | Path | str) -> WeightStore:
        """Validate every file's header (no tensor data read) and index all tensors."""
        if isinstance(paths, (str, Path)):
            paths = [Path(paths)]
        files = _expand_paths(paths)
        if not files:
            raise UserError(
                "no weight files given", "pass a .safetensors file, its index.json, or its folder"
            )
        entries: dict[str, _Entry] = {}
        starts: dict[Path, int] = {}
        for f in files:
            ents, start = read_header(f)
            starts[f] = start
            for k, e in ents.items():
                if k in entries:
                    raise UserError(
                        f"tensor {k!r} appears in both {entries[k].path} and {f}",
                        "pass the files of one checkpoint only",
                    )
                entries[k] = e
        return cls(entries, starts, files)

    def shape(self, name: str) -> tuple[int, ...]:
        return self._entries[self._key(name)].shape

    def dtype(self, name: str) -> str:
        """Stored dtype as a readable name ("float32", "bfloat16", ...); values are returned as float32."""
        return _DTYPES[self._entries[self._key(name)].dtype][1]

    def _handle(self, path: Path, framework: str = "numpy"):
        from safetensors import safe_open

        h = self._handles.get((path, framework))
        if h is None:
            h = self._handles[(path, framework)] = safe_open(str(path), framework=framework)
        return h

    def _raw_u16(self, e: _Entry) -> np.ndarray:
        """Memory-mapped uint16 view of a bfloat16 tensor (numpy has no bfloat16)."""
        mm = self._maps.get(e.path)
        if mm is None:
            mm = self._maps[e.path] = np.memmap(e.path, dtype=np.uint8, mode="r")
        s = self._data_starts[e.path]
        return mm[s + e.begin : s + e.end].view(np.uint16).reshape(e.shape)

    def _read(self, key: str, index: tuple[slice, ...]) -> np.ndarray:
        e = self._entries[key]
        if math.prod(e.shape) == 0:
            return np.zeros(e.shape, np.float32)[index]
        if e.dtype == "BF16":
            return _bf16_to_f32(np.ascontiguousarray(self._raw_u16(e)[index]))
        if _DTYPES[e.dtype][2] is None:  # float8: only torch knows it
            t = self._handle(e.path, "pt").get_slice(key)[index]
            return t.float().numpy()
        if not e.shape:
            return np.asarray(self._handle(e.path).get_tensor(key), dtype=np.float32)
        arr = self._handle(e.path).get_slice(key)[index]
        return np.asarray(arr, dtype=np.float32)

    def get(self, name: str) -> np.ndarray:
        """The whole tensor as float32 (reads only this tensor)."""
        key = self._key(name)
        shape = self._entries[key].shape
        return self._read(key, tuple(slice(0, d) for d in shape[:1]))

    def get_slice(self, name: str, rows: slice, cols: slice | None = None) -> np.ndarray:
        """``tensor[rows, cols]`` as float32, reading only those rows (for 1-D tensors ``cols`` must be None)."""
        key = self._key(name)
        shape = self._entries[key].shape
        return self._read(key, _index(shape, rows, cols))

    def close(self) -> None:
        """Drop the file handles and memory maps (they are reopened on demand)."""
        self._handles.clear()
        self._maps.clear()


def _index(shape: tuple[int, ...], rows: slice, cols: slice | None) -> tuple[slice, ...]:
    if len(shape) == 0:
        raise ValueError("a 0-d tensor has no rows to slice; use get()")
    if len(shape) == 1:
        if cols is not None:
            raise ValueError("a 1-D tensor has no columns; pass cols=None")
        return (_norm_slice(rows, shape[0]),)
    return (_norm_slice(rows, shape[0]), _norm_slice(cols, shape[1]))


# ----------------------------------------------------------------------------------------------------------
# Random initial weights for models without a checkpoint


def init_kind(name: str) -> str:
    """How BERT initialises a parameter: "ones" (LayerNorm gain), "zeros" (biases), "normal" (the rest)."""
    low = name.lower()
    is_norm = "layernorm" in low or "layer_norm" in low or low.split(".")[-2:-1] in (["ln"], ["norm"])
    if low.endswith(".gamma") or (is_norm and low.endswith(".weight")):
        return "ones"
    if low.endswith(".beta") or low.endswith("bias") or low.endswith("token_type_ids"):
        return "zeros"
    if low.endswith("position_ids"):
        return "arange"
    return "normal"


class RandomWeights(_Resolver):
    """BERT-style initial weights generated on demand (no checkpoint): NOT trained values.

    Normal(0, 0.02) for weight matrices and embeddings, zeros for biases, ones for LayerNorm gains.
    Values are deterministic per (seed, name) and generated in row blocks, so a row slice of the
    30522×768 embedding generates only the blocks it touches. Whole tensors are kept in a small LRU.
    """

    trained = False
    description = "random initial weights (no checkpoint): values are NOT trained"
    STD = 0.02
    BLOCK_ELEMS = 1 << 18  # elements per generated row block (~1 MB of float32)

    def __init__(self, shapes: Mapping[str, Iterable[int]], seed: int = 0, cache_tensors: int = 3):
        self._shapes = {k: tuple(int(d) for d in v) for k, v in shapes.items()}
        self._keys = self._shapes  # type: ignore[assignment]
        self.seed = int(seed)
        from cachetools import LRUCache

        self._cache: LRUCache = LRUCache(maxsize=max(1, cache_tensors))  # whole tensors read lately
        self._cache_size = cache_tensors
        self._lock = threading.Lock()  # the Dash server calls from several threads
        self._build_index()

    def shape(self, name: str) -> tuple[int, ...]:
        return self._shapes[self._key(name)]

    def dtype(self, name: str) -> str:
        self._key(name)
        return "float32"

    def _block_rows(self, shape: tuple[int, ...]) -> int:
        per_row = math.prod(shape[1:]) if len(shape) > 1 else 1
        return max(1, self.BLOCK_ELEMS // max(1, per_row))

    def _rows(self, key: str, start: int, stop: int) -> np.ndarray:
        """Rows [start, stop) along dim 0, generated block by block from per-block seeds."""
        shape = self._shapes[key]
        kind = init_kind(key)
        out_shape = (stop - start, *shape[1:])
        if kind == "ones":
            return np.ones(out_shape, np.float32)
        if kind == "zeros":
            return np.zeros(out_shape, np.float32)
        if kind == "arange":  # position_ids [1, max_pos]: 0..max_pos-1 along the last dim
            return np.broadcast_to(np.arange(shape[-1], dtype=np.float32), shape)[start:stop].copy()
        out = np.empty(out_shape, np.float32)
        br = self._block_rows(shape)
        crc = zlib.crc32(key.encode("utf-8"))
        for b in range(start // br, (stop - 1) // br + 1 if stop > start else 0):
            b0, b1 = b * br, min((b + 1) * br, shape[0])
            gen = np.random.Generator(np.random.SFC64([self.seed & 0xFFFFFFFF, crc, b]))
            blk = gen.standard_normal((b1 - b0, *shape[1:]), dtype=np.float32)
            lo, hi = max(b0, start), min(b1, stop)
            out[lo - start : hi - start] = blk[lo - b0 : hi - b0]
        out *= np.float32(self.STD)
        return out

    def _cached(self, key: str) -> np.ndarray | None:
        with self._lock:
            return self._cache.get(key)

    @property
    def cached_bytes(self) -> int:
        """Bytes of the whole tensors kept (the app's model registry counts them: app/registry.py)."""
        with self._lock:
            return sum(a.nbytes for a in self._cache.values())

    def get(self, name: str) -> np.ndarray:
        """The whole tensor as float32. It is cached and returned read-only: copy it to modify."""
        key = self._key(name)
        hit = self._cached(key)
        if hit is not None:
            return hit
        shape = self._shapes[key]
        arr = self._rows(key, 0, shape[0]) if shape else np.zeros((), np.float32)
        arr.flags.writeable = False
        if self._cache_size > 0:
            with self._lock:
                self._cache[key] = arr
        return arr

    def get_slice(self, name: str, rows: slice, cols: slice | None = None) -> np.ndarray:
        key = self._key(name)
        shape = self._shapes[key]
        idx = _index(shape, rows, cols)
        hit = self._cached(key)
        if hit is not None:
            return hit[idx].copy()
        block = self._rows(key, idx[0].start, idx[0].stop)
        return block[(slice(None),) + idx[1:]] if len(idx) > 1 else block

    @classmethod
    def from_module(cls, module, seed: int = 0) -> RandomWeights:
        """Shapes of a torch module's parameters and buffers (values are not read)."""
        shapes = {n: tuple(p.shape) for n, p in module.named_parameters()}
        shapes.update({n: tuple(b.shape) for n, b in module.named_buffers()})
        return cls(shapes, seed=seed)


CONV1D_NOTE = "GPT-2's Conv1D stores this weight [in, out] (y = x·W + b); shown transposed as [out, in] like a Linear"


class TransposedWeights:
    """A weight source showing some 2-D weights transposed, so that every matrix reads [out, in].

    Why: GPT-2's ``Conv1D`` (transformers.pytorch_utils) is a Linear that stores W as [in, out]. Shown
    transposed, its rows are output neurons like every other Linear's, and heatmaps, per-head splits and
    the neuron view need nothing GPT-2-specific; ``note(name)`` says what was flipped (as for ONNX MatMuls).
    Everything else is passed through to the wrapped source.
    """

    def __init__(self, base: WeightSource, names: Iterable[str], note: str = CONV1D_NOTE):
        self.base = base
        self._note = note
        self._flipped = {k for k in (base.resolve(n) for n in names) if k is not None
                         and len(base.shape(k)) == 2}

    def __getattr__(self, attr: str):  # trained, description, add_aliases ... of the wrapped source
        return getattr(self.base, attr)

    def flipped(self, name: str) -> bool:
        """Whether ``name`` is shown transposed from how it is stored."""
        return self.base.resolve(name) in self._flipped

    def names(self) -> list[str]:
        return self.base.names()

    def resolve(self, name: str) -> str | None:
        return self.base.resolve(name)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.base.resolve(name) is not None

    def shape(self, name: str) -> tuple[int, ...]:
        s = tuple(self.base.shape(name))
        return s[::-1] if self.flipped(name) else s

    def stored_shape(self, name: str) -> tuple[int, ...]:
        return tuple(self.base.shape(name))

    def dtype(self, name: str) -> str:
        return self.base.dtype(name)

    def note(self, name: str) -> str | None:
        if self.flipped(name):
            return self._note
        inner = getattr(self.base, "note", None)
        return inner(name) if callable(inner) else None

    def get(self, name: str) -> np.ndarray:
        arr = self.base.get(name)
        return np.ascontiguousarray(np.asarray(arr).T) if self.flipped(name) else arr

    def get_slice(self, name: str, rows: slice, cols: slice | None = None) -> np.ndarray:
        if not self.flipped(name):
            return self.base.get_slice(name, rows, cols)
        # shown[rows, cols] = stored[cols, rows].T: read the stored rows the shown columns name
        stored = self.base.get_slice(name, cols if cols is not None else slice(None), rows)
        return np.ascontiguousarray(np.asarray(stored).T)


def with_transposed(store: WeightSource, names: Iterable[str], note: str = CONV1D_NOTE) -> WeightSource:
    """``store`` with ``names`` shown transposed (unchanged when there are none or it is already wrapped)."""
    names = list(names)
    if not names or isinstance(store, TransposedWeights):
        return store
    return TransposedWeights(store, names, note)
