"""fashion_mnist: Zalando's Fashion-MNIST, 70,000 28x28 grey images of 10 kinds of clothing, as
four gzipped IDX files (images and labels of train and t10k)."""

from __future__ import annotations

from pathlib import Path

from cvrepro.data.builtin.kind import BuiltinDataset, Rehearsal
from cvrepro.data.datasets.spec import DatasetSpec, RemoteFile

CLASSES = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
]
MIRROR = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
SPLIT_PREFIX = {"train": "train", "test": "t10k"}  # files are named <prefix>-images-idx3-ubyte.gz


def read(files: dict[str, Path], out_dir: Path) -> dict:
    import numpy as np

    from cvrepro.data.datasets.readers import read_idx
    from cvrepro.data.datasets.splits import write_split

    for split, prefix in SPLIT_PREFIX.items():
        images = read_idx(files[f"{prefix}-images-idx3-ubyte.gz"])[..., None]
        labels = read_idx(files[f"{prefix}-labels-idx1-ubyte.gz"]).astype(np.int64)
        write_split(out_dir, split, images, labels)
    return {"classes": CLASSES}


def write_synthetic(filename: str, dest: Path) -> None:
    import numpy as np

    from cvrepro.data.datasets import formats, synthetic

    split = {prefix: split for split, prefix in SPLIT_PREFIX.items()}[filename.split("-")[0]]
    if "images" in filename:
        array = synthetic.images("fashion_mnist", split)[..., 0]
    else:
        array = synthetic.labels("fashion_mnist", split).astype(np.uint8)
    formats.write_idx_gz(dest, array)


KIND = BuiltinDataset(
    spec=DatasetSpec(
        name="fashion_mnist",
        files=tuple(
            RemoteFile(name, MIRROR + name, md5, content_md5, size)
            # .gz md5: torchvision.datasets.FashionMNIST.resources; content md5: the published
            # md5 of the unpacked files (also what Debian's package holds); size: upstream's
            # .gz (Debian's re-packed files are 24 bytes shorter).
            for name, md5, content_md5, size in [
                (
                    "train-images-idx3-ubyte.gz",
                    "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
                    "f4a8712d7a061bf5bd6d2ca38dc4d50a",
                    26421880,
                ),
                (
                    "train-labels-idx1-ubyte.gz",
                    "25c81989df183df01b3e8a0aad5dffbe",
                    "9018921c3c673c538a1fc5bad174d6f9",
                    29515,
                ),
                (
                    "t10k-images-idx3-ubyte.gz",
                    "bef4ecab320f06d8554ea6380940ec79",
                    "8181f5470baa50b63fa0f6fddb340f0a",
                    4422102,
                ),
                (
                    "t10k-labels-idx1-ubyte.gz",
                    "bb300cfdad3c16e7a12a480ee83cd310",
                    "15d484375f8d13e6eb1aabb0c3f46965",
                    5148,
                ),
            ]
        ),
        splits={"train": 60000, "test": 10000},
        num_classes=10,
        balanced=True,
        prepare="fashion_mnist",
        homepage="https://github.com/zalandoresearch/fashion-mnist",
        notes="28x28 grey; Debian's dataset-fashion-mnist package installs the same four files.",
        local_dirs=("/usr/share/datasets/fashion-mnist",),
    ),
    read=read,
    rehearsal=Rehearsal(side=28, channels=1, per_class={"train": 30, "test": 10}, write=write_synthetic),
    class_names=tuple(CLASSES),
)
