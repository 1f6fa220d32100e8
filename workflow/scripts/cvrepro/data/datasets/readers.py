"""Readers of each dataset's original on-disk format, writing prepared splits.

Each `prepare_*` takes {filename: path} of the downloaded files and an output directory, and
writes the splits through `splits.write_split` plus `info.json`. They are small numpy readers
rather than torchvision's dataset classes because those verify the md5 of every inner file,
which the tests' small files in the same formats cannot match. The archives themselves are
verified before a reader sees them (`verify.verify_original`, called by the download rule and
again by `prepare_dataset`), and CIFAR's pickles go through a restricted unpickler.
"""

from __future__ import annotations

import gzip
import io
import tarfile
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from cvrepro.data.datasets.cifar_pickle import load_cifar_batch
from cvrepro.data.datasets.registry import CIFAR10_CLASSES, CIFAR_C_CORRUPTIONS, FASHION_MNIST_CLASSES
from cvrepro.data.datasets.splits import UNLABELLED, write_split, write_split_chunks

# --- IDX (Fashion-MNIST) -----------------------------------------------------------------------


def read_idx(path: Path) -> np.ndarray:
    """An IDX file (gzipped or not): magic 0x0000 08 <ndim>, big-endian int32 dims, uint8 data."""
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    if data[:2] != b"\x00\x00" or data[2] != 0x08:
        raise ValueError(f"{path}: not an unsigned-byte IDX file (magic {data[:4].hex()})")
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    array = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if array.size != int(np.prod(dims)):
        raise ValueError(f"{path}: header says {dims} but the file holds {array.size} values")
    return array.reshape(dims)


def prepare_fashion_mnist(files: dict[str, Path], out_dir: Path) -> dict:
    for split, prefix in (("train", "train"), ("test", "t10k")):
        images = read_idx(files[f"{prefix}-images-idx3-ubyte.gz"])[..., None]
        labels = read_idx(files[f"{prefix}-labels-idx1-ubyte.gz"]).astype(np.int64)
        write_split(out_dir, split, images, labels)
    return {"classes": FASHION_MNIST_CLASSES}


# --- CIFAR python pickles -----------------------------------------------------------------------


def _tar_member(archive: tarfile.TarFile, name: str) -> bytes:
    try:
        return archive.extractfile(name).read()
    except KeyError:
        raise ValueError(f"{archive.name}: no member {name!r}") from None


def _cifar_images(rows: np.ndarray) -> np.ndarray:
    """CIFAR rows of 3072 bytes (R plane, G plane, B plane; row-major 32x32) -> (N, 32, 32, 3)."""
    return np.asarray(rows, dtype=np.uint8).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)


def _unpickle_member(archive: tarfile.TarFile, name: str, *keys: bytes) -> dict:
    # Only numpy arrays are ever rebuilt from these pickles (cifar_pickle); keys come back as bytes.
    return load_cifar_batch(_tar_member(archive, name), f"{archive.name}: {name}", keys)


def prepare_cifar10(files: dict[str, Path], out_dir: Path) -> dict:
    root = "cifar-10-batches-py"
    with tarfile.open(files["cifar-10-python.tar.gz"]) as archive:
        batches = [
            _unpickle_member(archive, f"{root}/data_batch_{i}", b"data", b"labels") for i in range(1, 6)
        ]
        test = _unpickle_member(archive, f"{root}/test_batch", b"data", b"labels")
        meta = _unpickle_member(archive, f"{root}/batches.meta", b"label_names")
    write_split(
        out_dir,
        "train",
        _cifar_images(np.concatenate([b[b"data"] for b in batches])),
        np.concatenate([b[b"labels"] for b in batches]),
    )
    write_split(out_dir, "test", _cifar_images(test[b"data"]), np.asarray(test[b"labels"]))
    return {"classes": [name.decode() for name in meta[b"label_names"]]}


def prepare_cifar100(files: dict[str, Path], out_dir: Path) -> dict:
    root = "cifar-100-python"
    with tarfile.open(files["cifar-100-python.tar.gz"]) as archive:
        for split in ("train", "test"):
            batch = _unpickle_member(archive, f"{root}/{split}", b"data", b"fine_labels")
            write_split(out_dir, split, _cifar_images(batch[b"data"]), np.asarray(batch[b"fine_labels"]))
        meta = _unpickle_member(archive, f"{root}/meta", b"fine_label_names")
    return {"classes": [name.decode() for name in meta[b"fine_label_names"]]}


