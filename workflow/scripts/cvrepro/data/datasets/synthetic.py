"""Synthetic originals for the rehearsal: every dataset's files in their real on-disk format.

A rehearsal (README "Before a long run") runs a study's real DAG on these instead of downloads:
the same file names, formats, image sizes, channels, class counts, class names and splits
(unlabelled ones included) as the published files, with a few images per class. The download
rule writes them, and prepare verifies them against checksums taken from the synthetic files
themselves (`synthetic_spec`), so the readers, the verification and the split contract all run
as they do on real data. Everything is deterministic: the same bytes on every machine.

Images are noise tinted by their class, so a network can learn a little; no number made from
them means anything.
"""

from __future__ import annotations

import hashlib
import tempfile
import zlib
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path

import numpy as np

from cvrepro.data import sources
from cvrepro.data.datasets import formats
from cvrepro.data.datasets.registry import CIFAR10_CLASSES, CIFAR_C_CORRUPTIONS, DATASETS, DatasetSpec
from cvrepro.data.datasets.synthetic_classes import (
    CIFAR100_COARSE,
    CIFAR100_FINE,
    OXFORD_PETS_BREEDS,
    STL10,
    TINY_IMAGENET_WNIDS,
)

SEVERITIES = 5  # CIFAR-C stacks severities 1..5 of every test image


@dataclass(frozen=True)
class Pool:
    """A dataset's synthetic splits: images per class (per breed for Oxford-IIIT Pet, in all
    for an unlabelled split), and the images' side and channels as the reader returns them."""

    per_class: dict[str, int]
    side: int
    channels: int = 3
    unlabelled: dict[str, int] | None = None


POOLS: dict[str, Pool] = {
    "fashion_mnist": Pool({"train": 30, "test": 10}, 28, channels=1),
    "cifar10": Pool({"train": 3, "test": 2}, 32),
    "cifar100": Pool({"train": 2, "test": 1}, 32),
    "stl10": Pool({"train": 2, "test": 2}, 96, unlabelled={"unlabeled": 40}),
    "tiny_imagenet": Pool({"train": 2, "test": 1}, 64),
    "cifar10_1": Pool({"test": 2}, 32),
    "dogs_vs_cats": Pool({"train": 12}, 64),
    "oxford_pets": Pool({"train": 2, "test": 2}, 64),
}
# The corruption sets corrupt the clean test split of the same synthetic dataset.
CORRUPTED = {"cifar10_c": "cifar10", "cifar100_c": "cifar100"}


def prepared_shape(name: str, options: dict) -> tuple[int, int]:
    """(image side, channels) of the dataset as prepared, real or synthetic alike."""
    if "source" in options:  # a study's own dataset (cvrepro/data/sources): as declared
        return (options["resize"] or {}).get("size") or declared_side(name), options["channels"]
    pool = POOLS[CORRUPTED.get(name, name)]
    return options.get("image_size") or pool.side, pool.channels


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
    if name in CORRUPTED:
        clean = split_sizes(CORRUPTED[name])["test"]
        return {corruption: SEVERITIES * clean for corruption in CIFAR_C_CORRUPTIONS}
    pool, classes = POOLS[name], len(_breeds(name)) or DATASETS[name].num_classes
    sizes = {split: n * classes for split, n in pool.per_class.items()}
    return {**sizes, **(pool.unlabelled or {})}


def _breeds(name: str) -> list[str]:
    return OXFORD_PETS_BREEDS if name == "oxford_pets" else []


def labels(name: str, split: str) -> np.ndarray:
    """The labels of a synthetic split in the order its reader writes them."""
    if name in sources.DECLARED:  # a study's own dataset: the first images of each class
        return np.array(sources.rehearsal_labels(name, split), dtype=np.int64)
    if name in CORRUPTED:
        return np.tile(labels(CORRUPTED[name], "test"), SEVERITIES)
    pool = POOLS[name]
    if pool.unlabelled and split in pool.unlabelled:
        return np.full(pool.unlabelled[split], -1, dtype=np.int64)
    n = pool.per_class[split]
    if name == "oxford_pets":  # species of each breed (capitalised names are cats)
        return np.array([0 if b[0].isupper() else 1 for b in OXFORD_PETS_BREEDS for _ in range(n)])
    classes = DATASETS[name].num_classes
    if name in ("tiny_imagenet", "dogs_vs_cats") and split == "train":
        return np.repeat(np.arange(classes), n)  # these readers sort by file name: class-major
    return np.tile(np.arange(classes), n)


