"""The Training tab: one real training step on the model shown (what trains, the loss, the gradients per layer,
the textbook rule on the strongest edge of a selected Linear, ∂L/∂output of a selected op), and N steps on a
copy with the loss curve. The shown model is never changed; steps are cached by their inputs (a small LRU of
immutable results, shared by content, never a tab's mutable state)."""

from __future__ import annotations

import shutil
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

from dash import Input, Output, State, dcc, html
from dash.exceptions import PreventUpdate

from bertviz_graph import format as fmt
from bertviz_graph.app import diff_panel, ids
from bertviz_graph.app.context import AppContext
from bertviz_graph.app.guard import error_text
from bertviz_graph.app.registry import model_for
from bertviz_graph.presenters import training as PT
from bertviz_graph.presenters.run_session import can_run
from bertviz_graph.train.step import train_step
from bertviz_graph.train.update import save_trained, train_steps

TAB_VALUE = "training"
TAB_LABEL = "Training"
TRAIN = "bv-train"  # store: the step's inputs + nonce
T_TEXT, T_PAIR, T_TARGET = "bv-train-text", "bv-train-pair", "bv-train-target"
T_OBJ, T_SET, T_LR, T_OPT = "bv-train-objective", "bv-train-set", "bv-train-lr", "bv-train-opt"
T_GO, T_STEPS, T_STEPS_GO = "bv-train-go", "bv-train-steps", "bv-train-steps-go"
T_STATUS, T_STRIP, T_SEL, T_HEAT = "bv-train-status", "bv-train-strip", "bv-train-sel", "bv-train-heat"
T_COMPARE, T_FOLDER = "bv-train-compare", "bv-train-folder"  # before/after in the Compare tab
T_WGRAD = "bv-train-wgrad"  # ∂L/∂W of the selected Linear
SETS = ["all", "last:2", "bias", "layernorm", "head", "lora:8"]
CONFIG = {"displaylogo": False}
_STEPS: OrderedDict[tuple, Any] = OrderedDict()
_LOCK = threading.Lock()


def runnable(C: AppContext) -> Any:
    """The model this tab trains (ONE place: the per-tab model registry swaps in here)."""
    return C.run_session.runnable


def layout(C: AppContext) -> html.Div:

    reason = can_run(C.graph)
    row = {"display": "flex", "gap": "6px", "alignItems": "center", "flexWrap": "wrap", "margin": "4px 0"}
    return html.Div([
        html.Div(f"Training is disabled: {reason}" if reason else
                 "One real training step (autograd on the real model, dropout off): what trains, by how much, why.",
                 className="bv-banner" if reason else "bv-explain"),
        dcc.Input(id=T_TEXT, value="A man is playing a guitar.", type="text", style={"width": "100%"}),
        dcc.Input(id=T_PAIR, value="Someone plays an instrument.", type="text", style={"width": "100%"},
                  placeholder="second sentence (similarity)"),
        html.Div([html.Span("objective"),
                  dcc.Dropdown(id=T_OBJ, options=["auto", "similarity", "mlm", "classify"], value="auto",
                               clearable=False, style={"width": "130px"}),
                  html.Span("target"), dcc.Input(id=T_TARGET, value=0.5, type="number", step=0.1,
                                                 style={"width": "60px"}),
                  html.Span("trains"), dcc.Dropdown(id=T_SET, options=SETS, value="all", clearable=False,
                                                    style={"width": "110px"}),
                  html.Span("lr"), dcc.Input(id=T_LR, value=1e-3, type="number", style={"width": "80px"}),
                  dcc.RadioItems(id=T_OPT, options=["sgd", "adamw"], value="sgd", inline=True)], style=row),
        html.Div([html.Button("Take one step", id=T_GO, n_clicks=0, className="bv-btn bv-btn-primary"),
                  html.Span("or"), dcc.Input(id=T_STEPS, value=5, type="number", min=2, max=50,
                                             style={"width": "55px"}),
                  html.Button("steps on a copy", id=T_STEPS_GO, n_clicks=0, className="bv-btn")], style=row),
        dcc.Store(id=TRAIN, data=None), dcc.Store(id=T_FOLDER, data=None),
        html.Button("Compare before / after →", id=T_COMPARE, n_clicks=0, className="bv-btn",
                    style={"display": "none"}),
        dcc.Loading(html.Div("Press “Take one step”.", id=T_STATUS, className="bv-empty")),
        dcc.Graph(id=T_STRIP, config=CONFIG, style={"display": "none"}),
        html.Div(id=T_SEL, className="bv-explain"),
        dcc.Graph(id=T_HEAT, config=CONFIG, style={"display": "none"}),
        dcc.Graph(id=T_WGRAD, config=CONFIG, style={"display": "none"}),
    ])


