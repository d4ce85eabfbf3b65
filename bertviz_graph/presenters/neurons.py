"""The Neurons panel: the selection said in neural-network terms, and its Linear drawn as a textbook layer
(whole, or one attention head's slice), plus all incoming weights of a clicked output neuron."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bertviz_graph.errors import UserError

if TYPE_CHECKING:
    import plotly.graph_objects as go

    from bertviz_graph.graph import OpGraph

EMPTY = ("Select a node in the graph: here it is said in neural-network terms, and a Linear (fully-connected "
         "layer) is drawn as the textbook picture: input neurons, output neurons, one weighted edge per weight.")


def mapping(graph: OpGraph, node_id: str) -> list[tuple[str, str]]:
    """[(graph element, meaning in neural-network terms)] for the selection."""
    from bertviz_graph.neurons.mapping import mapping_text  # lazy: start-up (numpy)

    return mapping_text(graph, node_id)


def linears(graph: OpGraph, node_id: str) -> tuple[list[tuple[str, str]], str | None, str]:
    """([(Linear group id, label)], the one to draw first, message) for the selection: the Linear it is,
    or the Linears inside the block it is."""
    from bertviz_graph.neurons.views import linear_candidates, resolve_linear  # lazy: start-up (numpy)

    h = graph.hierarchy
    try:
        ref = resolve_linear(graph, node_id)
        value = ref.gid or node_id
        return [(value, ref.label)], value, ""
    except UserError as e:
        cands = linear_candidates(graph, node_id) if node_id in h.groups else []
        if cands:
            return list(cands), cands[0][0], f"{len(cands)} fully-connected layers inside; pick one above."
        return [], None, e.problem + " — the neuron view draws fully-connected (Linear) layers."


def heads(graph: OpGraph, linear: str | None) -> int:
    """How many attention heads the Linear splits into (0: not split by head)."""
    from bertviz_graph.neurons.views import resolve_linear  # lazy: start-up (numpy)

    if not linear:
        return 0
    try:
        ref = resolve_linear(graph, linear)
    except UserError:
        return 0
    return ref.heads if ref.split is not None and ref.d_head else 0


def layer(graph: OpGraph, linear: str, head: int | None = None, store: Any = None) -> go.Figure:
    """The textbook drawing of the Linear (or one head's slice), sized for a side panel: its long title
    is cut into lines that fit about 480 px."""
    from bertviz_graph.neurons.views import neuron_view  # lazy: start-up (numpy)

    fig = neuron_view(graph, linear, head, store=store)
    title = fig.layout.title.text or ""
    if len(title) > 44:
        # one break, where the title's parts meet: the first ", " if line 1 then fits (~68 chars), else the
        # latest ", " or ": " that fits (a GPT-2 c_attn label is long)
        cuts = [i for sep in (", ", ": ") for i in range(len(title)) if title.startswith(sep, i)]
        fit = [i for i in cuts if i <= 68]
        first = title.find(", ")
        if cuts:
            i = first if 0 <= first <= 68 else max(fit) if fit else min(cuts)
            title = title[:i + 1] + "<br>" + title[i + 2:]
    # the subtitle has a line more for each note (GPT-2's Conv1D layout, fused Q/K/V): room for them all
    extra = max(0, (fig.layout.title.subtitle.text or "").count("<br>") - 2)
    fig.update_layout(title={"text": title}, autosize=True, width=None, margin={"t": 124 + 14 * extra})
    return fig


def neuron(graph: OpGraph, linear: str, out_index: int, head: int | None = None, store: Any = None) -> go.Figure:
    """All incoming weights of output neuron ``out_index``."""
    from bertviz_graph.neurons.views import neuron_detail  # lazy: start-up (numpy)

    return neuron_detail(graph, linear, out_index, head, store=store)
