"""What the registry records of a dataset: its files (where from, their checksums and sizes), its
splits and classes, and the plugin that prepares it.

A built-in dataset declares its spec in its own module (cvrepro/data/builtin/<name>.py); a
dataset a study declares gets one from its source (cvrepro/data/sources). Both land in
cvrepro.data.datasets.registry.DATASETS.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class RemoteFile:
    filename: str
    url: str | None  # None: the user must supply the file (Kaggle needs a login)
    md5: str | None  # None only where no checksum is published (see the dataset's notes)
    # md5 of the gunzipped content: accepts a re-compressed copy of the same data (Debian's
    # dataset-fashion-mnist re-packs the .gz files; their content matches upstream's).
    content_md5: str | None = None
    # Bytes, as the host serves the file: what a run will download and store (the fetch plan of
    # cvrepro.report.cost.fetches). Never used to verify a file: the checksums do that.
    size: int | None = None


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    files: tuple[RemoteFile, ...]
    splits: dict[str, int]  # split -> number of images in the real dataset
    num_classes: int
    balanced: bool  # every class has splits[s] / num_classes images in every split
    # The plugin that prepares it, by name, so that only the prepare job imports numpy and PIL: a
    # built-in dataset's own module (cvrepro/data/builtin/<name>.py, whose KIND.read is
    # read(files: {filename: Path}, out_dir, **options) -> {"classes": [...]}), or a declared
    # dataset's source (cvrepro/data/sources/<source>.py).
    prepare: str
    homepage: str
    notes: str = ""
    options: dict[str, Any] = field(default_factory=dict)  # preparation options and defaults
    local_dirs: tuple[str, ...] = ()  # searched for the files before downloading
