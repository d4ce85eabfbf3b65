"""The Training tab: one real training step on the model shown (what trains, the loss, the gradients per layer,
the textbook rule on the strongest edge of a selected Linear, ∂L/∂output of a selected op), and N steps on a
copy with the loss curve. The shown model is never changed; steps are cached by their inputs (a small LRU of
immutable results, shared by content, never a tab's mutable state)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

from dash import Input, Output, State, dcc, html
from dash.exceptions import PreventUpdate

from bertviz_graph import jobs
from bertviz_graph.app import diff_panel, ids
from bertviz_graph.app.context import AppContext
from bertviz_graph.app.guard import error_text
from bertviz_graph.app.registry import model_for
from bertviz_graph.presenters import training as PT
from bertviz_graph.train import job as TJ

TAB_VALUE = "training"
TAB_LABEL = "Training"
TRAIN = "bv-train"  # store: the step's inputs + nonce
T_TEXT, T_PAIR, T_TARGET = "bv-train-text", "bv-train-pair", "bv-train-target"
T_OBJ, T_SET, T_LR, T_OPT = "bv-train-objective", "bv-train-set", "bv-train-lr", "bv-train-opt"
T_GO, T_STEPS, T_STEPS_GO = "bv-train-go", "bv-train-steps", "bv-train-steps-go"
T_STATUS, T_STRIP, T_SEL, T_HEAT = "bv-train-status", "bv-train-strip", "bv-train-sel", "bv-train-heat"
T_COMPARE, T_FOLDER = "bv-train-compare", "bv-train-folder"  # before/after in the Compare tab
T_WGRAD = "bv-train-wgrad"  # ∂L/∂W of the selected Linear
T_JOB, T_POLL, T_JOB_STATUS = "bv-train-job", "bv-train-poll", "bv-train-job-status"  # N steps: a job (train/job.py)
T_LOSSES = "bv-train-losses"  # the finished job's losses (drawn into the strip)
SETS = ["all", "last:2", "bias", "layernorm", "head", "lora:8"]
CONFIG = {"displaylogo": False}
_STEPS: OrderedDict[tuple, Any] = OrderedDict()
_LOCK = threading.Lock()


def runnable(C: AppContext) -> Any:
    """The model this tab trains (ONE place: the per-tab model registry swaps in here)."""
    return C.run_session.runnable


def layout(C: AppContext) -> html.Div:
    from bertviz_graph.presenters.run_session import can_run

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
        dcc.Store(id=TRAIN, data=None), dcc.Store(id=T_FOLDER, data=None), dcc.Store(id=T_JOB, data=None),
        dcc.Store(id=T_LOSSES, data=None),
        dcc.Interval(id=T_POLL, interval=1000, disabled=True), html.Div(id=T_JOB_STATUS, className="bv-explain"),
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
    from bertviz_graph.train.step import train_step

    key = _key(C, spec)
    with _LOCK:
        if key in _STEPS:
            return _STEPS[key]
    run = runnable(C)
    obj = None if spec["objective"] == "auto" else spec["objective"]
    kw = dict(objective=obj, target=spec["target"], lr=float(spec["lr"] or 0))
    pair = spec["pair"] or None
    step = train_step(C.graph, run, spec["text"], pair, trainable=spec["set"], **kw)
    losses, folder = None, None  # N steps on a copy run as a job (train/job.py), polled by the tab
    with _LOCK:
        _STEPS[key] = (step, losses, folder)
        while len(_STEPS) > 3:
            _STEPS.popitem(last=False)
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
                          f" + {sum(map(len, step.act_grads))} op gradients in {step.seconds:.2f} s"
                          " (the shown model is unchanged)")]
        if losses:
            lines.append(html.Div(f"{len(losses)} steps on a copy: loss {losses[0]:.4g} → {losses[-1]:.4g}"))
        lines += [html.Div(n, className="bv-banner") for n in step.notes]
        return (lines, "bv-explain", PT.strip_figure(step, spec.get("opt") or "sgd", losses), {}, folder,
                {} if folder else hide)

    @app.callback(Output(T_JOB, "data"), Output(T_POLL, "disabled"), Output(T_JOB_STATUS, "children"),
                  Input(TRAIN, "data"), State(ids.MODEL, "data"), State(ids.TAB_SECRET, "data"),
                  prevent_initial_call=True)
    def _start_steps(spec, model=None, secret=None):
        """"steps on a copy": a job in the server's jobs folder (queued over the limit), polled below."""
        if not spec or not spec.get("steps"):
            return None, True, ""
        try:
            obj = None if spec["objective"] == "auto" else spec["objective"]
            jid = TJ.start(runnable(model_for(app, model)), {"text": spec["text"], "pair": spec["pair"] or None,
                           "target": spec["target"]}, int(spec["steps"]), float(spec["lr"] or 0), spec["set"],
                           spec["opt"], obj, owner=str(secret or ""))
        except Exception as e:  # noqa: BLE001 - one sentence, never a traceback
            return None, True, error_text(e)
        return jid, False, f"{spec['steps']} steps on a copy: starting…"

    @app.callback(Output(T_JOB_STATUS, "children", allow_duplicate=True), Output(T_POLL, "disabled", allow_duplicate=True),
                  Output(T_LOSSES, "data"),
                  Output(T_FOLDER, "data", allow_duplicate=True), Output(T_COMPARE, "style", allow_duplicate=True),
                  Input(T_POLL, "n_intervals"), State(T_JOB, "data"), State(TRAIN, "data"), State(ids.MODEL, "data"),
                  State(ids.TAB_SECRET, "data"), prevent_initial_call=True)
    def _poll_steps(_n, jid, spec, model=None, secret=None):
        from dash import no_update

        st = jobs.status(jid, owner=str(secret or ""))  # from the jobs folder: any worker answers, owner only
        keep = (no_update,) * 3
        if st is None:
            return "the training job is gone (the server restarted?): press the button again", True, *keep
        if st["state"] == "queued":
            return jobs.queued_text(st), False, *keep
        if st["state"] == "running":
            return f"{st['step']} ({st['elapsed']:.0f} s)", False, *keep
        if st["state"] == "error":
            return st["error"], True, *keep
        losses = [float(x) for x in st.get("losses") or []]  # drawn by _draw_losses: a poll stays quick, else
        return (f"{len(losses)} steps on a copy: loss {losses[0]:.4g} → {losses[-1]:.4g} in "  # the next tick
                f"{st.get('elapsed', 0):.1f} s", True, losses, st.get("folder"), {})  # drops its answer

    @app.callback(Output(T_STRIP, "figure", allow_duplicate=True), Output(T_STRIP, "style", allow_duplicate=True),
                  Input(T_LOSSES, "data"), State(TRAIN, "data"), State(ids.MODEL, "data"), prevent_initial_call=True)
    def _draw_losses(losses, spec, model=None):
        if not losses or not spec:
            raise PreventUpdate
        try:
            step = _step(model_for(app, model), spec)[0]
            return PT.strip_figure(step, spec.get("opt") or "sgd", losses), {}
        except Exception:  # noqa: BLE001 - the status line already says what the steps did
            raise PreventUpdate from None

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
        from bertviz_graph.presenters import activations as PA

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
        from bertviz_graph.presenters import activations as PA

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
