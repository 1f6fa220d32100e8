"""Synthetic originals for the rehearsal: every dataset's files in their real on-disk format.

A rehearsal (README "Before a long run") runs a study's real DAG on these instead of downloads:
the same file names, formats, image sizes, channels, class counts, class names and splits
(unlabelled ones included) as the published files, with a few images per class. The download
rule writes them, and prepare verifies them against checksums taken from the synthetic files
themselves (`synthetic_spec`), so the readers, the verification and the split contract all run
as they do on real data. Everything is deterministic: the same bytes on every machine.

What each built-in dataset's synthetic splits hold and how its files are written is its module's
KIND.rehearsal (cvrepro/data/builtin/<name>.py); this module draws the splits they declare.
Images are noise tinted by their class, so a network can learn a little; no number made from
them means anything.
"""

from __future__ import annotations

import hashlib
import tempfile
import zlib
from dataclasses import replace
from functools import cache
from pathlib import Path

import numpy as np

from cvrepro.data import sources
from cvrepro.data.builtin import BUILTIN
from cvrepro.data.builtin.kind import Rehearsal
from cvrepro.data.datasets.registry import DATASETS
from cvrepro.data.datasets.spec import DatasetSpec


def _rehearsal(name: str) -> Rehearsal:
    if name not in BUILTIN:
        raise KeyError(f"no synthetic version of dataset {name!r}; known: {', '.join(sorted(BUILTIN))}")
    return BUILTIN[name].rehearsal


def prepared_shape(name: str, options: dict) -> tuple[int, int]:
    """(image side, channels) of the dataset as prepared, real or synthetic alike."""
    if "source" in options:  # a study's own dataset (cvrepro/data/sources): as declared
        return (options["resize"] or {}).get("size") or declared_side(name), options["channels"]
    rehearsal = _rehearsal(name)
    return options.get("image_size") or rehearsal.side, rehearsal.channels


def declared_side(name: str) -> int:
    """The side of a declared dataset kept at its own size: its first image's, read from the header."""
    from PIL import Image

    first = next(
        (path for items in sources.DECLARED[name].listing.splits.values() for path, _ in items), None
    )
    if first is None:
        return 32  # a torchvision class: not known before it is prepared
    try:
        with Image.open(first) as image:
            return max(image.size)
    except OSError:  # not readable: prepare names it; the estimate takes CIFAR's side
        return 32


def split_sizes(name: str) -> dict[str, int]:
    """Images in each split of the synthetic dataset (what the rehearsal's subsets are cut to)."""
    return {split: len(labels(name, split)) for split in DATASETS[name].splits}


def labels(name: str, split: str) -> np.ndarray:
    """The labels of a synthetic split in the order its reader writes them."""
    if name in sources.DECLARED:  # a study's own dataset: the first images of each class
        return np.array(sources.rehearsal_labels(name, split), dtype=np.int64)
    rehearsal = _rehearsal(name)
    if rehearsal.labels is not None:
        return rehearsal.labels(split)
    if split in rehearsal.unlabelled:
        return np.full(rehearsal.unlabelled[split], -1, dtype=np.int64)
    n, classes = rehearsal.per_class[split], DATASETS[name].num_classes
    if split in rehearsal.class_major:
        return np.repeat(np.arange(classes), n)  # a reader that sorts by file name: class-major
    return np.tile(np.arange(classes), n)


def images(name: str, split: str) -> np.ndarray:
    """Deterministic uint8 (N, side, side, channels) noise, tinted by class."""
    rehearsal = _rehearsal(name)
    if rehearsal.images is not None:
        return rehearsal.images(split)
    split_labels = labels(name, split)
    rng = np.random.default_rng(zlib.crc32(f"{name}/{split}".encode()))
    side, channels = rehearsal.side, rehearsal.channels
    noise = rng.integers(0, 128, (len(split_labels), side, side, channels), dtype=np.uint8)
    tint = (np.maximum(split_labels, 0)[:, None] * 37 + np.array([0, 85, 170])[:channels]) % 128
    return (noise + tint[:, None, None, :].astype(np.uint8)).astype(np.uint8)


def split(name: str, split_name: str) -> tuple[np.ndarray, np.ndarray]:
    """(images, labels) of a synthetic split, in its reader's order: what a writer packs."""
    return images(name, split_name), labels(name, split_name)


def unsquare(picture: np.ndarray) -> np.ndarray:
    """A photo-like non-square image (the readers resize and centre-crop these)."""
    return np.concatenate([picture, picture[: picture.shape[0] // 4]], axis=0)


def write_original(name: str, filename: str, dest: Path) -> None:
    """Write the synthetic version of one of the dataset's original files to `dest`."""
    _rehearsal(name).write(filename, Path(dest))


@cache
def synthetic_spec(name: str) -> DatasetSpec:
    """The registry's entry with the synthetic files' md5 and split sizes: what prepare verifies a
    rehearsal's originals against (the checksums come from writing them again here)."""
    spec = DATASETS[name]
    with tempfile.TemporaryDirectory() as tmp:
        files = []
        for remote in spec.files:
            path = Path(tmp) / remote.filename
            write_original(name, remote.filename, path)
            files.append(replace(remote, md5=hashlib.md5(path.read_bytes()).hexdigest(), content_md5=None))
    return replace(spec, files=tuple(files), splits=split_sizes(name))
