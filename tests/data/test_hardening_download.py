"""Downloads from misbehaving servers: deadlines, byte ceilings, malformed answers, and a
cache that verifies its files by checksum before first use (and remembers it did)."""

import gzip
import hashlib
import os
import time

import numpy as np
import pytest

from cnnlab.data import DatasetError, load_mnist, sources
from cnnlab.data.download import DownloadError, download_file, verify_dataset
from cnnlab.data.sources import RemoteFile
from cnnlab.data.verify import marker_path

from .builders import digits, idx_bytes
from .http_fixture import FileServer

BODY = bytes(range(256)) * 400  # 102,400 bytes


def _remote(body=BODY, name="data.bin"):
    return RemoteFile(name, len(body), hashlib.sha256(body).hexdigest(), None, ("http://unused/",))


@pytest.fixture
def server():
    with FileServer({"/good/data.bin": BODY}) as srv:
        srv.trickle_s = 0.05
        yield srv


def test_a_trickling_server_is_given_up_at_the_deadline(server, tmp_path):
    start = time.monotonic()
    with pytest.raises(DownloadError, match="too slow: gave up after [0-9,]+ bytes at the deadline"):
        download_file(_remote(), tmp_path, urls=[server.base + "/trickle/data.bin"], timeout=1,
                      deadline_s=0.6)
    assert time.monotonic() - start < 3
    assert not (tmp_path / "data.bin").exists()


def test_an_endless_body_stops_at_the_published_size(server, tmp_path):
    with pytest.raises(DownloadError, match=f"more than the {len(BODY):,} bytes"):
        download_file(_remote(), tmp_path, urls=[server.base + "/endless/data.bin"], timeout=2,
                      deadline_s=10)
    part = tmp_path / "data.bin.part"
    assert not part.exists() or part.stat().st_size <= len(BODY)


def test_an_announced_oversize_body_is_refused_before_reading(server, tmp_path):
    with pytest.raises(DownloadError, match="announces 10,000,000,000 bytes"):
        download_file(_remote(), tmp_path, urls=[server.base + "/biglength/data.bin"], timeout=2)


@pytest.mark.parametrize("kind", ["badstatus", "badheader", "hugeheaders"])
def test_malformed_answers_are_download_errors(server, tmp_path, kind):
    with pytest.raises(DownloadError) as info:
        download_file(_remote(), tmp_path, urls=[server.base + f"/{kind}/data.bin"], timeout=2,
                      deadline_s=5)
    assert f"/{kind}/data.bin" in str(info.value)
    assert not (tmp_path / "data.bin").exists()


def test_unknown_url_scheme_is_a_download_error(tmp_path):
    with pytest.raises(DownloadError):
        download_file(_remote(), tmp_path, urls=["gopher://example/data.bin"], timeout=1)


def test_good_download_leaves_a_verified_marker_that_is_trusted_until_the_file_changes(server, tmp_path):
    path = download_file(_remote(), tmp_path, urls=[server.base + "/good/data.bin"], timeout=5)
    assert marker_path(path).is_file()
    # same size, other content, same mtime would need forging the marker: rewrite it in place
    path.write_bytes(bytes(len(BODY)))
    n = len(server.requests)
    again = download_file(_remote(), tmp_path, urls=[server.base + "/good/data.bin"], timeout=5)
    assert again.read_bytes() == BODY and len(server.requests) == n + 1


def _cache_mnist(tmp_path, monkeypatch):
    (xtr, ytr), (xte, yte) = digits(8, 1), digits(3, 2)
    bodies = {"train-images-idx3-ubyte.gz": gzip.compress(idx_bytes(xtr)),
              "train-labels-idx1-ubyte.gz": gzip.compress(idx_bytes(ytr)),
              "t10k-images-idx3-ubyte.gz": gzip.compress(idx_bytes(xte)),
              "t10k-labels-idx1-ubyte.gz": gzip.compress(idx_bytes(yte))}
    files = tuple(RemoteFile(name, len(b), hashlib.sha256(b).hexdigest(), None, ("http://unused/",))
                  for name, b in bodies.items())
    monkeypatch.setitem(sources.DATASETS, "mnist", files)
    folder = tmp_path / "mnist"
    folder.mkdir()
    for name, body in bodies.items():
        (folder / name).write_bytes(body)
    return folder, bodies, xtr


def test_a_right_size_wrong_content_cache_file_is_not_loaded(tmp_path, monkeypatch):
    folder, bodies, _ = _cache_mnist(tmp_path, monkeypatch)
    name = "train-images-idx3-ubyte.gz"
    (folder / name).write_bytes(bytes(len(bodies[name])))  # right size, blank content
    with pytest.raises(DatasetError, match=f"{name}: SHA-256 .* removed, download it again"):
        load_mnist("full", cache_dir=tmp_path)
    assert not (folder / name).exists()


def test_verification_is_remembered_and_redone_when_the_file_changes(tmp_path, monkeypatch):
    folder, bodies, xtr = _cache_mnist(tmp_path, monkeypatch)
    (x, _), _ = load_mnist("full", cache_dir=tmp_path)
    np.testing.assert_array_equal(x[:, 0], xtr)
    markers = sorted(p.name for p in folder.glob("*.verified"))
    assert len(markers) == 4
    import cnnlab.data.verify as verify

    calls = []
    real = verify.check_file
    monkeypatch.setattr(verify, "check_file", lambda *a: calls.append(a) or real(*a))
    load_mnist("full", cache_dir=tmp_path)
    assert calls == []  # the markers vouch for unchanged files
    target = folder / "t10k-labels-idx1-ubyte.gz"
    os.utime(target, ns=(0, 12345))
    assert verify_dataset("mnist", tmp_path) == [] and len(calls) == 1
