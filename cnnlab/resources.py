"""Where the bundled data and models live (``resources/`` beside the package)."""

from __future__ import annotations

import os
from pathlib import Path

_REPO_RESOURCES = Path(__file__).resolve().parent.parent / "resources"


def resources_dir() -> Path:
    """The bundled resources folder; ``CNNLAB_RESOURCES`` overrides it."""
    override = os.environ.get("CNNLAB_RESOURCES")
    return Path(override) if override else _REPO_RESOURCES


def resource_path(*parts: str) -> Path:
    """Path of a bundled file, e.g. ``resource_path("models", "digits.npz")``."""
    return resources_dir().joinpath(*parts)
