"""Weight tensors as files: .npy bytes (no pickle) and PNG pictures of a view, written atomically."""

from __future__ import annotations

import io
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from bertviz_graph.io import write_atomic
from bertviz_graph.render.weights import (
    COLORSCALE,
    MatrixView,
    as_2d,
    matrix_shape,
    read_window,
    window_bounds,
)

if TYPE_CHECKING:
    from bertviz_graph.sources.weights import WeightSource




def to_npy_bytes(
    store: WeightSource, name: str, rows: tuple[int, int] | None = None, cols: tuple[int, int] | None = None
) -> bytes:
    """The tensor (or a window of its 2-D view) as .npy bytes, for download; float32, no pickle."""
    shape = tuple(store.shape(name))
    if rows is None and cols is None:
        arr = np.asarray(store.get(name), np.float32)
    else:
        r, c = window_bounds(matrix_shape(shape), rows, cols, name)
        arr = read_window(store, name, r, c)
        if len(shape) <= 1:
            arr = arr.reshape(-1)
    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(arr), allow_pickle=False)
    return buf.getvalue()


def _lut(n: int = 256) -> np.ndarray:
    """n RGB colours along DIVERGING, sampled by plotly (the same scale its heatmaps use)."""
    from plotly.colors import sample_colorscale, unlabel_rgb

    return np.array([unlabel_rgb(c) for c in sample_colorscale(COLORSCALE, list(np.linspace(0, 1, n)))],
                    np.float64).round().astype(np.uint8)


_LUT = _lut()


def colorize(z: np.ndarray, vmax: float) -> np.ndarray:
    """Map values to RGB uint8 with the diverging palette on [-vmax, vmax]; NaN becomes grey."""
    z = as_2d(np.asarray(z, np.float64))
    vmax = vmax if vmax > 0 else 1.0
    t = np.clip((z / vmax + 1.0) / 2.0, 0.0, 1.0)
    nan = np.isnan(t)
    idx = np.rint(np.where(nan, 0.5, t) * (len(_LUT) - 1)).astype(np.intp)
    rgb = _LUT[idx]
    rgb[nan] = (160, 160, 160)
    return rgb


def to_png_bytes(mv: MatrixView, scale: int = 1) -> bytes:
    """The view as a PNG, one pixel per cell (× ``scale``), coloured like the heatmap. Pillow only."""
    from PIL import Image

    img = Image.fromarray(colorize(mv.z, mv.vmax))
    if scale > 1:
        img = img.resize((img.width * scale, img.height * scale), Image.Resampling.NEAREST)
    buf = io.BytesIO()
    img.save(buf, format="PNG", compress_level=3)
    return buf.getvalue()


def save_png(mv: MatrixView, path: str | Path, scale: int = 1) -> Path:
    """Write ``to_png_bytes`` atomically."""
    write_atomic(path, to_png_bytes(mv, scale))
    return Path(path)


def save_npy(
    store: WeightSource,
    name: str,
    path: str | Path,
    rows: tuple[int, int] | None = None,
    cols: tuple[int, int] | None = None,
) -> Path:
    """Write ``to_npy_bytes`` atomically."""
    write_atomic(path, to_npy_bytes(store, name, rows, cols))
    return Path(path)
