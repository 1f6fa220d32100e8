"""The on-disk contract of a prepared dataset, shared by every rule that reads data.

Layout of ``resources/prepared/<dataset>/``::

    info.json                      {"name", "classes", "splits": {split: n}, "source": {...}}
    <split>/images.npy             uint8 (N, H, W, C), C = 1 or 3
    <split>/labels.npy             int64 (N,), -1 for unlabelled images

Plain ``.npy`` files because they load in milliseconds and can be memory-mapped,
so a 2.7 GB split (STL-10 unlabelled) costs nothing until it is indexed.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

UNLABELLED = -1


@dataclass(frozen=True)
class Split:
    images: np.ndarray  # uint8 (N, H, W, C)
    labels: np.ndarray  # int64 (N,)
    classes: list[str]

    def __len__(self) -> int:
        return len(self.labels)


def write_split(dataset_dir: Path, split: str, images: np.ndarray, labels: np.ndarray) -> None:
    """Write one split, checking the contract so that a reader bug fails here, not in training."""
    images = np.asarray(images)
    labels = np.asarray(labels)
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[-1] not in (1, 3):
        raise ValueError(
            f"split {split!r}: images must be uint8 (N, H, W, C) with C in (1, 3), "
            f"got {images.dtype} {images.shape}"
        )
    if labels.ndim != 1 or len(labels) != len(images):
        raise ValueError(f"split {split!r}: {len(labels)} labels for {len(images)} images")
    split_dir = Path(dataset_dir) / split
    split_dir.mkdir(parents=True, exist_ok=True)
    _save_atomic(split_dir / "images.npy", np.ascontiguousarray(images))
    _save_atomic(split_dir / "labels.npy", labels.astype(np.int64))


def write_split_chunks(
    dataset_dir: Path, split: str, shape: tuple[int, ...], chunks: Iterable[np.ndarray], labels: np.ndarray
) -> None:
    """Write a split too large for memory from consecutive uint8 chunks into a memory-mapped .npy."""
    split_dir = Path(dataset_dir) / split
    split_dir.mkdir(parents=True, exist_ok=True)
    tmp = split_dir / "images.npy.part"
    out = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8, shape=shape)
    filled = 0
    for chunk in chunks:
        out[filled : filled + len(chunk)] = chunk
        filled += len(chunk)
    if filled != shape[0]:
        raise ValueError(f"split {split!r}: expected {shape[0]} images, got {filled}")
    out.flush()
    del out
    os.replace(tmp, split_dir / "images.npy")
    _save_atomic(split_dir / "labels.npy", np.asarray(labels, dtype=np.int64))


def write_info(
    dataset_dir: Path, name: str, classes: list[str], splits: dict[str, int], source: dict
) -> None:
    info = {"name": name, "classes": list(classes), "splits": dict(splits), "source": source}
    path = Path(dataset_dir) / "info.json"
    tmp = path.with_suffix(".json.part")
    tmp.write_text(json.dumps(info, indent=2) + "\n")
    os.replace(tmp, path)


def read_info(dataset_dir: Path) -> dict:
    return json.loads((Path(dataset_dir) / "info.json").read_text())


def load_split(dataset_dir: Path, split: str, mmap: bool = True) -> Split:
    """Load a prepared split; images are memory-mapped unless ``mmap=False``."""
    dataset_dir = Path(dataset_dir)
    info = read_info(dataset_dir)
    if split not in info["splits"]:
        raise KeyError(f"{dataset_dir}: no split {split!r}; it has {sorted(info['splits'])}")
    images = np.load(dataset_dir / split / "images.npy", mmap_mode="r" if mmap else None)
    labels = np.load(dataset_dir / split / "labels.npy")
    return Split(images=images, labels=labels, classes=list(info["classes"]))


def _save_atomic(path: Path, array: np.ndarray) -> None:
    tmp = path.with_name(path.name + ".part")
    with open(tmp, "wb") as f:
        np.save(f, array)
    os.replace(tmp, path)
