"""A declared dataset's data card: per split, images per class, sizes before resizing, what was
converted, unreadable files, and exact duplicates within and across splits (a test image that
is also a training image is a leak). Written beside the prepared arrays (card.json, card.md);
the study's REPORT.md includes card.md."""

from __future__ import annotations

import os
from collections import Counter, defaultdict

import numpy as np

LISTED = 10  # files listed per kind of problem; the counts are always complete


def data_card(name: str, classes: list[str], splits: dict[str, list], base: str) -> dict:
    """splits: split -> [(path, label, Decoded)], every listed file including unreadable ones."""
    card = {"dataset": name, "splits": {}, "leaks": []}
    owners: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for split, rows in splits.items():
        good = [(p, label, d) for p, label, d in rows if d.error is None]
        widths = [d.size[0] for _, _, d in good] or [0]
        heights = [d.size[1] for _, _, d in good] or [0]
        by_digest: dict[str, list[str]] = defaultdict(list)
        for path, _, decoded in rows:
            if decoded.digest:
                by_digest[decoded.digest].append(_rel(path, base))
                owners[decoded.digest].append((split, _rel(path, base)))
        per_class = Counter(label for _, label, _ in good)
        card["splits"][split] = {
            "images": len(good),
            "per_class": {
                (classes[c] if c >= 0 else "(unlabelled)"): int(per_class[c]) for c in sorted(per_class)
            },
            "width": _spread(widths),
            "height": _spread(heights),
            "conversions": dict(Counter(c for _, _, d in good for c in d.conversions).most_common()),
            "unreadable": [[_rel(p, base), d.error] for p, _, d in rows if d.error is not None],
            "duplicates": [files for files in by_digest.values() if len(files) > 1],
        }
    for files in owners.values():
        found = sorted({split for split, _ in files})
        if len(found) > 1:
            card["leaks"].append([f"{split}: {path}" for split, path in files])
    return card


def _spread(values: list[int]) -> list[int]:
    return [int(min(values)), int(np.median(values)), int(max(values))]


def _rel(path: str, base: str) -> str:
    try:
        return os.path.relpath(path, base)
    except ValueError:  # another drive (Windows)
        return path


def card_markdown(card: dict, resize: dict | None, channels: int) -> str:
    """card.md: what the study's REPORT.md shows under "Data"."""
    target = f"resized to {resize['size']}x{resize['size']} ({resize['mode']})" if resize else "not resized"
    lines = [
        f"### Data card: `{card['dataset']}`\n",
        f"Images {target}, {'grey (1 channel)' if channels == 1 else 'RGB (3 channels)'}.\n",
        "| split | images | classes | per class (min-max) | width before resizing (min/median/max) | height |",
        "|---|---|---|---|---|---|",
    ]
    for split, s in card["splits"].items():
        counts = list(s["per_class"].values()) or [0]
        lines.append(
            f"| {split} | {s['images']} | {len(s['per_class'])} | {min(counts)}-{max(counts)} | "
            f"{'/'.join(map(str, s['width']))} | {'/'.join(map(str, s['height']))} |"
        )
    lines.append("")
    for split, s in card["splits"].items():
        lines.append(
            f"**{split}** images per class: " + ", ".join(f"{c} {n}" for c, n in s["per_class"].items())
        )
        if s["conversions"]:
            lines.append("- converted: " + "; ".join(f"{what} ({n})" for what, n in s["conversions"].items()))
        if s["unreadable"]:
            lines.append(f"- {len(s['unreadable'])} unreadable file(s), left out:")
            lines += [f"  - `{path}`: {reason}" for path, reason in s["unreadable"][:LISTED]]
        if s["duplicates"]:
            lines.append(f"- {len(s['duplicates'])} set(s) of identical files within {split}:")
            lines += [f"  - {', '.join(f'`{p}`' for p in files)}" for files in s["duplicates"][:LISTED]]
        lines.append("")
    if card["leaks"]:
        lines.append(
            f"**Leaks: {len(card['leaks'])} file(s) identical across splits** (a test image that is "
            "also a training image inflates test accuracy):"
        )
        lines += [f"- {', '.join(f'`{p}`' for p in files)}" for files in card["leaks"][:LISTED]]
    else:
        lines.append("No file is identical across splits.")
    return "\n".join(lines) + "\n"