def images(name: str, split: str) -> np.ndarray:
    """Deterministic uint8 (N, side, side, channels) noise, tinted by class."""
    pool = POOLS[name]
    split_labels = labels(name, split)
    rng = np.random.default_rng(zlib.crc32(f"{name}/{split}".encode()))
    noise = rng.integers(0, 128, (len(split_labels), pool.side, pool.side, pool.channels), dtype=np.uint8)
    tint = (np.maximum(split_labels, 0)[:, None] * 37 + np.array([0, 85, 170])[: pool.channels]) % 128
    return (noise + tint[:, None, None, :].astype(np.uint8)).astype(np.uint8)


def _corrupted(name: str) -> dict[str, np.ndarray]:
    """Each corruption's stacked severities 1..5 of the clean synthetic test images (shifted by a
    value that encodes corruption and severity, as a published file holds them)."""
    clean = images(CORRUPTED[name], "test")
    return {
        corruption: np.concatenate([clean // 2 + 10 * c + s for s in range(1, SEVERITIES + 1)]).astype(
            np.uint8
        )
        for c, corruption in enumerate(CIFAR_C_CORRUPTIONS)
    }


def _pet_rows(split: str) -> list[tuple[str, int, int, np.ndarray]]:
    """(image name, CLASS-ID, SPECIES, image) per image of an Oxford-IIIT Pet listing."""
    pictures, per_breed = images("oxford_pets", split), POOLS["oxford_pets"].per_class[split]
    first = 1 if split == "train" else 1 + per_breed  # trainval and test name different images
    return [
        (
            f"{breed}_{first + i}",
            class_id,
            1 if breed[0].isupper() else 2,
            _unsquare(pictures[(class_id - 1) * per_breed + i]),
        )
        for class_id, breed in enumerate(OXFORD_PETS_BREEDS, start=1)
        for i in range(per_breed)
    ]


def _unsquare(picture: np.ndarray) -> np.ndarray:
    """A photo-like non-square image (the readers resize and centre-crop these)."""
    return np.concatenate([picture, picture[: picture.shape[0] // 4]], axis=0)


def write_original(name: str, filename: str, dest: Path) -> None:
    """Write the synthetic version of one of the dataset's original files to `dest`."""
    dest = Path(dest)
    split_of = {"train": "train", "t10k": "test"}
    if name == "fashion_mnist":
        split = split_of[filename.split("-")[0]]
        array = images(name, split)[..., 0] if "images" in filename else labels(name, split).astype(np.uint8)
        formats.write_idx_gz(dest, array)
    elif name == "cifar10":
        pair = {s: (images(name, s), labels(name, s)) for s in ("train", "test")}
        formats.write_cifar10_tar(dest, pair["train"], pair["test"], CIFAR10_CLASSES)
    elif name == "cifar100":
        pair = {s: (images(name, s), labels(name, s)) for s in ("train", "test")}
        formats.write_cifar100_tar(dest, pair["train"], pair["test"], CIFAR100_FINE, CIFAR100_COARSE)
    elif name == "stl10":
        pair = {s: (images(name, s), labels(name, s)) for s in ("train", "test")}
        formats.write_stl10_tar(dest, pair["train"], pair["test"], images(name, "unlabeled"), STL10)
    elif name == "tiny_imagenet":
        words = {wnid: wnid for wnid in TINY_IMAGENET_WNIDS}
        split = {
            s: [
                (picture, TINY_IMAGENET_WNIDS[c])
                for picture, c in zip(images(name, s), labels(name, s), strict=True)
            ]
            for s in ("train", "test")
        }
        formats.write_tiny_imagenet_zip(dest, words, split["train"], split["test"])
    elif name == "cifar10_1":
        data, label = images(name, "test"), labels(name, "test")
        dest.write_bytes(formats.npy_bytes(data if "data" in filename else label))
    elif name in CORRUPTED:
        root = filename.removesuffix(".tar")
        formats.write_cifar_c_tar(dest, root, _corrupted(name), labels(name, next(iter(CIFAR_C_CORRUPTIONS))))
    elif name == "oxford_pets":
        with tempfile.TemporaryDirectory() as tmp:  # one writer makes both archives
            both = {f: Path(tmp) / f for f in ("images.tar.gz", "annotations.tar.gz")}
            formats.write_oxford_pets(
                both["images.tar.gz"],
                both["annotations.tar.gz"],
                {"trainval.txt": _pet_rows("train"), "test.txt": _pet_rows("test")},
            )
            dest.write_bytes(both[filename].read_bytes())
    elif name == "dogs_vs_cats":
        animals = ["cat", "dog"]
        pictures = [
            (animals[c], _unsquare(p))
            for p, c in zip(images(name, "train"), labels(name, "train"), strict=True)
        ]
        dest.write_bytes(formats.kaggle_zip_bytes(pictures))
    else:
        raise KeyError(f"no synthetic version of dataset {name!r}; known: {', '.join(sorted(DATASETS))}")


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
