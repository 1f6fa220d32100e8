"""cifar10: CIFAR-10's python version (Krizhevsky 2009), 60,000 32x32 colour images in 10
classes: one tarball of pickled batches (data_batch_1..5, test_batch, batches.meta)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from cvrepro.data.builtin.kind import BuiltinDataset, Rehearsal
from cvrepro.data.datasets.spec import DatasetSpec, RemoteFile

if TYPE_CHECKING:
    import numpy as np

# Class names the reader writes and the config checks read (activation figures name classes).
CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
ARCHIVE = "cifar-10-python.tar.gz"
ROOT = "cifar-10-batches-py"


def read(files: dict[str, Path], out_dir: Path) -> dict:
    import tarfile

    import numpy as np

    from cvrepro.data.datasets.readers import cifar_images, unpickle_member
    from cvrepro.data.datasets.splits import write_split

    with tarfile.open(files[ARCHIVE]) as archive:
        batches = [
            unpickle_member(archive, f"{ROOT}/data_batch_{i}", b"data", b"labels") for i in range(1, 6)
        ]
        test = unpickle_member(archive, f"{ROOT}/test_batch", b"data", b"labels")
        meta = unpickle_member(archive, f"{ROOT}/batches.meta", b"label_names")
    write_split(
        out_dir,
        "train",
        cifar_images(np.concatenate([b[b"data"] for b in batches])),
        np.concatenate([b[b"labels"] for b in batches]),
    )
    write_split(out_dir, "test", cifar_images(test[b"data"]), np.asarray(test[b"labels"]))
    return {"classes": [name.decode() for name in meta[b"label_names"]]}


def write_archive(
    path: Path,
    train: tuple[np.ndarray, np.ndarray],
    test: tuple[np.ndarray, np.ndarray],
    class_names: list[str],
    batches: int = 5,
) -> None:
    """cifar-10-python.tar.gz: data_batch_1..5 (train split in five), test_batch, batches.meta."""
    import numpy as np

    from cvrepro.data.datasets.formats import cifar_batch, pickled, write_tar

    images, labels = train
    members = []
    for i, part in enumerate(np.array_split(np.arange(len(labels)), batches), start=1):
        batch = cifar_batch(f"training batch {i} of {batches}", images[part], {b"labels": labels[part]})
        members.append((f"{ROOT}/data_batch_{i}", batch))
    batch = cifar_batch("testing batch 1 of 1", test[0], {b"labels": test[1]})
    members.append((f"{ROOT}/test_batch", batch))
    meta = {b"label_names": [n.encode() for n in class_names], b"num_cases_per_batch": len(labels) // batches}
    members.append((f"{ROOT}/batches.meta", pickled(meta)))
    write_tar(path, members, gz=True)


def write_synthetic(filename: str, dest: Path) -> None:
    from cvrepro.data.datasets import synthetic

    pair = {s: synthetic.split("cifar10", s) for s in ("train", "test")}
    write_archive(dest, pair["train"], pair["test"], CLASSES)


KIND = BuiltinDataset(
    spec=DatasetSpec(
        name="cifar10",
        files=(
            RemoteFile(
                ARCHIVE,
                "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
                "c58f30108f718f92721af3b95e74349a",
                size=170498071,
            ),
        ),
        splits={"train": 50000, "test": 10000},
        num_classes=10,
        balanced=True,
        prepare="cifar10",
        homepage="https://www.cs.toronto.edu/~kriz/cifar.html",
    ),
    read=read,
    rehearsal=Rehearsal(side=32, per_class={"train": 3, "test": 2}, write=write_synthetic),
    class_names=tuple(CLASSES),
)
