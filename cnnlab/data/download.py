"""Downloading the full datasets into the per-user cache, safely (urllib only).

A file is fetched into ``<name>.part`` and renamed to ``<name>`` only after its size and
checksums match, so the cache never holds a bad file. An interrupted download resumes
from the ``.part`` with an HTTP Range request (or starts over if the server ignores it).
Progress goes to ``progress(bytes_done, total)``; ``cancel`` (a callable returning True,
or a ``threading.Event``) is checked between chunks and stops with DownloadCancelled.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import re
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from cnnlab import __version__
from cnnlab.data import sources
from cnnlab.data.cache import resolve_cache_dir
from cnnlab.data.errors import DatasetError
from cnnlab.data.sources import RemoteFile

CHUNK_BYTES = 256 * 1024
USER_AGENT = f"cnnlab/{__version__} (Python urllib)"
Progress = Callable[[int, "int | None"], None]


class DownloadError(DatasetError):
    """No mirror delivered a good copy; the message lists what each one did."""


class DownloadCancelled(Exception):
    """The user cancelled; the ``.part`` file is kept so the next try resumes."""


class _MirrorFailed(Exception):
    """One URL did not deliver (HTTP error, network error, short read)."""


def _is_cancelled(cancel) -> bool:
    if cancel is None:
        return False
    if hasattr(cancel, "is_set"):
        return bool(cancel.is_set())
    return bool(cancel())


def file_digests(path: Path) -> tuple[str, str]:
    """(sha256, md5) hex digests of a file, read in chunks."""
    sha, md5 = hashlib.sha256(), hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            sha.update(chunk)
            md5.update(chunk)
    return sha.hexdigest(), md5.hexdigest()


def _verify(path: Path, remote: RemoteFile) -> str | None:
    """None if ``path`` is the expected file, else what is wrong with it."""
    size = path.stat().st_size
    if remote.size is not None and size != remote.size:
        return f"size {size:,} bytes, expected {remote.size:,}"
    sha, md5 = file_digests(path)
    if remote.sha256 and sha != remote.sha256.lower():
        return f"SHA-256 {sha} does not match the published {remote.sha256}"
    if remote.md5 and md5 != remote.md5.lower():
        return f"MD5 {md5} does not match the published {remote.md5}"
    return None


def _fetch(url: str, part: Path, total_hint: int | None, progress, cancel, timeout: float) -> bool:
    """Append ``url``'s bytes to ``part`` (resuming from its size). Returns True if it resumed."""
    offset = part.stat().st_size if part.exists() else 0
    headers = {"User-Agent": USER_AGENT}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    request = urllib.request.Request(url, headers=headers)
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and offset:  # nothing left to send: the .part may be complete
            return True
        raise _MirrorFailed(f"HTTP {exc.code} {exc.reason}") from exc
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise _MirrorFailed(f"cannot connect ({reason})") from exc
    with response:
        resumed = offset > 0 and response.status == 206 and _range_start(response) == offset
        if not resumed:
            offset = 0  # server sent the whole file: start over
        length = response.headers.get("Content-Length")
        total = offset + int(length) if length and length.isdigit() else total_hint
        done = offset
        if progress:
            progress(done, total)
        with open(part, "ab" if resumed else "wb") as out:
            while True:
                if _is_cancelled(cancel):
                    raise DownloadCancelled(f"download of {url} cancelled at {done:,} bytes")
                try:
                    chunk = response.read(CHUNK_BYTES)
                except (http.client.IncompleteRead, OSError) as exc:
                    raise _MirrorFailed(f"connection dropped after {done:,} bytes ({exc})") from exc
                if not chunk:
                    break
                out.write(chunk)
                done += len(chunk)
                if progress:
                    progress(done, total)
    if total is not None and done < total:
        raise _MirrorFailed(f"connection closed after {done:,} of {total:,} bytes")
    return resumed


def _range_start(response) -> int | None:
    m = re.match(r"bytes (\d+)-", response.headers.get("Content-Range", ""))
    return int(m.group(1)) if m else None


