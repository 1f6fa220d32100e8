"""Image files under a folder as torchvision's ImageFolder finds them, and the split of one tree.

Order: sorted directories, then sorted file names in each (ImageFolder's `make_dataset`);
links are followed (a loop is an error, not a hang); hidden files and folders (`.DS_Store`,
`._x.jpg`, `.ipynb_checkpoints/`) and files without an image extension (`Thumbs.db`,
`notes.txt`) are skipped; extensions match in any case (`IMG_0001.JPG`).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from cvrepro.data.sources.kind import IMAGE_EXTENSIONS, SourceError


def is_image_name(name: str) -> bool:
    return not name.startswith(".") and name.lower().endswith(IMAGE_EXTENSIONS)


def subfolders(folder: Path) -> list[str]:
    """Visible sub-folder names of `folder`, sorted (ImageFolder's `find_classes`)."""
    with os.scandir(folder) as entries:
        return sorted(e.name for e in entries if not e.name.startswith(".") and e.is_dir())


def image_files(folder: Path, key: str) -> list[str]:
    """Every image file under `folder` (its sub-folders too), sorted as ImageFolder sorts them."""
    found: list[tuple[str, list[str]]] = []
    _walk(str(folder), set(), found, key)
    return [os.path.join(root, name) for root, names in sorted(found) for name in names]


def _walk(root: str, chain: set[str], found: list, key: str) -> None:
    real = os.path.realpath(root)
    if real in chain:
        raise SourceError(
            f"{key}: {root} links back to {real} (a symlink loop); remove the link or point it elsewhere"
        )
    names, folders = [], []
    with os.scandir(root) as entries:
        for entry in entries:
            if entry.name.startswith("."):
                continue
            if entry.is_dir():
                folders.append(entry.path)
            elif is_image_name(entry.name):
                names.append(entry.name)
    found.append((root, sorted(names)))
    for sub in folders:
        _walk(sub, chain | {real}, found, key)


def split_tree(
    labels: list[int], classes: list[str], fractions: dict, seed: int, key: str
) -> dict[str, list[int]]:
    """Positions of each split of one tree: per class, `test` and `val` fractions drawn with
    `seed` (stratified), the rest train; each split keeps the listing's order."""
    rng = np.random.default_rng(seed)
    labels_array = np.asarray(labels)
    chosen: dict[str, list[int]] = {"train": [], "val": [], "test": []}
    for c, name in enumerate(classes):
        members = np.flatnonzero(labels_array == c)
        order = rng.permutation(members)
        sizes = {split: int(round((fractions.get(split) or 0) * len(members))) for split in ("test", "val")}
        for split, n in sizes.items():
            if (fractions.get(split) or 0) > 0 and n == 0:
                raise SourceError(
                    f"{key}.split.{split}: {fractions[split]} of class {name!r} ({len(members)} images) "
                    "rounds to no image; add images to it or lower the fraction"
                )
        if len(members) - sizes["test"] - sizes["val"] < 1:
            raise SourceError(
                f"{key}.split: test {fractions.get('test') or 0} + val {fractions.get('val') or 0} leave class "
                f"{name!r} ({len(members)} images) no training image; lower the fractions"
            )
        chosen["test"] += order[: sizes["test"]].tolist()
        chosen["val"] += order[sizes["test"] : sizes["test"] + sizes["val"]].tolist()
        chosen["train"] += order[sizes["test"] + sizes["val"] :].tolist()
    return {split: sorted(positions) for split, positions in chosen.items() if positions}
