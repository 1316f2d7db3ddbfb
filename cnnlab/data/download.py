"""Downloading the full datasets into the per-user cache, safely (urllib only).

A file is fetched into ``<name>.part`` and renamed to ``<name>`` only after its size and
checksums match, so the cache never holds a bad file. Each file has an overall deadline
(a server trickling a byte at a time is given up on), the ``.part`` never grows past the
published size (an endless body is cut off), and every network failure - refused
connections, timeouts, malformed status lines or headers - is a DownloadError. An interrupted download resumes
from the ``.part`` with an HTTP Range request (or starts over if the server ignores it).
Progress goes to ``progress(bytes_done, total)``; ``cancel`` (a callable returning True,
or a ``threading.Event``) is checked between chunks and stops with DownloadCancelled.
"""

from __future__ import annotations

import http.client
import os
import re
import time
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
from cnnlab.data.verify import check_file, file_digests, remember_verified, verify_cached

__all__ = ["DownloadError", "DownloadCancelled", "download_file", "download_dataset",
           "cached_dataset_dir", "missing_files", "verify_dataset", "cache_report", "file_digests",
           "default_deadline"]

CHUNK_BYTES = 256 * 1024
#: a file may take at most this long plus one second per ``MIN_RATE`` bytes
BASE_DEADLINE_S = 120.0
MIN_RATE = 20_000  # bytes per second, averaged over the whole file
_NETWORK_ERRORS = (urllib.error.URLError, OSError, http.client.HTTPException, ValueError)
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


def default_deadline(remote: RemoteFile) -> float:
    """Seconds a download of ``remote`` may take in all: 2 minutes + 1 s per 20 kB."""
    return BASE_DEADLINE_S + (remote.size or 0) / MIN_RATE


def _fetch(url: str, part: Path, total_hint: int | None, progress, cancel, timeout: float,
           deadline: float) -> bool:
    """Append ``url``'s bytes to ``part`` (resuming from its size), never past
    ``total_hint`` bytes nor past the monotonic time ``deadline``. Returns True if it resumed."""
    offset = part.stat().st_size if part.exists() else 0
    headers = {"User-Agent": USER_AGENT}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    request = urllib.request.Request(url, headers=headers)
    try:
        wait = max(0.05, min(timeout, deadline - time.monotonic()))
        response = urllib.request.urlopen(request, timeout=wait)
    except urllib.error.HTTPError as exc:
        exc.close()
        if exc.code == 416 and offset:  # nothing left to send: the .part may be complete
            return True
        raise _MirrorFailed(f"HTTP {exc.code} {str(exc.reason)[:100]}") from None
    except _NETWORK_ERRORS as exc:
        if isinstance(exc, http.client.HTTPException) and not isinstance(exc, ConnectionError):
            raise _MirrorFailed(f"the server's answer is malformed ({_brief(exc)})") from None
        raise _MirrorFailed(f"cannot connect ({_brief(getattr(exc, 'reason', exc))})") from None
    with response:
        try:
            resumed = offset > 0 and response.status == 206 and _range_start(response) == offset
            length = response.headers.get("Content-Length", "")
        except _NETWORK_ERRORS as exc:
            raise _MirrorFailed(f"the server's answer is malformed ({_brief(exc)})") from None
        if not resumed:
            offset = 0  # server sent the whole file: start over
        total = offset + int(length) if length.isdigit() and len(length) < 20 else total_hint
        if total_hint is not None and total > total_hint:
            raise _MirrorFailed(f"the server announces {total:,} bytes, more than the "
                                f"{total_hint:,} of the published file")
        done = _copy_body(response, part, resumed, offset, total, total_hint, progress, cancel,
                          deadline, url)
    if total is not None and done < total:
        raise _MirrorFailed(f"connection closed after {done:,} of {total:,} bytes")
    return resumed