# --- STL-10 binary ------------------------------------------------------------------------------

STL_SIDE = 96
STL_BYTES = 3 * STL_SIDE * STL_SIDE


def _stl_images(raw: bytes) -> np.ndarray:
    """STL-10 stores each image as 3 planes in column-major order: transpose to upright NHWC."""
    return np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3, STL_SIDE, STL_SIDE).transpose(0, 3, 2, 1)


def prepare_stl10(files: dict[str, Path], out_dir: Path) -> dict:
    root = "stl10_binary"
    with tarfile.open(files["stl10_binary.tar.gz"]) as archive:
        for split in ("train", "test"):
            images = _stl_images(_tar_member(archive, f"{root}/{split}_X.bin"))
            labels = (
                np.frombuffer(_tar_member(archive, f"{root}/{split}_y.bin"), dtype=np.uint8).astype(np.int64)
                - 1
            )
            write_split(out_dir, split, images, labels)
        classes = _tar_member(archive, f"{root}/class_names.txt").decode().split()
        # 100,000 unlabelled images are 2.7 GB: stream them in chunks into a memory-mapped file.
        member = archive.getmember(f"{root}/unlabeled_X.bin")
        stream = archive.extractfile(member)
        n = member.size // STL_BYTES
        chunks = (_stl_images(stream.read(STL_BYTES * 2000)) for _ in range(0, n, 2000))
        write_split_chunks(out_dir, "unlabeled", (n, STL_SIDE, STL_SIDE, 3), chunks, np.full(n, UNLABELLED))
    return {"classes": classes}


# --- image folders (Tiny-ImageNet, Dogs vs Cats, Oxford-IIIT Pet) ---------------------------------


def _decode(data: bytes, size: int | None = None) -> np.ndarray:
    """JPEG/PNG bytes -> RGB uint8 (H, W, 3); resized on the shorter side and centre-cropped to `size`."""
    with Image.open(io.BytesIO(data)) as image:
        image = image.convert("RGB")
        if size is not None:
            image = ImageOps.fit(image, (size, size), method=Image.Resampling.BILINEAR)
        return np.asarray(image, dtype=np.uint8)


def prepare_tiny_imagenet(files: dict[str, Path], out_dir: Path) -> dict:
    root = "tiny-imagenet-200"
    with zipfile.ZipFile(files["tiny-imagenet-200.zip"]) as archive:
        wnids = sorted(archive.read(f"{root}/wnids.txt").decode().split())  # ImageFolder's order
        words = dict(
            line.split("\t", 1)
            for line in archive.read(f"{root}/words.txt").decode().splitlines()
            if "\t" in line
        )
        label = {wnid: i for i, wnid in enumerate(wnids)}
        names = archive.namelist()
        train = sorted(n for n in names if n.startswith(f"{root}/train/") and n.endswith(".JPEG"))
        write_split(
            out_dir,
            "train",
            np.stack([_decode(archive.read(n)) for n in train]),
            np.array([label[n.split("/")[2]] for n in train]),
        )
        annotations = [
            line.split("\t")
            for line in archive.read(f"{root}/val/val_annotations.txt").decode().splitlines()
            if line
        ]
        write_split(
            out_dir,
            "test",
            np.stack([_decode(archive.read(f"{root}/val/images/{row[0]}")) for row in annotations]),
            np.array([label[row[1]] for row in annotations]),
        )
    return {"classes": [words.get(w, w).split(",")[0].strip() for w in wnids], "wnids": wnids}


def prepare_cifar10_1(files: dict[str, Path], out_dir: Path) -> dict:
    images = np.load(files["cifar10.1_v6_data.npy"])
    labels = np.load(files["cifar10.1_v6_labels.npy"]).astype(np.int64)
    # No published checksum for these files: check what they must be instead.
    if images.shape[1:] != (32, 32, 3) or images.dtype != np.uint8 or len(images) != len(labels):
        raise ValueError(
            f"CIFAR-10.1: expected uint8 (N, 32, 32, 3) and N labels, got {images.dtype} {images.shape}, {labels.shape}"
        )
    if labels.min() < 0 or labels.max() > 9:
        raise ValueError(f"CIFAR-10.1: labels outside 0..9 ({labels.min()}..{labels.max()})")
    write_split(out_dir, "test", images, labels)
    return {"classes": CIFAR10_CLASSES}


# --- CIFAR-10-C / CIFAR-100-C (Hendrycks & Dietterich, 2019) -----------------------------------

