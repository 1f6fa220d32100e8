"""oxford_pets: the Oxford-IIIT Pet dataset (Parkhi et al. 2012), 7,349 photos of 37 cat and dog
breeds, reduced to cat vs dog (its SPECIES column): images.tar.gz (images/<name>.jpg) and
annotations.tar.gz (annotations/trainval.txt and test.txt, the train and test splits). A public
stand-in for Dogs vs Cats."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from cvrepro.data.builtin.kind import BuiltinDataset, Rehearsal
from cvrepro.data.datasets.spec import DatasetSpec, RemoteFile

if TYPE_CHECKING:
    import numpy as np

IMAGES, ANNOTATIONS = "images.tar.gz", "annotations.tar.gz"
CLASSES = ["cat", "dog"]
LISTINGS = {"train": "trainval.txt", "test": "test.txt"}  # split -> its listing in annotations/
# The 37 breeds in CLASS-ID order (1..37); cat breeds are capitalised (SPECIES 1).
BREEDS = (
    "Abyssinian american_bulldog american_pit_bull_terrier basset_hound beagle Bengal Birman Bombay "
    "boxer British_Shorthair chihuahua Egyptian_Mau english_cocker_spaniel english_setter "
    "german_shorthaired great_pyrenees havanese japanese_chin keeshond leonberger Maine_Coon "
    "miniature_pinscher newfoundland Persian pomeranian pug Ragdoll Russian_Blue saint_bernard samoyed "
    "scottish_terrier shiba_inu Siamese Sphynx staffordshire_bull_terrier wheaten_terrier "
    "yorkshire_terrier"
).split()
assert len(BREEDS) == 37
PER_BREED = {"train": 2, "test": 2}  # a rehearsal's images of each breed


def read(files: dict[str, Path], out_dir: Path, image_size: int = 64) -> dict:
    import tarfile

    import numpy as np

    from cvrepro.data.datasets.readers import decode, tar_member
    from cvrepro.data.datasets.splits import write_split

    with tarfile.open(files[ANNOTATIONS]) as annotations, tarfile.open(files[IMAGES]) as images:
        for split, listing in LISTINGS.items():
            rows = [
                line.split()
                for line in tar_member(annotations, f"annotations/{listing}").decode().splitlines()
                if line.strip() and not line.startswith("#")
            ]
            # Column 3 is SPECIES: 1 = cat, 2 = dog.
            write_split(
                out_dir,
                split,
                np.stack([decode(tar_member(images, f"images/{row[0]}.jpg"), image_size) for row in rows]),
                np.array([int(row[2]) - 1 for row in rows]),
            )
    return {"classes": CLASSES}


def write_archives(
    images_path: Path, annotations_path: Path, splits: dict[str, list[tuple[str, int, int, np.ndarray]]]
) -> None:
    """images.tar.gz (images/<name>.jpg) and annotations.tar.gz (annotations/trainval.txt,
    test.txt, list.txt; rows 'Image CLASS-ID SPECIES BREED-ID', SPECIES 1 = cat, 2 = dog).
    `splits`: trainval.txt / test.txt -> [(image name, class id, species, image)]."""
    from cvrepro.data.datasets.formats import jpeg_bytes, write_tar

    header = "#Image CLASS-ID SPECIES BREED ID\n#ID: 1:37 Class ids\n#SPECIES: 1:Cat 2:Dog\n"
    listings = {
        listing: "".join(f"{name} {cls} {species} 1\n" for name, cls, species, _ in rows)
        for listing, rows in splits.items()
    }
    all_rows = "".join(listings.values())
    members = [(f"annotations/{listing}", text.encode()) for listing, text in listings.items()]
    write_tar(annotations_path, [*members, ("annotations/list.txt", (header + all_rows).encode())], gz=True)
    images = [
        (f"images/{name}.jpg", jpeg_bytes(image)) for rows in splits.values() for name, *_, image in rows
    ]
    write_tar(images_path, images, gz=True)


def _species(split: str) -> np.ndarray:
    """A rehearsal split's labels: the species of each breed's images, breed by breed."""
    import numpy as np

    return np.array([0 if b[0].isupper() else 1 for b in BREEDS for _ in range(PER_BREED[split])])


def _rows(split: str) -> list[tuple[str, int, int, np.ndarray]]:
    """(image name, CLASS-ID, SPECIES, image) per image of a rehearsal's listing."""
    from cvrepro.data.datasets import synthetic

    pictures, per_breed = synthetic.images("oxford_pets", split), PER_BREED[split]
    first = 1 if split == "train" else 1 + per_breed  # trainval and test name different images
    return [
        (
            f"{breed}_{first + i}",
            class_id,
            1 if breed[0].isupper() else 2,
            synthetic.unsquare(pictures[(class_id - 1) * per_breed + i]),
        )
        for class_id, breed in enumerate(BREEDS, start=1)
        for i in range(per_breed)
    ]


def write_synthetic(filename: str, dest: Path) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:  # one writer makes both archives
        both = {f: Path(tmp) / f for f in (IMAGES, ANNOTATIONS)}
        write_archives(both[IMAGES], both[ANNOTATIONS], {LISTINGS[s]: _rows(s) for s in LISTINGS})
        dest.write_bytes(both[filename].read_bytes())


KIND = BuiltinDataset(
    spec=DatasetSpec(
        name="oxford_pets",
        files=(  # torchvision.datasets.OxfordIIITPet._RESOURCES
            RemoteFile(
                IMAGES,
                "https://www.robots.ox.ac.uk/~vgg/data/pets/data/images.tar.gz",
                "5c4f3ee8e5d25df40f4fd59a7f44e54c",
                size=791918971,
            ),
            RemoteFile(
                ANNOTATIONS,
                "https://www.robots.ox.ac.uk/~vgg/data/pets/data/annotations.tar.gz",
                "95a8c909bbe2e81eed6a22bccdf3f68f",
                size=19173078,
            ),
        ),
        splits={"train": 3680, "test": 3669},
        num_classes=2,
        balanced=False,
        prepare="oxford_pets",
        homepage="https://www.robots.ox.ac.uk/~vgg/data/pets/",
        notes="Oxford-IIIT Pet reduced to cat vs dog (the SPECIES column): a public stand-in for Dogs vs Cats.",
        options={"image_size": 64},
    ),
    read=read,
    # Images per breed (37 breeds), labelled by species.
    rehearsal=Rehearsal(side=64, per_class=PER_BREED, labels=_species, write=write_synthetic),
    class_names=tuple(CLASSES),
)
