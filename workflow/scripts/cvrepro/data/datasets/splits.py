"""The on-disk contract of a prepared dataset, shared by every rule that reads data.

Layout of ``resources/prepared/<dataset>/``::

    info.json                      {"name", "classes", "splits": {split: n}, "source": {...}}
    <split>/images.npy             uint8 (N, H, W, C), C = 1 or 3
    <split>/labels.npy             int64 (N,), -1 for unlabelled images

Plain ``.npy`` files because they load in milliseconds and can be memory-mapped,
so a 2.7 GB split (STL-10 unlabelled) costs nothing until it is indexed.

`load_split` checks the contract on every load without reading the images: their .npy header
(dtype, shape, and a file as long as the header declares), the labels' dtype, count and range,
and the counts in info.json. Every error is one line naming the file.
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


class PreparedDataError(ValueError):
    """A prepared split breaks the contract above; the message names the file."""


def read_info(dataset_dir: Path) -> dict:
    path = Path(dataset_dir) / "info.json"
    try:
        info = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise PreparedDataError(f"{path}: not valid JSON ({error}); prepare the dataset again") from None
    if (
        not isinstance(info, dict)
        or not isinstance(info.get("classes"), list)
        or not isinstance(info.get("splits"), dict)
    ):
        raise PreparedDataError(f"{path}: expected an object with a 'classes' list and a 'splits' object")
    return info


def read_npy_header(path: Path) -> tuple[tuple[int, ...], np.dtype]:
    """Shape and dtype from a .npy header, checking the file holds exactly the bytes it declares."""
    readers = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
    with open(path, "rb") as f:
        try:
            version = np.lib.format.read_magic(f)
            if version not in readers:
                raise ValueError(f"format version {version} is not one np.save writes by default")
            shape, _, dtype = readers[version](f)
        except ValueError as error:
            raise PreparedDataError(
                f"{path}: not a valid .npy file ({' '.join(str(error).split())})"
            ) from None
        expected = f.tell() + int(np.prod(shape)) * dtype.itemsize
    size = os.path.getsize(path)
    if size != expected:
        raise PreparedDataError(
            f"{path}: {size} bytes, but its header ({dtype} {shape}) needs {expected}: truncated or damaged"
        )
    return tuple(shape), dtype


def load_split(dataset_dir: Path, split: str, mmap: bool = True) -> Split:
    """Load a prepared split, checked against the contract; images are memory-mapped unless ``mmap=False``."""
    dataset_dir = Path(dataset_dir)
    info = read_info(dataset_dir)
    if split not in info["splits"]:
        raise KeyError(f"{dataset_dir}: no split {split!r}; it has {sorted(info['splits'])}")
    images_path, labels_path = dataset_dir / split / "images.npy", dataset_dir / split / "labels.npy"
    shape, dtype = read_npy_header(images_path)
    if dtype != np.uint8 or len(shape) != 4 or shape[-1] not in (1, 3):
        raise PreparedDataError(
            f"{images_path}: expected uint8 (N, H, W, C) with C in (1, 3), got {dtype} {shape}"
        )
    if shape[0] != info["splits"][split]:
        raise PreparedDataError(
            f"{images_path}: {shape[0]} images, but {dataset_dir / 'info.json'} says {info['splits'][split]}"
        )
    label_shape, label_dtype = read_npy_header(labels_path)
    if label_dtype != np.int64 or len(label_shape) != 1:
        raise PreparedDataError(f"{labels_path}: expected int64 (N,), got {label_dtype} {label_shape}")
    if label_shape[0] != shape[0]:
        raise PreparedDataError(
            f"{labels_path}: {label_shape[0]} labels for {shape[0]} images in {images_path}"
        )
    labels = np.load(labels_path)
    classes = list(info["classes"])
    outside = labels[(labels < UNLABELLED) | (labels >= len(classes))]
    if outside.size:
        raise PreparedDataError(
            f"{labels_path}: label {outside[0]} outside [{UNLABELLED}, {len(classes)}) "
            f"({outside.size} such labels; {len(classes)} classes in info.json)"
        )
    images = np.load(images_path, mmap_mode="r" if mmap else None)
    return Split(images=images, labels=labels, classes=classes)


def _save_atomic(path: Path, array: np.ndarray) -> None:
    tmp = path.with_name(path.name + ".part")
    with open(tmp, "wb") as f:
        np.save(f, array)
    os.replace(tmp, path)
