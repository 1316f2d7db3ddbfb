"""load_*("full"): the cache, downloading when allowed, offline fallback; cache folders."""

import gzip
import hashlib
import socket
import sys

import numpy as np
import pytest

from cnnlab.data import DatasetError, cache, load_cifar10, load_mnist, sources
from cnnlab.data.sources import RemoteFile

from .builders import cifar_batch, cifar_binary_bytes, digits, idx_bytes, write_tar
from .http_fixture import FileServer


def _mnist_remote_files(base: str) -> tuple[dict[str, bytes], tuple[RemoteFile, ...]]:
    (xtr, ytr), (xte, yte) = digits(8, 1), digits(3, 2)
    bodies = {"train-images-idx3-ubyte.gz": gzip.compress(idx_bytes(xtr)),
              "train-labels-idx1-ubyte.gz": gzip.compress(idx_bytes(ytr)),
              "t10k-images-idx3-ubyte.gz": gzip.compress(idx_bytes(xte)),
              "t10k-labels-idx1-ubyte.gz": gzip.compress(idx_bytes(yte))}
    files = tuple(RemoteFile(name, len(b), hashlib.sha256(b).hexdigest(), None, (base,))
                  for name, b in bodies.items())
    return bodies, files


def test_full_mnist_needs_permission_to_download_then_uses_the_cache(tmp_path, monkeypatch):
    with FileServer({}) as server:
        bodies, files = _mnist_remote_files(server.base + "/mnist/")
        server.routes.update({"/mnist/" + k: v for k, v in bodies.items()})
        monkeypatch.setitem(sources.DATASETS, "mnist", files)
        with pytest.raises(DatasetError, match="not downloaded yet .*data download mnist"):
            load_mnist("full", cache_dir=tmp_path)
        assert server.requests == []
        seen = []
        (xtr, ytr), (xte, yte) = load_mnist("full", cache_dir=tmp_path, download=True,
                                            progress=lambda d, t: seen.append((d, t)))
        assert xtr.shape == (8, 1, 28, 28) and xte.shape == (3, 1, 28, 28) and ytr.dtype == np.int64
        assert seen[-1][0] == seen[-1][1] == sum(len(b) for b in bodies.values())
    # the server is gone: the cache alone serves "full" now
    (xtr2, _), _ = load_mnist("full", cache_dir=tmp_path)
    np.testing.assert_array_equal(xtr, xtr2)


def test_full_offline_is_a_clear_dataset_error(tmp_path, monkeypatch):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    _, files = _mnist_remote_files(f"http://127.0.0.1:{port}/")
    monkeypatch.setitem(sources.DATASETS, "mnist", files)
    with pytest.raises(DatasetError, match="are you offline"):
        load_mnist("full", cache_dir=tmp_path, download=True)
    (x, _), _ = load_mnist("sample")  # what the app falls back to
    assert len(x) == 4000


def test_full_cifar_from_cache_env_var(tmp_path, monkeypatch):
    train, test = cifar_batch(3, 1), cifar_batch(2, 2)
    folder = tmp_path / "cifar10"
    folder.mkdir()
    tar = write_tar(folder / "cifar-10-binary.tar.gz", {
        "cifar-10-batches-bin/data_batch_1.bin": cifar_binary_bytes(*train),
        "cifar-10-batches-bin/test_batch.bin": cifar_binary_bytes(*test)})
    size = tar.stat().st_size
    monkeypatch.setitem(sources.DATASETS, "cifar10",
                        (RemoteFile("cifar-10-binary.tar.gz", size, None, None, ("http://unused/",)),))
    monkeypatch.setenv("CNNLAB_CACHE", str(tmp_path))
    (xtr, ytr), (xte, yte) = load_cifar10("full")
    np.testing.assert_array_equal(xtr, train[0])
    np.testing.assert_array_equal(yte, test[1])


@pytest.mark.parametrize("platform, env, expected_cache, expected_data", [
    ("linux", {}, "H/.cache/cnnlab", "H/.local/share/cnnlab"),
    ("linux", {"XDG_CACHE_HOME": "/x/c", "XDG_DATA_HOME": "/x/d"}, "/x/c/cnnlab", "/x/d/cnnlab"),
    ("linux", {"XDG_CACHE_HOME": "rel"}, "H/.cache/cnnlab", "H/.local/share/cnnlab"),
    ("darwin", {}, "H/Library/Caches/cnnlab", "H/Library/Application Support/cnnlab"),
    ("win32", {"LOCALAPPDATA": "/w/L", "APPDATA": "/w/R"}, "/w/L/cnnlab/Cache", "/w/R/cnnlab"),
    ("linux", {"CNNLAB_CACHE": "/o/c", "CNNLAB_DATA": "/o/d"}, "/o/c", "/o/d"),
])
def test_platform_folders(monkeypatch, tmp_path, platform, env, expected_cache, expected_data):
    for var in ("CNNLAB_CACHE", "CNNLAB_DATA", "XDG_CACHE_HOME", "XDG_DATA_HOME", "LOCALAPPDATA", "APPDATA"):
        monkeypatch.delenv(var, raising=False)
    for var, value in env.items():
        monkeypatch.setenv(var, value)
    monkeypatch.setattr(sys, "platform", platform)
    monkeypatch.setattr(cache.Path, "home", staticmethod(lambda: tmp_path))

    def expand(p):  # "H" stands for the (patched) home folder
        return str(tmp_path / p[2:]) if p.startswith("H/") else str(cache.Path(p))

    assert str(cache.default_cache_dir()) == expand(expected_cache)
    assert str(cache.user_data_dir()) == expand(expected_data)
    assert cache.resolve_cache_dir("/flag") == cache.Path("/flag")
