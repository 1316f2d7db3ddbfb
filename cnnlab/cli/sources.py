"""What the terminal commands read: a model (preset, architecture JSON, model file) and a
dataset (``mnist``, ``mnist:full``, ``cifar10``, a path, ...)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cnnlab import data
from cnnlab.engine.model import Sequential, load
from cnnlab.lab.architecture_file import read_architecture
from cnnlab.lab.presets import PRESETS, build, build_preset

KINDS = {"mnist": "MNIST", "cifar10": "CIFAR-10"}
DATA_HELP = ("mnist (the bundled sample), mnist:full, cifar10, cifar10:full, mnist:PATH, "
             "cifar10:PATH, or a PATH (the kind follows the model's input shape)")


def slug(name: str) -> str:
    """A preset name as something to type: ``"LeNet-like (32-64 conv, 128 dense)"`` ->
    ``"lenet-like-32-64-conv-128-dense"``."""
    text = name.lower().replace("×", "x").replace("→", "-")
    return re.sub(r"[^a-z0-9]+", "-", text).strip("-")


def find_preset(text: str) -> str:
    """The preset named ``text``: its full name, its slug, or a unique start of the slug
    (``lenet``, ``mlp``, ``cifar``). Raises ``ValueError`` listing the choices."""
    if text in PRESETS:
        return text
    wanted = slug(text)
    by_slug = {slug(name): name for name in PRESETS}
    if wanted in by_slug:
        return by_slug[wanted]
    matches = [name for s, name in by_slug.items() if wanted and s.startswith(wanted)]
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise ValueError(f"{text!r} matches several presets: {', '.join(map(slug, matches))}")
    raise ValueError(f"{text!r} is not a file or a preset; presets (`cnnlab presets`): "
                     f"{', '.join(by_slug)}")


def open_model(path) -> Sequential:
    """A saved model: a cnnlab ``.npz`` or an ``.onnx`` file."""
    path = Path(path)
    if path.suffix.lower() == ".onnx":
        from cnnlab.interop import load_onnx

        return load_onnx(path)
    return load(path)


def model_from_spec(spec: str, seed: int) -> tuple[Sequential, str, bool]:
    """``(model, name, continued)`` for ``cnnlab train SPEC``: an architecture ``.json``
    (fresh weights drawn with ``seed``), a model file to continue training, or a preset."""
    path = Path(spec)
    if path.is_file():
        if path.suffix.lower() == ".json":
            shape, specs = read_architecture(path)
            if not shape:
                raise ValueError(f"{path}: the architecture has no input_shape")
            return build(specs, shape, seed=seed), path.stem, False
        model = open_model(path)
        return model, str((model.meta or {}).get("name") or path.stem), True
    if path.suffix.lower() in (".json", ".npz", ".onnx"):
        raise FileNotFoundError(f"no such file: {path}")
    name = find_preset(spec)
    return build_preset(name, seed=seed), name, False


@dataclass(frozen=True)
class Dataset:
    """A loaded dataset: uint8 images ``(N, C, H, W)``, int64 labels ``(N,)``."""

    name: str  # "MNIST sample"
    spec: str  # what --data said
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: tuple[str, ...]


def parse_data(spec: str, input_shape=None) -> tuple[str, str]:
    """``(kind, source)`` for ``load_mnist``/``load_cifar10`` from a ``--data`` value; a bare
    path is CIFAR-10 when the model takes 3-channel images, MNIST otherwise."""
    kind, _, source = spec.partition(":")
    if kind in KINDS and (source or not Path(spec).exists()):
        return kind, source or "sample"
    if Path(spec).exists():
        shape = tuple(input_shape or ())
        return ("cifar10" if shape[:1] == (3,) else "mnist"), spec
    raise ValueError(f"unknown dataset {spec!r}: use {DATA_HELP}")


def load_dataset(spec: str, input_shape=None, download: bool = False, progress=None) -> Dataset:
    """Load the dataset a ``--data`` value names (``DatasetError`` naming the file when it
    cannot be read; full sets are downloaded first only with ``download``)."""
    kind, source = parse_data(spec, input_shape)
    loader = data.load_mnist if kind == "mnist" else data.load_cifar10
    if source in ("sample", "full"):
        (xtr, ytr), (xte, yte) = loader(source, download=download, progress=progress)
    else:
        (xtr, ytr), (xte, yte) = loader(source)
    classes = data.MNIST_CLASSES if kind == "mnist" else data.CIFAR10_CLASSES
    where = source if source in ("sample", "full") else Path(source).name
    return Dataset(f"{KINDS[kind]} {where}", spec, xtr, ytr, xte, yte, tuple(classes))


def check_fits(model: Sequential, dataset: Dataset) -> None:
    """Raise ``ValueError`` when the model cannot take this dataset."""
    shape = tuple(dataset.x_train.shape[1:])
    if tuple(model.input_shape) != shape:
        raise ValueError(f"the model takes inputs of shape {tuple(model.input_shape)} but "
                         f"{dataset.name} images are {shape}")
    if tuple(model.output_shape) != (len(dataset.class_names),):
        raise ValueError(f"the model outputs {tuple(model.output_shape)} but {dataset.name} has "
                         f"{len(dataset.class_names)} classes")
