"""The Run tab: type a sentence (or a pair), run the real model, and see what the selected node computed.

Shows the tokens (a token picker focuses every run panel), the selected op's activation heatmap
[tokens × features] with statistics and top features, the neuron view of a selected Linear for the chosen
token, which feed-forward neurons fire, the residual stream's norm, and the head's predictions. The run's
input lives in the browser (``RUN``), its result in a small server LRU (``presenters.run_session``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from dash import ClientsideFunction, Input, Output, State, dcc, html, no_update
from dash.exceptions import PreventUpdate

from bertviz_graph import format as fmt
from bertviz_graph.app import ids, model_switch
from bertviz_graph.app.context import COLOR_MODES, RUN_MODES, TRAIN_MODES, AppContext
from bertviz_graph.app.guard import error_text
from bertviz_graph.app.registry import model_for
from bertviz_graph.presenters import activations as PA
from bertviz_graph.presenters.run_session import EXAMPLE, RunSession, can_run
from bertviz_graph.presenters.training_graph import edge_grad_tips
from bertviz_graph.run.predict import predict

TAB_VALUE = "run"
TAB_LABEL = "Run"
RUN = "bv-run"  # store: {"text", "pair", "ids", "nonce"} of the run shown
RUN_TOKEN = "bv-run-token"  # dropdown: chosen token index (or None: all tokens)
RUN_TEXT = "bv-run-text"
RUN_PAIR = "bv-run-pair"
RUN_OTHER = "bv-run-other"
RUN_GO = "bv-run-go"
RUN_STATUS = "bv-run-status"
RUN_TOKENS = "bv-run-tokens"
RUN_ACT = "bv-run-act"
RUN_ACT_INFO = "bv-run-act-info"
RUN_NEURONS = "bv-run-neurons"
RUN_NEURONS_INFO = "bv-run-neurons-info"
RUN_RESIDUAL = "bv-run-residual"
RUN_PRED = "bv-run-pred"
RUN_FFN = "bv-run-ffn"
RUN_TOK = "bv-run-tok"  # page-level store: the token picked (None: all), read by every run panel
RUN_SUMMARY = "bv-run-summary"  # one line in the header: what ran
RUN_TIPS = "bv-run-tips"  # store: {"edges": {edge id: line}, "nodes": {box id: line}} for the canvas tooltips
TRAIN_DONE = "bv-train-done"  # training_panel.T_DONE: the tab's step, once taken (its tooltips)
RUN_TIPS_DONE = "bv-run-tips-done"  # clientside output that changes nothing
RUN_EXAMPLE = "bv-run-example"  # store: the example run, copied into RUN once the graph is painted
OUTPUT_IDS = "bv-output-ids"  # store: the ids of the output node(s) and head group(s)
PRED_BOX = "bv-run-pred-box"  # the predictions section (the output node and the head group link to it)
CONFIG = {"displaylogo": False, "modeBarButtonsToRemove": ["select2d", "lasso2d", "autoScale2d"],
          "toImageButtonOptions": {"format": "png"}}


MAX_TEXT = 20_000  # characters of a sentence (and its pair): the model reads at most its positions anyway


def session(C: AppContext) -> RunSession:
    return C.run_session


def cached_acts(C: AppContext, run: dict | None):
    """The tab's run if it is already made, else None: a click never starts (or waits for) a forward pass.
    Callbacks that wait hold one of the browser's 6 connections each, and the graph's answer queued behind
    them for seconds while the page's first run was still going."""
    if not isinstance(run, dict) or not (run.get("text") or run.get("ids")):
        return None
    return session(C).cached(run.get("text"), run.get("pair") or None, run.get("ids") or None)


def acts_of(C: AppContext, run: dict | None):
    if not isinstance(run, dict) or not (run.get("text") or run.get("ids")):
        return None
    return session(C).run(run.get("text"), run.get("pair") or None, run.get("ids") or None)


