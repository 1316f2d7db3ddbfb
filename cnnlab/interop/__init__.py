"""Exchange with the wider ecosystem: PyTorch code + safetensors weights, ONNX export/import.

    from cnnlab.interop import export_pytorch, load_safetensors, export_onnx, load_onnx
    export_pytorch(model, "exported/")        # model.py + weights.safetensors
    load_safetensors(model, "weights.safetensors")  # weights trained in PyTorch, back in
    export_onnx(model, "model.onnx")           # onnxruntime, browsers, phones
    model = load_onnx("digits.onnx")           # a small ONNX CNN as a cnnlab Sequential

ONNX needs the optional ``onnx`` package (``pip install 'cnnlab[onnx]'``); without it the
ONNX functions raise ``OnnxUnavailable`` (an ``ImportError``) saying so.
"""

from cnnlab.engine.model import ModelFileError
from cnnlab.interop.onnx_common import OnnxUnavailable
from cnnlab.interop.onnx_export import export_onnx
from cnnlab.interop.onnx_import import load_onnx
from cnnlab.interop.pytorch import export_pytorch
from cnnlab.interop.safetensors_io import load_safetensors, save_safetensors

__all__ = ["ModelFileError", "OnnxUnavailable", "export_onnx", "export_pytorch", "load_onnx",
           "load_safetensors", "save_safetensors"]
