"""Reading a model ``.npz`` written by ``Sequential.save``, trusting nothing in it.

Names, header shapes and sizes are checked before any array is read (see
:mod:`cnnlab.engine.npz_reader`); the config obeys the same limits as an architecture
built by hand (:mod:`cnnlab.engine.limits`); every weight must be finite and of a
believable size. Every problem is a ``ModelFileError`` in the user's words.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

from cnnlab.engine.base import FLOAT_DTYPES, WeightedLayer
from cnnlab.engine.limits import MAX_MODEL_BYTES
from cnnlab.engine.model import FORMAT, VERSION, ModelFileError, Sequential
from cnnlab.engine.npz_reader import read_npz

MAX_CONFIG_CHARS = 1_000_000
#: trained weights are small numbers; anything this large is a broken or forged file
MAX_ABS_WEIGHT = 1e6
_WEIGHT_NAME = re.compile(r"^\d{1,4}\.[A-Za-z_]\w{0,30}$")


def _accept(name: str) -> bool:
    return name in ("config", "format_version") or bool(_WEIGHT_NAME.match(name))


def _check_names(names: list[str]) -> str | None:
    if "config" not in names:
        shown = ", ".join(sorted(names)[:5]) or "nothing"
        return f"not a cnnlab model: no config entry (it holds {shown[:200]})"
    return None


def _check_entry(name: str, shape: tuple, dtype: np.dtype) -> str | None:
    if name == "config":
        if shape != () or dtype.kind != "U" or dtype.itemsize // 4 > MAX_CONFIG_CHARS:
            return "not a cnnlab model: its config entry is not a short JSON text"
    elif name == "format_version":
        if shape != () or dtype.kind not in "iu":
            return "not a cnnlab model: format_version is not a whole number"
    elif dtype not in FLOAT_DTYPES:
        return f"weight {name} holds {dtype} values, expected float32 or float64"
    return None


def _config(arrays: dict, path: Path) -> dict:
    if "config" not in arrays:
        names = ", ".join(sorted(arrays)[:5]) or "nothing"
        raise ModelFileError(f"{path}: not a cnnlab model: no config entry (it holds {names})")
    try:
        cfg = json.loads(str(arrays.pop("config")))
    except (TypeError, ValueError, RecursionError) as exc:
        raise ModelFileError(f"{path}: not a cnnlab model: the config is not valid JSON "
                             f"({str(exc)[:120]})") from None
    if not isinstance(cfg, dict) or cfg.get("format") != FORMAT:
        found = cfg.get("format") if isinstance(cfg, dict) else None
        raise ModelFileError(f"{path}: not a cnnlab model (format {str(found)[:60]!r})")
    version = cfg.get("version")
    if type(version) is not int or version != VERSION:
        shown = version if type(version) is int else repr(version)[:40]
        raise ModelFileError(f"{path}: model format version {shown} is not "
                             f"supported (this cnnlab reads version {VERSION})")
    stored = arrays.pop("format_version", None)
    if stored is not None and int(stored) != version:
        raise ModelFileError(f"{path}: format_version {int(stored)} disagrees with the "
                             f"config's version {version}")
    return cfg


def _weights(model: Sequential, arrays: dict) -> None:
    """Put the file's arrays into ``model``'s layers; ValueError naming the layer."""
    used = set()
    for layer in model.layers:
        if not isinstance(layer, WeightedLayer):
            continue
        mine = {k: arrays.get(f"{layer.index}.{k}") for k in layer.param_shapes()}
        absent = [f"{layer.index}.{k}" for k, v in mine.items() if v is None]
        if absent:
            raise layer.error(f"weights {', '.join(absent)} are missing")
        for k, v in mine.items():
            if not np.isfinite(v).all():
                raise layer.error(f"weight {k} contains NaN or Inf")
            if v.size and float(np.abs(v).max()) > MAX_ABS_WEIGHT:
                raise layer.error(f"weight {k} holds values up to {float(np.abs(v).max()):.3g}; "
                                  "no trained model has weights that large (a broken file?)")
        layer.set_params(mine)
        used.update(f"{layer.index}.{k}" for k in mine)
    extra = sorted(set(arrays) - used)
    if extra:
        raise ValueError(f"unexpected entries {', '.join(extra[:5])}")


def load_model(path) -> Sequential:
    """Read a model saved with ``Sequential.save``; returned in eval mode.

    Never runs code from the file and never allocates more than the declared (and
    capped) sizes. Raises ``FileNotFoundError`` when ``path`` is missing and
    ``ModelFileError`` (a ``ValueError``) naming the file for anything else: not a cnnlab
    model, truncated, tampered, unsupported version, impossible layers, bad weights."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no model file at {path}")
    arrays = read_npz(path, accept=_accept, max_bytes=MAX_MODEL_BYTES, error=ModelFileError,
                      check=_check_entry, check_names=_check_names)
    cfg = _config(arrays, path)
    try:
        layers = Sequential._layers_from_config(cfg, allocate=False)
        model = Sequential(layers, cfg["input_shape"], cfg.get("dtype"), cfg.get("meta"))
        _weights(model, arrays)
    except (ValueError, TypeError, KeyError, RecursionError) as exc:
        raise ModelFileError(f"{path}: {str(exc)[:300]}") from None
    return model.eval()
