"""What the server holds for one model: its traced graph, its weights, and small bounded caches.

One ``AppContext`` per model spec, built once and never re-initialised, held by the app's registry
(app/registry.py, ``model_for(app, spec)``); nothing per session. Every browser tab keeps its model spec
and its own ViewState in ``dcc.Store``s; a callback turns that plain data back into a
``View`` (dropping ids this model does not have), lays it out through the shared, LRU-bounded layout cache,
and answers. Two tabs exploring different paths at once therefore never see each other.
"""

from __future__ import annotations

import json
import logging
import math
import threading
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any

from bertviz_graph.details import weights_for
from bertviz_graph.gc_pause import gc_paused
from bertviz_graph.graph import OpGraph
from bertviz_graph.hierarchy.tree import ROOT, Hierarchy, build_hierarchy
from bertviz_graph.layout import layout_of
from bertviz_graph.layout.types import LaidOutView
from bertviz_graph.memo import Memo
from bertviz_graph.memsize import approx_bytes
from bertviz_graph.presenters.analysis_colors import COLOR_MODES as ANALYSIS_MODES
from bertviz_graph.presenters.analysis_colors import box_value, param_values
from bertviz_graph.presenters.common import is_trained
from bertviz_graph.presenters.pruning import group_sparsity, sparsity
from bertviz_graph.presenters.run_session import RunSession
from bertviz_graph.presenters.train_session import TrainSession, spec_key
from bertviz_graph.presenters.training_graph import MODES as TRAIN_COLOR_MODES
from bertviz_graph.presenters.training_graph import picture as train_picture
from bertviz_graph.render.svg import to_svg
from bertviz_graph.render.weights import stats
from bertviz_graph.sources.status import weights_status
from bertviz_graph.threads import start_background
from bertviz_graph.view import View, ViewState
from bertviz_graph.view_types import VNode

log = logging.getLogger(__name__)


def _sequential_scale() -> list[str]:
    from plotly.colors import sample_colorscale, sequential

    return sample_colorscale(sequential.YlOrRd, [0.0, 0.2, 0.4, 0.55, 0.7])


COLOR_MODES = {"role": "Role", "flops": "FLOPs", "params": "Parameters", "norm": "Weight norm",
               "sparsity": "Sparsity (exact zeros)", "activation": "Activation RMS (this tab's run)",
               "change": "Change ‖out − in‖/‖in‖ (this tab's run)",
               **ANALYSIS_MODES,  # FFN ablation and effective rank (presenters/analysis_colors.py)
               **TRAIN_COLOR_MODES}  # the tab's training step, its bv-train store (presenters/training_graph.py)
RUN_MODES = ("activation", "change")  # colour-by modes that follow the tab's own run (the RUN store)
TRAIN_MODES = tuple(TRAIN_COLOR_MODES)
# plotly's YlOrRd, light -> strong, cut before its darkest stops so dark text stays readable on every fill
SEQUENTIAL: list[str] = _sequential_scale()
NO_VALUE = "#f4f4f4"


LRU = Memo  # the app's bounded caches (memo.Memo: cachetools, byte budget, each value computed once)


@dataclass
class Rendered:
    """One laid-out view and its picture (render/svg.py, without title and legend: the page has its own)."""

    view: View
    lv: LaidOutView
    svg: str
    values: dict[str, float]  # colour-by values of visible nodes (empty for "role")
    vrange: tuple[float, float] | None
    why: dict[str, str] = field(default_factory=dict)  # visible boxes without a value: why (colour-by change)
    tips: dict[str, Any] | None = None  # canvas tooltips of a training colour-by ({"edges", "nodes"})

    @property
    def nbytes(self) -> int:
        """What this entry adds to the cache (memsize counts an object by its ``nbytes``). Estimated, not
        walked: walking the view counted the hierarchy every entry shares (25-70 ms a click) and walking the
        layout still cost ~15 ms. Errs large: a layout walked to 1.1-2.1x the SVG's length plus ~1.3 kB a
        box and 130 B a route point on bert-base and synthetic views (tests/test_layout.py checks)."""
        return (3 * len(self.svg) + 2000 * len(self.lv.boxes) + 200 * self.lv.route_points
                + 200 * (len(self.values) + len(self.why)) + 4096)


