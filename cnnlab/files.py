"""Writing files atomically: the one implementation every save in cnnlab uses.

``write_atomically(path, write)`` calls ``write(file)`` on a temporary file beside
``path`` (named ``.<name>.<random>.tmp``) and moves it onto ``path`` with ``os.replace``,
so a crash or a kill mid-write leaves the old file untouched. A process killed between
creating the temporary file and renaming it cannot delete it; the next save of the same
target removes such leftovers, so interrupted saves do not pile up on disk.

NumPy-free and Qt-free: the engine, the data package and the app all import it.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

#: a temporary file of another save still running is younger than this; leave it alone
STALE_AFTER_S = 60.0


def temp_prefix(path: Path) -> str:
    """The name prefix of ``path``'s temporary files: ``.model.npz.``."""
    return f".{path.name}."


def remove_stale_temps(path: str | os.PathLike, older_than_s: float = STALE_AFTER_S) -> list[Path]:
    """Delete ``.<name>.*.tmp`` files beside ``path`` left by interrupted saves (those
    not modified for ``older_than_s`` seconds); return what was removed."""
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    prefix, removed = temp_prefix(path), []
    now = time.time()
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        if not (entry.name.startswith(prefix) and entry.name.endswith(".tmp")):
            continue
        try:
            if not entry.is_file(follow_symlinks=False):
                continue
            if now - entry.stat(follow_symlinks=False).st_mtime < older_than_s:
                continue
            os.unlink(entry.path)
            removed.append(Path(entry.path))
        except OSError:
            continue  # vanished meanwhile, or not ours to delete: not worth failing a save
    return removed


def write_atomically(path: str | os.PathLike, write) -> None:
    """Call ``write(file)`` on a temp file beside ``path``, then ``os.replace`` it onto
    ``path``: a crash mid-write leaves any old file untouched. Stale temp files of the
    same target from earlier interrupted saves are removed first."""
    path = Path(path)
    remove_stale_temps(path)
    fd, tmp = tempfile.mkstemp(prefix=temp_prefix(path), suffix=".tmp", dir=path.parent or ".")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        # mkstemp makes the file private (0600); give it the old file's mode or the usual 0644
        os.chmod(tmp, path.stat().st_mode & 0o777 if path.exists() else 0o644)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def write_bytes_atomically(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically, creating the folder; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(path, lambda f: f.write(data))
    return path
