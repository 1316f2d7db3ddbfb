"""The ``cnnlab`` command: help, version, data subcommand, and no traceback without a display."""

import os

import pytest

from cnnlab import __version__
from cnnlab.__main__ import main


def test_help_and_version(capsys):
    with pytest.raises(SystemExit) as exit_help:
        main(["--help"])
    assert exit_help.value.code == 0
    assert "cnnlab data --help" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["--version"])
    assert __version__ in capsys.readouterr().out


def test_data_subcommand_is_dispatched(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("CNNLAB_CACHE", str(tmp_path))
    assert main(["data", "list"]) == 0
    out = capsys.readouterr().out
    assert "train-images-idx3-ubyte.gz" in out and "missing" in out


def test_no_display_gives_a_clear_message(capsys, monkeypatch):
    monkeypatch.setattr("sys.platform", "linux")
    for var in ("QT_QPA_PLATFORM", "DISPLAY", "WAYLAND_DISPLAY"):
        monkeypatch.delenv(var, raising=False)
    assert main([]) == 2
    assert "xvfb-run" in capsys.readouterr().err


def test_the_app_leaves_one_core_for_the_window():
    from cnnlab.__main__ import leave_a_core_for_the_window

    env = {}
    leave_a_core_for_the_window(env)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    assert env["OPENBLAS_NUM_THREADS"] == str(max(1, cores - 1)) == env["OMP_NUM_THREADS"]
    mine = {"OPENBLAS_NUM_THREADS": "3"}
    leave_a_core_for_the_window(mine)
    assert mine["OPENBLAS_NUM_THREADS"] == "3"  # what the user set wins
