"""One training step with every gradient captured, side by side with a plain forward+backward and torchlens.

Per model, interleaved rounds (medians), warm (model, program and torchlens wrappers built once first):
- ours: ``train_step`` (every parameter's gradient and every op's ∂L/∂output kept by graph id);
- plain: the same model and loss, ``model(...)`` then ``torch.autograd.grad`` over all parameters;
- torchlens (MiniLM only; 2.36, not a project dependency): ``tl.trace(..., save_grads=True)`` then its
  ``backward`` from the same loss (one sentence: torchlens traces one forward call).
Models: the packaged MiniLM (similarity of a pair, 16 tokens in all) and the bert-base structure (random
weights, MLM head, 16 tokens). Goal: ours ≤ 3× plain, and faster than torchlens.
Memory: a 512-token input on bert-base: MB of op gradients kept under the 256 MB budget (float16 / dropped past
it), against the size all of them would take.

    PYTHONPATH=$PWD /work/venv/bin/python benchmarks/train_bench.py [--rounds 5] [--no-torchlens]
"""

from __future__ import annotations

import argparse
import statistics
import time

A = "A man is playing a guitar."  # 8 tokens with [CLS]/[SEP]
B = "Someone plays an instrument."  # 8 tokens: 16 in the pair
SENT16 = "The quick brown fox jumps over the lazy dog near the old river bank ."


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def _plain(run, obj):
    import torch

    from bertviz_graph.train.objectives import forward

    def go():
        with torch.enable_grad():
            loss = obj.loss([forward(run.model, t) for t in obj.inputs])
            torch.autograd.grad(loss, list(run.model.parameters()), allow_unused=True)
    return go


def _torchlens(run, toks):
    import torch
    import torchlens as tl
    from torchlens.options import CaptureOptions

    ids = torch.tensor([toks.input_ids])

    def go():
        tr = tl.trace(run.model, input_args=ids, capture=CaptureOptions(save_grads=True))
        out = tr.output_ops[0].out
        tr.backward(out.float().pow(2).mean())
    return go


def bench(name: str, text: str, pair: str | None, objective: str, rounds: int, with_tl: bool) -> dict:
    import bertviz_graph as bg
    from bertviz_graph.run.load import load_runnable
    from bertviz_graph.train.objectives import build
    from bertviz_graph.train.step import train_step

    g = bg.trace(name)
    run = load_runnable(g)
    obj = build(run, text, pair, objective, target=0.5)
    ours = lambda: train_step(g, run, text, pair, objective=objective, target=0.5)  # noqa: E731
    sides = {"ours": ours, "plain": _plain(run, obj)}
    if with_tl:
        sides["torchlens"] = _torchlens(run, obj.inputs[0])
    first = {k: _timed(f) for k, f in sides.items()}  # warm-up (export, torchlens wrapping)
    times: dict[str, list[float]] = {k: [] for k in sides}
    for _ in range(rounds):
        for k, f in sides.items():
            times[k].append(_timed(f))
    med = {k: statistics.median(v) for k, v in times.items()}
    step = ours()
    tokens = sum(len(t) for t in step.tokens)
    print(f"{name} ({objective}, {tokens} tokens; {len(step.grads)} parameter + "
          f"{sum(map(len, step.act_grads))} op gradients, {step.grad_bytes / 2**20:.1f} MB):")
    for k in sides:
        print(f"  {k:>9}: median {1000 * med[k]:8.1f} ms  (first {1000 * first[k]:.0f} ms; {rounds} rounds)")
    print(f"  ratio ours / plain forward+backward: {med['ours'] / med['plain']:.2f}×")
    if with_tl:
        print(f"  ratio torchlens / ours: {med['torchlens'] / med['ours']:.2f}×")
    return med


def memory(budget_mb: float = 256) -> None:
    import bertviz_graph as bg
    from bertviz_graph.run.load import load_runnable
    from bertviz_graph.train.step import train_step

    g = bg.trace("bert-base-uncased")
    run = load_runnable(g)
    text = " ".join(["word"] * 510)
    step = train_step(g, run, text, objective="mlm", mask="word", budget_mb=budget_mb)
    kept = sum(len(a) for a in step.act_grads)
    print(f"bert-base, {len(step.tokens[0])} tokens: op gradients kept {step.grad_bytes / 2**20:.0f} MB "
          f"(budget {budget_mb:g} MB), {kept} ops kept; notes: {'; '.join(step.notes) or '-'}; "
          f"{step.seconds:.1f} s")


def main() -> None:
    import torch

    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--no-torchlens", action="store_true")
    ap.add_argument("--no-memory", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(1)  # the machine is shared: one thread each side, fair and steadier
    bench("all-MiniLM-L6-v2", A, B, "similarity", args.rounds, not args.no_torchlens)
    bench("bert-base-uncased", SENT16, None, "mlm", max(3, args.rounds // 2), False)
    if not args.no_memory:
        memory()


if __name__ == "__main__":
    main()