def _copy_body(response, part, resumed, offset, total, ceiling, progress, cancel, deadline, url) -> int:
    """Stream the body into ``part``; the byte count at the end."""
    done = offset
    if progress:
        progress(done, total)
    with open(part, "ab" if resumed else "wb") as out:
        while True:
            if _is_cancelled(cancel):
                raise DownloadCancelled(f"download of {url} cancelled at {done:,} bytes")
            if time.monotonic() > deadline:
                raise _MirrorFailed(f"too slow: gave up after {done:,} bytes at the deadline")
            try:
                chunk = response.read1(CHUNK_BYTES)  # whatever has arrived: a trickle returns
            except _NETWORK_ERRORS as exc:
                raise _MirrorFailed(f"connection dropped after {done:,} bytes ({_brief(exc)})") from None
            if not chunk:
                break
            if ceiling is not None and done + len(chunk) > ceiling:
                raise _MirrorFailed(f"the server sent more than the {ceiling:,} bytes of the "
                                    "published file")
            out.write(chunk)
            done += len(chunk)
            if progress:
                progress(done, total)
    return done


def _brief(exc) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:160]


def _range_start(response) -> int | None:
    m = re.match(r"bytes (\d+)-", response.headers.get("Content-Range", ""))
    return int(m.group(1)) if m else None


def download_file(remote: RemoteFile, folder: str | os.PathLike, *, urls: Sequence[str] | None = None,
                  progress: Progress | None = None, cancel=None, timeout: float = 30.0,
                  deadline_s: float | None = None) -> Path:
    """Download ``remote`` into ``folder`` (trying each mirror in turn) and return its path.

    ``timeout``: seconds a connection may stay silent; ``deadline_s``: seconds the whole
    file may take over all mirrors (default :func:`default_deadline`). An existing
    verified file is reused. ``progress(bytes_done, total_bytes_or_None)`` is
    called after every chunk; ``cancel`` is checked between chunks. Raises DownloadError
    (a DatasetError) when no mirror gives a file with the right size and checksums, and
    DownloadCancelled when cancelled. The final file appears only after it verified.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    dest, part = folder / remote.filename, folder / (remote.filename + ".part")
    if dest.exists() and verify_cached(dest, remote) is None:
        return dest
    deadline = time.monotonic() + (default_deadline(remote) if deadline_s is None else deadline_s)
    failures = []
    for url in urls or remote.urls:
        for _attempt in range(2):  # a resumed file that fails its checksum gets one fresh try
            try:
                resumed = _fetch(url, part, remote.size, progress, cancel, timeout, deadline)
            except _MirrorFailed as exc:
                if part.exists() and remote.size is not None and part.stat().st_size > remote.size:
                    part.unlink()  # longer than the real file: never resumable
                failures.append(f"{url}: {exc}")
                break
            problem = check_file(part, remote)
            if problem is None:
                os.replace(part, dest)
                remember_verified(dest, remote)
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


def verify_dataset(dataset: str, cache_dir: str | os.PathLike | None = None) -> list[str]:
    """Check every complete cached file of ``dataset`` against its published checksum
    (once; remembered in a ``.verified`` marker). A file that fails is deleted - the cache
    only holds re-downloadable copies - and its problem returned, one line per file."""
    folder = cached_dataset_dir(dataset, cache_dir)
    problems = []
    for remote in sources.DATASETS[dataset]:
        path = folder / remote.filename
        if path.is_file():
            problem = verify_cached(path, remote)
            if problem:
                path.unlink(missing_ok=True)
                problems.append(f"{path}: {problem}; removed, download it again")
    return problems


def download_dataset(dataset: str, cache_dir: str | os.PathLike | None = None, *,
                     progress: Progress | None = None, cancel=None, timeout: float = 30.0,
                     deadline_s: float | None = None) -> Path:
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
        download_file(remote, folder, progress=file_progress, cancel=cancel, timeout=timeout,
                      deadline_s=deadline_s)
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
