"""What the built-in datasets' readers share: pieces of the original formats, read with numpy.

Each dataset's reader is its own module's `read` (cvrepro/data/builtin/<name>.py). They are small
numpy readers rather than torchvision's dataset classes because those verify the md5 of every
inner file, which the tests' small files in the same formats cannot match. The archives
themselves are verified before a reader sees them (`verify.verify_original`, called by the
download rule and again by `prepare_dataset`), and CIFAR's pickles go through a restricted
unpickler.
"""

from __future__ import annotations

import gzip
import io
import tarfile
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from cvrepro.data.datasets.cifar_pickle import load_cifar_batch


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


def tar_member(archive: tarfile.TarFile, name: str) -> bytes:
    try:
        return archive.extractfile(name).read()
    except KeyError:
        raise ValueError(f"{archive.name}: no member {name!r}") from None


# --- CIFAR python pickles (CIFAR-10, CIFAR-100) ---------------------------------------------------


def cifar_images(rows: np.ndarray) -> np.ndarray:
    """CIFAR rows of 3072 bytes (R plane, G plane, B plane; row-major 32x32) -> (N, 32, 32, 3)."""
    return np.asarray(rows, dtype=np.uint8).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)


def unpickle_member(archive: tarfile.TarFile, name: str, *keys: bytes) -> dict:
    # Only numpy arrays are ever rebuilt from these pickles (cifar_pickle); keys come back as bytes.
    return load_cifar_batch(tar_member(archive, name), f"{archive.name}: {name}", keys)


# --- encoded images (Tiny-ImageNet, Dogs vs Cats, Oxford-IIIT Pet) --------------------------------


def decode(data: bytes, size: int | None = None) -> np.ndarray:
    """JPEG/PNG bytes -> RGB uint8 (H, W, 3); resized on the shorter side and centre-cropped to `size`."""
    with Image.open(io.BytesIO(data)) as image:
        image = image.convert("RGB")
        if size is not None:
            image = ImageOps.fit(image, (size, size), method=Image.Resampling.BILINEAR)
        return np.asarray(image, dtype=np.uint8)
