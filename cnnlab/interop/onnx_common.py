"""What the ONNX export and import share: the optional ``onnx`` package and the names."""

from __future__ import annotations

INPUT_NAME = "input"
OUTPUT_NAME = "logits"
#: oldest default-domain opset the exporter writes
MIN_OPSET = 9
#: oldest opset the importer reads (the supported operations mean the same from opset 7 on)
MIN_IMPORT_OPSET = 7


class OnnxUnavailable(ImportError):
    """The optional ``onnx`` package is not installed."""


def require_onnx():
    """The ``onnx`` module, or ``OnnxUnavailable`` saying how to install it."""
    try:
        import onnx
    except ImportError:
        raise OnnxUnavailable("ONNX support needs the optional onnx package: "
                              "pip install 'cnnlab[onnx]' (or: pip install onnx)") from None
    return onnx
