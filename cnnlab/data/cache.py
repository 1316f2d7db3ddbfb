"""Where downloaded datasets and the user's own data live on this machine.

Cache (re-downloadable): ``CNNLAB_CACHE`` if set, else the platform's cache folder:
``%LOCALAPPDATA%\\cnnlab\\Cache`` (Windows), ``~/Library/Caches/cnnlab`` (macOS),
``$XDG_CACHE_HOME/cnnlab`` or ``~/.cache/cnnlab`` (Linux and other Unixes).

User data (not re-downloadable, e.g. corrected drawings): ``CNNLAB_DATA`` if set, else
``%APPDATA%\\cnnlab`` (Windows), ``~/Library/Application Support/cnnlab`` (macOS),
``$XDG_DATA_HOME/cnnlab`` or ``~/.local/share/cnnlab``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

APP_NAME = "cnnlab"


def _xdg(var: str, fallback: str) -> Path:
    value = os.environ.get(var, "")
    # The XDG spec says relative paths are invalid and must be ignored.
    return Path(value) if value and os.path.isabs(value) else Path.home() / fallback


def default_cache_dir() -> Path:
    """The per-user dataset cache folder (not created here)."""
    override = os.environ.get("CNNLAB_CACHE")
    if override:
        return Path(override).expanduser()
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA") or str(Path.home() / "AppData" / "Local")
        return Path(base) / APP_NAME / "Cache"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / APP_NAME
    return _xdg("XDG_CACHE_HOME", ".cache") / APP_NAME


def user_data_dir() -> Path:
    """The per-user folder for data the user made (not created here)."""
    override = os.environ.get("CNNLAB_DATA")
    if override:
        return Path(override).expanduser()
    if sys.platform == "win32":
        base = os.environ.get("APPDATA") or str(Path.home() / "AppData" / "Roaming")
        return Path(base) / APP_NAME
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / APP_NAME
    return _xdg("XDG_DATA_HOME", ".local/share") / APP_NAME


def resolve_cache_dir(cache_dir: str | os.PathLike | None = None) -> Path:
    """``cache_dir`` if given (``--cache-dir``), else :func:`default_cache_dir`."""
    return Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