def stores(C: AppContext) -> list[Any]:
    """Page-level state (present whichever tab is open): the run's input and the picked token."""
    runnable = can_run(C.graph) is None
    # RUN starts empty: the example enters it after the graph's first paint (``_example_after_first_draw``),
    # so no callback of the page imports torch or runs the model before the first graph is on screen
    example = {"text": EXAMPLE, "pair": "", "ids": None, "nonce": 0} if runnable else None
    return [dcc.Store(id=RUN, data=None), dcc.Store(id=RUN_EXAMPLE, data=example),
            dcc.Store(id=RUN_TOK, data=None), dcc.Store(id=RUN_TIPS, data=None), dcc.Store(id=RUN_TIPS_DONE),
            dcc.Store(id=OUTPUT_IDS, data=output_boxes(C))]


def header_note(C: AppContext) -> html.Span:
    reason = can_run(C.graph)
    text = f"running disabled: {reason}" if reason else f"ran: “{EXAMPLE}” (Run and Attention tabs)"
    return html.Span(text, id=RUN_SUMMARY, className="bv-subtitle", title=text)


def layout(C: AppContext) -> html.Div:

    reason = can_run(C.graph)
    if reason:  # the panel's components stay in the page (hidden): its callbacks always have their targets
        return html.Div([model_switch.layout(C),
                         html.Div(f"Running is disabled: {reason}", id=RUN_STATUS, className="bv-banner"),
                         html.Div(_body(C, ""), style={"display": "none"})])
    tok = "" if C.graph.meta.get("origin") != "preset" else " (preset: random weights)"
    return html.Div([
        model_switch.layout(C),
        html.Div(f"Running the example sentence{tok} …", id=RUN_STATUS, className="bv-empty"),
        *_body(C, tok)])


def _body(C: AppContext, tok: str) -> list[Any]:
    return [
        html.Div([
            dcc.Input(id=RUN_TEXT, value=EXAMPLE, type="text", debounce=True, placeholder="a sentence",
                      style={"width": "100%"}),
            dcc.Input(id=RUN_PAIR, value="", type="text", debounce=True,
                      placeholder="second sentence (optional; a pair with token types)", style={"width": "100%"}),
            html.Button("Run", id=RUN_GO, n_clicks=0, className="bv-btn bv-btn-primary"),
        ], className="bv-run-inputs"),
        html.Div([html.Span("Token: "), dcc.Dropdown(id=RUN_TOKEN, options=[], value=None, clearable=True,
                                                      placeholder="all tokens", style={"minWidth": "220px"})],
                 style={"display": "flex", "alignItems": "center", "gap": "6px"}),
        html.Div(id=RUN_TOKENS, className="bv-run-tokens"),
        html.Div("Select an op, a module or an edge in the graph to see its tensor for this sentence.", id=RUN_ACT_INFO,
                 className="bv-empty"),
        dcc.Graph(id=RUN_ACT, config=CONFIG, style={"display": "none"}),
        html.Div(id=RUN_NEURONS_INFO, className="bv-explain"),
        dcc.Graph(id=RUN_NEURONS, config=CONFIG, style={"display": "none"}),
        dcc.Graph(id=RUN_FFN, config=CONFIG, style={"display": "none"}),
        html.Div(id=PRED_BOX, className="bv-run-pred-box", children=[
            html.H4("Predictions (the model's output node)"),
            dcc.Input(id=RUN_OTHER, value="", type="text", debounce=True,
                      placeholder="another sentence: cosine similarity of the embeddings", style={"width": "100%"}),
            html.Div(id=RUN_PRED)]),
        dcc.Graph(id=RUN_RESIDUAL, config=CONFIG),
    ]


def _tokens(acts) -> list[Any]:
    # the strip wraps (app.css .bv-run-tokens): 13 or 512 tokens stay inside the panel
    return [html.Span([html.Span(str(i), className="bv-token-i"), t], className="bv-token", title=f"token {i}: {t}")
            for i, t in enumerate(acts.labels)]


