"""Downloads against a local HTTP server: good, corrupt, truncated, 404, cancel, offline."""

import hashlib
import socket
import threading

import numpy as np
import pytest

from cnnlab.data import download as dl
from cnnlab.data.download import DownloadCancelled, DownloadError, download_file
from cnnlab.data.errors import DatasetError
from cnnlab.data.sources import RemoteFile

from .http_fixture import FileServer

PAYLOAD = np.random.default_rng(0).integers(0, 256, 600_000, dtype=np.uint8).tobytes()


def remote(name="data.bin", body=PAYLOAD, sha=True, md5=True, base="http://unused/"):
    return RemoteFile(name, len(body), hashlib.sha256(body).hexdigest() if sha else None,
                      hashlib.md5(body).hexdigest() if md5 else None, (base,))


@pytest.fixture
def server():
    corrupt = bytearray(PAYLOAD)
    corrupt[1234] ^= 0xFF
    routes = {"/good/data.bin": PAYLOAD, "/corrupt/data.bin": bytes(corrupt),
              "/truncated/data.bin": PAYLOAD, "/norange/data.bin": PAYLOAD}
    with FileServer(routes) as srv:
        yield srv


def test_good_file_with_progress(server, tmp_path):
    calls = []
    path = download_file(remote(), tmp_path, urls=[server.base + "/good/data.bin"],
                         progress=lambda done, total: calls.append((done, total)))
    assert path == tmp_path / "data.bin" and path.read_bytes() == PAYLOAD
    assert not (tmp_path / "data.bin.part").exists()
    assert calls[-1] == (len(PAYLOAD), len(PAYLOAD))
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)
    # a second call reuses the verified file without a request
    n = len(server.requests)
    download_file(remote(), tmp_path, urls=[server.base + "/good/data.bin"])
    assert len(server.requests) == n


def test_corrupt_file_is_not_cached_and_next_mirror_is_used(server, tmp_path):
    with pytest.raises(DownloadError, match="SHA-256 .* does not match") as info:
        download_file(remote(), tmp_path, urls=[server.base + "/corrupt/data.bin"])
    assert isinstance(info.value, DatasetError)
    assert not (tmp_path / "data.bin").exists() and not (tmp_path / "data.bin.part").exists()
    path = download_file(remote(), tmp_path, urls=[server.base + "/corrupt/data.bin",
                                                   server.base + "/good/data.bin"])
    assert path.read_bytes() == PAYLOAD


def test_md5_alone_is_checked(server, tmp_path):
    with pytest.raises(DownloadError, match="MD5"):
        download_file(remote(sha=False), tmp_path, urls=[server.base + "/corrupt/data.bin"])


def test_truncated_then_resume(server, tmp_path):
    with pytest.raises(DownloadError, match="closed after 300,000 of 600,000 bytes"):
        download_file(remote(), tmp_path, urls=[server.base + "/truncated/data.bin"])
    assert not (tmp_path / "data.bin").exists()
    assert (tmp_path / "data.bin.part").stat().st_size == len(PAYLOAD) // 2
    path = download_file(remote(), tmp_path, urls=[server.base + "/good/data.bin"])
    assert path.read_bytes() == PAYLOAD
    assert server.requests[-1] == ("/good/data.bin", f"bytes={len(PAYLOAD) // 2}-")


def test_server_ignoring_range_restarts_cleanly(server, tmp_path):
    (tmp_path / "data.bin.part").write_bytes(b"junk" * 1000)
    path = download_file(remote(), tmp_path, urls=[server.base + "/norange/data.bin"])
    assert path.read_bytes() == PAYLOAD


def test_bad_partial_from_resume_gets_one_fresh_try(server, tmp_path):
    (tmp_path / "data.bin.part").write_bytes(b"junk" * 1000)  # resumable, but wrong bytes
    path = download_file(remote(), tmp_path, urls=[server.base + "/good/data.bin"])
    assert path.read_bytes() == PAYLOAD
    assert [r for _, r in server.requests] == ["bytes=4000-", None]


def test_404(server, tmp_path):
    with pytest.raises(DownloadError, match="HTTP 404"):
        download_file(remote(), tmp_path, urls=[server.base + "/nothing/data.bin"])
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("use_event", [False, True])
def test_cancel_in_the_middle_then_resume(server, tmp_path, use_event):
    event = threading.Event()
    seen = []

    def progress(done, total):
        seen.append(done)
        if done > 0:  # after the first chunk (at most CHUNK_BYTES)
            event.set()

    cancel = event if use_event else event.is_set
    with pytest.raises(DownloadCancelled):
        download_file(remote(), tmp_path, urls=[server.base + "/good/data.bin"], progress=progress,
                      cancel=cancel)
    assert not (tmp_path / "data.bin").exists()
    kept = (tmp_path / "data.bin.part").stat().st_size
    assert 0 < kept < len(PAYLOAD)
    seen.clear()
    path = download_file(remote(), tmp_path, urls=[server.base + "/good/data.bin"], progress=progress)
    assert path.read_bytes() == PAYLOAD and seen[0] == kept


def _refused_url():
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/data.bin"


def test_offline_gives_a_clear_message(tmp_path):
    with pytest.raises(DownloadError, match="are you offline"):
        download_file(remote(), tmp_path, urls=[_refused_url()], timeout=5)


def test_dataset_download_and_cache_report(server, tmp_path, monkeypatch):
    small = PAYLOAD[:1000]
    files = (remote("a.bin", PAYLOAD, base=server.base + "/good/"),)
    server.routes["/good/b.bin"] = small
    files += (remote("b.bin", small, base=server.base + "/good/"),)
    monkeypatch.setitem(dl.sources.DATASETS, "mnist", files)
    server.routes["/good/a.bin"] = PAYLOAD
    assert [f.filename for f in dl.missing_files("mnist", tmp_path)] == ["a.bin", "b.bin"]
    states = {f.filename: f.state for f in dl.cache_report(tmp_path)}
    assert states["a.bin"] == "missing"
    calls = []
    folder = dl.download_dataset("mnist", tmp_path, progress=lambda d, t: calls.append((d, t)))
    assert folder == tmp_path / "mnist" and (folder / "b.bin").read_bytes() == small
    total = len(PAYLOAD) + len(small)
    assert calls[-1] == (total, total) and all(t == total for _, t in calls)
    assert dl.missing_files("mnist", tmp_path) == []
    report = [f for f in dl.cache_report(tmp_path) if f.dataset == "mnist"]
    assert [f.state for f in report] == ["complete", "complete"]


def test_unknown_dataset():
    with pytest.raises(ValueError, match="unknown dataset 'svhn'"):
        dl.cached_dataset_dir("svhn")


def test_complete_part_file_is_finished_without_refetching(server, tmp_path):
    (tmp_path / "data.bin.part").write_bytes(PAYLOAD)  # e.g. a crash right before the rename
    path = download_file(remote(), tmp_path, urls=[server.base + "/good/data.bin"])
    assert path.read_bytes() == PAYLOAD
    assert server.requests == [("/good/data.bin", f"bytes={len(PAYLOAD)}-")]  # answered 416
