"""The Training tab: one real training step on the model shown (what trains, the loss, the gradients per layer,
the textbook rule on the strongest edge of a selected Linear, ∂L/∂output of a selected op), and N steps on a
copy with the loss curve and a progress bar. The shown model is never changed; steps are cached by their inputs
(``C.train_session``: a small LRU of immutable results, shared by content, never a tab's mutable state). Once a
step is taken its inputs go to ``T_DONE``, which the graph's colour-by (gradient, update, backward) follows.
N steps on a copy are a job in the server's jobs folder (train/job.py): the callback that starts one returns at
once, any worker answers the tab's poll (progress, losses, the copy's folder), over the limit it queues."""

from __future__ import annotations

from typing import Any

from dash import Input, Output, State, dcc, html
from dash.exceptions import PreventUpdate

from bertviz_graph import format as fmt
from bertviz_graph import jobs
from bertviz_graph.app import diff_panel, ids
from bertviz_graph.app.context import AppContext
from bertviz_graph.app.guard import error_text
from bertviz_graph.app.registry import model_for
from bertviz_graph.presenters import training as PT
from bertviz_graph.presenters.run_session import can_run
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
T_TOP = "bv-train-top"  # its largest entries, with their heads
T_NEURONS = "bv-train-neurons"  # its strongest-gradient edges drawn as neurons
T_DONE = "bv-train-done"  # store: the inputs of the step taken (graph_panel.TRAIN_STORE reads it)
T_POLL, T_PROGRESS = "bv-train-poll", "bv-train-progress"  # N steps on a copy: the progress bar
T_JOB, T_JOB_STATUS = "bv-train-job", "bv-train-job-status"  # N steps: a job (train/job.py) and its last line
T_LOSSES = "bv-train-losses"  # the finished job's losses (drawn into the strip)
SETS = ["all", "last:2", "bias", "layernorm", "head", "lora:8"]
CONFIG = {"displaylogo": False}


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
        dcc.Store(id=TRAIN, data=None), dcc.Store(id=T_FOLDER, data=None), dcc.Store(id=T_DONE, data=None),
        dcc.Store(id=T_JOB, data=None), dcc.Store(id=T_LOSSES, data=None),
        dcc.Interval(id=T_POLL, interval=500, disabled=True),
        html.Div(id=T_PROGRESS, style={"display": "none"}), html.Div(id=T_JOB_STATUS, className="bv-explain"),
        html.Button("Compare before / after →", id=T_COMPARE, n_clicks=0, className="bv-btn",
                    style={"display": "none"}),
        dcc.Loading(html.Div("Press “Take one step”.", id=T_STATUS, className="bv-empty")),
        dcc.Graph(id=T_STRIP, config=CONFIG, style={"display": "none"}),
        html.Div(id=T_SEL, className="bv-explain"),
        dcc.Graph(id=T_HEAT, config=CONFIG, style={"display": "none"}),
        dcc.Graph(id=T_WGRAD, config=CONFIG, style={"display": "none"}),
        html.Div(id=T_TOP),
        dcc.Graph(id=T_NEURONS, config=CONFIG, style={"display": "none"}),
    ])


def _cached(C: AppContext, spec: dict | None):
    return C.train_session.cached(spec) if spec else None


