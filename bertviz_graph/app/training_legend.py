"""The graph's legend while it is coloured by the tab's training step (presenters/training_graph.py)."""

from __future__ import annotations

from typing import Any

from dash import html

from bertviz_graph.presenters.training import FROZEN_FILL, NO_WEIGHT_FILL, fill_for
from bertviz_graph.presenters.training_graph import EDGE_SCALE, MODES


def _item(*children: Any, cls: str = "bv-leg-item") -> html.Div:
    return html.Div(className=cls, children=list(children))


def legend(mode: str, vrange: tuple[float, float] | None, why: dict[str, str] | None = None) -> list[Any]:
    title = MODES[mode]
    if vrange is None:
        reason = next(iter((why or {}).values()), "") or "take a step in the Training tab"
        return [_item(f"{title}: no values in this view ({reason})")]
    lo, hi = vrange
    items: list[Any] = [_item(html.Span(title + " (linear scale from 0 to this view's largest)",
                                        className="bv-leg-title"))]
    if mode == "backward":
        items.append(_item(
            html.Span("0", className="bv-leg-num"),
            html.Span(className="bv-gradient", style={"background": f"linear-gradient(to right, {', '.join(EDGE_SCALE)})"}),
            html.Span(f"{hi:.3g}", className="bv-leg-num"),
            html.Span("edge width and colour: ‖∂L/∂x‖ of the tensor it carries (all the gradient reaching that tensor)",
                      className="bv-leg-num")))
        return items
    scale = "linear-gradient(to right, " + ", ".join(fill_for(k / 4) for k in range(5)) + ")"
    items.append(_item(html.Span("0", className="bv-leg-num"),
                       html.Span(className="bv-gradient", style={"background": scale}),
                       html.Span(f"{hi:.3g}", className="bv-leg-num"),
                       html.Span(f"(values {lo:.3g}–{hi:.3g})", className="bv-leg-num")))
    items.append(_item(html.Span(className="bv-swatch", style={"background": FROZEN_FILL, "border": "1px solid #999"}),
                       html.Span("frozen: no update in this step")))
    items.append(_item(html.Span(className="bv-swatch", style={"background": NO_WEIGHT_FILL, "border": "1px solid #999"}),
                       html.Span("no weights: passes the gradient on")))
    return items
