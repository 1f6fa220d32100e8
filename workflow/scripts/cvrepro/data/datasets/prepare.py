"""Prepare every split of a dataset from its verified original files, into a directory that appears whole."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np

from cvrepro.data.builtin import BUILTIN
from cvrepro.data.datasets.registry import get_dataset
from cvrepro.data.datasets.spec import DatasetSpec
from cvrepro.data.datasets.splits import load_split, write_info
from cvrepro.data.datasets.verify import DataSourceError, set_aside, verify_original


def prepare_dataset(
    name: str,
    download_dir: Path,
    out_dir: Path,
    options: dict | None = None,
    spec: DatasetSpec | None = None,
    set_aside_bad: bool = False,
) -> Path:
    """Verify the originals in `download_dir`, then read them into `out_dir`.

    `spec` defaults to the registry's entry (tests pass one declaring the md5 of their own small
    files). With `set_aside_bad` (the workflow's resources/downloads/), a file that fails
    verification is renamed to <name>.bad so that the download rule fetches it again; otherwise
    the caller's file is left where it is. An existing `out_dir` is replaced only by a complete,
    checked preparation: nothing that fails deletes it.
    """
    spec = spec or get_dataset(name)
    options = dict(options or {})
    unknown = sorted(set(options) - set(spec.options))
    if unknown:
        raise ValueError(
            f"datasets.{name}.options.{unknown[0]}: unknown option; allowed: {sorted(spec.options) or 'none'}"
        )
    md5s = verified_originals(spec, Path(download_dir), set_aside_bad)
    files = {filename: Path(download_dir) / filename for filename in md5s}
    out_dir = Path(out_dir)
    # Written beside the destination and renamed at the end: a killed prepare leaves no half directory.
    tmp = out_dir.with_name(out_dir.name + ".part")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        extra = BUILTIN[spec.prepare].read(files, tmp, **{**spec.options, **options})
        splits = {
            split: int(len(np.load(tmp / split / "labels.npy", mmap_mode="r")))
            for split in spec.splits
            if (tmp / split / "labels.npy").exists()
        }
        source = {
            "files": {f.filename: {"url": f.url, "md5": md5s[f.filename]} for f in spec.files},
            "options": {**spec.options, **options},
            **{k: v for k, v in extra.items() if k != "classes"},
        }
        write_info(tmp, name, extra["classes"], splits, source)
        for split in splits:  # the contract every reader relies on, checked before it replaces anything
            load_split(tmp, split)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _replace_dir(tmp, out_dir)
    return out_dir


def verified_originals(spec: DatasetSpec, download_dir: Path, set_aside_bad: bool) -> dict[str, str]:
    """{filename: md5} of the dataset's files, each verified before any reader may open it."""
    paths = {f.filename: download_dir / f.filename for f in spec.files}
    missing = [str(p) for p in paths.values() if not p.is_file()]
    if missing:
        raise FileNotFoundError(f"{spec.name}: missing {missing[0]} (run the download rule first)")
    md5s = {}
    for remote in spec.files:
        path = paths[remote.filename]
        try:
            md5s[remote.filename] = verify_original(path, remote)
        except DataSourceError as error:
            if not set_aside_bad:
                raise DataSourceError(f"{error}; replace it with a good copy") from None
            bad = set_aside(path)
            raise DataSourceError(
                f"{error}; moved aside to {bad}: the workflow's next run fetches it again "
                f"(or place a good copy at {path})"
            ) from None
    return md5s


def _replace_dir(new: Path, dest: Path) -> None:
    """Put `new` at `dest`; the old `dest` is removed only once `new` is in place."""
    old = dest.with_name(dest.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if dest.exists():
        os.replace(dest, old)
    os.replace(new, dest)
    shutil.rmtree(old, ignore_errors=True)
