"""What every built-in dataset declares (BuiltinDataset): its spec, its reader and how a rehearsal
writes its synthetic originals.

A built-in dataset is one module of this package, named as a study's subsets name the dataset
(`dataset: cifar10` is cifar10.py). Its reader and its writers import numpy and PIL inside their
functions: the registry is read while Snakemake parses the workflow.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from cvrepro.data.datasets.spec import DatasetSpec

if TYPE_CHECKING:
    import numpy as np

# read(files: {filename: verified original}, out_dir, **options) writes every split through
# splits.write_split and returns {"classes": [...], ...}: the rest of it joins info.json's source.
Reader = Callable[..., dict]


@dataclass(frozen=True)
class Rehearsal:
    """The dataset's synthetic stand-in (cvrepro.data.datasets.synthetic): the same files, formats,
    splits and class names, with a few images per class, noise tinted by class.

    per_class: images per class in each labelled split; unlabelled: images in each unlabelled one.
    side, channels: the images as the reader returns them. class_major: the splits whose reader
    sorts its files by name, so their labels run 0, 0, ..., 1, 1, ... (else 0, 1, ..., 0, 1, ...).
    write(filename, dest): write that original file of the dataset, synthetic. labels(split),
    images(split): where a split is not drawn from per_class as above (None: it is).
    """

    side: int
    write: Callable[[str, Path], None]
    per_class: dict[str, int] = field(default_factory=dict)
    unlabelled: dict[str, int] = field(default_factory=dict)
    channels: int = 3
    class_major: tuple[str, ...] = ()
    labels: Callable[[str], np.ndarray] | None = None
    images: Callable[[str], np.ndarray] | None = None


@dataclass(frozen=True)
class BuiltinDataset:
    """spec: files, URLs, checksums, sizes, splits, class count and preparation options (its name
    and `prepare` are the module's name). read: its reader. rehearsal: its synthetic originals.
    class_names: the names its reader writes where they are fixed (the config checks the classes
    an activation figure names against them); None: read from the files when prepared."""

    spec: DatasetSpec
    read: Reader
    rehearsal: Rehearsal
    class_names: tuple[str, ...] | None = None
