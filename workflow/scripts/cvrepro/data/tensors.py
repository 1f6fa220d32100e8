"""The training data on the device: subsets as tensors and their normalisation into a model's
input batches (augmented ones through cvrepro.data.batch_augment).

Images stay uint8 (N, C, H, W) on the device -- a quarter of float32's memory, so CIFAR-sized
sets live on the GPU -- and become normalised floats one batch at a time.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from cvrepro.data.batch_augment import augment_batch, device_constant
from cvrepro.data.datasets.splits import Split, load_split


@dataclass(frozen=True)
class TensorSet(Split):
    """A split's images as torch tensors on the training device: uint8 (N, C, H, W) images,
    int64 (N,) labels, and the class names."""


@dataclass(frozen=True)
class SubsetFiles:
    """The files that together define a subset: a prepared dataset, one of its splits, and the
    index file of the images drawn from it."""

    data: Path
    split: str
    index: Path | None

    def load(self, device: torch.device) -> TensorSet:
        return load_subset(self.data, self.split, self.index, device)


def load_subset(data_dir: Path, split: str, index_path: Path | None, device: torch.device) -> TensorSet:
    """The images of a subset (all of the split when `index_path` is None) on `device`."""
    split_data = load_split(data_dir, split)
    index = np.arange(len(split_data)) if index_path is None else _subset_index(index_path, len(split_data))
    images = np.ascontiguousarray(split_data.images[index])  # sorted: sequential reads of the mmap
    labels = split_data.labels[index]
    images = torch.from_numpy(images).permute(0, 3, 1, 2).contiguous()
    return TensorSet(images.to(device), torch.from_numpy(labels).to(device), split_data.classes)


def _subset_index(path: Path, n: int) -> np.ndarray:
    """A subset's index file, sorted: distinct integers in [0, n) (a negative one would silently wrap)."""
    index = np.load(path)
    if index.ndim != 1 or not np.issubdtype(index.dtype, np.integer):
        raise ValueError(f"{path}: expected a 1-D integer index, got {index.dtype} {index.shape}")
    index = np.sort(index)
    if len(index) and (index[0] < 0 or index[-1] >= n):
        raise ValueError(f"{path}: indices {index[0]}..{index[-1]} outside [0, {n}) of the split")
    if np.any(index[1:] == index[:-1]):
        raise ValueError(f"{path}: index {index[1:][index[1:] == index[:-1]][0]} appears twice")
    return index


def channel_stats(images: torch.Tensor) -> tuple[list[float], list[float]]:
    """Per-channel mean and std of uint8 images, in [0, 1] units (computed in chunks)."""
    n_channels = images.shape[1]
    total = torch.zeros(n_channels, dtype=torch.float64, device=images.device)
    total_sq = torch.zeros_like(total)
    count = 0
    for chunk in images.split(4096):
        x = chunk.to(torch.float64) / 255
        total += x.sum(dim=(0, 2, 3))
        total_sq += (x * x).sum(dim=(0, 2, 3))
        count += x.shape[0] * x.shape[2] * x.shape[3]
    mean = total / count
    std = (total_sq / count - mean * mean).clamp_min(1e-12).sqrt()
    return mean.tolist(), std.tolist()


def standardize(x: torch.Tensor, mean: list[float], std: list[float]) -> torch.Tensor:
    """Float images in [0, 1] -> per-channel standardised (mean/std given in [0, 1] units)."""
    mean_t = device_constant(tuple(mean), x.device, x.dtype, (1, -1, 1, 1))
    std_t = device_constant(tuple(std), x.device, x.dtype, (1, -1, 1, 1))
    return (x - mean_t) / std_t


def eval_batch(
    images: torch.Tensor, mean: list[float], std: list[float], size: int | None = None
) -> torch.Tensor:
    """The model's input for evaluation: uint8 (N, C, H, W) -> float32, resized to `size` first
    when the model was trained at another size, then standardised."""
    x = images.float() / 255
    if size is not None and size != x.shape[-1]:
        x = torch.nn.functional.interpolate(
            x, size=(size, size), mode="bilinear", align_corners=False, antialias=size < x.shape[-1]
        )
    return standardize(x, mean, std)


def augmented(
    images: torch.Tensor, augment: str | dict, mean: list[float], std: list[float], generator: torch.Generator
) -> torch.Tensor:
    """The model's input for training: uint8 images -> an augmented, standardised float batch
    (colour operations need [0, 1])."""
    return standardize(augment_batch(images.float() / 255, augment, generator), mean, std)