class AppContext:
    """One model's traced graph plus bounded caches; shared by every tab that shows this model."""

    def __init__(self, graph: OpGraph, direction: str = "TB", view_cache: int = 48):
        if graph.hierarchy is None:

            graph.hierarchy = build_hierarchy(graph)
        self.graph = graph
        self.h: Hierarchy = graph.hierarchy
        self.direction = direction
        self._weights = None
        self._weights_lock = threading.Lock()
        # Byte budgets: a rendered bert-base view is ~0.1-2 MB, a weight overview up to ~10 MB.
        self._rendered = LRU(view_cache, max_bytes=96 * 1024**2)
        # Views by state: a View computes its visible boxes once (~5-40 ms on bert-base), and one click asks
        # for the current and the new view several times (controller, size check, layout, panels).
        self._views = LRU(view_cache)
        self.stats_cache = LRU(16, max_bytes=16 * 1024**2)
        self.matrix_cache = LRU(8, max_bytes=160 * 1024**2)
        self.figures = LRU(16, max_bytes=64 * 1024**2)  # panel figures that only depend on the model
        self._sumsq: dict[str, float] = {}  # one entry per parameter of the model at most
        self.default_state = View.default(self.h, direction=direction).state
        self._prefetching = threading.Lock()

    # ---- what it holds (the registry's byte budget follows it) ---------------------------------------------
    VIEW_BYTES = 16 * 1024  # a cached View (visible boxes and edges; the hierarchy is shared): errs large

    def _memos(self) -> tuple[Memo, ...]:
        return (self._rendered, self.stats_cache, self.matrix_cache, self.figures)

    @property
    def nbytes(self) -> int:
        """Bytes this model holds NOW: its graph and hierarchy (measured once), its caches (each bounded in
        bytes), its runs and loaded model, the random-weight tensors kept. Cheap (a sum of counters): the
        registry re-reads it on every lookup, so its budget follows what a model gathers after it was added
        (app/registry.py), not only what it held when it was built."""
        base = self.__dict__.get("_bv_base_bytes")
        if base is None:
            base = self.__dict__["_bv_base_bytes"] = approx_bytes(self.graph)  # includes the hierarchy
        n = base + sum(m.nbytes for m in self._memos()) + self.VIEW_BYTES * len(self._views)
        n += 64 * len(self._sumsq)
        runs = self.__dict__.get("bv_run_session")
        if runs is not None:
            n += runs.nbytes
        if self._weights is not None:
            n += int(getattr(self._weights, "cached_bytes", 0) or 0)
        return n

    def drop_caches(self) -> int:
        """Empty the caches that are recomputed on demand (pictures, matrices, statistics, figures); the
        registry does it to a model it cannot evict (the server's own, or the one a request is using) when
        that alone is over the budget. Returns the bytes released (as counted)."""
        before = sum(m.nbytes for m in self._memos())
        for m in self._memos():
            m.clear()
        return before

    # ---- weights --------------------------------------------------------------------------------------
    @property
    def weights(self):
        with self._weights_lock:
            if self._weights is None:

                self._weights = weights_for(self.graph)
            return self._weights

    @property
    def trained(self) -> bool:

        return is_trained(self.graph, self.weights)

    @property
    def weights_status(self):

        return weights_status(self.graph)

    def prefetch(self, cache: Memo, key: Hashable, make: Callable[[], Any]) -> bool:
        """Compute ``cache[key]`` in a background thread, one at a time (skipped when one is running)."""
        if not self._prefetching.acquire(blocking=False):
            return False

        def run() -> None:
            try:
                cache.get_or_make(key, make)
            except Exception:  # noqa: BLE001 - the request that needs it will say what is wrong
                log.debug("prefetch of %r failed", key, exc_info=True)
            finally:
                self._prefetching.release()

        start_background(run, name="bv-prefetch")
        return True

    # ---- state <-> view --------------------------------------------------------------------------------
    def state(self, d: dict[str, Any] | None) -> tuple[ViewState, list[str]]:
        """A ViewState from browser data, keeping only ids this model has; plus what was dropped."""
        dropped: list[str] = []
        if d is None:
            return self.default_state, dropped
        if not isinstance(d, dict):
            return self.default_state, ["(unreadable view state)"]
        groups = self.h.groups

        def ids(key: str) -> frozenset[str]:
            raw = d.get(key) or []
            keep = set()
            for x in raw if isinstance(raw, (list, tuple)) else []:
                if isinstance(x, str) and x in groups and x != ROOT:
                    keep.add(x)
                else:
                    dropped.append(str(x))
            return frozenset(keep)

        opened, unfolded = ids("opened"), ids("unfolded")
        unfolded = frozenset(s for s in unfolded if groups[s].kind == "series")
        inst: dict[str, int] = {}
        raw_inst = d.get("instance") or {}
        for k, v in raw_inst.items() if isinstance(raw_inst, dict) else []:
            g = groups.get(k)
            try:
                i = int(v)
            except (TypeError, ValueError):
                dropped.append(str(k))
                continue
            if g is None or g.kind != "series":
                dropped.append(str(k))
                continue
            inst[k] = min(max(i, 0), len(g.members) - 1)
        return ViewState(opened=opened, unfolded=unfolded, instance=tuple(sorted(inst.items()))), dropped

    def view(self, state: ViewState) -> View:
        return self._views.get_or_make(state, lambda: View(self.h, state, direction=self.direction))

    @staticmethod
    def state_key(state: ViewState) -> str:
        return json.dumps(state.to_json_dict(), sort_keys=True)

    # ---- rendering ---------------------------------------------------------------------------------------
    @property
    def run_session(self):
        """The model's runs (presenters.run_session), shared by every tab; made on first use."""

        s = self.__dict__.get("bv_run_session")
        if s is None:
            s = self.__dict__["bv_run_session"] = RunSession(self.graph)
        return s

    @staticmethod
    def run_key(run: dict | None) -> tuple | None:
        """The key of a tab's run (its RUN store: text, pair, ids), None when it ran nothing."""

        if not isinstance(run, dict) or not (run.get("text") or run.get("ids")):
            return None
        return RunSession.key_of(run.get("text"), run.get("pair") or None, run.get("ids") or None)

    @property
    def train_session(self):
        """The model's training steps (presenters.train_session), shared by every tab; made on first use."""
        s = self.__dict__.get("bv_train_session")
        if s is None:
            s = self.__dict__.setdefault("bv_train_session", TrainSession(self.graph, lambda: self.run_session.runnable))
        return s

    def render(self, state: ViewState, color_by: str = "role", run: dict | None = None,
               train: dict | None = None) -> Rendered:
        """The picture of ``state``; colour-by activation/change use the tab's own run (its RUN store), the
        training modes the tab's own step (its bv-train store; drawn once the step was taken)."""
        color_by = color_by if color_by in COLOR_MODES else "role"
        rkey = self.run_key(run) if color_by in RUN_MODES else None
        if color_by in TRAIN_MODES:
            tkey = spec_key(train) if self.train_session.cached(train) is not None else None
            key = (self.state_key(state), color_by, tkey)
            return self._rendered.get_or_make(key, lambda: self._render_train(state, color_by, train if tkey else None))
        key = (self.state_key(state), color_by, rkey)
        return self._rendered.get_or_make(key, lambda: self._render_paused(state, color_by, rkey))

    def _render_paused(self, state: ViewState, color_by: str, rkey: tuple | None) -> Rendered:
        with gc_paused():  # the view, too, is ~10^5 short-lived objects beside a heap of millions
            return self._render(state, color_by, rkey)

    def _render_train(self, state: ViewState, mode: str, train: dict | None) -> Rendered:
        """Colour-by the tab's training step: the same presenter as ``bertviz-graph train --graph``."""
        view = self.view(state)
        lv = layout_of(view)
        hit = self.train_session.cached(train)
        if hit is None:
            fills = {n.id: NO_VALUE for n in lv.view.nodes}
            return Rendered(view, lv, to_svg(lv, legend=False, title=False, fills=fills), {}, None)
        pic = train_picture(hit[0], view, lv, mode, (train or {}).get("opt") or "sgd")
        vals = pic["values"]
        vrange = (min(vals.values()), max(vals.values())) if vals else None
        svg = to_svg(lv, legend=False, title=False, fills=pic["fills"], strokes=pic["strokes"], overlay=pic["overlay"])
        return Rendered(view, lv, svg, vals, vrange, {"": pic["why"]} if pic["why"] else {}, pic["tips"])

    def _render(self, state: ViewState, color_by: str, rkey: tuple | None = None) -> Rendered:

        view = self.view(state)
        lv = layout_of(view)
        values: dict[str, float] = {}
        fills: dict[str, str] = {}
        vrange = None
        why: dict[str, str] = {}
        if color_by == "change" and rkey is not None:
            from bertviz_graph.presenters.activations import change_values  # lazy: start-up (plotly)

            acts = self.run_session.run(rkey[0], rkey[1] or None, list(rkey[2]) or None)
            got = change_values(self.graph, self.h, acts, [n.id for n in lv.view.nodes if not n.expanded])
            values = {k: v for k, v in got.items() if isinstance(v, float) and v > 0}
            why = {k: v for k, v in got.items() if isinstance(v, str)}
        elif color_by != "role":
            for n in lv.view.nodes:
                v = self.node_value(n, color_by, rkey)
                if v is not None and v > 0:
                    values[n.id] = v
        if color_by != "role":
            if values:
                lo, hi = min(values.values()), max(values.values())
                vrange = (lo, hi)
                for n in lv.view.nodes:
                    fills[n.id] = color_for(values.get(n.id), lo, hi)
            else:
                fills = {n.id: NO_VALUE for n in lv.view.nodes}
        return Rendered(view, lv, to_svg(lv, legend=False, title=False, fills=fills), values, vrange, why)

    # ---- colour-by values ---------------------------------------------------------------------------------
    def node_value(self, n: VNode, mode: str, rkey: tuple | None = None) -> float | None:
        """The colour-by value of a visible box; None for an opened frame (its children carry the colour,
        and its total would squash them all to the pale end of the scale)."""
        if n.expanded:
            return None
        a = n.attrs
        if mode == "flops":
            return float(a["flops"]) if a.get("flops") else None
        if mode == "params":
            if n.kind in ("group", "series"):
                return float(a.get("params") or 0) or None
            if n.kind == "param":
                return float(a.get("numel") or 0) or None
            return None
        if mode == "sparsity":
            return self.sparsity_values().get(n.id) or None
        if mode == "activation":
            return self.run_session.activation_value(self.h, n.id, rkey) if rkey is not None else None
        if mode in ANALYSIS_MODES:
            return box_value(self.param_names_under(n), self.analysis_values(mode))
        if mode == "norm":
            names = self.param_names_under(n)
            if not names:
                return None
            return math.sqrt(sum(self.sumsq(p) for p in names))
        return None

    def sparsity_values(self) -> dict[str, float]:
        """Fraction of exact zeros per group and weight (pruned models), from the pruning presenter."""
        if "_sparsity" not in self.__dict__:

            self.__dict__["_sparsity"] = group_sparsity(self.graph, sparsity(self.graph, self.weights)) \
                if self.trained else {}
        return self.__dict__["_sparsity"]

    def analysis_values(self, mode: str) -> dict[str, float]:
        """{weight name: value} of an analysis colour-by, computed once per model (shared by every tab)."""
        return self.figures.get_or_make(("colour-by", mode), lambda: param_values(self.graph, mode)[0])

    def param_names_under(self, n: VNode) -> list[str]:
        g = self.graph.g
        if n.kind in ("group", "series") and n.id in self.h.groups:
            leaves = self.h.leaves(n.id)
            return [g.nodes[x]["name"] for x in leaves if x in g and g.nodes[x]["kind"] == "param"]
        if n.kind == "param" and n.id in g:
            return [g.nodes[n.id]["name"]]
        return []

    def sumsq(self, name: str) -> float:
        if name not in self._sumsq:

            try:
                self._sumsq[name] = float(stats(self.weights, name)["fro_norm"]) ** 2
            except Exception:  # a tensor the store cannot read: no value rather than no picture
                log.exception("weight norm of %s", name)
                self._sumsq[name] = 0.0
        return self._sumsq[name]


def color_for(v: float | None, lo: float, hi: float) -> str:
    """Sequential colour for ``v`` on a LINEAR scale from 0 to ``hi`` (``NO_VALUE`` for nothing).

    Linear, because the question is where the parameters and the compute are: on a log scale BERT-base's
    attention (1.2 GFLOPs), feed-forward (2.4 G) and MLM head (0.8 G) came out the same orange."""
    from plotly.colors import sample_colorscale, unlabel_rgb

    if v is None or v <= 0:
        return NO_VALUE
    t = 0.0 if hi <= 0 else min(max(v / hi, 0.0), 1.0)
    rgb = unlabel_rgb(sample_colorscale(SEQUENTIAL, [t])[0])  # plotly interpolates between the stops
    return "#" + "".join(f"{round(c):02x}" for c in rgb)
