"""Prepare a declared dataset (rule `prepare`): list it, decode every image once, check, and
write the prepared form (cvrepro.data.datasets.splits) with each split's files and the data card.

Nothing is written until every image is decoded and checked, and the prepared folder is replaced
only by a complete one: a failure leaves an earlier preparation as it was.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np

from cvrepro.data.datasets.prepare import _replace_dir
from cvrepro.data.datasets.splits import load_split, write_info, write_split
from cvrepro.data.sources import SOURCES, listing_digest, rehearsal_cut
from cvrepro.data.sources._card import card_markdown, data_card
from cvrepro.data.sources._decode import cores, decode_all, settings_of
from cvrepro.data.sources.kind import SourceError


def prepare_declared(
    name: str, options: dict, out_dir: Path, rehearsal: bool, workers: int | None = None
) -> dict:
    """options: the declaration as the registry passes it (with its listing's digest)."""
    entry = {key: value for key, value in options.items() if key != "listing"}
    kind = SOURCES[entry["source"]]
    settings = settings_of(entry)
    listing = kind.listing(name, entry)
    if rehearsal:
        listing = rehearsal_cut(listing)
    decoded, classes = {}, listing.classes
    for split, items in listing.splits.items():
        if kind.decode is not None:
            classes, decoded[split] = kind.decode(name, entry, split, settings, rehearsal)
            continue
        results = decode_all([path for path, _ in items], settings, f"{name}/{split}", workers or cores())
        decoded[split] = [(path, label, d) for (path, label), d in zip(items, results, strict=True)]
    _check(name, entry, decoded)
    base = entry["path"] if Path(entry["path"]).is_dir() else str(Path(entry["path"]).parent)
    card = data_card(name, classes, decoded, base)
    out_dir = Path(out_dir)
    tmp = out_dir.with_name(out_dir.name + ".part")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        sizes = {}
        for split, rows in decoded.items():
            good = [(path, label, d) for path, label, d in rows if d.error is None]
            write_split(
                tmp, split, np.stack([d.image for _, _, d in good]), np.array([lab for _, lab, _ in good])
            )
            # The split's files in prepared order: which file each row of images.npy came from.
            (tmp / split / "files.txt").write_text("".join(f"{path}\n" for path, _, _ in good))
            sizes[split] = len(good)
        (tmp / "card.json").write_text(json.dumps(card, indent=1) + "\n")
        (tmp / "card.md").write_text(card_markdown(card, entry["resize"], entry["channels"]))
        provenance = {"declaration": entry, "listing": listing_digest(listing), "rehearsal": rehearsal}
        write_info(tmp, name, classes, sizes, provenance)
        for split in sizes:
            load_split(tmp, split)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _replace_dir(tmp, out_dir)
    print(f"{name}: {sizes}, {len(classes)} classes, {len(card['leaks'])} file(s) shared across splits")
    return card


def _check(name: str, entry: dict, decoded: dict) -> None:
    """Unreadable files (stop, unless on_bad_image: skip), emptied splits, unequal sizes."""
    key = f"datasets.{name}"
    bad = [(path, d.error) for rows in decoded.values() for path, _, d in rows if d.error is not None]
    if bad and entry["on_bad_image"] == "stop":
        raise SourceError(
            f"{bad[0][0]}: {bad[0][1]} ({len(bad)} unreadable file(s) in {key}); replace or remove it, "
            f"or set {key}.on_bad_image: skip to leave such files out (the data card lists them)"
        )
    shapes: dict[tuple, str] = {}
    for split, rows in decoded.items():
        good = [(path, d) for path, _, d in rows if d.error is None]
        if not good:
            raise SourceError(
                f"{key}: every file of split {split!r} is unreadable; see the log for each reason"
            )
        for path, d in good:
            shapes.setdefault(d.image.shape, path)
    if len(shapes) > 1:
        (a, path_a), (b, path_b) = list(shapes.items())[:2]
        raise SourceError(
            f"{key}.resize: images differ in size ({os.path.basename(path_a)} {a[1]}x{a[0]}, "
            f"{os.path.basename(path_b)} {b[1]}x{b[0]}); set {key}.resize: {{size: <side>, mode: crop}}"
        )