def _pred(C: AppContext, acts, other: str | None) -> list[Any]:

    p = predict(session(C).runnable, acts, other=other or None)
    out: list[Any] = []
    if p.kind == "mlm":
        for r in p.rows:
            out.append(html.Div(f"[MASK] at {r['position']}: " + ", ".join(
                f"{t} {pr:.3f}" for t, pr in zip(r["tokens"], r["probs"]))))
    elif p.kind == "cls":
        out += [html.Div(f"{r['label']}: logit {r['logit']:.4f}, p {r['prob']:.3f}") for r in p.rows]
    elif p.kind == "embedding":
        out.append(html.Div(f"Sentence embedding ({p.pooling} pooling, normalised, {p.embedding.size} dims): "
                            + " ".join(f"{v:.3f}" for v in p.embedding[:6]) + " …"))
        out += [html.Div(f"cosine with “{r['other']}”: {r['cosine']:.4f}", className="bv-d-title")
                for r in p.rows]
    if p.note:
        out.append(html.Div(p.note, className="bv-banner"))
    mask_id = getattr(session(C).runnable.tokenizer, "mask_token_id", None)
    if p.kind != "mlm" and mask_id is not None and mask_id in list(acts.tokens.input_ids):
        out.append(html.Div(MASK_NOTE, className="bv-banner"))
    return out


MASK_NOTE = ("[MASK] is not filled in: this model has no masked-LM head (it ends in its hidden states or a "
             "classifier), so it has no guesses for the masked word. Open a model with an MLM head "
             "(e.g. bert-base-uncased) to see them.")