def _key(C: AppContext, spec: dict) -> tuple:
    return tuple(sorted((k, str(v)) for k, v in spec.items() if k != "nonce")) + (id(C.graph),)


def _step(C: AppContext, spec: dict) -> tuple[Any, list[float] | None, str | None]:

    key = _key(C, spec)
    with _LOCK:
        if key in _STEPS:
            return _STEPS[key]
    run = runnable(C)
    obj = None if spec["objective"] == "auto" else spec["objective"]
    kw = dict(objective=obj, target=spec["target"], lr=float(spec["lr"] or 0))
    pair = spec["pair"] or None
    step = train_step(C.graph, run, spec["text"], pair, trainable=spec["set"], **kw)
    losses, folder = None, None
    if spec.get("steps"):
        import tempfile


        model, losses = train_steps(run, [{"text": spec["text"], "pair": pair, "target": spec["target"]}],
                                    int(spec["steps"]), kw["lr"], spec["set"], spec["opt"], obj)
        # the trained copy as a folder the Compare tab reads (a temporary one, removed when evicted)
        folder = str(save_trained(model, Path(tempfile.mkdtemp(prefix="bvg-trained-")) / f"{run.name}-after-{len(losses)}-steps", run))
    with _LOCK:
        _STEPS[key] = (step, losses, folder)
        while len(_STEPS) > 3:
            old = _STEPS.popitem(last=False)[1][2]
            if old:
                shutil.rmtree(Path(old).parent, ignore_errors=True)
    return step, losses, folder


