"""Helpers of tests/test_own_images.py: image folders and CSVs written by the tests themselves."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image

CLASSES = ["bee", "cat", "dog"]
SIZES = [(40, 30), (48, 48), (30, 52)]
MODES = ["RGB", "L", "P", "RGBA", "I;16"]


def picture(seed: int, size: tuple[int, int], mode: str) -> Image.Image:
    """Noise tinted by `seed`, in `mode` (16-bit grey: values up to 65535)."""
    rng = np.random.default_rng(seed)
    rgb = rng.integers(0, 200, (size[1], size[0], 3), dtype=np.uint8) + np.uint8(seed * 17 % 55)
    image = Image.fromarray(rgb, "RGB")
    if mode == "I;16":
        grey = np.asarray(image.convert("L"), dtype=np.uint16) * 257
        return Image.fromarray(grey.astype("<u2"))  # Pillow: mode I;16
    if mode == "P":
        return image.convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    return image.convert(mode)


def write_tree(root: Path, per_class: dict[str, int] | None = None, corrupt: bool = True) -> list[Path]:
    """root/{train,test}/<class>/ with mixed sizes and modes, a CMYK JPEG, an upper-case extension,
    a non-ASCII name, hidden and non-image files, one truncated JPEG (train/cat) and one file of
    train/bee copied into test/bee (a leak). Returns every image file in ImageFolder's order."""
    per_class = per_class or {"train": 5, "test": 2}
    seed = 0
    for split, n in per_class.items():
        for c in CLASSES:
            folder = root / split / c
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(n):
                seed += 1
                picture(seed, SIZES[seed % 3], MODES[seed % len(MODES)]).save(folder / f"{c}_{i}.png")
            (folder / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
            (folder / "Thumbs.db").write_bytes(b"\xd0\xcf\x11\xe0")
            (folder / "notes.txt").write_text("not an image")
    train = root / "train"
    picture(100, (60, 40), "RGB").convert("CMYK").save(train / "dog" / "cmyk.jpg", quality=95)
    picture(101, (33, 33), "RGB").save(train / "dog" / "UPPER.JPG", quality=95)
    picture(102, (35, 35), "RGB").save(train / "bee" / "abeja_ñandú_蜂.png")
    if corrupt:
        buffer = io.BytesIO()
        picture(103, (64, 64), "RGB").save(buffer, format="JPEG", quality=95)
        (train / "cat" / "broken.jpg").write_bytes(buffer.getvalue()[:400])
    (root / "test" / "bee" / "leak.png").write_bytes((train / "bee" / "bee_0.png").read_bytes())
    return sorted_images(root)


def sorted_images(root: Path) -> list[Path]:
    exts = (".png", ".jpg", ".jpeg")
    return [
        p
        for split in ("train", "test")
        for c in CLASSES
        for p in sorted((root / split / c).iterdir())
        if p.suffix.lower() in exts and not p.name.startswith(".")
    ]


def write_csv(tree: Path, csv_path: Path, header: bool = True) -> Path:
    """The tree's images as a CSV manifest (paths relative to the CSV's folder), in folder order."""
    rows = ["path,label,split"] if header else []
    for path in sorted_images(tree):
        split, label = path.parent.parent.name, path.parent.name
        rows.append(f"{path.relative_to(csv_path.parent).as_posix()},{label},{split}")
    csv_path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return csv_path
