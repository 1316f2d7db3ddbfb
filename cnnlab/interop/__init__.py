"""Exchange with the wider ecosystem: PyTorch code + safetensors weights, ONNX export/import."""