def register(app, C: AppContext) -> None:
    @app.callback(Output(TRAIN, "data"), Input(T_GO, "n_clicks"), Input(T_STEPS_GO, "n_clicks"),
                  State(T_TEXT, "value"), State(T_PAIR, "value"), State(T_TARGET, "value"), State(T_OBJ, "value"),
                  State(T_SET, "value"), State(T_LR, "value"), State(T_OPT, "value"), State(T_STEPS, "value"),
                  State(TRAIN, "data"), prevent_initial_call=True)
    def _go(_a, _b, text, pair, target, objective, tset, lr, opt, steps, cur):
        from dash import ctx

        n = int(steps or 0) if ctx.triggered_id == T_STEPS_GO else 0
        return {"text": text or "", "pair": pair or "", "target": target, "objective": objective, "set": tset,
                "lr": lr, "opt": opt, "steps": n, "nonce": (cur or {}).get("nonce", 0) + 1}

    @app.callback(Output(T_STATUS, "children"), Output(T_STATUS, "className"), Output(T_STRIP, "figure"),
                  Output(T_STRIP, "style"), Output(T_FOLDER, "data"), Output(T_COMPARE, "style"),
                  Input(TRAIN, "data"), State(ids.MODEL, "data"), prevent_initial_call=True)
    def _show(spec, model=None):
        C = model_for(app, model)  # the tab's model (app/registry.py)
        if not spec:
            raise PreventUpdate
        hide = {"display": "none"}
        try:
            step, losses, folder = _step(C, spec)
        except Exception as e:  # noqa: BLE001 - one sentence, never a traceback
            return error_text(e), "bv-banner", {}, hide, None, hide
        lines = [html.Div(f"{step.objective}: loss {step.loss:.5g} — {step.describe}"),
                 html.Div(f"trainable: {step.counts.sentence()}"),
                 html.Div(f"dropout {'ON' if step.dropout else 'off'}; {len(step.grads)} gradients"
                          f" + {sum(map(len, step.act_grads))} op gradients in {fmt.seconds(step.seconds)}"
                          " (the shown model is unchanged)")]
        if losses:
            lines.append(html.Div(f"{len(losses)} steps on a copy: loss {losses[0]:.4g} → {losses[-1]:.4g}"))
        lines += [html.Div(n, className="bv-banner") for n in step.notes]
        return (lines, "bv-explain", PT.strip_figure(step, spec.get("opt") or "sgd", losses), {}, folder,
                {} if folder else hide)

    @app.callback(Output(diff_panel.INPUT, "value", allow_duplicate=True),
                  Output(ids.TABS, "value", allow_duplicate=True),
                  Output(diff_panel.GO, "n_clicks", allow_duplicate=True),
                  Input(T_COMPARE, "n_clicks"), State(T_FOLDER, "data"), State(diff_panel.GO, "n_clicks"),
                  prevent_initial_call=True)
    def _compare(n, folder, go):
        if not n or not folder:
            raise PreventUpdate
        return folder, diff_panel.TAB_VALUE, (go or 0) + 1

    @app.callback(Output(T_WGRAD, "figure"), Output(T_WGRAD, "style"), Input(ids.SELECTED, "data"),
                  Input(T_STATUS, "children"), State(TRAIN, "data"), State(ids.MODEL, "data"))
    def _weight_grad(selected, _status, spec, model=None):
        from bertviz_graph.presenters import activations as PA  # lazy: start-up (plotly)

        C = model_for(app, model)  # the tab's model (app/registry.py)
        node = selected.get("id") if isinstance(selected, dict) else None
        with _LOCK:
            hit = _STEPS.get(_key(C, spec)) if spec else None
        lin = PA.linear_module(C.graph, C.h, node) if node else None
        if hit is None or lin is None or f"{lin}.weight" not in hit[0].grads:
            return {}, {"display": "none"}
        try:
            return PT.weight_grad_figure(hit[0], f"{lin}.weight"), {}
        except Exception:  # noqa: BLE001 - the rule above already says what is wrong
            return {}, {"display": "none"}

    @app.callback(Output(T_SEL, "children"), Output(T_HEAT, "figure"), Output(T_HEAT, "style"),
                  Input(ids.SELECTED, "data"), Input(T_STATUS, "children"), State(TRAIN, "data"),
                  State(ids.MODEL, "data"))
    def _selected(selected, _status, spec, model=None):
        from bertviz_graph.presenters import activations as PA  # lazy: start-up (plotly)

        C = model_for(app, model)  # the tab's model (app/registry.py)
        hide = {"display": "none"}
        node = selected.get("id") if isinstance(selected, dict) else None
        if not spec or not node:
            return "Select a Linear (or any op) in the graph to see its gradient here.", {}, hide
        try:
            with _LOCK:
                hit = _STEPS.get(_key(C, spec))
            if hit is None:
                raise PreventUpdate
            step = hit[0]
            out: list[Any] = []
            lin = PA.linear_module(C.graph, C.h, node)
            if lin is not None and f"{lin}.weight" in step.grads and step.act_grads:
                j, i = PT.strongest_edge(step, lin)
                rule = step.edge(lin, j, i)
                out.append(html.H4(f"The rule on the strongest edge of {lin}"))
                out.append(html.Pre("\n".join(rule.lines()), style={"fontSize": "11px", "whiteSpace": "pre-wrap"}))
            elif lin is not None:
                out.append(html.Div(f"{lin} is frozen in this step." if f"{lin}.weight" not in step.grads
                                    else "no op gradients in this step (LoRA or dropout)"))
            op = PA.op_for(C.graph, C.h, node)
            fig, style = {}, hide
            if op is not None and step.act_grads and op in step.act_grads[0]:
                fig, style = PT.grad_heatmap(step, op), {}
            elif op is not None:
                out.append(html.Div(f"{op} passes no gradient to the loss" if step.act_grads else ""))
            return out or "Select a Linear (or any op) in the graph.", fig, style
        except PreventUpdate:
            raise
        except Exception as e:  # noqa: BLE001
            return error_text(e), {}, hide
