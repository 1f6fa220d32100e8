"""Writers of each dataset's original on-disk format: the inverse of cvrepro.data.datasets.readers.

The rehearsal (cvrepro.data.datasets.synthetic) writes its synthetic originals with them, and the tests
write their small files in the real formats with them. Every writer is deterministic: archives
carry fixed timestamps and owners, so the same arrays always give the same bytes (and md5).
"""

from __future__ import annotations

import gzip
import io
import pickle
import tarfile
import zipfile
from collections.abc import Iterable
from pathlib import Path

import numpy as np
from PIL import Image

# The published archives' layout, as the readers expect it.
CIFAR10_ROOT = "cifar-10-batches-py"
CIFAR100_ROOT = "cifar-100-python"
STL10_ROOT = "stl10_binary"
TINY_IMAGENET_ROOT = "tiny-imagenet-200"


# --- bytes of one member ------------------------------------------------------------------------


def npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def jpeg_bytes(image: np.ndarray, quality: int = 95) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def idx_bytes(array: np.ndarray) -> bytes:
    """IDX: magic 0x0000 08 <ndim>, big-endian int32 dimensions, then the uint8 values."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()


def cifar_rows(images: np.ndarray) -> np.ndarray:
    """(N, 32, 32, 3) -> CIFAR's rows of 3072 bytes: the R plane, then G, then B."""
    return np.ascontiguousarray(images.transpose(0, 3, 1, 2).reshape(len(images), -1))


def stl_bytes(images: np.ndarray) -> bytes:
    """STL-10's layout: per image 3 planes, each 96x96 in column-major order."""
    return np.ascontiguousarray(images.transpose(0, 3, 2, 1)).tobytes()


# --- deterministic archives ------------------------------------------------------------------------


def add_to_tar(archive: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)  # mtime 0, uid/gid 0: the same bytes on every machine
    info.size = len(data)
    archive.addfile(info, io.BytesIO(data))


def write_tar(path: Path, members: Iterable[tuple[str, bytes]], gz: bool) -> None:
    """A tar archive (gzipped when `gz`, with gzip's own timestamp fixed) of (name, bytes) members."""
    with open(path, "wb") as raw:
        stream = gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) if gz else raw
        with tarfile.open(fileobj=stream, mode="w", format=tarfile.USTAR_FORMAT) as archive:
            for name, data in members:
                add_to_tar(archive, name, data)
        if gz:
            stream.close()


def write_zip(path: Path, members: Iterable[tuple[str, bytes]]) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members:
            archive.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), data)


