"""Where our SVG draws things, in diagram coordinates: a shape inside an opened frame is drawn in the frame's
own coordinates, inside ``<g class="at" transform="translate(x,y)">`` groups (render/svg_layers.py), so a
node's box is its ``data-box`` plus the translations of its ``g.at`` ancestors, and an edge's path likewise."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

SVG = "{http://www.w3.org/2000/svg}"
_TRANSLATE = re.compile(r"translate\(([-\d.e]+),([-\d.e]+)\)")
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


def placed(svg: str) -> dict[tuple[str, str], tuple[ET.Element, float, float]]:
    """(class, data-id) of each node and edge group -> (the group, the x and y its coordinates are offset by)."""
    root = ET.fromstring(svg.split("?>", 1)[-1])
    out: dict[tuple[str, str], tuple[ET.Element, float, float]] = {}
    stack = [(root, 0.0, 0.0)]
    while stack:
        el, ox, oy = stack.pop()
        for ch in el:
            x, y = ox, oy
            if ch.tag == f"{SVG}g" and ch.get("class") == "at":
                m = _TRANSLATE.fullmatch(ch.get("transform", ""))
                assert m is not None, ch.get("transform")
                x, y = ox + float(m[1]), oy + float(m[2])
            if ch.get("class") in ("node", "edge") and ch.get("data-id") is not None:
                key = (ch.get("class"), ch.get("data-id"))
                assert key not in out, f"{key} drawn twice"
                out[key] = (ch, x, y)
            stack.append((ch, x, y))
    return out


def node_boxes(svg: str) -> dict[str, tuple[float, float, float, float]]:
    """Node id -> (left, top, width, height) in diagram coordinates."""
    out = {}
    for (cls, nid), (g, ox, oy) in placed(svg).items():
        if cls == "node":
            x, y, w, h = (float(v) for v in g.get("data-box").split(","))
            out[nid] = (x + ox, y + oy, w, h)
    return out


def edge_paths(svg: str) -> dict[str, list[tuple[float, float]]]:
    """Edge id -> its path's points in diagram coordinates (edges drawn without a path: absent)."""
    out = {}
    for (cls, eid), (g, ox, oy) in placed(svg).items():
        path = g.find(f"{SVG}path")
        if cls == "edge" and path is not None:
            nums = [float(v) for v in _NUMBER.findall(path.get("d"))]
            out[eid] = [(nums[i] + ox, nums[i + 1] + oy) for i in range(0, len(nums), 2)]
    return out
