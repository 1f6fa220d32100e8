"""What CIFAR-10-C and CIFAR-100-C (Hendrycks & Dietterich, 2019) share: one tar per dataset of
<root>/<corruption>.npy files, each the clean test set at severities 1..5 stacked (5 x N images),
and <root>/labels.npy in the same order; one split per corruption. cifar10_c.py and cifar100_c.py
declare the two datasets with `kind` (each module is one dataset a study names)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from cvrepro.data.builtin.kind import BuiltinDataset, Rehearsal
from cvrepro.data.datasets.spec import DatasetSpec, RemoteFile

if TYPE_CHECKING:
    import numpy as np

# Every corruption file of the published archives: the 15 benchmark corruptions and 4 extra ones.
CORRUPTIONS = (
    "gaussian_noise",
    "shot_noise",
    "impulse_noise",
    "defocus_blur",
    "glass_blur",
    "motion_blur",
    "zoom_blur",
    "snow",
    "frost",
    "fog",
    "brightness",
    "contrast",
    "elastic_transform",
    "pixelate",
    "jpeg_compression",
    "speckle_noise",
    "gaussian_blur",
    "spatter",
    "saturate",
)
SEVERITIES = 5  # every test image at severities 1..5, stacked


def read(archive_path: Path, root: str, out_dir: Path, classes: list[str]) -> dict:
    """Each corruption's .npy as its split, checked against labels.npy."""
    import io
    import tarfile

    import numpy as np

    from cvrepro.data.datasets.readers import tar_member
    from cvrepro.data.datasets.splits import write_split

    with tarfile.open(archive_path) as archive:
        labels = np.load(io.BytesIO(tar_member(archive, f"{root}/labels.npy"))).astype(np.int64)
        if len(labels) % SEVERITIES:
            raise ValueError(f"{archive_path}: {len(labels)} labels is not 5 severities x N test images")
        for corruption in CORRUPTIONS:
            images = np.load(io.BytesIO(tar_member(archive, f"{root}/{corruption}.npy")))
            if images.shape != (len(labels), 32, 32, 3) or images.dtype != np.uint8:
                raise ValueError(
                    f"{archive_path}: {corruption}.npy is {images.dtype} {images.shape}, "
                    f"expected uint8 ({len(labels)}, 32, 32, 3)"
                )
            write_split(out_dir, corruption, images, labels)
    return {"classes": classes, "severities": SEVERITIES}


def write_archive(path: Path, root: str, corrupted: dict[str, np.ndarray], labels: np.ndarray) -> None:
    """CIFAR-10-C.tar / CIFAR-100-C.tar: <root>/<corruption>.npy, severities 1..5 stacked (5 x N
    images), and <root>/labels.npy in the same order (5 x N)."""
    import numpy as np

    from cvrepro.data.datasets.formats import npy_bytes, write_tar

    members = [
        (f"{root}/{name}.npy", npy_bytes(images.astype(np.uint8))) for name, images in corrupted.items()
    ]
    members.append((f"{root}/labels.npy", npy_bytes(labels.astype(np.int64))))
    write_tar(path, members, gz=False)


def synthetic_labels(clean: str) -> np.ndarray:
    """The rehearsal's labels of every corruption split: the clean synthetic test split's, 5 times."""
    import numpy as np

    from cvrepro.data.datasets import synthetic

    return np.tile(synthetic.labels(clean, "test"), SEVERITIES)


def synthetic_images(clean: str, corruption: str) -> np.ndarray:
    """The clean synthetic test images at severities 1..5 stacked, shifted by a value that encodes
    corruption and severity (as a published file holds them)."""
    import numpy as np

    from cvrepro.data.datasets import synthetic

    c = CORRUPTIONS.index(corruption)
    images = synthetic.images(clean, "test")
    return np.concatenate([images // 2 + 10 * c + s for s in range(1, SEVERITIES + 1)]).astype(np.uint8)


def declare(
    clean: str, root: str, record: int, md5: str, num_classes: int, class_names: list[str] | None
) -> BuiltinDataset:
    """The KIND of `<clean>_c`: the archive <root>.tar of Zenodo record `record`. class_names: the
    names its reader writes (the config checks a class against them); None: the archive has none,
    the reader writes '0', '1', ... and shift sets take the names from the clean split."""
    archive = f"{root}.tar"
    classes = class_names or [str(i) for i in range(num_classes)]

    def read_archive(files: dict[str, Path], out_dir: Path) -> dict:
        return read(files[archive], root, out_dir, classes)

    def write_synthetic(filename: str, dest: Path) -> None:
        corrupted = {corruption: synthetic_images(clean, corruption) for corruption in CORRUPTIONS}
        write_archive(dest, filename.removesuffix(".tar"), corrupted, synthetic_labels(clean))

    spec = DatasetSpec(
        name=f"{clean}_c",
        # Zenodo records of Hendrycks & Dietterich (2019); md5 as Zenodo lists it. Size: the
        # tar of 19 corruption .npy files (50,000 x 32 x 32 x 3 uint8 each) and labels.npy.
        files=(
            RemoteFile(archive, f"https://zenodo.org/records/{record}/files/{archive}", md5, size=2918471680),
        ),
        splits={corruption: 5 * 10000 for corruption in CORRUPTIONS},
        num_classes=num_classes,
        balanced=True,
        prepare=f"{clean}_c",
        homepage=f"https://zenodo.org/records/{record}",
        notes=(
            f"The published corruptions of {clean}'s test set: one split per corruption, severities "
            "1..5 stacked (10,000 images each). Used by shift sets with `source: "
            f"{clean}_c`; 2.9 GB."
        ),
    )
    # The corruptions corrupt the clean synthetic test split (of the same side and channels).
    rehearsal = Rehearsal(
        side=32,
        write=write_synthetic,
        labels=lambda corruption: synthetic_labels(clean),
        images=lambda corruption: synthetic_images(clean, corruption),
    )
    return BuiltinDataset(spec, read_archive, rehearsal, tuple(class_names) if class_names else None)
