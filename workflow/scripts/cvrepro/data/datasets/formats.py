"""Writers of the pieces of the original formats that several datasets share: the inverse of
cvrepro.data.datasets.readers.

Each dataset's own layout (its archive's members and names) is written by its module in
cvrepro/data/builtin, with these; the rehearsal writes its synthetic originals so, and the tests
their small files in the real formats. Every writer is deterministic: archives carry fixed
timestamps and owners, so the same arrays always give the same bytes (and md5).
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


def pickled(batch: dict) -> bytes:
    # The published CIFAR batches are Python 2 pickles; Python 3's protocol 4 holds the same dict
    # of bytes keys, lists and one uint8 array (the restricted unpickler reads both).
    return pickle.dumps(batch, protocol=4)


def cifar_batch(name: str, images: np.ndarray, labels: dict[bytes, np.ndarray]) -> bytes:
    """One pickled batch as CIFAR-10 and CIFAR-100 store it: its name, its labels under the
    dataset's keys, then its images as rows (keys in the originals' order)."""
    return pickled(
        {b"batch_label": name.encode(), **{key: value.tolist() for key, value in labels.items()}}
        | {b"data": cifar_rows(images)}
    )


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


def zip_bytes(members: Iterable[tuple[str, bytes]]) -> bytes:
    """A zip archive of (name, bytes) members, each dated 1980-01-01 (zip's earliest)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members:
            archive.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), data)
    return buffer.getvalue()


def write_gzip(path: Path, data: bytes) -> None:
    with open(path, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as stream:
        stream.write(data)


def write_idx_gz(path: Path, array: np.ndarray) -> None:
    """A gzipped IDX file, as Fashion-MNIST's: train-images-idx3-ubyte.gz (N, 28, 28), ...-labels-idx1-ubyte.gz (N,)."""
    write_gzip(path, idx_bytes(array))
