"""cifar10_1: CIFAR-10.1 v6 (Recht et al. 2018), 2,000 new 32x32 test images in CIFAR-10's
classes, a natural distribution shift of its test set: two .npy files (images and labels)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from cvrepro.data.builtin.cifar10 import CLASSES
from cvrepro.data.builtin.kind import BuiltinDataset, Rehearsal
from cvrepro.data.datasets.spec import DatasetSpec, RemoteFile

if TYPE_CHECKING:
    import numpy as np

DATA, LABELS = "cifar10.1_v6_data.npy", "cifar10.1_v6_labels.npy"


def read(files: dict[str, Path], out_dir: Path) -> dict:
    import numpy as np

    from cvrepro.data.datasets.splits import write_split

    images = np.load(files[DATA])
    labels = np.load(files[LABELS]).astype(np.int64)
    # No published checksum for these files: check what they must be instead.
    if images.shape[1:] != (32, 32, 3) or images.dtype != np.uint8 or len(images) != len(labels):
        raise ValueError(
            f"CIFAR-10.1: expected uint8 (N, 32, 32, 3) and N labels, got {images.dtype} {images.shape}, {labels.shape}"
        )
    if labels.min() < 0 or labels.max() > 9:
        raise ValueError(f"CIFAR-10.1: labels outside 0..9 ({labels.min()}..{labels.max()})")
    write_split(out_dir, "test", images, labels)
    return {"classes": CLASSES}


def write_files(data_path: Path, labels_path: Path, images: np.ndarray, labels: np.ndarray) -> None:
    """cifar10.1_v6_data.npy (N, 32, 32, 3) uint8 and cifar10.1_v6_labels.npy."""
    import numpy as np

    from cvrepro.data.datasets.formats import npy_bytes

    Path(data_path).write_bytes(npy_bytes(images.astype(np.uint8)))
    Path(labels_path).write_bytes(npy_bytes(labels.astype(np.int64)))


def write_synthetic(filename: str, dest: Path) -> None:
    from cvrepro.data.datasets import synthetic
    from cvrepro.data.datasets.formats import npy_bytes

    data, label = synthetic.split("cifar10_1", "test")
    dest.write_bytes(npy_bytes(data if "data" in filename else label))


KIND = BuiltinDataset(
    spec=DatasetSpec(
        name="cifar10_1",
        # The CIFAR-10.1 repository publishes no checksums: prepare checks shape, dtype and labels.
        # Sizes: .npy headers (128 bytes) plus 2,000 x 32 x 32 x 3 uint8 images / 2,000 int64 labels.
        files=tuple(
            RemoteFile(
                name,
                f"https://github.com/modestyachts/CIFAR-10.1/raw/master/datasets/{name}",
                None,
                size=size,
            )
            for name, size in ((DATA, 6144128), (LABELS, 16128))
        ),
        splits={"test": 2000},
        num_classes=10,
        balanced=True,
        prepare="cifar10_1",
        homepage="https://github.com/modestyachts/CIFAR-10.1",
        notes="A natural distribution shift of CIFAR-10's test set (v6).",
    ),
    read=read,
    rehearsal=Rehearsal(side=32, per_class={"test": 2}, write=write_synthetic),
    class_names=tuple(CLASSES),
)
