"""``cnnlab evaluate`` (the Experiments tab's numbers), ``export``, ``presets`` and ``--help``."""

import json

import numpy as np
import pytest

from cnnlab.__main__ import COMMANDS
from cnnlab.__main__ import main as cnnlab
from cnnlab.cli.sources import find_preset, parse_data, slug
from cnnlab.data import MNIST_CLASSES, load_mnist
from cnnlab.engine.model import load
from cnnlab.lab.analysis import analyze
from cnnlab.lab.presets import PRESETS


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A conv net trained for one epoch on the sample by ``cnnlab train``."""
    path = tmp_path_factory.mktemp("cli") / "model.npz"
    assert cnnlab(["train", "conv3x3x9", "--epochs", "1", "--out", str(path)]) == 0
    return path


def _json(capsys, *argv):
    assert cnnlab(list(argv)) == 0
    return json.loads(capsys.readouterr().out)


def test_evaluate_matches_the_experiments_tab(trained, capsys):
    got = _json(capsys, "evaluate", str(trained), "--data", "mnist", "--json")
    (_, _), (x_test, y_test) = load_mnist("sample")
    expected = analyze(load(trained), x_test, y_test, MNIST_CLASSES)  # what the tab's job runs
    assert got["accuracy"] == expected.accuracy and got["loss"] == pytest.approx(expected.loss, abs=1e-12)
    assert got["confusion_matrix"] == expected.confusion.tolist()
    assert got["per_class_accuracy"] == pytest.approx(expected.per_class.tolist(), nan_ok=True)
    assert got["precision"] == pytest.approx(expected.precision.tolist(), nan_ok=True)
    assert got["recall"] == pytest.approx(expected.recall.tolist(), nan_ok=True)
    assert got["support"] == [100] * 10 and got["images"] == 1000 and got["split"] == "test"
    assert got["class_names"] == list(MNIST_CLASSES)


def test_evaluate_as_text(trained, capsys):
    assert cnnlab(["evaluate", str(trained)]) == 0
    text = capsys.readouterr().out
    got = analyze(load(trained), *load_mnist("sample")[1], MNIST_CLASSES)
    assert f"accuracy {got.accuracy:.4f}" in text
    assert "precision  recall  support" in text and "confusion matrix" in text
    row = next(line for line in text.splitlines() if line.startswith("7 ") and len(line.split()) == 11)
    assert [int(v) for v in row.split()[1:]] == got.confusion[7].tolist()


def test_export_both_ways_and_evaluate_the_onnx_file(trained, tmp_path, capsys):
    pytest.importorskip("onnx")
    assert cnnlab(["export", str(trained), "--pytorch", str(tmp_path / "pt")]) == 0
    assert (tmp_path / "pt" / "model.py").is_file() and (tmp_path / "pt" / "weights.safetensors").is_file()
    assert "lr=0.001" in (tmp_path / "pt" / "model.py").read_text()  # training settings recorded
    assert cnnlab(["export", str(trained), "--onnx", str(tmp_path / "m.onnx"), "--opset", "13"]) == 0
    capsys.readouterr()
    from_npz = _json(capsys, "evaluate", str(trained), "--json")
    from_onnx = _json(capsys, "evaluate", str(tmp_path / "m.onnx"), "--json")
    assert from_onnx["confusion_matrix"] == from_npz["confusion_matrix"]
    assert cnnlab(["export", str(tmp_path / "absent.npz"), "--onnx", str(tmp_path / "x.onnx")]) == 1
    assert "no model file" in capsys.readouterr().err


def test_presets_are_listed_and_found_by_their_short_names(capsys):
    assert cnnlab(["presets"]) == 0
    text = capsys.readouterr().out
    for name in PRESETS:
        assert slug(name) in text and name in text
        assert find_preset(slug(name)) == name and find_preset(name) == name
    assert find_preset("lenet") == "LeNet-like (32-64 conv, 128 dense)"
    assert find_preset("CIFAR") == "CIFAR-10 net (32-64 conv, 128 dense)"
    with pytest.raises(ValueError, match="matches several presets"):
        find_preset("conv")


def test_data_values(tmp_path):
    assert parse_data("mnist") == ("mnist", "sample")
    assert parse_data("mnist:full") == ("mnist", "full")
    assert parse_data("cifar10:full") == ("cifar10", "full")
    assert parse_data(f"mnist:{tmp_path}") == ("mnist", str(tmp_path))
    assert parse_data(str(tmp_path), (3, 32, 32)) == ("cifar10", str(tmp_path))
    assert parse_data(str(tmp_path), (1, 28, 28)) == ("mnist", str(tmp_path))
    with pytest.raises(ValueError, match="unknown dataset"):
        parse_data("svhn")


def test_help_lists_every_command_in_its_usage_line(capsys):
    with pytest.raises(SystemExit) as done:
        cnnlab(["--help"])
    assert done.value.code == 0
    usage = capsys.readouterr().out.splitlines()[0]
    assert usage.startswith("usage: cnnlab")
    for command in ("train", "evaluate", "export", "presets", "data"):
        assert command in usage and command in COMMANDS
    assert cnnlab(["trian"]) == 2
    assert "unknown command 'trian'" in capsys.readouterr().err
    for command in ("train", "evaluate", "export", "presets"):
        with pytest.raises(SystemExit) as done:
            cnnlab([command, "--help"])
        assert done.value.code == 0
        assert f"usage: cnnlab {command}" in capsys.readouterr().out


def test_onnx_models_train_too(tmp_path, capsys):
    pytest.importorskip("onnx")
    from cnnlab.interop import export_onnx
    from cnnlab.lab.presets import build_preset

    export_onnx(build_preset("MLP (784→100→10)", seed=0), tmp_path / "mlp.onnx")
    assert cnnlab(["train", str(tmp_path / "mlp.onnx"), "--epochs", "1",
                   "--out", str(tmp_path / "mlp.npz")]) == 0
    assert np.isfinite(load(tmp_path / "mlp.npz").meta["test_accuracy"])


def test_train_and_evaluate_on_files_from_disk(tmp_path, capsys):
    from tests.data.builders import write_mnist_idx

    arrays = write_mnist_idx(tmp_path / "idx", n_train=40, n_test=12, gz=True)
    out = str(tmp_path / "m.npz")
    for data in (str(tmp_path / "idx"), f"mnist:{tmp_path / 'idx'}"):
        assert cnnlab(["train", "linear", "--data", data, "--epochs", "1", "--val-fraction", "0",
                       "--out", out]) == 0
        assert "MNIST idx: 40 images" in capsys.readouterr().out
    got = _json(capsys, "evaluate", out, "--data", str(tmp_path / "idx"), "--json")
    assert got["images"] == 12 and sum(map(sum, got["confusion_matrix"])) == 12
    assert got["support"] == np.bincount(arrays["y_test"], minlength=10).tolist()