def register(app, C: AppContext) -> None:

    model_switch.register(app, C)  # callbacks are registered whatever the model: a switch may enable running
    _example_after_first_draw(app)

    @app.callback(Output(RUN, "data"), Output(RUN_STATUS, "children", allow_duplicate=True),
                  Input(RUN_GO, "n_clicks"), Input(RUN_TEXT, "n_submit"),
                  State(RUN_TEXT, "value"), State(RUN_PAIR, "value"), State(RUN, "data"),
                  prevent_initial_call=True)
    def _go(_n, _s, text, pair, cur):
        if not str(text or "").strip():  # said, not ignored: the results shown stay those of the last run
            shown = (cur or {}).get("text") if isinstance(cur, dict) else None
            return no_update, "type a sentence to run" + (f" (the results shown are for “{shown}”)" if shown else "")
        if len(str(text)) + len(str(pair or "")) > MAX_TEXT:
            return no_update, f"the sentence is longer than {fmt.count(MAX_TEXT)} characters: run a shorter one"
        nonce = (cur or {}).get("nonce", 0) + 1
        return {"text": text or "", "pair": pair or "", "ids": None, "nonce": nonce}, no_update

    @app.callback(Output(RUN_TOK, "data"), Input(RUN_TOKEN, "value"), prevent_initial_call=True)
    def _tok(v):
        return v

    @app.callback(Output(RUN_SUMMARY, "children"), Input(RUN, "data"), State(ids.MODEL, "data"), prevent_initial_call=True)
    def _summary(run, spec=None):
        C = model_for(app, spec)  # the tab's model (app/registry.py)
        try:
            acts = acts_of(C, run)
        except Exception as e:  # noqa: BLE001
            return error_text(e)
        if acts is None:
            raise PreventUpdate
        text = " ".join(acts.labels)
        return f"ran: {text[:80] + '…' if len(text) > 80 else text} ({len(acts.tokens)} tokens; Run and Attention tabs)"

    @app.callback(Output(RUN_STATUS, "children"), Output(RUN_STATUS, "className"), Output(RUN_TOKENS, "children"),
                  Output(RUN_TOKEN, "options"), Output(RUN_TOKEN, "value"), Output(RUN_RESIDUAL, "figure"),
                  Input(RUN, "data"), State(ids.MODEL, "data"))
    def _run(run, spec=None):
        C = model_for(app, spec)  # the tab's model (app/registry.py)
        try:
            acts = acts_of(C, run)
            if acts is None:
                raise PreventUpdate
            labels, norms = PA.residual_norms(C.graph, acts)
            fig = PA.residual_figure(labels, norms, acts.labels)
        except PreventUpdate:
            raise
        except Exception as e:  # noqa: BLE001 - shown as a sentence, never a traceback
            return error_text(e), "bv-banner", [], [], None, {}
        notes = list(acts.notes)
        status = (f"{len(acts.tokens)} tokens, {len(acts.values)} op outputs captured in {acts.seconds:.2f} s"
                  + ("" if acts.trained else " — random weights: no learned structure")
                  + ("; " + "; ".join(n for n in notes if "random initial" not in n) if notes else ""))
        opts = [{"label": f"{i}: {t}", "value": i} for i, t in enumerate(acts.labels)]
        return status, "bv-empty" if acts.trained else "bv-banner", _tokens(acts), opts, None, fig

    @app.callback(Output(RUN_ACT, "figure"), Output(RUN_ACT, "style"), Output(RUN_ACT_INFO, "children"),
                  Output(RUN_NEURONS, "figure"), Output(RUN_NEURONS, "style"), Output(RUN_NEURONS_INFO, "children"),
                  Output(RUN_FFN, "figure"), Output(RUN_FFN, "style"),
                  Input(ids.SELECTED, "data"), Input(RUN, "data"), Input(RUN_TOK, "data"),
                  Input(RUN_STATUS, "children"), State(ids.VIEW_STATE, "data"), State(ids.MODEL, "data"))
    def _act(selected, run, token, _status, view_state, spec=None):
        C = model_for(app, spec)  # the tab's model (app/registry.py)
        from dash import ctx

        hide = {"display": "none"}
        node = selected.get("id") if isinstance(selected, dict) else None
        edge = selected.get("edge") if isinstance(selected, dict) else None
        try:
            # a selection uses the run made already; the status line changes once it is, and draws it then
            acts = cached_acts(C, run) if ctx.triggered_id == ids.SELECTED else acts_of(C, run)
            if acts is None:
                raise PreventUpdate
            if edge:
                return (*_edge_panel(C, acts, str(edge), view_state, token), {}, hide, "", {}, hide)
            op = PA.op_for(C.graph, C.h, node)
            if op is None:
                return ({}, hide, "Select an op, a module or an edge in the graph to see its tensor for this sentence.",
                        {}, hide, "", {}, hide)
            tv = PA.tensor_view(acts, op, token)
            info = [html.Span(f"{C.h.label_of(node) if node in C.h.groups else node} → output of {op}: "),
                    html.Span(", ".join(f"{k} {v}" for k, v in tv.stats))]
            t = PA.check_token(acts, token)
            if t is not None and tv.token_axis:
                info.append(html.Div("top features for this token: " + ", ".join(
                    f"[{i}] {v:.3g}" for i, v in tv.top[t])))
            if tv.note:
                info.append(html.Div(tv.note, className="bv-banner"))
            act_fig = PA.tensor_figure(tv, t)
            nfig, nstyle, ninfo = {}, hide, ""
            # (the w·x neuron view reads an nn.Linear; an ONNX file runs in onnxruntime and has none)
            lin = PA.linear_module(C.graph, C.h, node) if C.graph.meta.get("origin") != "onnx" else None
            if lin is not None:
                mod = session(C).runnable.model.get_submodule(lin)
                nv = PA.neuron_view(C.graph, acts, mod.weight.detach().numpy(),
                                    None if mod.bias is None else mod.bias.detach().numpy(), lin,
                                    0 if t is None else t)
                nfig, nstyle, ninfo = PA.neuron_figure(nv), {}, nv.caption
            ffig, fstyle = {}, hide
            if C.graph.g.nodes[op].get("op") == "gelu" or (lin or "").endswith("intermediate.dense"):
                ffn = PA.ffn_ops(C.graph)
                gelu = op if op in ffn else next((o for o in ffn if C.graph.g.nodes[o]["module"].startswith(
                    lin.rsplit(".", 1)[0])), None)
                if gelu is not None:
                    f = PA.ffn_neurons(C.graph, acts, ffn.index(gelu))
                    ffig = _ffn_figure(f, acts.trained)
                    fstyle = {}
            return act_fig, {}, info, nfig, nstyle, ninfo, ffig, fstyle
        except PreventUpdate:
            raise
        except Exception as e:  # noqa: BLE001
            return {}, hide, html.Div(error_text(e), className="bv-banner"), {}, hide, "", {}, hide

    @app.callback(Output(RUN_TIPS, "data"), Input(ids.GRAPH_PICTURE, "data"), Input(RUN_STATUS, "children"),
                  State(RUN, "data"), State(ids.VIEW_STATE, "data"), State(ids.COLOR_BY, "value"), State(ids.MODEL, "data"),
                  Input(TRAIN_DONE, "data"))
    def _tips(_picture, _status, run, view_state, color_by, spec=None, train=None):
        """Tooltips of the drawn edges (the tensor each carries for this tab's sentence) and, when colouring
        by a run, of the boxes (their value, or why they have none). Only from a run already made (the
        status line changes once it is): tooltips never start a forward pass of their own."""
        C = model_for(app, spec)  # the tab's model (app/registry.py)
        try:
            acts = None if not isinstance(run, dict) else C.run_session.cached(
                run.get("text"), run.get("pair") or None, run.get("ids") or None)
            state, _ = C.state(view_state)
            grads = _train_tips(C, state, color_by, train)  # issue 21: ∂L/∂x of the tab's training step
            if acts is None:
                return grads
            out = {"edges": PA.edge_tips(C.graph, C.view(state), acts), "nodes": _node_tips(C, state, color_by, run)}
            if grads:
                out["edges"] = {k: "\n".join(x for x in (out["edges"].get(k), grads["edges"].get(k)) if x)
                                for k in {*out["edges"], *grads["edges"]}}
                out["nodes"] = grads["nodes"] or out["nodes"]
            return out
        except Exception:  # noqa: BLE001 - tooltips are optional; the Run tab says what is wrong
            return None

    app.clientside_callback(ClientsideFunction("bvg", "tips"), Output(RUN_TIPS_DONE, "data"),
                            Input(RUN_TIPS, "data"))

    @app.callback(Output(ids.TABS, "value", allow_duplicate=True), Input(ids.SELECTED, "data"), State(ids.MODEL, "data"),
                  prevent_initial_call=True)
    def _to_predictions(selected, spec=None):
        """The output node (or the model's head group) opens the Run tab at its predictions."""
        C = model_for(app, spec)  # the tab's model (app/registry.py)
        node = selected.get("id") if isinstance(selected, dict) else None
        if not node or not is_output_box(C, node):
            raise PreventUpdate
        return TAB_VALUE

    app.clientside_callback(
        """function (sel, outs) {
            var go = sel && sel.id && outs && outs.indexOf(sel.id) >= 0;
            if (go) { setTimeout(function () { var el = document.getElementById('""" + PRED_BOX + """');
                if (el) { el.scrollIntoView({block: 'start'}); el.classList.add('bv-flash');
                          setTimeout(function () { el.classList.remove('bv-flash'); }, 1500); } }, 400); }
            return window.dash_clientside.no_update;
        }""",
        Output(PRED_BOX, "title"), Input(ids.SELECTED, "data"), State(OUTPUT_IDS, "data"), prevent_initial_call=True)

    @app.callback(Output(RUN_PRED, "children"), Input(RUN, "data"), Input(RUN_OTHER, "value"), State(ids.MODEL, "data"))
    def _predict(run, other, spec=None):
        C = model_for(app, spec)  # the tab's model (app/registry.py)
        try:
            acts = acts_of(C, run)
            if acts is None:
                raise PreventUpdate
            return _pred(C, acts, other)
        except PreventUpdate:
            raise
        except Exception as e:  # noqa: BLE001
            return html.Div(error_text(e), className="bv-banner")


