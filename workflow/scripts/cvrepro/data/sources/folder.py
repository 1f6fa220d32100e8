"""`source: folder`: torchvision's ImageFolder layout, one sub-folder per class.

Either split folders (`train/`, `val/`, `test/`, each holding the class folders) or one tree
that the declaration's `split: {test: 0.2, val: 0.1}` divides (stratified, seeded; the files of
each split are saved beside the prepared arrays). Class index = the sorted class folder names,
as ImageFolder numbers them. `labels: none` reads every image under the folder, nested or flat,
as one unlabelled split for pretraining.
"""

from __future__ import annotations

from pathlib import Path

from cvrepro.data.sources._walk import image_files, split_tree, subfolders
from cvrepro.data.sources.kind import IMAGE_EXTENSIONS, UNLABELLED_SPLIT, Listing, SourceError, SourceKind

SPLIT_FOLDERS = ("train", "val", "test")
EXTENSIONS = ", ".join(IMAGE_EXTENSIONS)


def listing(name: str, entry: dict) -> Listing:
    key = f"datasets.{name}"
    root = Path(entry["path"])
    if not root.is_dir():
        raise SourceError(
            f"{key}.path: folder {str(root)!r} does not exist (relative paths start at the working "
            f"directory, {Path.cwd()}); create it or correct the path"
        )
    if entry["labels"] == "none":
        files = image_files(root, f"{key}.path")
        if not files:
            raise SourceError(f"{key}.path: {root} holds no image file ({EXTENSIONS})")
        return Listing([], {UNLABELLED_SPLIT: [(f, -1) for f in files]})
    folders = subfolders(root)
    splits = [f for f in folders if f in SPLIT_FOLDERS]
    if splits:
        others = [f for f in folders if f not in SPLIT_FOLDERS]
        if others:
            raise SourceError(
                f"{key}.path: {root} mixes split folders ({', '.join(splits)}) with other folders "
                f"({', '.join(others[:3])}); put every class folder inside train/, val/ or test/"
            )
        if entry["split"]:
            raise SourceError(f"{key}.split: {root} is already split into {', '.join(splits)}; drop `split`")
        return _split_folders(key, root, splits)
    classes, items = _classes(key, root, folders)
    if not entry["split"]:
        return Listing(classes, {"train": items})
    positions = split_tree([label for _, label in items], classes, entry["split"], entry["seed"], key)
    return Listing(classes, {split: [items[i] for i in chosen] for split, chosen in positions.items()})


def _classes(key: str, root: Path, folders: list[str]) -> tuple[list[str], list[tuple[str, int]]]:
    if not folders:
        raise SourceError(
            f"{key}.path: {root} has no class folders (one sub-folder per class, as torchvision's "
            "ImageFolder reads); for images without labels set `labels: none`"
        )
    items = []
    for label, folder in enumerate(folders):
        files = image_files(root / folder, f"{key}.path")
        if not files:
            raise SourceError(
                f"{key}.path: class folder {root / folder} holds no image ({EXTENSIONS}); "
                "add images or remove the folder"
            )
        items += [(f, label) for f in files]
    return folders, items


def _split_folders(key: str, root: Path, splits: list[str]) -> Listing:
    per_split = {split: subfolders(root / split) for split in splits}
    classes = sorted(set().union(*per_split.values()))
    train = set(per_split["train"]) if "train" in per_split else set()
    for split in [s for s in ("val", "test") if s in per_split]:
        alone = [c for c in per_split[split] if c not in train]
        if "train" in per_split and alone:
            raise SourceError(
                f"{key}.path: class {alone[0]!r} is only in {root / split} and not in {root / 'train'}; "
                "add its training images or remove it"
            )
    out = {}
    for split in [s for s in SPLIT_FOLDERS if s in per_split]:
        _, items = _classes(key, root / split, per_split[split])
        index = {c: classes.index(c) for c in per_split[split]}
        out[split] = [(path, index[per_split[split][label]]) for path, label in items]
    return Listing(classes, out)


KIND = SourceKind(listing=listing, describe="a folder in torchvision's ImageFolder layout")
