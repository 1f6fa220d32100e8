"""Decode each image once: EXIF orientation, mode conversion, resizing; in parallel on all cores.

Every file becomes uint8 (H, W, C) with C = the declaration's `channels` (1: grey, 3: RGB), as
torchvision's loader would give it (`Image.convert`), except 16-bit images, which are scaled to
8 bits (convert would clip them). What was converted is recorded per image for the data card.
A file Pillow cannot read (not an image, empty, truncated, larger than Pillow's pixel limit) is
returned with its reason instead of pixels.
"""

from __future__ import annotations

import hashlib
import io
import os
import sys
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from functools import partial

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

SIXTEEN_BIT = ("I;16", "I;16B", "I;16L", "I;16N", "I")
PARALLEL_FROM = 256  # fewer images decode faster in this process than a pool starts


@dataclass(frozen=True)
class Decoded:
    image: np.ndarray | None  # None: unreadable (see error)
    size: tuple[int, int]  # (width, height) before resizing
    conversions: tuple[str, ...]
    digest: str  # sha1 of the file's bytes (of the pixels where there is no file)
    error: str | None = None


def settings_of(entry: dict) -> dict:
    """What a worker needs from the declaration; Pillow's pixel limit travels with it."""
    resize = entry["resize"]
    return {
        "size": resize["size"] if resize else None,
        "mode": resize["mode"] if resize else None,
        "channels": entry["channels"],
        "max_pixels": Image.MAX_IMAGE_PIXELS,
    }


def convert(image: Image.Image, settings: dict) -> tuple[np.ndarray, tuple[str, ...]]:
    """A PIL image -> uint8 (H, W, C) as declared, and what was done to it."""
    done = []
    oriented = ImageOps.exif_transpose(image)
    if oriented is not image and image.getexif().get(0x0112, 1) != 1:
        done.append("EXIF orientation applied")
    image = oriented
    target = "L" if settings["channels"] == 1 else "RGB"
    if image.mode in SIXTEEN_BIT or image.mode == "F":
        values = np.asarray(image, dtype=np.float64)
        if image.mode != "F" and (image.mode != "I" or values.max() > 255):
            values = values / 257.0
        done.append(f"{image.mode} (16-bit) scaled to 8-bit")
        image = Image.fromarray(np.clip(np.round(values), 0, 255).astype(np.uint8), "L")
    if image.mode != target:
        note = " (alpha dropped)" if "A" in image.mode or "transparency" in image.info else ""
        done.append(f"{image.mode} to {target}{note}")
        image = image.convert(target)
    size = settings["size"]
    if size is not None and image.size != (size, size):
        done.append(f"{settings['mode']} to {size}x{size}")
        if settings["mode"] == "crop":
            image = ImageOps.fit(image, (size, size), method=Image.Resampling.BILINEAR)
        elif settings["mode"] == "pad":
            image = ImageOps.pad(image, (size, size), method=Image.Resampling.BILINEAR, color=0)
        else:
            image = image.resize((size, size), Image.Resampling.BILINEAR)
    array = np.asarray(image, dtype=np.uint8)
    return (array[..., None] if array.ndim == 2 else array), tuple(done)


def decode_file(path: str, settings: dict) -> Decoded:
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as error:
        return Decoded(None, (0, 0), (), "", f"cannot be read ({error.strerror or error})")
    digest = hashlib.sha1(data).hexdigest()
    if not data:
        return Decoded(None, (0, 0), (), digest, "empty file (0 bytes)")
    Image.MAX_IMAGE_PIXELS = settings["max_pixels"]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                size = image.size
                image.load()
                array, done = convert(image, settings)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        return Decoded(
            None,
            (0, 0),
            (),
            digest,
            f"more pixels than Pillow's limit of {settings['max_pixels']} (a decompression bomb?)",
        )
    except UnidentifiedImageError:
        return Decoded(None, (0, 0), (), digest, "not an image Pillow can read")
    except (OSError, SyntaxError, ValueError) as error:
        reason = " ".join(str(error).split()) or type(error).__name__
        return Decoded(None, (0, 0), (), digest, f"damaged or truncated ({reason})")
    return Decoded(array, size, done, digest)


def decode_all(paths: list[str], settings: dict, label: str, workers: int) -> list[Decoded]:
    """decode_file of every path, in order, on `workers` processes, with a progress line."""
    work = partial(decode_file, settings=settings)
    started, out = time.monotonic(), []
    step = max(1, -(-len(paths) // 10))  # about ten lines a split
    if workers <= 1 or len(paths) < PARALLEL_FROM:
        results = map(work, paths)
        pool = None
    else:
        pool = ProcessPoolExecutor(max_workers=workers)
        results = pool.map(work, paths, chunksize=max(1, min(256, len(paths) // (4 * workers))))
    try:
        for done, result in enumerate(results, start=1):
            out.append(result)
            if done % step == 0 or done == len(paths):
                rate = done / max(time.monotonic() - started, 1e-9)
                print(
                    f"{label}: {done}/{len(paths)} images decoded ({rate:.0f}/s)", file=sys.stderr, flush=True
                )
    finally:
        if pool is not None:
            pool.shutdown()
    return out


def cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1
