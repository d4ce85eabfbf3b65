"""ONNX files as models: the adapter that turns an .onnx file into an OpGraph (see ``importer``)."""

from __future__ import annotations

from bertviz_graph.onnx.importer import import_onnx

__all__ = ["import_onnx"]
