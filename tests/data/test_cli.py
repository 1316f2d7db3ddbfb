"""python -m cnnlab data: help, list, download with a text progress bar."""

import hashlib
import io
import subprocess
import sys
from pathlib import Path

import pytest

from cnnlab.__main__ import main as cnnlab_main
from cnnlab.data import sources
from cnnlab.data.cli import TextProgress, main
from cnnlab.data.sources import RemoteFile

from .http_fixture import FileServer

REPO = Path(__file__).resolve().parents[2]
BODY = bytes(range(256)) * 2000  # 512,000 bytes


def test_help_through_python_m():
    out = subprocess.run([sys.executable, "-m", "cnnlab", "data", "--help"], cwd=REPO,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0
    assert "download" in out.stdout and "list" in out.stdout and "--cache-dir" in out.stdout


def test_list_shows_cache_and_samples(tmp_path, capsys):
    (tmp_path / "mnist").mkdir()
    (tmp_path / "mnist" / "t10k-labels-idx1-ubyte.gz.part").write_bytes(b"x" * 1000)
    assert cnnlab_main(["data", "list", "--cache-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert f"cache folder: {tmp_path}" in out
    assert "t10k-labels-idx1-ubyte.gz    partial   1.0 kB of 4.5 kB" in out
    assert "cifar-10-binary.tar.gz       missing   170.1 MB" in out
    assert "mnist_sample.npz" in out and "MISSING" not in out


def test_cache_dir_before_the_subcommand(tmp_path, capsys):
    assert main(["--cache-dir", str(tmp_path), "list"]) == 0
    assert f"cache folder: {tmp_path}" in capsys.readouterr().out


def test_download_with_progress_bar(tmp_path, capsys, monkeypatch):
    with FileServer({"/f/a.bin": BODY}) as server:
        files = (RemoteFile("a.bin", len(BODY), hashlib.sha256(BODY).hexdigest(), None,
                            (server.base + "/f/",)),)
        monkeypatch.setitem(sources.DATASETS, "mnist", files)
        assert main(["download", "mnist", "--cache-dir", str(tmp_path)]) == 0
    captured = capsys.readouterr()
    assert (tmp_path / "mnist" / "a.bin").read_bytes() == BODY
    assert "mnist   " in captured.err and "[" + "#" * 30 + "] 100%  512.0 kB / 512.0 kB" in captured.err
    assert f"mnist: ready in {tmp_path / 'mnist'}" in captured.out
    assert main(["list", "--cache-dir", str(tmp_path)]) == 0
    assert "a.bin" in capsys.readouterr().out


def test_download_failure_is_a_message_not_a_traceback(tmp_path, capsys, monkeypatch):
    with FileServer({}) as server:
        files = (RemoteFile("a.bin", 10, None, None, (server.base + "/f/",)),)
        monkeypatch.setitem(sources.DATASETS, "cifar10", files)
        assert main(["download", "cifar10", "--cache-dir", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: could not download a.bin") and "HTTP 404" in err
    assert "Traceback" not in err and "load_mnist('sample')" in err


def test_bad_arguments_exit_with_usage(capsys):
    with pytest.raises(SystemExit) as info:
        main(["download", "svhn"])
    assert info.value.code == 2 and "invalid choice" in capsys.readouterr().err


def test_text_progress_bar_in_a_pipe_prints_every_tenth():
    stream = io.StringIO()
    bar = TextProgress("x", stream=stream, width=10)
    for done in range(0, 1001, 5):
        bar(done, 1000)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 11 and lines[0].startswith("x [..........]   0%")
    assert lines[-1] == "x [##########] 100%  1.0 kB / 1.0 kB"


def test_text_progress_bar_on_a_terminal_redraws_in_place():
    class Tty(io.StringIO):
        def isatty(self):
            return True

    stream = Tty()
    bar = TextProgress("x", stream=stream, width=4)
    bar(0, 2_000_000)
    bar(2_000_000, 2_000_000)
    assert stream.getvalue() == "\rx [....]   0%  0 B / 2.0 MB\rx [####] 100%  2.0 MB / 2.0 MB\n"
    bar2 = TextProgress("y", stream=Tty(), width=4)
    bar2(500, None)  # unknown total
    assert bar2.stream.getvalue() == "\ry [....]   0%  500 B"
