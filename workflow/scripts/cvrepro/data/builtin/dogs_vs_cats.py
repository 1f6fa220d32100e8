"""dogs_vs_cats: Kaggle's Dogs vs Cats, 25,000 photos of varying size labelled cat or dog: the
competition's train.zip (train/cat.<i>.jpg, train/dog.<i>.jpg), or the competition zip holding
it. Kaggle needs a login: the file is placed by hand (datasets.dogs_vs_cats.source_dir)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from cvrepro.data.builtin.kind import BuiltinDataset, Rehearsal
from cvrepro.data.datasets.spec import DatasetSpec, RemoteFile

if TYPE_CHECKING:
    import zipfile

    import numpy as np

ARCHIVE = "train.zip"
CLASSES = ["cat", "dog"]


def _entries(path: Path) -> tuple[zipfile.ZipFile, list[str]]:
    """The Kaggle train.zip, or the competition zip that contains it."""
    import io
    import zipfile

    archive = zipfile.ZipFile(path)
    names = archive.namelist()
    if "train.zip" in names and not any(n.endswith(".jpg") for n in names):
        archive = zipfile.ZipFile(io.BytesIO(archive.read("train.zip")))
        names = archive.namelist()
    images = sorted(
        n for n in names if n.rsplit("/", 1)[-1].split(".")[0] in ("cat", "dog") and n.endswith(".jpg")
    )
    if not images:
        raise ValueError(
            f"{path}: no train/cat.N.jpg or train/dog.N.jpg inside; is this Kaggle's dogs-vs-cats train.zip?"
        )
    return archive, images


def read(files: dict[str, Path], out_dir: Path, image_size: int = 64) -> dict:
    import numpy as np

    from cvrepro.data.datasets.readers import decode
    from cvrepro.data.datasets.splits import write_split

    archive, names = _entries(files[ARCHIVE])
    with archive:
        images = np.stack([decode(archive.read(n), image_size) for n in names])
    labels = np.array([0 if n.rsplit("/", 1)[-1].startswith("cat") else 1 for n in names])
    write_split(out_dir, "train", images, labels)
    return {"classes": CLASSES}


def archive_bytes(images: list[tuple[str, np.ndarray]], nested: bool = False) -> bytes:
    """Kaggle's train.zip (train/cat.<i>.jpg, train/dog.<i>.jpg) of (animal, image) pairs, or,
    `nested`, the competition's zip holding train.zip, test1.zip and sampleSubmission.csv."""
    from cvrepro.data.datasets.formats import jpeg_bytes, zip_bytes

    members = []
    counts: dict[str, int] = {}
    for animal, image in images:
        i = counts[animal] = counts.get(animal, -1) + 1
        members.append((f"train/{animal}.{i}.jpg", jpeg_bytes(image)))
    inner = zip_bytes(members)
    if not nested:
        return inner
    return zip_bytes([("train.zip", inner), ("test1.zip", b""), ("sampleSubmission.csv", b"id,label\n")])


def write_synthetic(filename: str, dest: Path) -> None:
    from cvrepro.data.datasets import synthetic

    pictures = [
        (CLASSES[c], synthetic.unsquare(p))
        for p, c in zip(*synthetic.split("dogs_vs_cats", "train"), strict=True)
    ]
    dest.write_bytes(archive_bytes(pictures))


KIND = BuiltinDataset(
    spec=DatasetSpec(
        name="dogs_vs_cats",
        # Kaggle's archive needs a login and publishes no checksum: prepare checks its contents.
        files=(RemoteFile(ARCHIVE, None, None, size=569546721),),
        splits={"train": 25000},
        num_classes=2,
        balanced=True,
        prepare="dogs_vs_cats",
        homepage="https://www.kaggle.com/c/dogs-vs-cats/data",
        notes="Kaggle login needed: download train.zip by hand and set datasets.dogs_vs_cats.source_dir.",
        options={"image_size": 64},
    ),
    read=read,
    # The reader sorts the JPEGs by name: class-major.
    rehearsal=Rehearsal(side=64, per_class={"train": 12}, class_major=("train",), write=write_synthetic),
    class_names=tuple(CLASSES),
)
