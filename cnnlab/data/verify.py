"""Is a cached download the published file? Checked by checksum, remembered in a marker.

Hashing 170 MB on every load would cost a second or two, so a file that passed is
recorded in ``<name>.verified`` (its size, modification time in ns and SHA-256). The
marker only vouches for a file with exactly that size and time: a file replaced or
rewritten in place (a right-size wrong-content copy, a restored backup) is hashed again.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from cnnlab.data.sources import RemoteFile
from cnnlab.files import write_bytes_atomically

MARKER_SUFFIX = ".verified"


def file_digests(path: Path) -> tuple[str, str]:
    """(sha256, md5) hex digests of a file, read in chunks."""
    sha, md5 = hashlib.sha256(), hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            sha.update(chunk)
            md5.update(chunk)
    return sha.hexdigest(), md5.hexdigest()


def marker_path(path: Path) -> Path:
    return path.with_name(path.name + MARKER_SUFFIX)


def _stamp(path: Path) -> dict:
    st = path.stat()
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns}


def check_file(path: Path, remote: RemoteFile) -> str | None:
    """None if ``path`` is the published file, else what is wrong with it (hashes it)."""
    size = path.stat().st_size
    if remote.size is not None and size != remote.size:
        return f"size {size:,} bytes, expected {remote.size:,}"
    sha, md5 = file_digests(path)
    if remote.sha256 and sha != remote.sha256.lower():
        return f"SHA-256 {sha} does not match the published {remote.sha256}"
    if remote.md5 and md5 != remote.md5.lower():
        return f"MD5 {md5} does not match the published {remote.md5}"
    return None


def remember_verified(path: Path, remote: RemoteFile) -> None:
    """Write the marker for a file that just passed :func:`check_file`."""
    record = {**_stamp(path), "sha256": (remote.sha256 or "").lower()}
    write_bytes_atomically(marker_path(path), json.dumps(record).encode())


def is_remembered(path: Path, remote: RemoteFile) -> bool:
    """Whether the marker vouches for ``path`` as it is now."""
    try:
        record = json.loads(marker_path(path).read_text())
        return (isinstance(record, dict) and record.get("sha256") == (remote.sha256 or "").lower()
                and {k: record.get(k) for k in ("size", "mtime_ns")} == _stamp(path))
    except (OSError, ValueError):
        return False


def verify_cached(path: Path, remote: RemoteFile) -> str | None:
    """None if ``path`` is known good (marker) or hashes right (then remembered);
    else the problem. A bad file's marker is removed."""
    if is_remembered(path, remote):
        return None
    problem = check_file(path, remote)
    if problem is None:
        remember_verified(path, remote)
    else:
        marker_path(path).unlink(missing_ok=True)
    return problem
