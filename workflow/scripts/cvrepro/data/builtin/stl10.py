"""stl10: STL-10 (Coates et al. 2011), 96x96 colour images from ImageNet in 10 classes, with
100,000 unlabelled images: one tarball of raw binaries ({train,test}_X.bin, {train,test}_y.bin,
unlabeled_X.bin, class_names.txt)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from cvrepro.data.builtin.kind import BuiltinDataset, Rehearsal
from cvrepro.data.datasets.spec import DatasetSpec, RemoteFile

if TYPE_CHECKING:
    import numpy as np

ARCHIVE = "stl10_binary.tar.gz"
ROOT = "stl10_binary"
SIDE = 96
IMAGE_BYTES = 3 * SIDE * SIDE
CHUNK = 2000  # unlabelled images read at once
# class_names.txt: what the rehearsal's synthetic archive carries.
CLASSES = ["airplane", "bird", "car", "cat", "deer", "dog", "horse", "monkey", "ship", "truck"]


def _images(raw: bytes) -> np.ndarray:
    """STL-10 stores each image as 3 planes in column-major order: transpose to upright NHWC."""
    import numpy as np

    return np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3, SIDE, SIDE).transpose(0, 3, 2, 1)


def _image_bytes(images: np.ndarray) -> bytes:
    """The inverse of _images: per image 3 planes, each 96x96 in column-major order."""
    import numpy as np

    return np.ascontiguousarray(images.transpose(0, 3, 2, 1)).tobytes()


def read(files: dict[str, Path], out_dir: Path) -> dict:
    import tarfile

    import numpy as np

    from cvrepro.data.datasets.readers import tar_member
    from cvrepro.data.datasets.splits import UNLABELLED, write_split, write_split_chunks

    with tarfile.open(files[ARCHIVE]) as archive:
        for split in ("train", "test"):
            images = _images(tar_member(archive, f"{ROOT}/{split}_X.bin"))
            labels = (
                np.frombuffer(tar_member(archive, f"{ROOT}/{split}_y.bin"), dtype=np.uint8).astype(np.int64)
                - 1
            )
            write_split(out_dir, split, images, labels)
        classes = tar_member(archive, f"{ROOT}/class_names.txt").decode().split()
        # 100,000 unlabelled images are 2.7 GB: stream them in chunks into a memory-mapped file.
        member = archive.getmember(f"{ROOT}/unlabeled_X.bin")
        stream = archive.extractfile(member)
        n = member.size // IMAGE_BYTES
        chunks = (_images(stream.read(IMAGE_BYTES * CHUNK)) for _ in range(0, n, CHUNK))
        write_split_chunks(out_dir, "unlabeled", (n, SIDE, SIDE, 3), chunks, np.full(n, UNLABELLED))
    return {"classes": classes}


def write_archive(
    path: Path,
    train: tuple[np.ndarray, np.ndarray],
    test: tuple[np.ndarray, np.ndarray],
    unlabeled: np.ndarray,
    class_names: list[str],
) -> None:
    """stl10_binary.tar.gz: {train,test}_X.bin (column-major planes), {train,test}_y.bin (labels
    1..10), unlabeled_X.bin, class_names.txt."""
    import numpy as np

    from cvrepro.data.datasets.formats import write_tar

    members = []
    for split, (images, labels) in (("train", train), ("test", test)):
        members.append((f"{ROOT}/{split}_X.bin", _image_bytes(images)))
        members.append((f"{ROOT}/{split}_y.bin", (labels + 1).astype(np.uint8).tobytes()))
    members.append((f"{ROOT}/unlabeled_X.bin", _image_bytes(unlabeled)))
    members.append((f"{ROOT}/class_names.txt", ("\n".join(class_names) + "\n").encode()))
    write_tar(path, members, gz=True)


def write_synthetic(filename: str, dest: Path) -> None:
    from cvrepro.data.datasets import synthetic

    pair = {s: synthetic.split("stl10", s) for s in ("train", "test")}
    write_archive(dest, pair["train"], pair["test"], synthetic.images("stl10", "unlabeled"), CLASSES)


KIND = BuiltinDataset(
    spec=DatasetSpec(
        name="stl10",
        files=(
            RemoteFile(
                ARCHIVE,
                "http://ai.stanford.edu/~acoates/stl10/stl10_binary.tar.gz",
                "91f7769df0f17e558f3565bffb0c7dfb",
                size=2640397119,
            ),
        ),
        splits={"train": 5000, "test": 8000, "unlabeled": 100000},
        num_classes=10,
        balanced=True,
        prepare="stl10",
        homepage="https://cs.stanford.edu/~acoates/stl10/",
        notes="96x96; images come from ImageNet, so ImageNet-pretrained results on it are optimistic.",
    ),
    read=read,
    rehearsal=Rehearsal(
        side=SIDE, per_class={"train": 2, "test": 2}, unlabelled={"unlabeled": 40}, write=write_synthetic
    ),
)
