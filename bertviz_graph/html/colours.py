"""Colour-by in the offline explorer: the app's colours (``AppContext.render``: its values, scale and
``color_for``) for every stored picture, stored as the few colours that differ from the role picture.

A coloured picture is the stored SVG with other fill colours (and tints of them) and nothing else, so the file
keeps, per picture and mode, [position of a colour in the SVG, its palette index] pairs; the page splits the
SVG at its colours (the same regular expression) and puts these back. Each box's value is stored once, as the
app's tooltip line, for hover.
"""

from __future__ import annotations

import random
import re
from typing import Any

from bertviz_graph import format as fmt
from bertviz_graph.app.context import (
    COLOR_MODES,
    NO_VALUE,
    RUN_MODES,
    SEQUENTIAL,
    TRAIN_MODES,
    AppContext,
    color_for,
)
from bertviz_graph.presenters.activations import change_values
from bertviz_graph.presenters.analysis_colors import COLOR_MODES as ANALYSIS_MODES
from bertviz_graph.render.svg import mix, to_svg
from bertviz_graph.render.tree_text import human

COLOUR = re.compile(r"(#[0-9a-fA-F]{6})")  # js/src/offline.js splits at the same expression
# every colour render/svg.py derives from a box's fill: itself, and tints towards white or black
DERIVED = ((None, 0.0), ("#ffffff", 0.6), ("#000000", 0.45), ("#ffffff", 0.25), ("#ffffff", 0.5),
           ("#000000", 0.12))
Slot = tuple[int, str, int]  # (index of a colour in the SVG, the box whose fill it comes from, DERIVED index)


def _derive(colour: str, k: int) -> str:
    other, t = DERIVED[k]
    return colour if other is None else mix(colour, other, t)


def slots(lv: Any, svg: str) -> list[Slot] | None:
    """Where the colours of picture ``svg`` (``to_svg(lv)``) come from its boxes' fills: drawn once with a
    random fill per box, each changed colour names its box and tint. None when that is ambiguous (two boxes'
    tints alike): the caller draws each mode instead. One drawing per picture instead of one per mode."""
    role = COLOUR.split(svg)[1::2]
    for seed in range(4):
        rng = random.Random(seed)
        probe = {n.id: f"#{rng.randrange(1 << 24):06x}" for n in lv.view.nodes}
        rev: dict[str, tuple[str, int]] = {}
        clash: set[str] = set()
        for nid, c in probe.items():
            for k in range(len(DERIVED)):
                t = _derive(c, k)
                if t in rev:
                    clash.add(t)
                rev[t] = (nid, k)
        got = COLOUR.split(to_svg(lv, fills=probe))[1::2]
        if len(got) != len(role):
            return None
        out = []
        for i, (a, b) in enumerate(zip(role, got, strict=True)):
            if a != b:
                if b in clash or b not in rev:
                    break  # a tint shared by two boxes (or unknown): another draw
                out.append((i, *rev[b]))
        else:
            return out
    return None


def modes(run: bool) -> list[str]:
    """The app's colour-by modes (its dropdown's), the run's only with a sentence; the training step's never (the
    file stores no gradient: a step needs the model and autograd), nor the analyses' (an ablation study per file)."""
    return [m for m in COLOR_MODES if m not in ("role", *TRAIN_MODES, *ANALYSIS_MODES) and (run or m not in RUN_MODES)]


def _title(mode: str) -> str:
    """The app's name of a mode; the app's "this tab's run" is this file's sentence."""
    return COLOR_MODES[mode].replace("this tab's run", "the file's sentence")


def _fmt(mode: str, v: float) -> str:
    if mode == "sparsity":
        return f"{fmt.percent(v, 1)}"
    return f"{v:.4g}" if mode in ("norm", "activation", "change") else f"{human(v)} ({fmt.count(v)})"


def _values(ctx: Any, nodes: list[Any], mode: str, rkey: Any) -> tuple[dict[str, float], dict[str, str]]:
    """The app's colour-by values of a picture's boxes (``nodes``: its VNodes) and, for "change", why a box
    has none (``AppContext._render``'s first half, without its SVG: the file draws its own)."""
    if mode == "change":
        acts = ctx.run_session.run(rkey[0], rkey[1] or None, list(rkey[2]) or None)
        got = change_values(ctx.graph, ctx.h, acts, [n.id for n in nodes if not n.expanded])
        return ({k: v for k, v in got.items() if isinstance(v, float) and v > 0},
                {k: v for k, v in got.items() if isinstance(v, str)})
    values = {}
    for n in nodes:
        v = ctx.node_value(n, mode, rkey)
        if v is not None and v > 0:
            values[n.id] = v
    return values, {}


