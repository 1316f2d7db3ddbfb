"""Datasets, downloads and preprocessing for cnnlab (NumPy + Pillow, no Qt).

    from cnnlab.data import load_mnist, load_cifar10
    (x_train, y_train), (x_test, y_test) = load_mnist("sample")   # uint8 (N, 1, 28, 28)
"""

from cnnlab.data.datasets import (
    CIFAR10_CLASSES,
    MNIST_CLASSES,
    load_cifar10,
    load_mnist,
    sample_path,
    train_val_split,
)
from cnnlab.data.errors import DatasetError
from cnnlab.data.preprocess import mnist_from_drawing, to_float

__all__ = [
    "CIFAR10_CLASSES",
    "DatasetError",
    "MNIST_CLASSES",
    "load_cifar10",
    "load_mnist",
    "mnist_from_drawing",
    "sample_path",
    "to_float",
    "train_val_split",
]