def write_gzip(path: Path, data: bytes) -> None:
    with open(path, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as stream:
        stream.write(data)


# --- one writer per format -----------------------------------------------------------------------


def write_idx_gz(path: Path, array: np.ndarray) -> None:
    """Fashion-MNIST's files: train-images-idx3-ubyte.gz (N, 28, 28), ...-labels-idx1-ubyte.gz (N,)."""
    write_gzip(path, idx_bytes(array))


def _pickled(batch: dict) -> bytes:
    # The published batches are Python 2 pickles; Python 3's protocol 4 holds the same dict of
    # bytes keys, lists and one uint8 array (the restricted unpickler reads both).
    return pickle.dumps(batch, protocol=4)


def write_cifar10_tar(
    path: Path,
    train: tuple[np.ndarray, np.ndarray],
    test: tuple[np.ndarray, np.ndarray],
    class_names: list[str],
    batches: int = 5,
) -> None:
    """cifar-10-python.tar.gz: data_batch_1..5 (train split in five), test_batch, batches.meta."""
    images, labels = train
    members = []
    for i, part in enumerate(np.array_split(np.arange(len(labels)), batches), start=1):
        batch = _cifar_batch(f"training batch {i} of {batches}", images[part], {b"labels": labels[part]})
        members.append((f"{CIFAR10_ROOT}/data_batch_{i}", batch))
    batch = _cifar_batch("testing batch 1 of 1", test[0], {b"labels": test[1]})
    members.append((f"{CIFAR10_ROOT}/test_batch", batch))
    meta = {b"label_names": [n.encode() for n in class_names], b"num_cases_per_batch": len(labels) // batches}
    members.append((f"{CIFAR10_ROOT}/batches.meta", _pickled(meta)))
    write_tar(path, members, gz=True)


def _cifar_batch(name: str, images: np.ndarray, labels: dict[bytes, np.ndarray]) -> bytes:
    """One pickled batch as CIFAR-10 and CIFAR-100 store it: its name, its labels under the
    dataset's keys, then its images as rows (keys in the originals' order)."""
    return _pickled(
        {b"batch_label": name.encode(), **{key: value.tolist() for key, value in labels.items()}}
        | {b"data": cifar_rows(images)}
    )


def write_cifar100_tar(
    path: Path,
    train: tuple[np.ndarray, np.ndarray],
    test: tuple[np.ndarray, np.ndarray],
    fine_names: list[str],
    coarse_names: list[str],
) -> None:
    """cifar-100-python.tar.gz: train and test (fine and coarse labels), meta."""
    members = []
    for split, (images, labels) in (("train", train), ("test", test)):
        coarse = labels % len(coarse_names)
        batch = _cifar_batch(
            f"{split}ing batch 1 of 1", images, {b"fine_labels": labels, b"coarse_labels": coarse}
        )
        members.append((f"{CIFAR100_ROOT}/{split}", batch))
    meta = {
        b"fine_label_names": [n.encode() for n in fine_names],
        b"coarse_label_names": [n.encode() for n in coarse_names],
    }
    members.append((f"{CIFAR100_ROOT}/meta", _pickled(meta)))
    write_tar(path, members, gz=True)


def write_stl10_tar(
    path: Path,
    train: tuple[np.ndarray, np.ndarray],
    test: tuple[np.ndarray, np.ndarray],
    unlabeled: np.ndarray,
    class_names: list[str],
) -> None:
    """stl10_binary.tar.gz: {train,test}_X.bin (column-major planes), {train,test}_y.bin (labels
    1..10), unlabeled_X.bin, class_names.txt."""
    members = []
    for split, (images, labels) in (("train", train), ("test", test)):
        members.append((f"{STL10_ROOT}/{split}_X.bin", stl_bytes(images)))
        members.append((f"{STL10_ROOT}/{split}_y.bin", (labels + 1).astype(np.uint8).tobytes()))
    members.append((f"{STL10_ROOT}/unlabeled_X.bin", stl_bytes(unlabeled)))
    members.append((f"{STL10_ROOT}/class_names.txt", ("\n".join(class_names) + "\n").encode()))
    write_tar(path, members, gz=True)


def write_tiny_imagenet_zip(
    path: Path,
    words: dict[str, str],
    train: list[tuple[np.ndarray, str]],
    val: list[tuple[np.ndarray, str]],
) -> None:
    """tiny-imagenet-200.zip: wnids.txt, words.txt, train/<wnid>/images/<wnid>_<i>.JPEG with
    <wnid>_boxes.txt, val/images/val_<i>.JPEG listed in val/val_annotations.txt. `words`: wnid ->
    its words (every class; wnids.txt lists them in this order); train and val: (image, wnid)."""
    root = TINY_IMAGENET_ROOT
    members = [
        (f"{root}/wnids.txt", ("\n".join(words) + "\n").encode()),
        (f"{root}/words.txt", "".join(f"{w}\t{text}\n" for w, text in words.items()).encode()),
    ]
    seen: dict[str, int] = {}
    for image, wnid in train:
        i = seen[wnid] = seen.get(wnid, -1) + 1
        members.append((f"{root}/train/{wnid}/images/{wnid}_{i}.JPEG", jpeg_bytes(image)))
    for wnid in seen:
        members.append((f"{root}/train/{wnid}/{wnid}_boxes.txt", b""))
    annotations = []
    for i, (image, wnid) in enumerate(val):
        members.append((f"{root}/val/images/val_{i}.JPEG", jpeg_bytes(image)))
        side = image.shape[0]
        annotations.append(f"val_{i}.JPEG\t{wnid}\t0\t0\t{side - 1}\t{side - 1}\n")
    members.append((f"{root}/val/val_annotations.txt", "".join(annotations).encode()))
    write_zip(path, members)


def write_cifar10_1(data_path: Path, labels_path: Path, images: np.ndarray, labels: np.ndarray) -> None:
    """CIFAR-10.1 v6: cifar10.1_v6_data.npy (N, 32, 32, 3) uint8 and cifar10.1_v6_labels.npy."""
    Path(data_path).write_bytes(npy_bytes(images.astype(np.uint8)))
    Path(labels_path).write_bytes(npy_bytes(labels.astype(np.int64)))


def write_cifar_c_tar(path: Path, root: str, corrupted: dict[str, np.ndarray], labels: np.ndarray) -> None:
    """CIFAR-10-C.tar / CIFAR-100-C.tar: <root>/<corruption>.npy, severities 1..5 stacked (5 x N
    images), and <root>/labels.npy in the same order (5 x N)."""
    members = [
        (f"{root}/{name}.npy", npy_bytes(images.astype(np.uint8))) for name, images in corrupted.items()
    ]
    members.append((f"{root}/labels.npy", npy_bytes(labels.astype(np.int64))))
    write_tar(path, members, gz=False)


def write_oxford_pets(
    images_path: Path, annotations_path: Path, splits: dict[str, list[tuple[str, int, int, np.ndarray]]]
) -> None:
    """images.tar.gz (images/<name>.jpg) and annotations.tar.gz (annotations/trainval.txt,
    test.txt, list.txt; rows 'Image CLASS-ID SPECIES BREED-ID', SPECIES 1 = cat, 2 = dog).
    `splits`: trainval.txt / test.txt -> [(image name, class id, species, image)]."""
    header = "#Image CLASS-ID SPECIES BREED ID\n#ID: 1:37 Class ids\n#SPECIES: 1:Cat 2:Dog\n"
    listings = {
        listing: "".join(f"{name} {cls} {species} 1\n" for name, cls, species, _ in rows)
        for listing, rows in splits.items()
    }
    all_rows = "".join(listings.values())
    members = [(f"annotations/{listing}", text.encode()) for listing, text in listings.items()]
    write_tar(annotations_path, [*members, ("annotations/list.txt", (header + all_rows).encode())], gz=True)
    images = [
        (f"images/{name}.jpg", jpeg_bytes(image)) for rows in splits.values() for name, *_, image in rows
    ]
    write_tar(images_path, images, gz=True)


def kaggle_zip_bytes(images: list[tuple[str, np.ndarray]], nested: bool = False) -> bytes:
    """Kaggle's dogs-vs-cats train.zip (train/cat.<i>.jpg, train/dog.<i>.jpg), or, `nested`, the
    competition's zip holding train.zip, test1.zip and sampleSubmission.csv."""
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as archive:
        counts: dict[str, int] = {}
        for animal, image in images:
            i = counts[animal] = counts.get(animal, -1) + 1
            archive.writestr(
                zipfile.ZipInfo(f"train/{animal}.{i}.jpg", (1980, 1, 1, 0, 0, 0)), jpeg_bytes(image)
            )
    if not nested:
        return inner.getvalue()
    outer = io.BytesIO()
    with zipfile.ZipFile(outer, "w") as archive:
        for name, data in (
            ("train.zip", inner.getvalue()),
            ("test1.zip", b""),
            ("sampleSubmission.csv", b"id,label\n"),
        ):
            archive.writestr(zipfile.ZipInfo(name, (1980, 1, 1, 0, 0, 0)), data)
    return outer.getvalue()
