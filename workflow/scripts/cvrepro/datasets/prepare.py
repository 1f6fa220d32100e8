"""Prepare every split of a dataset from its original files, into a directory that appears whole."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
from torchvision.datasets.utils import calculate_md5

from cvrepro.datasets.splits import write_info
from cvrepro.datasets.registry import get_dataset


def prepare_dataset(name: str, download_dir: Path, out_dir: Path, options: dict | None = None) -> Path:
    spec = get_dataset(name)
    options = dict(options or {})
    unknown = sorted(set(options) - set(spec.options))
    if unknown:
        raise ValueError(
            f"datasets.{name}.options.{unknown[0]}: unknown option; allowed: {sorted(spec.options) or 'none'}"
        )
    files = {f.filename: Path(download_dir) / f.filename for f in spec.files}
    missing = [str(p) for p in files.values() if not p.is_file()]
    if missing:
        raise FileNotFoundError(f"{name}: missing {missing[0]} (run the download rule first)")
    out_dir = Path(out_dir)
    # Written beside the destination and renamed at the end: a killed prepare leaves no half directory.
    tmp = out_dir.with_name(out_dir.name + ".part")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        extra = spec.prepare(files, tmp, **{**spec.options, **options})
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    splits = {}
    for split in spec.splits:
        labels_file = tmp / split / "labels.npy"
        if labels_file.exists():
            splits[split] = int(len(np.load(labels_file, mmap_mode="r")))
    source = {
        "files": {f.filename: {"url": f.url, "md5": calculate_md5(files[f.filename])} for f in spec.files},
        "options": {**spec.options, **options},
        **{k: v for k, v in extra.items() if k != "classes"},
    }
    write_info(tmp, name, extra["classes"], splits, source)
    if out_dir.exists():
        shutil.rmtree(out_dir)
    os.replace(tmp, out_dir)
    return out_dir
