"""Errors of ONNX export, named as in `torch.onnx.errors`."""

from __future__ import annotations


class OnnxExporterError(RuntimeError):
    """The model could not be exported to ONNX; the message says what and where."""


class UnsupportedOperatorError(OnnxExporterError):
    """Operations that ONNX cannot express, or that the exporter does not know; each is named."""

    def __init__(self, items):
        self.items = list(items)
        listed = "; ".join(self.items)
        super().__init__(f"{len(self.items)} operation(s) cannot be exported to ONNX: {listed}")