def view_fills(ctx: Any, lv: Any, mode: str, rkey: Any = None) -> tuple[dict[str, str], list[float] | None]:
    """The app's fills of a laid-out view in colour-by ``mode`` and its [lo, hi] (None: no box has a value),
    as ``AppContext._render`` makes them; js/src/colour_offline.js does the same for composed views."""
    values, _ = _values(ctx, lv.view.nodes, mode, rkey)
    lo, hi = (min(values.values()), max(values.values())) if values else (0.0, 0.0)
    fills = {n.id: color_for(values.get(n.id), lo, hi) if values else NO_VALUE for n in lv.view.nodes}
    return fills, [lo, hi] if values else None


def _closed_boxes(lvs: list[Any], others: list[Any]) -> list[Any]:
    """Every closed box the page can draw (the stored pictures' and the composer's other views'), once."""
    seen: dict[str, Any] = {}
    for nodes in [lv.view.nodes for lv in lvs] + [v.data().nodes for v in others]:
        for n in nodes:
            if not n.expanded:
                seen.setdefault(n.id, n)
    return list(seen.values())


def colour_payload(graph: Any, lvs: list[Any], svgs: list[str], text: str | None, pair: str | None,
                   session: Any = None, others: list[Any] = ()) -> dict[str, Any]:
    """``lvs``: the laid-out view of each stored picture; ``session``: the RunSession that ran the sentence;
    ``others``: more views whose boxes the page composes with (compose_data's).
    {"modes": [[mode, title]], "palette": [...], "diffs": {mode: [[i, p, ...] per picture]},
    "ranges": {mode: [[lo, hi] | None per picture]}, "tips": {mode: {id: line}}, "scale": [...],
    "ids": [...], "values": {mode: [value or 0 per id]}}: each closed box's value, for the combinations
    the page composes itself (js/src/colour_offline.js colours them as color_for does)."""
    ctx = AppContext(graph)
    run = session is not None
    if run:
        ctx.__dict__["bv_run_session"] = session  # the file's run: the model loads once
    rkey = ctx.run_key({"text": text, "pair": pair, "ids": None}) if run else None
    palette: dict[str, int] = {}
    roles = [COLOUR.split(svg)[1::2] for svg in svgs]  # per picture: its colours
    found = [slots(lv, svg) for lv, svg in zip(lvs, svgs, strict=True)]  # and where they come from
    out: dict[str, Any] = {"modes": [], "palette": [], "diffs": {}, "ranges": {}, "tips": {},
                           "scale": list(SEQUENTIAL), "none": NO_VALUE, "values": {}}
    boxes = _closed_boxes(lvs, list(others))
    out["ids"] = [n.id for n in boxes]
    for mode in modes(run):
        diffs, ranges, tips = [], [], {}
        for j, lv in enumerate(lvs):
            fills, r = view_fills(ctx, lv, mode, rkey)
            # the stored picture has the title and legend: recolour that one (to_svg of the same layout)
            role, where = roles[j], found[j]
            if where is not None:
                coloured = list(role)
                for i, nid, k in where:
                    coloured[i] = _derive(fills.get(nid) or NO_VALUE, k)
            else:
                coloured = COLOUR.split(to_svg(lv, fills=fills))[1::2]
            d: list[int] = []
            for i, (a, b) in enumerate(zip(role, coloured, strict=True)):
                if a != b:
                    d += [i, palette.setdefault(b, len(palette))]
            diffs.append(d)
            ranges.append(r)
        values, why = _values(ctx, boxes, mode, rkey)  # every box, once: a value is the box's own
        for x, val in values.items():
            tips[x] = f"{_title(mode)}: {_fmt(mode, val)}"
        for x, w in why.items():
            tips.setdefault(x, f"{_title(mode)}: {w}")
        out["values"][mode] = [values.get(x, 0) for x in out["ids"]]
        out["modes"].append([mode, _title(mode)])
        out["diffs"][mode], out["ranges"][mode], out["tips"][mode] = diffs, ranges, tips
    out["palette"] = list(palette)
    return out
