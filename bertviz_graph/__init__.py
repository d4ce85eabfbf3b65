"""bertviz_graph: see what a BERT model really is, from the whole model down to one weight matrix.

    import bertviz_graph as bg
    graph = bg.trace("bert-base-uncased")        # OpGraph with .hierarchy
    graph.view(depth=2).to_svg()                 # a picture of any cut through the hierarchy
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

__all__ = ["trace", "__version__"]


def trace(
    model: Any = None,
    example_inputs: Any = None,
    *,
    head: str = "auto",
    attention: str = "eager",
    ops: str = "aten",
    seq_len: int = 16,
    cache: bool = True,
    fold: bool = True,
    progress: Any = None,
):
    """Trace a model into its op graph and build the hierarchy over it.

    ``model``: a preset name ("bert-base-uncased"), a local Hugging Face folder (config.json + safetensors),
    a model id in the local Hugging Face cache, a saved graph (.json), or an ``nn.Module`` (then give
    ``example_inputs``). ``attention``: "eager" shows QKᵀ, softmax and ·V as ops; "sdpa" the fused kernel.
    ``ops``: "aten" or "primitive" (LayerNorm, GELU, softmax as elementary math, like a TensorFlow graph).
    Returns an ``OpGraph`` whose ``.hierarchy`` holds the module tree with the repeated layers folded.
    """
    from pathlib import Path

    from bertviz_graph.graph import OpGraph
    from bertviz_graph.hierarchy.tree import build_hierarchy
    from bertviz_graph.sources.resolve import resolve
    from bertviz_graph.tracer import trace_source

    if isinstance(model, OpGraph):
        graph = model
    elif isinstance(model, (str, Path)) and str(model).endswith(".json") and Path(model).is_file():
        from bertviz_graph.graph_file import load_graph_file

        graph = load_graph_file(Path(model))
    else:
        source = resolve(model, head=head, example_inputs=example_inputs)
        graph = trace_source(source, attention=attention, ops=ops, seq_len=seq_len, use_cache=cache,
                             progress=progress)
        if source.origin == "module":
            graph.module = source.model
    if graph.hierarchy is None:
        graph.hierarchy = build_hierarchy(graph, fold=fold)
    return graph
