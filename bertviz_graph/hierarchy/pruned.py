"""Pruned heads and neurons on the groups they live in, from the record ``bertviz-graph prune`` writes into
config.json: the attention block and its query/key/value/output Linears say "2 of 4 heads", the
feed-forward block and its two Linears "2,150 of 3,072 neurons", and carry which ones are gone
(``attrs["prune_mask"]``: one bool per head or neuron, True = pruned) for the strip the SVG draws.

Read here, at the hierarchy stage, so every view of the graph (app, widget, export) shows the same thing.
"""

from __future__ import annotations

from typing import Any

from bertviz_graph import format as fmt

RECORD_KEY = "bertviz_graph_pruning"  # the config.json key (prune.methods re-exports it)

# (attention block, its Linears) and (feed-forward block, its Linears) relative to a layer, per family
_HEADS = ((".attention.self", (".attention.self.query", ".attention.self.key", ".attention.self.value",
                               ".attention.output.dense")),
          (".attention", (".attention.q_lin", ".attention.k_lin", ".attention.v_lin", ".attention.out_lin")))
_NEURONS = ((".intermediate", (".intermediate.dense", ".output.dense")),
            (".ffn", (".ffn.lin1", ".ffn.lin2")))


def _mark(groups: dict[str, Any], gid: str, unit: str, total: int, pruned: list[int]) -> None:
    g = groups.get(gid)
    if g is None or total <= 0:
        return
    gone = {int(i) for i in pruned if 0 <= int(i) < total}
    kept = total - len(gone)
    text = f"{fmt.count(kept)} of {fmt.count(total)} {unit}"
    g.attrs["pruned"] = text + (f" (pruned {', '.join(map(str, sorted(gone)))})" if unit == "heads" else "")
    g.attrs["prune_mask"] = tuple(i in gone for i in range(total))
    g.sublabel = f"{g.sublabel} · {text}" if g.sublabel else text


def annotate(groups: dict[str, Any], config: dict[str, Any] | None) -> None:
    """Mark the groups of the layers whose heads or neurons the record says were pruned (in place)."""
    rec = (config or {}).get(RECORD_KEY) or {}
    paths = rec.get("layer_paths") or []
    for table, key, total in ((_HEADS, "heads", rec.get("n_heads") or 0), (_NEURONS, "neurons", rec.get("ffn") or 0)):
        for layer, pruned in (rec.get(key) or {}).items():
            i = int(layer)
            if not pruned or not 0 <= i < len(paths):
                continue
            lp = paths[i]
            for block, linears in table:
                if lp + linears[0] in groups:
                    for gid in (lp + block, *(lp + s for s in linears)):
                        _mark(groups, gid, key, int(total), list(pruned))
                    break
