"""Datasets a study declares (its `datasets:` section): one module per source in this package
(folder, csv, torchvision), each defining KIND (kind.py's SourceKind), found by discovery.

`declare` lists a declaration while Snakemake parses the workflow and enters it in the dataset
registry (cvrepro.data.datasets.registry.DATASETS) with its real split sizes and class count, so
subsets use its name as they use `cifar10` and every size check runs on it before any job. The
prepare job (`_prepare.prepare_declared`) decodes each image once into the prepared form every
built-in dataset has, and writes the data card.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from cvrepro.data.datasets.registry import DATASETS
from cvrepro.data.datasets.spec import DatasetSpec
from cvrepro.data.sources.kind import UNKNOWN, Listing, SourceError, SourceKind
from cvrepro.study.plugins import discover

SOURCES: dict[str, SourceKind] = discover(__name__, __path__)  # type: ignore[assignment]
REHEARSAL_PER_CLASS = 4  # a rehearsal prepares the first images of each class of each split


@dataclass(frozen=True)
class Declared:
    entry: dict
    listing: Listing
    where: str  # the study that declared it first


DECLARED: dict[str, Declared] = {}


def declare(name: str, entry: dict, where: str) -> DatasetSpec:
    """List `entry` (a study's datasets.<name>, schema-filled) and register it; a built-in name or
    a second, different declaration of the same name is a SourceError."""
    known = DECLARED.get(name)
    if known is not None:
        if known.entry != entry:
            raise SourceError(
                f"datasets.{name}: {known.where} declares a different dataset of that name "
                "(both would prepare into the same folder); rename one"
            )
        return DATASETS[name]
    if name in DATASETS:
        raise SourceError(f"datasets.{name}: {name!r} is a built-in dataset; choose another name")
    listing = cached_listing(name, entry)
    spec = DatasetSpec(
        name=name,
        files=(),
        splits={
            split: len(items) if listing.sizes_known else UNKNOWN for split, items in listing.splits.items()
        },
        num_classes=len(listing.classes) if listing.sizes_known else UNKNOWN,
        balanced=False,
        prepare=entry["source"],
        homepage=str(entry["path"]),
        notes=SOURCES[entry["source"]].describe,
        # What the prepare job receives (its params): the declaration and a digest of the listing,
        # so that added, removed or relabelled files prepare again.
        options={**entry, "listing": listing_digest(listing)},
    )
    DECLARED[name] = Declared(entry, listing, where)
    DATASETS[name] = spec
    return spec


def cached_listing(name: str, entry: dict) -> Listing:
    return SOURCES[entry["source"]].listing(name, entry)


def listing_digest(listing: Listing) -> str:
    text = json.dumps([listing.classes, listing.splits], sort_keys=True)
    return hashlib.sha1(text.encode()).hexdigest()[:16]


def rehearsal_cut(listing: Listing) -> Listing:
    """The first REHEARSAL_PER_CLASS images of each class of each split (all classes kept)."""
    splits = {}
    for split, items in listing.splits.items():
        taken: dict[int, int] = {}
        kept = []
        for path, label in items:
            if taken.get(label, 0) < REHEARSAL_PER_CLASS:
                taken[label] = taken.get(label, 0) + 1
                kept.append((path, label))
        splits[split] = kept
    return Listing(listing.classes, splits, listing.sizes_known, listing.extra)


def rehearsal_labels(name: str, split: str) -> list[int]:
    """Labels of a declared dataset's split as its rehearsal prepares it."""
    return [label for _, label in rehearsal_cut(DECLARED[name].listing).splits[split]]


def is_declared(options: dict) -> bool:
    """Whether a prepare job's options are a declaration (else a built-in's preparation options)."""
    return "source" in options and "listing" in options


__all__ = ["DECLARED", "SOURCES", "SourceError", "declare", "is_declared", "rehearsal_labels"]