# Waits for a state (the canvas' first paint, js/src/app.js ``firstDraw``), polled every 30 ms; after 10 s
# without one (no canvas: a page without the graph) the example runs anyway.
FIRST_DRAW_THEN_EXAMPLE = """function (picture, example, cur) {
    if (cur || !example) { return window.dash_clientside.no_update; }
    return new Promise(function (resolve) {
        var t0 = Date.now();
        (function wait() {
            var g = window.bvgGraph;
            if ((g && g.firstDraw !== null) || Date.now() - t0 > 10000) { resolve(example); }
            else { setTimeout(wait, 30); }
        })();
    });
}"""


def _example_after_first_draw(app) -> None:
    """The page's example run starts once the first graph is painted: its callbacks import torch and load
    the model (seconds of a 2-core machine), which would otherwise share the CPU with the first graph."""
    app.clientside_callback(FIRST_DRAW_THEN_EXAMPLE, Output(RUN, "data", allow_duplicate=True),
                            Input(ids.GRAPH_PICTURE, "data"), State(RUN_EXAMPLE, "data"), State(RUN, "data"),
                            prevent_initial_call="initial_duplicate")


def output_boxes(C: AppContext) -> list[str]:
    return PA.output_boxes(C.graph, C.h)


def is_output_box(C: AppContext, node: str) -> bool:
    return node in set(output_boxes(C))


