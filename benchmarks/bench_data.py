"""The benchmark's image sets: real Fashion-MNIST when it is on disk, and synthetic sets of the
shapes of CIFAR-10 (32x32x3) and STL-10 (96x96x3). Synthetic pixels are uniform noise: throughput
does not depend on what the pixels show, and no other dataset can be downloaded on the build
machine. Every row of the results says which kind it used."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "workflow" / "scripts"))

from cvrepro.data.datasets.readers import read_idx  # noqa: E402

# Debian's dataset-fashion-mnist; CVREPRO_FASHION_MNIST_DIR points elsewhere (a GPU machine
# without the package gets the four .gz files copied next to the repository).
FMNIST_DIR = Path(os.environ.get("CVREPRO_FASHION_MNIST_DIR", "/usr/share/datasets/fashion-mnist"))
FMNIST_TRAIN = 60_000


@dataclass
class BenchSet:
    name: str  # "Fashion-MNIST", "CIFAR-10-shaped", "STL-10-shaped"
    images: np.ndarray  # uint8 (N, H, W, C), as the prepared datasets store them
    labels: np.ndarray  # int64 (N,)
    real: bool
    of: int | None = None  # size of the full split when this is a subset of real data

    def describe(self) -> str:
        n, h, w, c = self.images.shape
        kind = "real" if self.real else "synthetic"
        part = f"{n:,} of {self.of:,}" if self.of and self.of != n else f"{n:,}"
        return f"{self.name} ({kind}), {part} x {h}x{w}x{c}"


def fmnist_available(directory: Path = FMNIST_DIR) -> bool:
    return (directory / "train-images-idx3-ubyte.gz").exists()


def fashion_mnist(n: int, split: str = "train", seed: int = 0, directory: Path = FMNIST_DIR) -> BenchSet:
    """`n` images of a Fashion-MNIST split (a seeded random subset when smaller than the split);
    synthetic 28x28x1 noise, labelled as such, when the files are not on disk."""
    if not fmnist_available(directory):
        return synthetic("Fashion-MNIST-shaped", n, 28, 1, seed)
    prefix = "train" if split == "train" else "t10k"
    images = read_idx(directory / f"{prefix}-images-idx3-ubyte.gz")[..., None]
    labels = read_idx(directory / f"{prefix}-labels-idx1-ubyte.gz").astype(np.int64)
    total = len(labels)
    if n < total:
        index = np.sort(np.random.default_rng(seed).permutation(total)[:n])
        images, labels = images[index], labels[index]
    return BenchSet("Fashion-MNIST", np.ascontiguousarray(images), labels, True, total)


def synthetic(name: str, n: int, size: int, channels: int, seed: int = 0) -> BenchSet:
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (n, size, size, channels), dtype=np.uint8)
    return BenchSet(name, images, rng.integers(0, 10, n).astype(np.int64), False)


def cifar10_shaped(n: int, seed: int = 0) -> BenchSet:
    return synthetic("CIFAR-10-shaped", n, 32, 3, seed)


def stl10_shaped(n: int, seed: int = 0) -> BenchSet:
    return synthetic("STL-10-shaped", n, 96, 3, seed)
