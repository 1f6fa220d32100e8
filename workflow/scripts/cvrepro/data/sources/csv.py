"""`source: csv`: a manifest of `path,label[,split]` rows, as mmpretrain's `ann_file`.

Paths are relative to the CSV's folder or absolute. Labels are class names (numbered in sorted
order, as ImageFolder numbers folders, unless `classes` lists them) or integers (into `classes`,
or 0..max). A first row `path,label[,split]` is a header. Without a split column, the
declaration's `split` fractions divide the rows as they divide a folder. Rows keep the file's
order within each split.
"""

from __future__ import annotations

import csv as csv_module
import os
from pathlib import Path

from cvrepro.data.sources._walk import split_tree
from cvrepro.data.sources.kind import Listing, SourceError, SourceKind

SPLITS = ("train", "val", "test")


def listing(name: str, entry: dict) -> Listing:
    key = f"datasets.{name}"
    path = Path(entry["path"])
    if not path.is_file():
        raise SourceError(
            f"{key}.path: CSV file {str(path)!r} does not exist (relative paths start at the working "
            f"directory, {Path.cwd()}); create it or correct the path"
        )
    rows = _rows(path)
    if not rows:
        raise SourceError(f"{path}: no rows; write one `path,label[,split]` row per image")
    classes, labels = _labels(path, rows, entry["classes"])
    items = [(file, label) for (_, file, _, _), label in zip(rows, labels, strict=True)]
    if rows[0][3] is None:
        if not entry["split"]:
            return Listing(classes, {"train": items})
        positions = split_tree(labels, classes, entry["split"], entry["seed"], key)
        return Listing(classes, {split: [items[i] for i in chosen] for split, chosen in positions.items()})
    if entry["split"]:
        raise SourceError(f"{key}.split: {path} has a split column already; drop `split`")
    splits = {s: [item for item, row in zip(items, rows, strict=True) if row[3] == s] for s in SPLITS}
    splits = {s: listed for s, listed in splits.items() if listed}
    if "train" in splits:
        trained = {label for _, label in splits["train"]}
        for split in ("val", "test"):
            alone = sorted({label for _, label in splits.get(split, [])} - trained)
            if alone:
                raise SourceError(
                    f"{path}: class {classes[alone[0]]!r} has rows only in split {split!r}, none in "
                    "'train'; add its training rows or remove it"
                )
    return Listing(classes, splits)


def _rows(path: Path) -> list[tuple[int, str, str, str | None]]:
    """(line, resolved path, label, split or None) per row, each checked."""
    base = path.parent
    rows, seen = [], {}
    with open(path, newline="", encoding="utf-8") as f:
        for line, row in enumerate(csv_module.reader(f), start=1):
            if not row or (len(row) == 1 and not row[0].strip()):
                continue
            if line == 1 and row[0].strip().lower() == "path":
                continue
            if len(row) not in (2, 3) or (rows and (len(row) == 3) != (rows[0][3] is not None)):
                width = 2 if not rows else 2 + (rows[0][3] is not None)
                raise SourceError(
                    f"{path}:{line}: {len(row)} columns; every row needs "
                    f"{'path,label' if width == 2 else 'path,label,split'} (as the first row)"
                )
            file, label = row[0].strip(), row[1].strip()
            if not file:
                raise SourceError(f"{path}:{line}: no path in the first column; give the image's path")
            full = os.path.normpath(file if os.path.isabs(file) else base / file)
            if not os.path.isfile(full):
                raise SourceError(
                    f"{path}:{line}: {file} does not exist (relative to {base}); fix or remove the row"
                )
            if full in seen:
                raise SourceError(
                    f"{path}:{line}: {file} is listed already on line {seen[full]}; remove one row"
                )
            seen[full] = line
            split = row[2].strip() if len(row) == 3 else None
            if split is not None and split not in SPLITS:
                raise SourceError(f"{path}:{line}: split {split!r}; use one of {', '.join(SPLITS)}")
            rows.append((line, full, label, split))
    return rows


def _labels(path: Path, rows: list, declared: list[str] | None) -> tuple[list[str], list[int]]:
    raw = [row[2] for row in rows]
    integers = all(label.lstrip("-").isdigit() for label in raw)
    if integers:
        values = [int(label) for label in raw]
        classes = declared or [str(i) for i in range(max(values) + 1)]
        for (line, *_), value in zip(rows, values, strict=True):
            if not 0 <= value < len(classes):
                raise SourceError(
                    f"{path}:{line}: label {value} is not a class index 0..{len(classes) - 1}; fix the row"
                    + ("" if declared else " (or list the classes under `classes`)")
                )
        return classes, values
    classes = declared or sorted(set(raw))
    index = {name: i for i, name in enumerate(classes)}
    for line, _, label, _ in rows:
        if label not in index:
            raise SourceError(
                f"{path}:{line}: unknown label {label!r}; it is not in `classes` ({', '.join(classes[:5])}"
                f"{', ...' if len(classes) > 5 else ''}); fix the row or add the class"
            )
    return classes, [index[label] for label in raw]


KIND = SourceKind(listing=listing, describe="a CSV manifest of path,label[,split] rows")