def progress_bar(done: int, total: int, loss: float) -> list[Any]:
    """N steps on a copy under way: a bar and its numbers."""
    text = f"step {done} of {total}" + (f": loss {loss:.4g}" if done and loss == loss else " (starting)")
    return [html.Progress(value=str(done), max=str(total), style={"width": "220px", "verticalAlign": "middle"}),
            html.Span(" " + text, style={"fontSize": "13px"})]


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
                  Output(T_DONE, "data"), Input(TRAIN, "data"), State(ids.MODEL, "data"), prevent_initial_call=True)
    def _show(spec, model=None):
        """The one step on the shown model (N steps on a copy are the job below: this shows their first)."""
        from dash import no_update

        C = model_for(app, model)  # the tab's model (app/registry.py)
        if not spec:
            raise PreventUpdate
        hide = {"display": "none"}
        one = {**spec, "steps": 0}
        try:
            step, _losses, _folder = C.train_session.step(one)
        except Exception as e:  # noqa: BLE001 - one sentence, never a traceback
            return error_text(e), "bv-banner", {}, hide, None, hide, None
        lines = [html.Div(f"{step.objective}: loss {step.loss:.5g} — {step.describe}"),
                 html.Div(f"trainable: {step.counts.sentence()}"),
                 html.Div(f"dropout {'ON' if step.dropout else 'off'}; {len(step.grads)} gradients"
                          f" + {sum(map(len, step.act_grads))} op gradients in {step.seconds:.2f} s"
                          " (the shown model is unchanged)")]
        lines.append(html.Div("Colour the graph by it: Colour by → Gradient, Relative update or Backward."))
        if PT.lora_sentence(step):
            lines.append(html.Div(PT.lora_sentence(step)))
        lines += [html.Div(n, className="bv-banner") for n in step.notes]
        keep = spec.get("steps")  # the job's poll sets the copy's folder and shows Compare when it is done
        return (lines, "bv-explain", PT.strip_figure(step, spec.get("opt") or "sgd", None), {},
                no_update if keep else None, no_update if keep else hide, one)

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
                  Output(T_PROGRESS, "children"), Output(T_PROGRESS, "style"), Output(T_LOSSES, "data"),
                  Output(T_FOLDER, "data", allow_duplicate=True), Output(T_COMPARE, "style", allow_duplicate=True),
                  Input(T_POLL, "n_intervals"), State(T_JOB, "data"), State(TRAIN, "data"),
                  State(ids.TAB_SECRET, "data"), prevent_initial_call=True)
    def _poll_steps(_n, jid, spec, secret=None):
        """The job's state from the jobs folder (any worker answers, its owner only). A poll stays quick: a slow
        answer is dropped when the next tick fires, so the loss curve is drawn by ``_draw_losses``."""
        from dash import no_update

        st = jobs.status(jid, owner=str(secret or ""))
        keep = (no_update,) * 3
        hide = {"display": "none"}
        if st is None:
            return "the training job is gone (the server restarted?): press the button again", True, [], hide, *keep
        if st["state"] == "queued":
            return jobs.queued_text(st), False, [], hide, *keep
        losses = [float(x) for x in st.get("losses") or []]
        if st["state"] == "running":
            bar = progress_bar(len(losses), int(st.get("steps") or 0), losses[-1] if losses else float("nan"))
            return f"{st['step']} ({fmt.seconds(st['elapsed'], 0)})", False, bar, {"margin": "4px 0"}, *keep
        if st["state"] == "error":
            return st["error"], True, [], hide, *keep
        opt = (spec or {}).get("opt") or "sgd"
        return (f"{len(losses)} steps on a copy ({opt}): loss {losses[0]:.4g} → {losses[-1]:.4g} in "
                f"{fmt.seconds(st.get('elapsed', 0), 1)}", True, [], hide, losses, st.get("folder"), {})

    @app.callback(Output(T_STRIP, "figure", allow_duplicate=True), Output(T_STRIP, "style", allow_duplicate=True),
                  Input(T_LOSSES, "data"), State(TRAIN, "data"), State(ids.MODEL, "data"), prevent_initial_call=True)
    def _draw_losses(losses, spec, model=None):
        if not losses or not spec:
            raise PreventUpdate
        try:
            step = model_for(app, model).train_session.step({**spec, "steps": 0})[0]
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

    @app.callback(Output(T_WGRAD, "figure"), Output(T_WGRAD, "style"), Output(T_TOP, "children"),
                  Output(T_NEURONS, "figure"), Output(T_NEURONS, "style"),
                  Input(ids.SELECTED, "data"), Input(T_DONE, "data"), State(ids.MODEL, "data"))
    def _weight_grad(selected, spec, model=None):
        from bertviz_graph.presenters import activations as PA  # lazy: start-up (plotly)

        C = model_for(app, model)  # the tab's model (app/registry.py)
        node = selected.get("id") if isinstance(selected, dict) else None
        hit = _cached(C, spec)
        lin = PA.linear_module(C.graph, C.h, node) if node else None
        hide = {"display": "none"}
        if hit is None or lin is None or f"{lin}.weight" not in hit[0].grads:
            return {}, hide, [], {}, hide
        try:
            name = f"{lin}.weight"
            edges = PT.grad_edges(hit[0], lin)
            fig = PT.grad_edges_figure(edges)
            fig.add_annotation(text=edges["caption"], showarrow=False, xref="paper", yref="paper", x=0, y=-0.02,
                               xanchor="left", yanchor="top", font={"size": 10})
            fig.update_layout(margin={"b": 40})
            return PT.weight_grad_figure(hit[0], name), {}, top_table(hit[0], name), fig, {}
        except Exception:  # noqa: BLE001 - the rule above already says what is wrong
            return {}, hide, [], {}, hide

    @app.callback(Output(T_SEL, "children"), Output(T_HEAT, "figure"), Output(T_HEAT, "style"),
                  Input(ids.SELECTED, "data"), Input(T_DONE, "data"), State(ids.MODEL, "data"))
    def _selected(selected, spec, model=None):
        from bertviz_graph.presenters import activations as PA  # lazy: start-up (plotly)

        C = model_for(app, model)  # the tab's model (app/registry.py)
        hide = {"display": "none"}
        node = selected.get("id") if isinstance(selected, dict) else None
        if not spec or not node:
            return "Select a Linear (or any op) in the graph to see its gradient here.", {}, hide
        try:
            hit = _cached(C, spec)
            if hit is None:
                raise PreventUpdate
            step = hit[0]
            out: list[Any] = []
            lin = PA.linear_module(C.graph, C.h, node)
            if lin is not None and f"{lin}.weight" in step.grads and step.act_grads:
                j, i = PT.strongest_edge(step, lin)
                rule = step.edge(lin, j, i, spec.get("opt") or "sgd")
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


def top_table(step: Any, name: str, k: int = 8) -> html.Div:
    """The largest |∂L/∂w_ji| of the selected matrix, with the head owning each (hierarchy/heads.py)."""
    rows = PT.largest_rows(step, name, k)
    heads = any(r["head"] is not None for r in rows)
    head = html.Tr([html.Th(x) for x in ["out j", "in i", "∂L/∂w_ji", *(["head"] if heads else [])]])
    body = [html.Tr([html.Td(r["out"]), html.Td(r["in"]), html.Td(f"{r['grad']:+.4g}"),
                     *([html.Td("" if r["head"] is None else r["head"])] if heads else [])]) for r in rows]
    return html.Div([html.H4(f"Largest gradient entries of {name}"),
                     html.Table([html.Thead(head), html.Tbody(body)], className="bv-diff-table")])