def download_file(remote: RemoteFile, folder: str | os.PathLike, *, urls: Sequence[str] | None = None,
                  progress: Progress | None = None, cancel=None, timeout: float = 30.0) -> Path:
    """Download ``remote`` into ``folder`` (trying each mirror in turn) and return its path.

    An existing verified file is reused. ``progress(bytes_done, total_bytes_or_None)`` is
    called after every chunk; ``cancel`` is checked between chunks. Raises DownloadError
    (a DatasetError) when no mirror gives a file with the right size and checksums, and
    DownloadCancelled when cancelled. The final file appears only after it verified.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    dest, part = folder / remote.filename, folder / (remote.filename + ".part")
    if dest.exists() and _verify(dest, remote) is None:
        return dest
    failures = []
    for url in urls or remote.urls:
        for _attempt in range(2):  # a resumed file that fails its checksum gets one fresh try
            try:
                resumed = _fetch(url, part, remote.size, progress, cancel, timeout)
            except _MirrorFailed as exc:
                if part.exists() and remote.size is not None and part.stat().st_size > remote.size:
                    part.unlink()  # longer than the real file: never resumable
                failures.append(f"{url}: {exc}")
                break
            problem = _verify(part, remote)
            if problem is None:
                os.replace(part, dest)
                return dest
            part.unlink()
            failures.append(f"{url}: {problem}")
            if not resumed:
                break
    offline = all("cannot connect" in f for f in failures)
    hint = " - no server could be reached; are you offline?" if offline else ""
    raise DownloadError(f"could not download {remote.filename}{hint}\n  " + "\n  ".join(failures))


def cached_dataset_dir(dataset: str, cache_dir: str | os.PathLike | None = None) -> Path:
    """The cache folder of ``"mnist"`` or ``"cifar10"`` (not created here)."""
    if dataset not in sources.DATASETS:
        raise ValueError(f"unknown dataset {dataset!r}; known: {', '.join(sources.DATASETS)}")
    return resolve_cache_dir(cache_dir) / dataset


def missing_files(dataset: str, cache_dir: str | os.PathLike | None = None) -> list[RemoteFile]:
    """The files of ``dataset`` not (completely) in the cache."""
    folder = cached_dataset_dir(dataset, cache_dir)
    return [f for f in sources.DATASETS[dataset]
            if not (folder / f.filename).is_file() or (folder / f.filename).stat().st_size != f.size]


def download_dataset(dataset: str, cache_dir: str | os.PathLike | None = None, *,
                     progress: Progress | None = None, cancel=None, timeout: float = 30.0) -> Path:
    """Download every missing file of ``dataset`` into the cache; return the dataset's folder.

    ``progress(bytes_done, total)`` counts over all missing files together.
    """
    folder = cached_dataset_dir(dataset, cache_dir)
    todo = missing_files(dataset, cache_dir)
    grand_total = sum(f.size for f in todo)
    before = 0
    for remote in todo:
        def file_progress(done, _total, base=before):
            if progress:
                progress(base + done, grand_total)
        download_file(remote, folder, progress=file_progress, cancel=cancel, timeout=timeout)
        before += remote.size
    return folder


@dataclass(frozen=True)
class CachedFile:
    dataset: str
    filename: str
    state: str  # "complete", "partial" or "missing"
    bytes_present: int
    size: int


def cache_report(cache_dir: str | os.PathLike | None = None) -> list[CachedFile]:
    """What the cache holds, file by file (sizes only; checksums were checked on download)."""
    report = []
    for dataset, files in sources.DATASETS.items():
        folder = cached_dataset_dir(dataset, cache_dir)
        for f in files:
            path, part = folder / f.filename, folder / (f.filename + ".part")
            if path.is_file() and path.stat().st_size == f.size:
                report.append(CachedFile(dataset, f.filename, "complete", f.size, f.size))
            elif part.is_file():
                report.append(CachedFile(dataset, f.filename, "partial", part.stat().st_size, f.size))
            else:
                report.append(CachedFile(dataset, f.filename, "missing", 0, f.size))
    return report