CIFAR_C_SEVERITIES = 5


def _prepare_cifar_c(archive_path: Path, root: str, out_dir: Path, classes: list[str]) -> dict:
    """<root>/<corruption>.npy holds the test set at severities 1..5 stacked (5 x N images);
    <root>/labels.npy the labels in the same order. One split per corruption."""
    with tarfile.open(archive_path) as archive:
        labels = np.load(io.BytesIO(_tar_member(archive, f"{root}/labels.npy"))).astype(np.int64)
        if len(labels) % CIFAR_C_SEVERITIES:
            raise ValueError(f"{archive_path}: {len(labels)} labels is not 5 severities x N test images")
        for corruption in CIFAR_C_CORRUPTIONS:
            images = np.load(io.BytesIO(_tar_member(archive, f"{root}/{corruption}.npy")))
            if images.shape != (len(labels), 32, 32, 3) or images.dtype != np.uint8:
                raise ValueError(
                    f"{archive_path}: {corruption}.npy is {images.dtype} {images.shape}, "
                    f"expected uint8 ({len(labels)}, 32, 32, 3)"
                )
            write_split(out_dir, corruption, images, labels)
    return {"classes": classes, "severities": CIFAR_C_SEVERITIES}


def prepare_cifar10_c(files: dict[str, Path], out_dir: Path) -> dict:
    return _prepare_cifar_c(files["CIFAR-10-C.tar"], "CIFAR-10-C", out_dir, CIFAR10_CLASSES)


def prepare_cifar100_c(files: dict[str, Path], out_dir: Path) -> dict:
    # The archive has no class names; shift sets take them from the clean CIFAR-100 split.
    return _prepare_cifar_c(files["CIFAR-100-C.tar"], "CIFAR-100-C", out_dir, [str(i) for i in range(100)])


def _kaggle_entries(path: Path) -> tuple[zipfile.ZipFile, list[str]]:
    """The Kaggle train.zip, or the competition zip that contains it."""
    archive = zipfile.ZipFile(path)
    names = archive.namelist()
    if "train.zip" in names and not any(n.endswith(".jpg") for n in names):
        archive = zipfile.ZipFile(io.BytesIO(archive.read("train.zip")))
        names = archive.namelist()
    images = sorted(
        n for n in names if n.rsplit("/", 1)[-1].split(".")[0] in ("cat", "dog") and n.endswith(".jpg")
    )
    if not images:
        raise ValueError(
            f"{path}: no train/cat.N.jpg or train/dog.N.jpg inside; is this Kaggle's dogs-vs-cats train.zip?"
        )
    return archive, images


def prepare_dogs_vs_cats(files: dict[str, Path], out_dir: Path, image_size: int = 64) -> dict:
    archive, names = _kaggle_entries(files["train.zip"])
    with archive:
        images = np.stack([_decode(archive.read(n), image_size) for n in names])
    labels = np.array([0 if n.rsplit("/", 1)[-1].startswith("cat") else 1 for n in names])
    write_split(out_dir, "train", images, labels)
    return {"classes": ["cat", "dog"]}


def prepare_oxford_pets(files: dict[str, Path], out_dir: Path, image_size: int = 64) -> dict:
    with (
        tarfile.open(files["annotations.tar.gz"]) as annotations,
        tarfile.open(files["images.tar.gz"]) as images,
    ):
        for split, listing in (("train", "trainval.txt"), ("test", "test.txt")):
            rows = [
                line.split()
                for line in _tar_member(annotations, f"annotations/{listing}").decode().splitlines()
                if line.strip() and not line.startswith("#")
            ]
            # Column 3 is SPECIES: 1 = cat, 2 = dog.
            write_split(
                out_dir,
                split,
                np.stack([_decode(_tar_member(images, f"images/{row[0]}.jpg"), image_size) for row in rows]),
                np.array([int(row[2]) - 1 for row in rows]),
            )
    return {"classes": ["cat", "dog"]}


# What DatasetSpec.prepare names (tests/test_rehearsal_plan.py prepares every registry entry through it).
READERS = {
    reader.__name__: reader
    for reader in (
        prepare_fashion_mnist,
        prepare_cifar10,
        prepare_cifar100,
        prepare_stl10,
        prepare_tiny_imagenet,
        prepare_cifar10_1,
        prepare_cifar10_c,
        prepare_cifar100_c,
        prepare_dogs_vs_cats,
        prepare_oxford_pets,
    )
}
