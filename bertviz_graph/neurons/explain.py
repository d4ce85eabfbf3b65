"""How the op graph maps onto the textbook neural network of neurons and weighted edges.

Why: people look at ``add`` / ``mul`` / ``matmul`` nodes and ask where the neurons are. These short texts,
shown in the details panel, answer that for each semantic role and each tensor shape, using the model's
real facts (``dims``, read from the config and the graph: hidden, heads, kv_heads, d_head, ffn (intermediate),
vocab, seq, act, norm, gated, positions, arch, a Linear's in/out features, a group's real parameter
count ...). A missing fact is described in words instead; nothing is assumed from BERT-base.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bertviz_graph.format import size as _n

Dims = Mapping[str, Any]


def _get(dims: Dims, key: str, default: Any = None) -> Any:
    v = dims.get(key)
    return default if v is None else v




def _derived(dims: Dims) -> dict[str, Any]:
    """Fill what follows from what was given (d_head = hidden / heads, intermediate = 4 × hidden is NOT assumed)."""
    d = dict(dims)
    h, a = d.get("hidden"), d.get("heads")
    if d.get("d_head") is None and isinstance(h, int) and isinstance(a, int) and a > 0 and h % a == 0:
        d["d_head"] = h // a
    if d.get("heads") is None and isinstance(h, int) and isinstance(d.get("d_head"), int) and d["d_head"] > 0:
        d["heads"] = h // d["d_head"]
    return d


def linear_params(n_in: int, n_out: int, bias: bool = True) -> int:
    """Trained numbers in a fully-connected layer: one weight per edge plus one bias per output neuron."""
    return n_in * n_out + (n_out if bias else 0)


def _linear_text(n_in: Any, n_out: Any, seq: Any) -> str:
    if isinstance(n_in, int) and isinstance(n_out, int):
        core = (
            f"a fully-connected layer: {_n(n_in)}×{_n(n_out)} = {_n(n_in * n_out)} trained weights, one per edge "
            f"from each of the {_n(n_in)} input neurons to each of the {_n(n_out)} output neurons, plus "
            f"{_n(n_out)} biases (one per output neuron)"
        )
    else:
        core = (
            "a fully-connected layer: in×out trained weights, one per edge from every input neuron to every "
            "output neuron, plus one bias per output neuron"
        )
    where = f"each of the {_n(seq)} token positions" if seq is not None else "every token position"
    return (
        f"{core}. The same weights are applied to {where} separately. Each output neuron computes "
        "Σ (weight × input) + bias; in the op graph that is a matmul (or addmm/linear) node followed by, or "
        "fused with, the bias add."
    )


def explain_role(role: str, dims: Dims | None = None) -> str:
    """A short, correct explanation of a graph element of this ``role`` in neural-network terms."""
    d = _derived(dims or {})
    hidden = _get(d, "hidden")
    heads = _get(d, "heads")
    d_head = _get(d, "d_head")
    inter = _get(d, "ffn")
    vocab = _get(d, "vocab")
    seq = _get(d, "seq")
    layers = _get(d, "layers")
    n_in = _get(d, "in_features")
    n_out = _get(d, "out_features")
    H = _n(hidden) if hidden is not None else "hidden-size"
    S = _n(seq) if seq is not None else "every"
    pos = f"each of the {_n(seq)} token positions" if seq is not None else "each token position"
    ISZ = _n(inter) if inter is not None else "intermediate-size"
    act = _get(d, "act", "the activation function")
    norm = _get(d, "norm", "LayerNorm")
    params = _get(d, "params")
    real = f" It holds {_n(params)} trained numbers." if isinstance(params, int) and params > 0 else ""

    if role == "model":
        L = _n(layers) if layers is not None else "a stack of"
        arch = _get(d, "arch", "encoder")
        if arch == "encoder-decoder":
            dl = _get(d, "decoder_layers", layers)
            stack = (f"an encoder of {L} transformer layers reads the input; a decoder of "
                     f"{_n(dl) if dl is not None else 'several'} layers writes the output token by token, "
                     "cross-attending to the encoder's vectors")
        elif arch == "decoder":
            stack = f"{L} decoder layers refine those vectors, each position looking only at earlier ones"
        else:
            stack = f"{L} transformer layers refine those vectors"
        return (
            f"The whole network. Embeddings turn each token id into a vector of {H} numbers (neurons); "
            f"{stack}; a head turns them into the output.{real} In textbook "
            "terms it is many fully-connected layers (one trained weight per edge) applied to every token "
            "position, plus attention, whose connections between positions are weighted by numbers "
            "computed from the input rather than trained."
        )
    if role == "embeddings":
        v = f"{_n(vocab)}-token" if vocab is not None else "vocabulary"
        parts = [p.strip() for p in str(_get(d, "parts", "token")).split("+")]
        named = {"token": f"token from the {v} table", "position": "position", "type": "token type"}
        lookups = ", ".join(named.get(p, p) for p in parts)
        width = _get(d, "embedding_size") or hidden
        W = _n(width) if width is not None else H
        count = {1: "one table lookup", 2: "two table lookups", 3: "three table lookups"}.get(
            len(parts), f"{len(parts)} table lookups")
        summed = " whose vectors are added" if len(parts) > 1 else ""
        proj = (f" (projected to {H} in the encoder)" if width != hidden and width is not None and
                hidden is not None else "")
        return (
            f"Embeddings block: {count} ({lookups}) of {W} numbers{summed}, then {norm} and dropout. "
            f"Output: one vector of {W} neurons{proj} for {pos}. Each lookup is equivalent to a "
            "fully-connected layer with no bias applied to a one-hot input."
        )
    if role == "embedding":
        rows = _get(d, "num_embeddings", vocab)
        dim = _get(d, "embedding_dim", hidden)
        if isinstance(rows, int) and isinstance(dim, int):
            table = f"a table of {_n(rows)} vectors of {_n(dim)} numbers ({_n(rows * dim)} trained weights)"
            fc = (
                f"a fully-connected layer from {_n(rows)} one-hot input neurons to {_n(dim)} neurons, no bias"
            )
        else:
            table = "a table of trained vectors"
            fc = (
                "a fully-connected layer from a one-hot input (one neuron per id) to the vector size, no bias"
            )
        return (
            f"Embedding lookup: {table}, one row per token id. It is equivalent to {fc}: only the edges from "
            "the single active input neuron matter, so the lookup just copies that row."
        )
    if role == "attention":
        kv = _get(d, "kv_heads", heads)
        if isinstance(heads, int) and isinstance(d_head, int):
            hs = f"{_n(heads)} heads of {_n(d_head)} neurons ({_n(heads)}×{_n(d_head)} = {_n(heads * d_head)})"
        else:
            hs = "several heads, each a slice of the hidden vector"
        if isinstance(hidden, int) and isinstance(heads, int) and isinstance(d_head, int) and isinstance(kv, int):
            qkv = (f"fully-connected layers: query {H}→{_n(heads * d_head)}, key and value "
                   f"{H}→{_n(kv * d_head)} each")
        else:
            qkv = "fully-connected layers"
        gqa = ""
        if isinstance(kv, int) and isinstance(heads, int) and kv != heads:
            kind = "Multi-query" if kv == 1 else "Grouped-query"
            gqa = (f" {kind} attention: only {_n(kv)} key/value head{'s' if kv != 1 else ''}, each shared by "
                   f"{_n(heads // kv)} query heads, so K and V are smaller than Q.")
        label = str(_get(d, "label", "")).lower()
        cross = "cross" in label
        causal = "causal" in label or (not cross and _get(d, "arch") == "decoder")
        who = ("Cross-attention: queries come from the decoder, keys and values from the encoder's output"
               if cross else "Causal self-attention: each position attends only to itself and earlier "
               "positions (a mask hides the later ones)" if causal else "Self-attention")
        rot = (" Rotary position embedding turns Q and K by position-dependent angles (no trained weights), "
               "so the scores depend on relative positions." if _get(d, "positions") == "rotary" else "")
        sq = f"{_n(seq)}×{_n(seq)}" if seq is not None else "positions×positions"
        scale = f"√{_n(d_head)}" if d_head is not None else "√d_head"
        return (
            f"{who}, with {hs}. Query, key and value are {qkv}, applied to every position.{gqa}{rot} Then, "
            f"per head, QKᵀ/{scale} and softmax give a {sq} table of weights between token positions: edges "
            "between positions whose weights are computed from the input, not trained, and different for "
            f"every sentence. Each position's output is the weighted sum of the value vectors.{real}"
        )
    if role == "attention_output":
        return (
            f"Attention output: a fully-connected layer {H}→{H} that mixes the heads' outputs back "
            "together, then dropout, a residual add (the block's input added back unchanged: a skip "
            f"connection, no weights) and {norm} over the {H} neurons of each position."
        )
    if role == "ffn":
        if _get(d, "gated") and "Intermediate" not in str(_get(d, "label", "")):
            glu = _get(d, "glu", "A gated MLP")
            n = (f" ({_n(3 * hidden * inter)} weights)"
                 if isinstance(hidden, int) and isinstance(inter, int) else "")
            return (
                f"Feed-forward, gated ({glu}): two fully-connected layers {H}→{ISZ} side by side, 'gate' and "
                f"'up'; {act} is applied to each gate neuron and multiplied by the matching up neuron, then a "
                f"third layer {ISZ}→{H} ('down') goes back to the hidden size{n}. Applied to each token "
                f"position independently with the same weights.{real}"
            )
        n = (
            f"{H}×{ISZ} = {_n(hidden * inter)} trained weights + {ISZ} biases"
            if isinstance(hidden, int) and isinstance(inter, int)
            else "one weight per edge plus biases"
        )
        return (
            f"Feed-forward (expand): a fully-connected layer {H}→{ISZ} ({n}), then {act} applied neuron by "
            f"neuron to the {ISZ} neurons. This is the classic hidden layer of an MLP, applied to each token "
            f"position independently with the same weights; no information moves between positions here.{real}"
        )
    if role == "ffn_output":
        n = (
            f" ({_n(linear_params(inter, hidden))} trained numbers)"
            if isinstance(hidden, int) and isinstance(inter, int)
            else ""
        )
        return (
            f"Feed-forward output: a fully-connected layer {ISZ}→{H}{n} back down to the hidden size, dropout, "
            f"a residual add (skip connection, no weights) and {norm} over the {H} neurons of each position."
        )
    if role == "layer":
        members = _get(d, "members")
        if isinstance(members, int):
            share = (f"{_n(members)} applications of one set of shared trained weights" if _get(d, "shared_weights")
                     else f"{_n(members)} layers, each with its own trained weights")
            extra = f" Folded: {share}; {_n(params)} trained numbers in all." if isinstance(params, int) else ""
        else:
            extra = real
        mid = ("self-attention (positions exchange information), cross-attention to the encoder's output, "
               "then a feed-forward network" if "Decoder" in str(_get(d, "label", "")) and
               _get(d, "arch") == "encoder-decoder" else
               "self-attention (positions exchange information) then a feed-forward network")
        return (
            f"One transformer layer: {mid} (each position on its own), each with a residual add and {norm}. "
            f"Its input and output are both {S} × {H} numbers." + extra
        )
    if role == "encoder" or role == "decoder":
        n = layers if role == "encoder" else _get(d, "decoder_layers", layers)
        L = f"{_n(n)}" if n is not None else "several"
        own = ("all of them apply one set of shared trained weights (ALBERT-style parameter sharing)"
               if _get(d, "shared_layers") else "each has its own trained weights")
        what = "Encoder" if role == "encoder" else "Decoder"
        return (
            f"{what}: {L} transformer layers stacked; {own}; they refine the "
            f"{H}-number vector of every position. Drawn folded as one layer ×N because the structure repeats."
            + real
        )
    if role == "pooler":
        return (
            f"Pooler: takes the vector of the first position ([CLS]), applies a fully-connected layer {H}→{H} "
            "and tanh, neuron by neuron. It summarises the sentence for classification."
        )
    if role == "head":
        tied = _get(d, "tied_to")
        tie = (f" (its weights are tied to {tied}: the same trained numbers)" if tied else "")
        label = str(_get(d, "label", ""))
        if isinstance(n_in, int) and isinstance(n_out, int):
            last = f"ends in a fully-connected layer {_n(n_in)}→{_n(n_out)}{tie}"
        elif vocab is not None and label in ("MLM head", "LM head"):
            task = "masked-language modelling" if label == "MLM head" else "predicting the next token"
            last = f"for {task} ends in a fully-connected layer {H}→{_n(vocab)}, one score per token{tie}"
        else:
            last = f"ends in a fully-connected layer to the output size{tie}"
        return f"Task head: turns the final {H}-number vectors into the task's output; it {last}.{real}"
    if role == "linear":
        return "Linear: " + _linear_text(n_in, n_out, seq)
    if role == "layernorm":
        if norm == "RMSNorm":
            p = f"{H}" if isinstance(hidden, int) else "1 per neuron"
            return (
                f"RMSNorm: per-token normalisation over the {H} neurons of one position: divide by their root "
                f"mean square (no mean subtracted), then scale each neuron by its own trained gain ({p} trained "
                "parameters, no bias). No weighted edges between neurons."
            )
        p = f"2×{H} = {_n(2 * hidden)}" if isinstance(hidden, int) else "2 per neuron"
        return (
            f"LayerNorm: per-token normalisation over the {H} neurons of one position: subtract their mean, "
            f"divide by their standard deviation, then scale and shift each neuron by its own trained gain "
            f"and bias ({p} trained parameters). No weighted edges between neurons."
        )
    if role == "activation":
        return (
            f"Activation ({act}): applied neuron by neuron, each number passes through the same "
            "nonlinear function on its own. No weights, no connections; this is the 'neuron fires' part."
        )
    if role == "rotary":
        return (
            "Rotary position embedding: computes a cosine and sine per position and per pair of neurons of a "
            f"head (d_head {_n(d_head) if d_head is not None else '?'}); attention rotates Q and K by these "
            "angles, so their dot product depends on how far apart two positions are. No trained weights."
        )
    if role == "softmax":
        k = f"the {_n(seq)} key positions" if seq is not None else "the key positions"
        return (
            f"Softmax: turns each row of attention scores into weights that are positive and sum to 1 over "
            f"{k}. No trained parameters; these are the input-dependent edge weights between positions."
        )
    if role == "matmul":
        return (
            "Matrix product. With a trained weight matrix it is the weighted-edge sum of a fully-connected "
            "layer (each output neuron = Σ weight × input). In attention (Q·Kᵀ, then weights·V) both operands "
            "come from the input, so nothing is trained: it computes connection strengths between token "
            f"positions ({S}×{S}) and uses them to mix the value vectors."
        )
    if role == "elementwise":
        return (
            "Elementwise op (add, mul, sub, div ...): works neuron by neuron, no weights and no edges. An add "
            "is either a residual skip connection (a block's input added to its output) or a bias add (each "
            "neuron's own trained offset); a mul scales (e.g. by 1/√d_head) or applies a mask."
        )
    if role == "shape":
        if isinstance(heads, int) and isinstance(d_head, int):
            eg = f"e.g. splits {H} into {_n(heads)} heads × {_n(d_head)}"
        else:
            eg = "e.g. splits the hidden vector into heads"
        return (
            f"Shape op (view, reshape, transpose, permute ...): no computation. It reorganises how the "
            f"numbers are grouped, {eg}, or swaps axes; same numbers, no weights."
        )
    if role == "dropout":
        return (
            "Dropout: identity at inference (model.eval()), numbers pass through unchanged. During training "
            "it zeroes a random fraction of neurons to regularise."
        )
    if role == "param":
        return (
            "Trained parameter: a matrix holds the weights of edges (rows = output neurons, columns = input "
            "neurons); a vector holds one number per neuron (bias, or LayerNorm gain/shift). These are the "
            "numbers learned in training."
        )
    if role == "buffer":
        return (
            "Buffer: a stored tensor that is not trained (e.g. position ids 0, 1, 2 ... or default token "
            "types); it travels with the model but never changes."
        )
    if role == "input":
        return (
            f"Model input: {S if seq is not None else 'the'} token ids (integers, one per position), plus "
            "attention mask and token types. Not neurons yet: the embedding lookup turns each id into a "
            f"vector of {H} numbers."
        )
    if role == "output":
        return (
            f"Model output: e.g. the last hidden state ({S} positions × {H} neurons) or, for a task head, "
            "scores (logits) per position or per sentence."
        )
    if role == "module":
        return "A group of ops from one torch module; open it to see its parts."
    return (
        "An op without a specific neural-network meaning here; its input and output shapes say what it does."
    )


def _is(v: int, dims: Dims, key: str) -> bool:
    return isinstance(dims.get(key), int) and v == dims[key]


def _feature_word(v: int, dims: Dims) -> str:
    if _is(v, dims, "hidden"):
        return f"{_n(v)} neurons (features) per position"
    if _is(v, dims, "ffn"):
        return f"{_n(v)} neurons of the feed-forward layer per position"
    if _is(v, dims, "vocab"):
        return f"{_n(v)} scores per position, one per vocabulary word (logits)"
    return f"{_n(v)} neurons (features) per position"


def explain_tensor(shape: Sequence[int], names: Sequence[str] | None = None, dims: Dims | None = None) -> str:
    """Say what each axis of an activation or weight shape means.

    ``names`` overrides the guess with one word per axis. Guesses use the layout BERT's ops produce and
    the known sizes in ``dims`` (hidden, heads, seq, d_head, ffn (the intermediate size), vocab).
    """
    shape = [int(v) for v in shape]
    d = _derived(dims or {})
    if names is not None:
        if len(names) != len(shape):
            raise ValueError(f"names has {len(names)} entries but the shape has {len(shape)} axes")
        return " × ".join(f"{_n(v)} {w}" for v, w in zip(shape, names, strict=True))
    r = len(shape)
    if r == 0:
        return "a single number"
    if r == 1:
        (v,) = shape
        if _is(v, d, "seq"):
            return f"{_n(v)} token positions"
        return f"{_n(v)} numbers, one per neuron (e.g. a bias or LayerNorm gain)"

    def seqs(b: int) -> str:
        return f"{_n(b)} sequence{'s' if b != 1 else ''}"

    if r == 2:
        a, b = shape
        if _is(a, d, "vocab") and _is(b, d, "hidden"):
            return f"embedding table: {_n(a)} token ids × {_n(b)} numbers"
        if _is(a, d, "max_position") and _is(b, d, "hidden"):
            return f"position embedding table: {_n(a)} positions × {_n(b)} numbers"
        if _is(a, d, "type_vocab") and _is(b, d, "hidden"):
            return f"token type embedding table: {_n(a)} types × {_n(b)} numbers"
        if _is(b, d, "seq") and not _is(b, d, "hidden"):
            return f"{seqs(a)} × {_n(b)} token positions (ids or mask)"
        if _is(b, d, "hidden") and a <= 64 and not _is(a, d, "hidden") and not _is(a, d, "ffn"):
            if _is(a, d, "seq"):
                return f"{_n(a)} token positions × {_n(b)} neurons (features) per position"
            return f"{seqs(a)} × {_n(b)} neurons (one vector each, e.g. pooled [CLS])"
        return (
            f"weight matrix: {_n(a)} output neurons × {_n(b)} input neurons "
            f"({_n(a * b)} weights, one per edge)"
        )
    if r == 3:
        b, s, f = shape
        return f"{seqs(b)} × {_n(s)} token positions × {_feature_word(f, d)}"
    if r == 4:
        b, x, y, z = shape
        pre = "" if b == 1 else f"{seqs(b)} × "
        if x == 1 and y == 1:
            return (
                f"{pre}attention mask: one value per key position ({_n(z)}), broadcast over heads and queries"
            )
        heads_ok = _is(x, d, "heads") or "heads" not in d
        if heads_ok and y == z and (_is(y, d, "seq") or "seq" not in d):
            return f"{pre}{_n(x)} heads × {_n(y)}×{_n(z)} attention weights between token positions"
        if heads_ok and (_is(z, d, "d_head") or ("d_head" not in d and not _is(z, d, "seq"))):
            return f"{pre}{_n(x)} heads × {_n(y)} positions × {_n(z)} neurons per head"
        if heads_ok and _is(y, d, "d_head") and _is(z, d, "seq"):
            return f"{pre}{_n(x)} heads × {_n(y)} neurons per head × {_n(z)} positions (keys transposed for Q·Kᵀ)"
        if _is(y, d, "heads") and (_is(z, d, "d_head") or "d_head" not in d):
            return f"{pre}{_n(x)} positions × {_n(y)} heads × {_n(z)} neurons per head"
    return " × ".join(_n(v) for v in shape) + " numbers"


def explain_overview(dims: Dims | None = None) -> str:
    """The short answer to "how does this op graph relate to a textbook network of neurons and edges?"."""
    d = _derived(dims or {})
    H = _n(d["hidden"]) if isinstance(d.get("hidden"), int) else "hidden-size"
    ISZ = _n(d["ffn"]) if isinstance(d.get("ffn"), int) else "intermediate-size"
    edges = ""
    if isinstance(d.get("hidden"), int) and isinstance(d.get("ffn"), int):
        edges = f" ({_n(d['hidden'] * d['ffn'])} edges)"
    return (
        "In the textbook picture a layer is a column of neurons and every edge carries a trained weight. In "
        f"this model each token position holds a column of {H} neurons. A Linear node is exactly a fully-connected "
        f"layer: e.g. the feed-forward expand connects {H} neurons to {ISZ}{edges}, one trained weight per "
        "edge, and the same weights are reused at every position. The op graph shows that layer as a matmul "
        f"with the weight matrix plus an add of the biases; {d.get('act') or 'the activation'} and "
        f"{d.get('norm') or 'LayerNorm'} act on each neuron's "
        "number. Add nodes are residual skip connections or bias adds, mul nodes scale, and reshape/transpose "
        "nodes only regroup numbers (e.g. into heads). What the textbook picture lacks is attention: its "
        "matmuls connect token positions with weights computed from the input itself (softmax of Q·Kᵀ), "
        "not trained ones."
    )
