"""Architecture files: the layer list of a network as JSON (no weights). Qt-free.

The file is ``Sequential.get_config()`` without weights: ``{"format": "cnnlab.sequential",
"version": 1, "input_shape": [1, 28, 28], "layers": [{"type": "Conv2D", ...}, ...]}``, so
``Sequential.from_config(json.load(f))`` builds it too. Reading checks every layer on its own
(type, options, sizes); whether the layers fit together is the designer's business (a
misfit is shown on its row, not refused here).
"""

from __future__ import annotations

import json
from pathlib import Path

from cnnlab.engine.layers import layer_from_config
from cnnlab.engine.model import FORMAT, VERSION
from cnnlab.files import write_atomically
from cnnlab.lab.presets import resolve_specs, strip_sizes

#: Stand-in input sizes used to check one layer spec on its own.
_PROBE_SIZES = {"Conv2D": "in_channels", "Dense": "in_features"}


def check_spec(spec: dict, where: str) -> None:
    """Raise ``ValueError`` (prefixed with ``where``) if ``spec`` is not a buildable layer."""
    if not isinstance(spec, dict):
        raise ValueError(f"{where}: a layer must be a JSON object, got {spec!r:.60}")
    probe = dict(spec)
    key = _PROBE_SIZES.get(probe.get("type"))
    if key:
        probe[key] = 1
    try:
        layer_from_config(probe, allocate=False)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{where}: {exc}") from None


def write_architecture(path, specs: list[dict], input_shape) -> None:
    """Write ``specs`` for ``input_shape`` as an architecture JSON file (atomically)."""
    cfg = {"format": FORMAT, "version": VERSION, "input_shape": list(input_shape),
           "layers": resolve_specs(specs, tuple(input_shape))}
    data = (json.dumps(cfg, indent=2) + "\n").encode("utf-8")
    write_atomically(path, lambda f: f.write(data))


def read_architecture(path) -> tuple[tuple[int, ...], list[dict]]:
    """``(input_shape, specs)`` from an architecture file (or a bare list of layers, then
    the input shape is ``()``). Raises ``FileNotFoundError`` or ``ValueError`` naming the
    file and, for a bad layer, its position and type."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ValueError(f"{path}: not a text file (expected JSON)") from None
    try:
        cfg = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON (line {exc.lineno}, column {exc.colno}: "
                         f"{exc.msg})") from None
    if isinstance(cfg, list):
        cfg = {"layers": cfg}
    if not isinstance(cfg, dict) or not isinstance(cfg.get("layers"), list):
        raise ValueError(f"{path}: not a cnnlab architecture (expected an object with a "
                         f"'layers' list)")
    if cfg.get("format", FORMAT) != FORMAT:
        raise ValueError(f"{path}: not a cnnlab architecture (format {cfg.get('format')!r})")
    version = cfg.get("version", VERSION)
    if version != VERSION:
        raise ValueError(f"{path}: architecture version {version!r} is not supported "
                         f"(this cnnlab reads version {VERSION})")
    shape = cfg.get("input_shape", [])
    if not isinstance(shape, list) or not all(
            isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in shape):
        raise ValueError(f"{path}: input_shape must be a list of positive integers, got {shape!r}")
    if not cfg["layers"]:
        raise ValueError(f"{path}: the architecture has no layers")
    for i, spec in enumerate(cfg["layers"]):
        kind = spec.get("type", "?") if isinstance(spec, dict) else "?"
        check_spec(spec, f"{path}: layer #{i} ({kind})")
    return tuple(shape), strip_sizes(cfg["layers"])
