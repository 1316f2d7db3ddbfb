"""Dataset choices from the GUI: samples, a download from a local server, offline fallback."""

import gzip
import hashlib
import struct
import threading
from functools import partial
from http.server import HTTPServer, SimpleHTTPRequestHandler

import numpy as np
import pytest
from PyQt6.QtWidgets import QMessageBox, QWidget

from cnnlab.app.data_actions import DatasetActions
from cnnlab.app.session import Session, load_dataset
from cnnlab.data import sources


@pytest.fixture
def actions(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("CNNLAB_CACHE", str(tmp_path / "cache"))
    parent = QWidget()
    qtbot.addWidget(parent)
    session = Session()
    session.set_dataset(load_dataset("mnist", "sample"))
    yield DatasetActions(session, parent)
    assert session.shutdown(timeout_ms=5000)


def _idx(arr: np.ndarray) -> bytes:
    code = 0x08
    header = struct.pack(">HBB", 0, code, arr.ndim) + struct.pack(f">{arr.ndim}I", *arr.shape)
    return gzip.compress(header + arr.astype(np.uint8).tobytes())


@pytest.fixture
def mnist_server(tmp_path, monkeypatch):
    """A tiny but well-formed MNIST (12 train / 6 test digits) on 127.0.0.1."""
    root = tmp_path / "www"
    root.mkdir()
    rng = np.random.default_rng(0)
    blobs = {
        "train-images-idx3-ubyte.gz": _idx(rng.integers(0, 256, (12, 28, 28))),
        "train-labels-idx1-ubyte.gz": _idx(np.arange(12) % 10),
        "t10k-images-idx3-ubyte.gz": _idx(rng.integers(0, 256, (6, 28, 28))),
        "t10k-labels-idx1-ubyte.gz": _idx(np.arange(6) % 10),
    }
    for name, blob in blobs.items():
        (root / name).write_bytes(blob)
    server = HTTPServer(("127.0.0.1", 0), partial(SimpleHTTPRequestHandler, directory=str(root)))
    server.RequestHandlerClass.log_message = lambda *a: None
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_address[1]}/"
    files = tuple(sources.RemoteFile(name, len(blob), hashlib.sha256(blob).hexdigest(), None, (base,))
                  for name, blob in blobs.items())
    monkeypatch.setitem(sources.DATASETS, "mnist", files)
    yield
    server.shutdown()
    server.server_close()


def test_options_list_samples_and_full_sets(actions):
    labels = [label for label, _k, _s in actions.options()]
    assert labels[0].startswith("MNIST sample") and any("CIFAR-10 full" in text for text in labels)
    assert any("download" in text for text in labels)  # nothing is cached in a fresh cache dir


def test_choosing_a_sample_switches_at_once(qtbot, actions):
    with qtbot.waitSignal(actions.session.dataset_changed, timeout=5000):
        assert actions.choose("cifar10", "sample") is None
    assert actions.session.dataset.input_shape == (3, 32, 32)


def test_full_mnist_downloads_from_the_mirror_and_loads(qtbot, actions, mnist_server):
    progress = []
    job = actions.choose("mnist", "full")
    job.progress.connect(progress.append)
    fractions = []
    job.progress_changed.connect(lambda: fractions.append(job.fraction))
    with qtbot.waitSignal(actions.session.dataset_changed, timeout=20000):
        pass
    qtbot.waitUntil(lambda: actions.job is None, timeout=5000)  # forgotten once done
    ds = actions.session.dataset
    assert ds.name == "MNIST full" and len(ds.x_train) == 12 and len(ds.x_test) == 6
    assert progress[-1].text.endswith("reading the files…")  # every phase says what it does
    assert fractions == sorted(fractions) and fractions[-1] == 1.0  # the bar ends at 100 %
    assert any("cached" in label for label, k, s in actions.options() if k == "mnist" and s == "full")


def test_offline_download_keeps_the_sample_and_says_why(qtbot, actions, monkeypatch):
    dead = tuple(sources.RemoteFile(f.filename, f.size, f.sha256, f.md5, ("http://127.0.0.1:9/",))
                 for f in sources.DATASETS["mnist"])
    monkeypatch.setitem(sources.DATASETS, "mnist", dead)
    job = actions.choose("mnist", "full")
    with qtbot.waitSignal(job.failed, timeout=20000):
        pass
    assert actions.session.dataset.name == "MNIST sample"
    boxes = [w for w in actions.parent_widget.findChildren(QMessageBox)]
    assert boxes and "Still using: MNIST sample" in boxes[-1].text()


def test_a_bad_file_names_the_file(qtbot, actions, tmp_path):
    bad = tmp_path / "my-mnist.npz"
    bad.write_bytes(b"PK\x03\x04 this is not a zip archive")
    job = actions.choose("mnist", str(bad))
    with qtbot.waitSignal(job.failed, timeout=10000) as failed:
        pass
    assert "my-mnist.npz" in failed.args[0]
    assert actions.session.dataset.name == "MNIST sample"


@pytest.mark.parametrize("fmt, kind", [("cifar-binary", "cifar10"), ("mnist-idx-gz", "mnist")])
def test_reading_a_dataset_reports_progress_and_can_be_cancelled(tmp_path, fmt, kind):
    import threading

    from cnnlab.app.data_actions import fetch_and_load
    from cnnlab.app.jobs import JobCancelled, JobContext, JobProgress
    from tests.data.builders import write_full_size

    path, _ = write_full_size(tmp_path / fmt, fmt, scale=0.25)
    reports, stop = [], threading.Event()
    ctx = JobContext(reports.append, stop, max_rate=1e9)  # every report, unthrottled
    bundle = fetch_and_load(kind, str(path), ctx, download=False)
    fractions = [r.done / r.total for r in reports if isinstance(r, JobProgress)]
    assert len(fractions) > 3 and fractions == sorted(fractions)  # the bar moves while reading
    assert 0.2 < fractions[-1] < 1.0 and "reading" in reports[-1].text
    assert len(bundle.x_train) + len(bundle.x_test) > 0
    # Cancel takes effect within a chunk: nothing half-read comes back
    reports.clear()
    ctx = JobContext(lambda r: (reports.append(r), stop.set()), stop, max_rate=1e9)
    with pytest.raises(JobCancelled):
        fetch_and_load(kind, str(path), ctx, download=False)
    stop.clear()
