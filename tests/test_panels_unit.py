"""Presenters on their own: one set of defaults for app and widget, the click rule, the breadcrumb, role
colours that can be told apart, colour-by that separates attention, feed-forward and the MLM head."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import bertviz_graph as bg
from bertviz_graph.hierarchy.style import ROLE_STYLE
from bertviz_graph.presenters import common
from bertviz_graph.presenters import weights as pw

L0 = "bert.encoder.layer.0"


@pytest.fixture(scope="module")
def tiny():
    return bg.trace("bert-tiny")


def _lab(hex_colour: str) -> np.ndarray:
    """CIE L*a*b* (D65) of an sRGB hex colour, by the textbook formulas."""
    h = hex_colour.lstrip("#")
    rgb = np.array([int(h[i:i + 2], 16) for i in (0, 2, 4)]) / 255
    rgb = np.where(rgb > 0.04045, ((rgb + 0.055) / 1.055) ** 2.4, rgb / 12.92)
    m = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]])
    xyz = m @ rgb / np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > 0.008856, np.cbrt(xyz), 7.787 * xyz + 16 / 116)
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


def test_role_colours_can_be_told_apart():
    close = [(a, b) for a, b in itertools.combinations(ROLE_STYLE, 2) if {a, b} != {"input", "output"}
             and np.linalg.norm(_lab(ROLE_STYLE[a][0]) - _lab(ROLE_STYLE[b][0])) < 5.5]
    assert close == []


def test_app_and_widget_show_a_tensor_the_same_way(tiny):
    """The widget's PNG and the app's figure come from one presenter call with one default."""
    from bertviz_graph.app.context import AppContext
    from bertviz_graph.widget import GraphWidget
    from bertviz_graph.widget.matrix import matrix_payload

    name = f"{L0}.attention.self.query.weight"
    C = AppContext(tiny)
    w = GraphWidget(tiny)
    png, meta = matrix_payload(w.weights, name)
    app_m = pw.matrix(C.weights, name)
    assert meta["how"] == app_m.view.how == common.HOW == "maxabs"
    assert meta["cells"] == list(app_m.view.z.shape)
    np.testing.assert_array_equal(np.frombuffer(png, np.uint8)[:8], np.frombuffer(app_m.png(), np.uint8)[:8])
    assert png == app_m.png()
    # block max |w| (signed) of the first cell, from the tensor itself
    br, bc = app_m.view.block
    W = np.asarray(C.weights.get(name))
    blk = W[:br, :bc]
    assert float(app_m.view.z[0, 0]) == pytest.approx(float(blk.flat[int(np.argmax(np.abs(blk)))]))


def test_click_rule_and_breadcrumb(tiny):
    h = tiny.hierarchy
    assert common.click_action(h, f"{L0}.intermediate.dense") == {"action": "select", "id": f"{L0}.intermediate.dense"}
    assert common.click_action(h, f"{L0}.attention")["action"] == "open"
    assert common.click_action(h, "") is None and common.click_action(h, "nope") is None
    crumbs = [g for g, _ in common.breadcrumb(h, f"{L0}.attention.self.query")]
    assert crumbs[-1] == f"{L0}.attention.self.query" and crumbs[0] == "bert"
    assert all(h.parent(b) == a for a, b in zip(crumbs, crumbs[1:], strict=False))


def test_one_trained_flag(tiny):
    from bertviz_graph.app.context import AppContext
    from bertviz_graph.widget import GraphWidget

    C, w = AppContext(tiny), GraphWidget(tiny)
    assert C.trained is common.is_trained(tiny, w.weights) is False


def test_colour_by_flops_separates_attention_ffn_and_head(base_graph):
    """Self-attention (4 × 768² weights), the whole feed-forward (2 × 768×3072: twice that) and the MLM head
    (768×30522) get three colours far apart; on the old log scale they were one orange."""
    from bertviz_graph.app.context import color_for

    h = base_graph.hierarchy
    fl = {g: h.groups[g].flops for g in ("bert.encoder.layer.0.attention", "bert.encoder.layer.0.intermediate",
                                         "bert.encoder.layer.0.output", "cls")}
    att = fl["bert.encoder.layer.0.attention"]
    ffn = fl["bert.encoder.layer.0.intermediate"] + fl["bert.encoder.layer.0.output"]
    head = fl["cls"]
    assert 1.8 < ffn / att < 2.2 and head > 4 * ffn  # the sizes the colours must tell apart
    labs = [_lab(color_for(v, 1, head)) for v in (att, ffn, head)]
    assert min(np.linalg.norm(a - b) for a, b in itertools.combinations(labs, 2)) > 8