def _edge_panel(C: AppContext, acts, edge: str, view_state, token) -> tuple:
    """The Run tab's activation figure and caption for a selected EDGE: the tensor it carries."""
    state, _ = C.state(view_state)
    et, tv, what = PA.edge_view(C.graph, C.view(state), acts, edge, token)
    if tv is None:
        return {}, {"display": "none"}, html.Div(what, className="bv-empty")
    t = PA.check_token(acts, token)
    info: list[Any] = [html.Div(html.B(what)),
                       html.Span(", ".join(f"{k} {v}" for k, v in tv.stats))]
    if t is not None and tv.token_axis:
        info.append(html.Div("top features for this token: " + ", ".join(f"[{i}] {v:.3g}" for i, v in tv.top[t])))
    elif tv.token_axis:
        info.append(html.Div("top features per token: " + "; ".join(
            f"{acts.labels[i]} " + ", ".join(f"[{j}] {v:.3g}" for j, v in tv.top[i][:3])
            for i in range(min(len(tv.top), 6))) + (" …" if len(tv.top) > 6 else "")))
    if tv.note:
        info.append(html.Div(tv.note, className="bv-banner"))
    return PA.tensor_figure(tv, t), {}, info


def _train_tips(C: AppContext, state, color_by: str | None, train) -> dict | None:
    """Tooltips from the tab's training step: ∂L/∂x on the edges, the colour-by value on the boxes."""
    hit = C.train_session.cached(train) if isinstance(train, dict) else None
    if hit is None:
        return None
    if color_by in TRAIN_MODES:
        return C.render(state, color_by, None, train).tips
    return {"edges": edge_grad_tips(hit[0], C.view(state)), "nodes": {}}


def _node_tips(C: AppContext, state, color_by: str | None, run) -> dict[str, str]:

    if color_by not in RUN_MODES:
        return {}
    r = C.render(state, color_by, run)
    title = COLOR_MODES[color_by]
    tips = {k: f"{title}: {fmt.short(v)}" for k, v in r.values.items()}
    tips.update({k: f"{title}: no value ({why})" for k, why in r.why.items()})
    return tips


def _ffn_figure(f: dict, trained: bool):
    import plotly.graph_objects as go

    m = f["matrix"]
    tokens = [f"{i} {t}" for i, t in enumerate(f["tokens"])]
    fig = go.Figure(go.Heatmap(z=np.maximum(m, 0), y=list(range(len(tokens))), colorscale="Oranges",
                               customdata=np.broadcast_to(np.array(tokens, dtype=object)[:, None], m.shape),
                               hovertemplate="token %{customdata}<br>neuron %{x}<br>GELU %{z:.4g}<extra></extra>",
                               colorbar={"thickness": 10}))
    share = ", ".join(f"{t}: {fmt.percent(p, 0)}" for t, p in zip(f["tokens"], f["firing"]))
    fig.update_layout(title={"text": f"Feed-forward neurons that fire (after GELU, {f['op']}); share > 0 per token"
                             + ("" if trained else " — random weights"), "font": {"size": 12}},
                      yaxis={"tickmode": "array", "tickvals": list(range(len(tokens))), "ticktext": tokens,
                             "autorange": "reversed", "automargin": True},
                      xaxis={"title": f"neuron ({share})" if len(share) < 120 else "neuron"},
                      height=max(220, 60 + 18 * len(tokens)), margin={"l": 10, "r": 10, "t": 40, "b": 40})
    return fig
