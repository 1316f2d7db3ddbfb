"""Where the full datasets come from: file names, sizes, checksums and mirrors.

The SHA-256 values are the ones published with torchvision / TensorFlow Datasets for
the original files; the CIFAR-10 MD5 is the one on the dataset's own page
(https://www.cs.toronto.edu/~kriz/cifar.html). Both are checked when both are known.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RemoteFile:
    """One downloadable file: tried at each mirror in turn, verified before use."""

    filename: str
    size: int  # bytes
    sha256: str | None
    md5: str | None
    mirrors: tuple[str, ...]  # base URLs ending in "/"

    @property
    def urls(self) -> list[str]:
        return [base + self.filename for base in self.mirrors]


MNIST_MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "http://yann.lecun.com/exdb/mnist/",  # the original home; often refuses scripts now
)
CIFAR10_MIRRORS = ("https://www.cs.toronto.edu/~kriz/",)

DATASETS: dict[str, tuple[RemoteFile, ...]] = {
    "mnist": (
        RemoteFile("train-images-idx3-ubyte.gz", 9_912_422,
                   "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
                   "f68b3c2dcbeaaa9fbdd348bbdeb94873", MNIST_MIRRORS),
        RemoteFile("train-labels-idx1-ubyte.gz", 28_881,
                   "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
                   "d53e105ee54ea40749a09fcbcd1e9432", MNIST_MIRRORS),
        RemoteFile("t10k-images-idx3-ubyte.gz", 1_648_877,
                   "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
                   "9fb629c4189551a2d022fa330f9573f3", MNIST_MIRRORS),
        RemoteFile("t10k-labels-idx1-ubyte.gz", 4_542,
                   "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
                   "ec29112dd5afa0611ce80d1b7f02629c", MNIST_MIRRORS),
    ),
    "cifar10": (
        RemoteFile("cifar-10-binary.tar.gz", 170_052_171,
                   "c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd",
                   "c32a1d4ab5d03f1284b67883e8d87530", CIFAR10_MIRRORS),
    ),
}
