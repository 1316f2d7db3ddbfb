"""Model weights as a ``.safetensors`` file with PyTorch names and layouts.

The format (https://huggingface.co/docs/safetensors): an 8-byte little-endian header length,
a JSON header ``{name: {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]}}``, then
the raw little-endian tensor bytes. Writing uses the ``safetensors`` package; reading parses
the header here first, so every declared name, dtype, shape and offset is checked against the
model and the file's real size before a single tensor is allocated.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from cnnlab.engine.model import ModelFileError
from cnnlab.files import write_atomically
from cnnlab.interop.state_dict import engine_weights, torch_shapes, torch_state_dict

#: safetensors dtype codes cnnlab understands (little-endian on disk)
DTYPES = {"F32": np.dtype("<f4"), "F64": np.dtype("<f8"), "F16": np.dtype("<f2"),
          "BF16": None, "I64": np.dtype("<i8"), "I32": np.dtype("<i4"), "I8": np.dtype("i1"),
          "U8": np.dtype("u1"), "BOOL": np.dtype("?"), "I16": np.dtype("<i2")}
#: a header larger than this is refused (real headers are a few kB)
MAX_HEADER_BYTES = 100_000_000


def _code(dtype: np.dtype) -> str:
    return "F64" if np.dtype(dtype) == np.float64 else "F32"


def save_safetensors(model, path) -> Path:
    """Write the model's weights to ``path`` as safetensors: PyTorch ``state_dict`` names
    (``"0.weight"``, ``"0.bias"``, ...), PyTorch layouts (``Linear`` weights ``(out, in)``),
    the model's dtype. Atomic (temp file + rename). Returns the path."""
    from safetensors.numpy import save

    path = Path(path)
    metadata = {"format": "pt", "cnnlab_config": json.dumps(model.get_config())}
    data = save(torch_state_dict(model), metadata=metadata)
    write_atomically(path, lambda f: f.write(data))
    return path


def read_header(path) -> tuple[dict[str, dict], int]:
    """``(tensors, data_start)``: the checked header entries of a safetensors file (without
    ``__metadata__``) and the byte offset of the data section. Raises ``ModelFileError``
    naming the file for anything inconsistent: a header longer than the file, bad JSON, an
    unknown dtype, offsets outside the data or not matching dtype × shape."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no safetensors file at {path}")
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(8)
        if len(head) < 8:
            raise ModelFileError(f"{path}: not a safetensors file ({size} bytes, too short)")
        n = int.from_bytes(head, "little")
        if n > size - 8 or n > MAX_HEADER_BYTES:
            raise ModelFileError(f"{path}: not a safetensors file (declares a {n:,}-byte header "
                                 f"but the file has {size:,} bytes)")
        raw = f.read(n)
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ModelFileError(f"{path}: not a safetensors file (the header is not JSON: {exc})") from None
    if not isinstance(header, dict):
        raise ModelFileError(f"{path}: not a safetensors file (the header is not a JSON object)")
    data_size = size - 8 - n
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        tensors[name] = _check_entry(path, name, info, data_size)
    return tensors, 8 + n


def _check_entry(path, name: str, info, data_size: int) -> dict:
    where = f"{path}: tensor {name!r}"
    if not isinstance(info, dict):
        raise ModelFileError(f"{where}: header entry is not an object")
    dtype, shape, offsets = info.get("dtype"), info.get("shape"), info.get("data_offsets")
    if dtype not in DTYPES:
        raise ModelFileError(f"{where}: unknown dtype {dtype!r}")
    if not isinstance(shape, list) or not all(
            isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in shape):
        raise ModelFileError(f"{where}: shape must be a list of non-negative ints, got {shape!r}")
    if (not isinstance(offsets, list) or len(offsets) != 2
            or not all(isinstance(o, int) and not isinstance(o, bool) for o in offsets)
            or not 0 <= offsets[0] <= offsets[1] <= data_size):
        raise ModelFileError(f"{where}: data_offsets {offsets!r} lie outside the "
                             f"{data_size:,} data bytes")
    itemsize = 2 if dtype == "BF16" else DTYPES[dtype].itemsize
    if offsets[1] - offsets[0] != math.prod(shape) * itemsize:
        raise ModelFileError(f"{where}: {offsets[1] - offsets[0]:,} bytes do not hold a "
                             f"{dtype} tensor of shape {tuple(shape)}")
    return {"dtype": dtype, "shape": tuple(shape), "offsets": tuple(offsets)}


def load_safetensors(model, path):
    """Copy the weights in the safetensors file ``path`` into ``model`` (in place) and
    return the model.

    The file must hold exactly the model's PyTorch ``state_dict``: every name, shape and
    dtype (the model's: F32 or F64) is checked first and all mismatches are reported by
    name in one ``ModelFileError``; the model is unchanged when anything is wrong,
    including NaN or Inf weights. Raises ``FileNotFoundError`` when ``path`` is missing."""
    path = Path(path)
    tensors, start = read_header(path)
    expected = torch_shapes(model)
    want = _code(model.dtype)
    problems = [f"{name}: missing (expected shape {shape})" for name, shape in expected.items()
                if name not in tensors]
    problems += [f"{name}: not in the model (shape {tensors[name]['shape']})"
                 for name in tensors if name not in expected]
    for name, shape in expected.items():
        info = tensors.get(name)
        if info is None:
            continue
        if info["shape"] != shape:
            problems.append(f"{name}: shape {info['shape']} but the model needs {shape}")
        if info["dtype"] != want:
            problems.append(f"{name}: dtype {info['dtype']} but the model is {want} "
                            f"({model.dtype.name})")
    if problems:
        raise ModelFileError(f"{path}: does not match the model: " + "; ".join(problems))
    arrays = {}
    with open(path, "rb") as f:
        for name in expected:
            begin, end = tensors[name]["offsets"]
            f.seek(start + begin)
            data = f.read(end - begin)
            if len(data) != end - begin:
                raise ModelFileError(f"{path}: tensor {name!r} is truncated")
            array = np.frombuffer(data, dtype=DTYPES[want]).reshape(expected[name])
            if not np.isfinite(array).all():
                raise ModelFileError(f"{path}: tensor {name!r} contains NaN or Inf")
            arrays[name] = array.astype(model.dtype)  # native byte order, writable copy
    model.set_weights(engine_weights(model, arrays))
    return model
