"""Time the 30522×768 embedding overview against sending the whole matrix.

Run: ``python benchmarks/weights_bench.py [--runs 3]``. Prints medians (seconds) and payload sizes:
- ours: ``matrix_view`` (≤600×800 cells) + ``heatmap_figure`` + ``fig.to_json()``, from RandomWeights
  (values generated on the fly) and from a real memory-mapped .safetensors file;
- naive: ``go.Heatmap(z=full_matrix).to_json()`` and ``px.imshow(full, binary_string=True).to_json()``
  (the latter is a PNG in the JSON: small, but hover cannot show exact values).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import plotly.express as px
import plotly.graph_objects as go
from safetensors.numpy import save_file

from bertviz_graph.render.weight_figures import heatmap_figure
from bertviz_graph.render.weight_files import to_png_bytes
from bertviz_graph.render.weights import matrix_view
from bertviz_graph.sources.weights import RandomWeights, WeightStore

NAME = "bert.embeddings.word_embeddings.weight"
SHAPE = (30522, 768)


def timed(fn, runs: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(runs):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    runs = args.runs

    gen_t, _ = timed(lambda: RandomWeights({NAME: SHAPE}).get(NAME), runs)

    def ours_random():
        store = RandomWeights({NAME: SHAPE})  # fresh: includes generating the values
        mv = matrix_view(store, NAME)
        return mv, heatmap_figure(mv, "word embeddings").to_json()

    ours_t, (mv, js) = timed(ours_random, runs)

    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "model.safetensors"
        full = RandomWeights({NAME: SHAPE}).get(NAME)
        save_file({"embeddings.word_embeddings.weight": np.ascontiguousarray(full)}, str(path))

        def ours_file():
            store = WeightStore.open([path])
            m = matrix_view(store, NAME)
            return heatmap_figure(m, "word embeddings").to_json()

        file_t, js_file = timed(ours_file, runs)
        store = WeightStore.open([path])
        zoom_t, _ = timed(
            lambda: heatmap_figure(matrix_view(store, NAME, (12000, 12300), (0, 768)), "z").to_json(), runs
        )
        png_t, png = timed(lambda: to_png_bytes(matrix_view(store, NAME)), runs)

    naive_t, naive_js = timed(lambda: go.Figure(go.Heatmap(z=full)).to_json(), runs)
    imshow_t, imshow_js = timed(lambda: px.imshow(full, binary_string=True).to_json(), runs)

    mb = 1024 * 1024
    print(f"embedding {SHAPE[0]}×{SHAPE[1]} float32 = {full.nbytes / mb:.1f} MiB; median of {runs} runs")
    print(f"  RandomWeights generate whole tensor        {gen_t:7.3f} s")
    print(
        f"  ours (RandomWeights): view+figure+to_json  {ours_t:7.3f} s  JSON {len(js) / mb:6.2f} MiB  cells {mv.z.shape}"
    )
    print(f"  ours (safetensors mmap): view+fig+to_json  {file_t:7.3f} s  JSON {len(js_file) / mb:6.2f} MiB")
    print(f"  ours zoom 300 rows (exact) from file       {zoom_t:7.3f} s")
    print(f"  ours PNG of overview from file             {png_t:7.3f} s  PNG  {len(png) / mb:6.2f} MiB")
    print(
        f"  naive go.Heatmap(z=full).to_json()         {naive_t:7.3f} s  JSON {len(naive_js) / mb:6.2f} MiB"
    )
    print(
        f"  px.imshow(full, binary_string).to_json()   {imshow_t:7.3f} s  JSON {len(imshow_js) / mb:6.2f} MiB (no exact hover)"
    )
    print(
        f"  ratio naive/ours: time {naive_t / ours_t:.1f}× (from file {naive_t / file_t:.1f}×), "
        f"payload {len(naive_js) / len(js):.0f}×"
    )


if __name__ == "__main__":
    main()
