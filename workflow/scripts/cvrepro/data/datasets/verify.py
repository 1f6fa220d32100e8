"""Verify a dataset's original file before any reader opens it: md5 where one is published, else size
and structure.

Readers parse archives, pickles and arrays; a file that is not the published one must never reach
them (CIFAR's batches are pickles, and a pickle can run code). Both the download rule and prepare
call `verify_original`, so a file placed by hand in resources/downloads/ is checked as well.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import zipfile
from collections.abc import Callable
from pathlib import Path

from cvrepro.data.datasets.spec import RemoteFile
from cvrepro.data.datasets.splits import PreparedDataError, read_npy_header


class DataSourceError(Exception):
    """A dataset file could not be obtained or is not the expected one; the message says what to do."""


def file_md5(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def gunzipped_md5(path: Path) -> str | None:
    """md5 of the decompressed content; None when the file is not a complete gzip stream."""
    digest = hashlib.md5()
    try:
        with gzip.open(path, "rb") as f:
            while chunk := f.read(1 << 20):
                digest.update(chunk)
    except (OSError, EOFError):
        return None
    return digest.hexdigest()


def verify_original(path: Path, remote: RemoteFile, what: str | None = None) -> str:
    """Raise DataSourceError (one line, naming `what`, default the path) unless `path` is the
    published file; return its md5 (recorded in info.json)."""
    path, what = Path(path), what or str(path)
    size = path.stat().st_size
    if size == 0:
        raise DataSourceError(f"{what}: the file is empty (an interrupted download?)")
    actual = file_md5(path)
    if remote.md5 is None:
        check = STRUCTURE_CHECKS.get(Path(remote.filename).suffix)
        if check is None:  # a registry entry without md5 must name a kind of file checked here
            raise DataSourceError(f"{what}: no published md5 and no structure check for this kind of file")
        check(path, what)
        return actual
    if actual == remote.md5:
        return actual
    # Debian re-packs Fashion-MNIST's .gz files: the same content under another md5.
    if remote.content_md5 is not None and gunzipped_md5(path) == remote.content_md5:
        return actual
    expected = remote.md5 + (f" (content {remote.content_md5})" if remote.content_md5 else "")
    raise DataSourceError(
        f"{what}: md5 {actual} ({size} bytes) does not match the published md5 {expected}; "
        "the file is truncated, damaged or another version"
    )


def set_aside(path: Path) -> Path:
    """Rename a file that failed verification to <name>.bad (kept for inspection, out of the way)."""
    bad = path.with_name(path.name + ".bad")
    os.replace(path, bad)
    return bad


def _check_npy(path: Path, what: str) -> None:
    """A plain .npy array: valid header, no Python objects, and exactly as many bytes as it declares."""
    try:
        _, dtype = read_npy_header(path)
    except PreparedDataError as error:
        raise DataSourceError(f"{what}: {str(error).removeprefix(f'{path}: ')}") from None
    if dtype.hasobject:
        raise DataSourceError(f"{what}: holds Python objects ({dtype}); only plain numeric arrays are read")


def _check_zip(path: Path, what: str) -> None:
    """A zip archive with an intact central directory (a truncated download loses it first)."""
    if not zipfile.is_zipfile(path):
        raise DataSourceError(f"{what}: not a zip archive (truncated or another file)")


# Checks for files of registry entries whose source publishes no checksum, by file suffix.
STRUCTURE_CHECKS: dict[str, Callable[[Path, str], None]] = {".npy": _check_npy, ".zip": _check_zip}
