"""Where the bundled data and models live (``resources/`` beside the package)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

_REPO_RESOURCES = Path(__file__).resolve().parent.parent / "resources"  # a checkout / pip -e
_INSTALLED_RESOURCES = Path(sys.prefix) / "share" / "cnnlab" / "resources"  # pip install .


def resources_dir() -> Path:
    """The bundled resources folder: ``CNNLAB_RESOURCES`` if set, else ``resources/`` of
    the checkout, else the copy a non-editable install put under ``sys.prefix``."""
    override = os.environ.get("CNNLAB_RESOURCES")
    if override:
        return Path(override)
    if _REPO_RESOURCES.is_dir() or not _INSTALLED_RESOURCES.is_dir():
        return _REPO_RESOURCES
    return _INSTALLED_RESOURCES


def resource_path(*parts: str) -> Path:
    """Path of a bundled file, e.g. ``resource_path("models", "digits.npz")``."""
    return resources_dir().joinpath(*parts)
