"""cifar100: CIFAR-100's python version (Krizhevsky 2009), 60,000 32x32 colour images in 100 fine
classes (20 coarse ones): one tarball of pickled batches (train, test, meta). Its fine labels
are the dataset's."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from cvrepro.data.builtin.kind import BuiltinDataset, Rehearsal
from cvrepro.data.datasets.spec import DatasetSpec, RemoteFile

if TYPE_CHECKING:
    import numpy as np

ARCHIVE = "cifar-100-python.tar.gz"
ROOT = "cifar-100-python"
# The meta's fine_label_names and coarse_label_names, in label order: what the rehearsal's
# synthetic meta carries, so that its prepared splits look as real ones do.
FINE = (
    "apple aquarium_fish baby bear beaver bed bee beetle bicycle bottle bowl boy bridge bus butterfly "
    "camel can castle caterpillar cattle chair chimpanzee clock cloud cockroach couch crab crocodile cup "
    "dinosaur dolphin elephant flatfish forest fox girl hamster house kangaroo keyboard lamp lawn_mower "
    "leopard lion lizard lobster man maple_tree motorcycle mountain mouse mushroom oak_tree orange orchid "
    "otter palm_tree pear pickup_truck pine_tree plain plate poppy porcupine possum rabbit raccoon ray road "
    "rocket rose sea seal shark shrew skunk skyscraper snail snake spider squirrel streetcar sunflower "
    "sweet_pepper table tank telephone television tiger tractor train trout tulip turtle wardrobe whale "
    "willow_tree wolf woman worm"
).split()
COARSE = (
    "aquatic_mammals fish flowers food_containers fruit_and_vegetables household_electrical_devices "
    "household_furniture insects large_carnivores large_man-made_outdoor_things "
    "large_natural_outdoor_scenes large_omnivores_and_herbivores medium_mammals "
    "non-insect_invertebrates people reptiles small_mammals trees vehicles_1 vehicles_2"
).split()
assert len(FINE) == 100 and len(COARSE) == 20


def read(files: dict[str, Path], out_dir: Path) -> dict:
    import tarfile

    import numpy as np

    from cvrepro.data.datasets.readers import cifar_images, unpickle_member
    from cvrepro.data.datasets.splits import write_split

    with tarfile.open(files[ARCHIVE]) as archive:
        for split in ("train", "test"):
            batch = unpickle_member(archive, f"{ROOT}/{split}", b"data", b"fine_labels")
            write_split(out_dir, split, cifar_images(batch[b"data"]), np.asarray(batch[b"fine_labels"]))
        meta = unpickle_member(archive, f"{ROOT}/meta", b"fine_label_names")
    return {"classes": [name.decode() for name in meta[b"fine_label_names"]]}


def write_archive(
    path: Path,
    train: tuple[np.ndarray, np.ndarray],
    test: tuple[np.ndarray, np.ndarray],
    fine_names: list[str],
    coarse_names: list[str],
) -> None:
    """cifar-100-python.tar.gz: train and test (fine and coarse labels), meta."""
    from cvrepro.data.datasets.formats import cifar_batch, pickled, write_tar

    members = []
    for split, (images, labels) in (("train", train), ("test", test)):
        coarse = labels % len(coarse_names)
        batch = cifar_batch(
            f"{split}ing batch 1 of 1", images, {b"fine_labels": labels, b"coarse_labels": coarse}
        )
        members.append((f"{ROOT}/{split}", batch))
    meta = {
        b"fine_label_names": [n.encode() for n in fine_names],
        b"coarse_label_names": [n.encode() for n in coarse_names],
    }
    members.append((f"{ROOT}/meta", pickled(meta)))
    write_tar(path, members, gz=True)


def write_synthetic(filename: str, dest: Path) -> None:
    from cvrepro.data.datasets import synthetic

    pair = {s: synthetic.split("cifar100", s) for s in ("train", "test")}
    write_archive(dest, pair["train"], pair["test"], FINE, COARSE)


KIND = BuiltinDataset(
    spec=DatasetSpec(
        name="cifar100",
        files=(
            RemoteFile(
                ARCHIVE,
                "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz",
                "eb9058c3a382ffc7106e4002c42a8d85",
                size=169001437,
            ),
        ),
        splits={"train": 50000, "test": 10000},
        num_classes=100,
        balanced=True,
        prepare="cifar100",
        homepage="https://www.cs.toronto.edu/~kriz/cifar.html",
        notes="Fine labels (100 classes).",
    ),
    read=read,
    rehearsal=Rehearsal(side=32, per_class={"train": 2, "test": 1}, write=write_synthetic),
)
