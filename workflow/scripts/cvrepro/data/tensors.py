"""The training data on the device: subsets as tensors and their normalisation into a model's
input batches (augmented ones through cvrepro.data.batch_augment).

Images stay uint8 (N, C, H, W) on the device -- a quarter of float32's memory, so CIFAR-sized
sets live on the GPU -- and become normalised floats one batch at a time. A subset too large for
the memory available (a study's own images, say) stays on disk: see `load_subset`.
"""

from __future__ import annotations

import mmap
import os
import tempfile
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


# A subset whose images need more than this share of the memory available is read from disk.
MEMORY_SHARE = 0.5
CHUNK_BYTES = 64 << 20  # what one step of copying a subset off its split holds in memory


def load_subset(
    data_dir: Path,
    split: str,
    index_path: Path | None,
    device: torch.device,
    memory_share: float = MEMORY_SHARE,
) -> TensorSet:
    """The images of a subset (all of the split when `index_path` is None) on `device`.

    When they need more than `memory_share` of the memory available (`available_memory`), they are
    copied chunk by chunk: on a CPU into a temporary file in the layout they have in memory,
    memory-mapped, so a batch reads only its own images and the kernel can drop pages
    again; on a GPU straight into device memory, never whole in the host's. The tensors hold the
    same values with the same strides either way, so training gives the same numbers."""
    split_data = load_split(data_dir, split)
    index = np.arange(len(split_data)) if index_path is None else _subset_index(index_path, len(split_data))
    labels = torch.from_numpy(split_data.labels[index]).to(device)
    needed = len(index) * int(np.prod(split_data.images.shape[1:]))
    if needed > memory_share * available_memory():
        return TensorSet(_chunked(split_data.images, index, device, data_dir), labels, split_data.classes)
    images = np.ascontiguousarray(split_data.images[index])  # sorted: sequential reads of the mmap
    images = torch.from_numpy(images).permute(0, 3, 1, 2).contiguous()
    return TensorSet(images.to(device), labels, split_data.classes)


def _chunked(source: np.ndarray, index: np.ndarray, device: torch.device, near: Path) -> torch.Tensor:
    """source[index] as uint8 (N, C, H, W) on `device`, copied in chunks of CHUNK_BYTES (see load_subset)."""
    n, (h, w, c) = len(index), source.shape[1:]
    # The in-memory path's strides exactly: grey images keep the (N, H, W, 1) strides that
    # permute().contiguous() leaves them, and kernels pick their algorithm by strides.
    like = torch.empty((n, h, w, c), dtype=torch.uint8, device="meta").permute(0, 3, 1, 2).contiguous()
    disk = _disk_map(n * h * w * c, Path(near)) if device.type == "cpu" else None
    if disk is not None:
        out = torch.from_numpy(np.frombuffer(disk, dtype=np.uint8)).as_strided(like.shape, like.stride())
    else:
        out = torch.empty_strided(like.shape, like.stride(), dtype=torch.uint8, device=device)
    rows = max(1, CHUNK_BYTES // max(1, h * w * c))
    for start in range(0, n, rows):
        chunk = np.ascontiguousarray(source[index[start : start + rows]])
        out[start : start + len(chunk)] = torch.from_numpy(chunk).permute(0, 3, 1, 2).to(device)
        if disk is not None:  # written back now: dirty pages cannot be dropped, and pile up to the limit
            disk.flush()
    if disk is not None and hasattr(mmap, "MADV_RANDOM"):
        # Batches draw images at random: the kernel's read-ahead around each fault would read
        # megabytes per image and, at the memory limit, evict them again unread.
        disk.madvise(mmap.MADV_RANDOM)
    return out


def _disk_map(size: int, near: Path) -> mmap.mmap:
    """A writable map of an unnamed temporary file beside the prepared data (on its disk, not in a
    RAM-backed /tmp); the file is gone when the map is, even after a crash."""
    try:
        handle = tempfile.TemporaryFile(dir=near)
    except OSError:  # a read-only dataset folder: the system's temporary directory
        handle = tempfile.TemporaryFile()
    with handle:
        handle.truncate(size)
        return mmap.mmap(handle.fileno(), size)  # the map outlives the file handle


def available_memory() -> int:
    """Bytes this process may still fill: the kernel's MemAvailable, or less under a memory cgroup's
    limit (v2 memory.max, v1 memory.limit_in_bytes, less what the group already uses)."""
    free = _meminfo_available()
    for limit, usage in _cgroup_limits():
        free = min(free, max(0, limit - usage))
    return free


def _meminfo_available() -> int:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:  # not Linux: free physical pages
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 1 << 62  # unknown: as if unlimited, the in-memory path of every older version


def _cgroup_limits() -> list[tuple[int, int]]:
    """(limit, usage) of this process's memory cgroup, v2 or v1, where one sets a limit."""
    found = []
    try:
        with open("/proc/self/cgroup") as f:
            lines = f.read().splitlines()
    except OSError:
        return found
    for line in lines:
        _, controllers, group = line.split(":", 2)
        if controllers == "":  # v2
            files = (f"/sys/fs/cgroup{group}/memory.max", f"/sys/fs/cgroup{group}/memory.current")
        elif "memory" in controllers.split(","):
            root = f"/sys/fs/cgroup/memory{group}"
            files = (f"{root}/memory.limit_in_bytes", f"{root}/memory.usage_in_bytes")
        else:
            continue
        try:
            limit, usage = (Path(name).read_text().strip() for name in files)
        except OSError:
            continue
        if limit != "max" and int(limit) < 1 << 60:
            found.append((int(limit), int(usage)))
    return found


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
