"""Fetch a dataset's original file: a verified local copy if there is one, else a download.

The file appears at its destination only once complete and verified (temporary name, then
os.replace), so a killed download is never mistaken for a finished one.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

from torchvision.datasets.utils import download_url

from cvrepro.data.datasets.registry import DATASETS
from cvrepro.data.datasets.spec import DatasetSpec, RemoteFile
from cvrepro.data.datasets.verify import DataSourceError, verify_original

__all__ = ["DataSourceError", "fetch", "find_file"]


def find_file(spec: DatasetSpec, filename: str) -> RemoteFile:
    for remote in spec.files:
        if remote.filename == filename:
            return remote
    raise DataSourceError(
        f"{spec.name} has no file {filename!r}; its files are {[f.filename for f in spec.files]}"
    )


def fetch(spec: DatasetSpec, filename: str, dest: Path, search_dirs: Sequence[Path] = ()) -> Path:
    remote = find_file(spec, filename)
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    for directory in [*map(Path, search_dirs), *map(Path, spec.local_dirs)]:
        candidate = directory / filename
        if candidate.is_file():
            verify_original(candidate, remote, f"{candidate} (a local copy)")
            _copy_atomic(candidate, dest)
            return dest
    if remote.url is None:
        raise DataSourceError(
            f"{spec.name}: {filename} cannot be downloaded automatically ({spec.homepage}; a login is needed): "
            f"download it by hand and place it at {dest}, or set datasets.{spec.name}.source_dir to its directory"
        )
    _download_atomic(spec, remote, dest)
    return dest


def fetch_synthetic(name: str, filename: str, dest: Path) -> Path:
    """A rehearsal's stand-in for `filename`: the synthetic file in the same format (written as
    the dataset's module declares, cvrepro/data/builtin/<name>.py, with cvrepro.data.datasets.
    synthetic), put in place atomically; prepare verifies it against the checksum of the
    synthetic file written again."""
    from cvrepro.data.datasets.synthetic import write_original

    find_file(DATASETS[name], filename)  # one of the dataset's files, or a one-line error
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part") as tmp:
        written = Path(tmp) / filename
        write_original(name, filename, written)
        os.replace(written, dest)
    return dest


def _copy_atomic(source: Path, dest: Path) -> None:
    with tempfile.NamedTemporaryFile(
        dir=dest.parent, prefix=f".{dest.name}.", suffix=".part", delete=False
    ) as tmp:
        tmp_path = Path(tmp.name)
    try:
        shutil.copyfile(source, tmp_path)
        os.replace(tmp_path, dest)
    finally:
        tmp_path.unlink(missing_ok=True)


def _download_atomic(spec: DatasetSpec, remote: RemoteFile, dest: Path) -> None:
    # A fresh temporary directory per attempt: a leftover from a killed download is never reused.
    with tempfile.TemporaryDirectory(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part") as tmp:
        try:
            download_url(remote.url, root=tmp, filename=remote.filename, md5=None)
        except Exception as error:  # URLError, HTTPError, socket errors, torchvision's RuntimeError
            reason = " ".join(str(error).split()) or type(error).__name__
            raise DataSourceError(
                f"{spec.name}: could not download {remote.filename} from {remote.url} ({reason}); "
                f"download it by hand and place it at {dest}, or set datasets.{spec.name}.source_dir to its directory"
            ) from None
        downloaded = Path(tmp) / remote.filename
        verify_original(downloaded, remote, f"{remote.filename} downloaded from {remote.url}")
        os.replace(downloaded, dest)
