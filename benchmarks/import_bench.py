"""Start-up cost of the package's entry modules, this tree vs another commit (default: before the import tidy).

    python benchmarks/import_bench.py [--ref 319347b^] [--rounds 7]

For each entry module, a fresh interpreter imports it and reports the wall time of the import and how many
of our modules and third-party libraries it loaded; the two trees alternate in each round (interleaved, so
a loaded machine weighs on both alike). Prints medians and the ratio ours / baseline.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tarfile
import tempfile
from io import BytesIO
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ENTRIES = ["bertviz_graph.cli", "bertviz_graph.api", "bertviz_graph.widget", "bertviz_graph.app",
           "bertviz_graph.pipeline", "bertviz_graph.render.svg"]
PROBE = """
import json, sys, time
t = time.perf_counter()
import {mod}
dt = time.perf_counter() - t
std = set(sys.stdlib_module_names)
ours = [k for k in sys.modules if k == "bertviz_graph" or k.startswith("bertviz_graph.")]
libs = sorted({{k.split(".")[0] for k in sys.modules}} - std - {{"bertviz_graph"}} - {{k for k in sys.modules if k.startswith("_")}})
print(json.dumps({{"s": dt, "ours": len(ours), "libs": libs}}))
"""


def probe(tree: Path, mod: str) -> dict:
    out = subprocess.run([sys.executable, "-c", PROBE.format(mod=mod)], cwd=tree, capture_output=True, text=True,
                         env={"PYTHONPATH": str(tree), "PATH": "/usr/bin:/bin"}, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def export(ref: str, dest: Path) -> Path:
    data = subprocess.run(["git", "archive", ref, "bertviz_graph"], cwd=ROOT, capture_output=True, check=True).stdout
    with tarfile.open(fileobj=BytesIO(data)) as tar:
        tar.extractall(dest, filter="data")
    return dest


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ref", default="319347b^", help="the baseline commit (default: before the import tidy)")
    ap.add_argument("--rounds", type=int, default=7)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        base = export(args.ref, Path(tmp))
        trees = {"ours": ROOT, "baseline": base}
        for t in trees.values():  # compile the .pyc files once, outside the timing
            for mod in ENTRIES:
                probe(t, mod)
        got = {(k, m): [] for k in trees for m in ENTRIES}
        for _ in range(args.rounds):
            for mod in ENTRIES:
                for k, t in trees.items():
                    got[(k, mod)].append(probe(t, mod))
    print(f"{'module':28} {'ours ms':>8} {'base ms':>8} {'ratio':>6} {'our modules':>12} {'libraries (ours / base)':>24}")
    for mod in ENTRIES:
        o, b = got[("ours", mod)], got[("baseline", mod)]
        om, bm = (statistics.median(x["s"] for x in r) * 1000 for r in (o, b))
        print(f"{mod:28} {om:8.0f} {bm:8.0f} {om / bm:6.2f} {o[0]['ours']:>5} / {b[0]['ours']:<5} "
              f"{len(o[0]['libs']):>10} / {len(b[0]['libs'])}" + ("" if o[0]["libs"] == b[0]["libs"] else
                                                                     f"  differ: {sorted(set(o[0]['libs']) ^ set(b[0]['libs']))}"))


if __name__ == "__main__":
    main()
