"""Every dataset the studies use: its files, checksums, splits and reader.

URLs and md5 sums come from torchvision's dataset classes where it has the dataset; the
others are cited beside them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class RemoteFile:
    filename: str
    url: str | None  # None: the user must supply the file (Kaggle needs a login)
    md5: str | None  # None only where no checksum is published (see the dataset's notes)
    # md5 of the gunzipped content: accepts a re-compressed copy of the same data (Debian's
    # dataset-fashion-mnist re-packs the .gz files; their content matches upstream's).
    content_md5: str | None = None
    # Bytes, as the host serves the file: what a run will download and store (the fetch plan of
    # cvrepro.report.cost.fetches). Never used to verify a file: the checksums do that.
    size: int | None = None


# Class names the readers write and the config checks read (activation figures name classes).
CIFAR10_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
FASHION_MNIST_CLASSES = [
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
# Class names of the datasets whose names are fixed (the others are read from their files when
# prepared, and an activation figure's unknown class is then the job's error).
CLASS_NAMES: dict[str, tuple[str, ...]] = {
    "fashion_mnist": tuple(FASHION_MNIST_CLASSES),
    "cifar10": tuple(CIFAR10_CLASSES),
    "cifar10_1": tuple(CIFAR10_CLASSES),
    "cifar10_c": tuple(CIFAR10_CLASSES),
    "dogs_vs_cats": ("cat", "dog"),
    "oxford_pets": ("cat", "dog"),
}


# Every corruption file of the published archives: the 15 benchmark corruptions and 4 extra ones.
CIFAR_C_CORRUPTIONS = (
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


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    files: tuple[RemoteFile, ...]
    splits: dict[str, int]  # split -> number of images in the real dataset
    num_classes: int
    balanced: bool  # every class has splits[s] / num_classes images in every split
    # Its reader's name in cvrepro.data.datasets.readers.READERS, prepare(files: {filename: Path},
    # out_dir, **options) -> {"classes": [...]}: by name, so only the prepare job imports numpy and PIL.
    prepare: str
    homepage: str
    notes: str = ""
    options: dict[str, Any] = field(default_factory=dict)  # preparation options and defaults
    local_dirs: tuple[str, ...] = ()  # searched for the files before downloading


FASHION_MNIST_MIRROR = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"

DATASETS: dict[str, DatasetSpec] = {
    spec.name: spec
    for spec in [
        DatasetSpec(
            name="fashion_mnist",
            files=tuple(
                RemoteFile(name, FASHION_MNIST_MIRROR + name, md5, content_md5, size)
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
            prepare="prepare_fashion_mnist",
            homepage="https://github.com/zalandoresearch/fashion-mnist",
            notes="28x28 grey; Debian's dataset-fashion-mnist package installs the same four files.",
            local_dirs=("/usr/share/datasets/fashion-mnist",),
        ),
        DatasetSpec(
            name="cifar10",
            files=(
                RemoteFile(
                    "cifar-10-python.tar.gz",
                    "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
                    "c58f30108f718f92721af3b95e74349a",
                    size=170498071,
                ),
            ),
            splits={"train": 50000, "test": 10000},
            num_classes=10,
            balanced=True,
            prepare="prepare_cifar10",
            homepage="https://www.cs.toronto.edu/~kriz/cifar.html",
        ),
        DatasetSpec(
            name="cifar100",
            files=(
                RemoteFile(
                    "cifar-100-python.tar.gz",
                    "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz",
                    "eb9058c3a382ffc7106e4002c42a8d85",
                    size=169001437,
                ),
            ),
            splits={"train": 50000, "test": 10000},
            num_classes=100,
            balanced=True,
            prepare="prepare_cifar100",
            homepage="https://www.cs.toronto.edu/~kriz/cifar.html",
            notes="Fine labels (100 classes).",
        ),
        DatasetSpec(
            name="stl10",
            files=(
                RemoteFile(
                    "stl10_binary.tar.gz",
                    "http://ai.stanford.edu/~acoates/stl10/stl10_binary.tar.gz",
                    "91f7769df0f17e558f3565bffb0c7dfb",
                    size=2640397119,
                ),
            ),
            splits={"train": 5000, "test": 8000, "unlabeled": 100000},
            num_classes=10,
            balanced=True,
            prepare="prepare_stl10",
            homepage="https://cs.stanford.edu/~acoates/stl10/",
            notes="96x96; images come from ImageNet, so ImageNet-pretrained results on it are optimistic.",
        ),
        DatasetSpec(
            name="tiny_imagenet",
            # md5 as used by public TinyImageNet loaders (e.g. the VisionDataset ports of
            # lvyilin/pytorch-fgvc-dataset); cs231n publishes none itself.
            files=(
                RemoteFile(
                    "tiny-imagenet-200.zip",
                    "http://cs231n.stanford.edu/tiny-imagenet-200.zip",
                    "90528d7ca1a48142e341f4ef8d21d0de",
                    size=248100043,
                ),
            ),
            splits={"train": 100000, "test": 10000},
            num_classes=200,
            balanced=True,
            prepare="prepare_tiny_imagenet",
            homepage="http://cs231n.stanford.edu/",
            notes="64x64; `test` is the labelled val set; classes in sorted-wnid order (torchvision ImageFolder's).",
        ),
        DatasetSpec(
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
                for name, size in (("cifar10.1_v6_data.npy", 6144128), ("cifar10.1_v6_labels.npy", 16128))
            ),
            splits={"test": 2000},
            num_classes=10,
            balanced=True,
            prepare="prepare_cifar10_1",
            homepage="https://github.com/modestyachts/CIFAR-10.1",
            notes="A natural distribution shift of CIFAR-10's test set (v6).",
        ),
        *(
            DatasetSpec(
                name=f"{clean}_c",
                # Zenodo records of Hendrycks & Dietterich (2019); md5 as Zenodo lists it. Size: the
                # tar of 19 corruption .npy files (50,000 x 32 x 32 x 3 uint8 each) and labels.npy.
                files=(
                    RemoteFile(
                        archive, f"https://zenodo.org/records/{record}/files/{archive}", md5, size=2918471680
                    ),
                ),
                splits={corruption: 5 * 10000 for corruption in CIFAR_C_CORRUPTIONS},
                num_classes=classes,
                balanced=True,
                prepare=prepare,
                homepage=f"https://zenodo.org/records/{record}",
                notes=(
                    f"The published corruptions of {clean}'s test set: one split per corruption, severities "
                    "1..5 stacked (10,000 images each). Used by shift sets with `source: "
                    f"{clean}_c`; 2.9 GB."
                ),
            )
            for clean, archive, record, md5, classes, prepare in (
                (
                    "cifar10",
                    "CIFAR-10-C.tar",
                    2535967,
                    "56bf5dcef84df0e2308c6dcbcbbd8499",
                    10,
                    "prepare_cifar10_c",
                ),
                (
                    "cifar100",
                    "CIFAR-100-C.tar",
                    3555552,
                    "11f0ed0f1191edbf9fa23466ae6021d3",
                    100,
                    "prepare_cifar100_c",
                ),
            )
        ),
        DatasetSpec(
            name="dogs_vs_cats",
            # Kaggle's archive needs a login and publishes no checksum: prepare checks its contents.
            files=(RemoteFile("train.zip", None, None, size=569546721),),
            splits={"train": 25000},
            num_classes=2,
            balanced=True,
            prepare="prepare_dogs_vs_cats",
            homepage="https://www.kaggle.com/c/dogs-vs-cats/data",
            notes="Kaggle login needed: download train.zip by hand and set datasets.dogs_vs_cats.source_dir.",
            options={"image_size": 64},
        ),
        DatasetSpec(
            name="oxford_pets",
            files=(  # torchvision.datasets.OxfordIIITPet._RESOURCES
                RemoteFile(
                    "images.tar.gz",
                    "https://www.robots.ox.ac.uk/~vgg/data/pets/data/images.tar.gz",
                    "5c4f3ee8e5d25df40f4fd59a7f44e54c",
                    size=791918971,
                ),
                RemoteFile(
                    "annotations.tar.gz",
                    "https://www.robots.ox.ac.uk/~vgg/data/pets/data/annotations.tar.gz",
                    "95a8c909bbe2e81eed6a22bccdf3f68f",
                    size=19173078,
                ),
            ),
            splits={"train": 3680, "test": 3669},
            num_classes=2,
            balanced=False,
            prepare="prepare_oxford_pets",
            homepage="https://www.robots.ox.ac.uk/~vgg/data/pets/",
            notes="Oxford-IIIT Pet reduced to cat vs dog (the SPECIES column): a public stand-in for Dogs vs Cats.",
            options={"image_size": 64},
        ),
    ]
}


def get_dataset(name: str) -> DatasetSpec:
    try:
        return DATASETS[name]
    except KeyError:
        raise KeyError(f"unknown dataset {name!r}; known: {', '.join(sorted(DATASETS))}") from None


def num_classes(subset: dict) -> int:
    """The classes of a study's subset: its `classes`, else all of its dataset's."""
    return subset["classes"] or DATASETS[subset["dataset"]].num_classes


def class_problem(subset: dict, name: str) -> str | None:
    """Why `name` is not a class of a study's subset (its first `classes` ones), or None (also
    where the dataset's names are only known once prepared)."""
    known = CLASS_NAMES.get(subset["dataset"])
    known = known[: subset["classes"]] if known and subset["classes"] else known
    if known is None or name in known:
        return None
    return f"{subset['dataset']} has no class {name!r} in this subset; classes: {', '.join(known)}"


def corruption_names(source: str) -> tuple[str, ...]:
    """The corruptions a shift set of `source` can name: the pipeline's own (generated) or the
    published set's files."""
    from cvrepro.study.names import CORRUPTIONS

    return CORRUPTIONS if source == "generated" else CIFAR_C_CORRUPTIONS


def shift_conditions(shift_set: dict) -> list[str]:
    """A study's shift set's conditions as '<corruption>-<severity>' names, in a fixed order."""
    corruptions = shift_set["corruptions"]
    if corruptions == ["all"]:
        corruptions = corruption_names(shift_set["source"])
    return [f"{c}-{s}" for c in corruptions for s in shift_set["severities"]]


def source_dirs(config: dict, dataset: str) -> list[str]:
    """The folder the config names where the dataset's files may already be (datasets.<name>.source_dir)."""
    settings = config["datasets"].get(dataset)
    return [settings["source_dir"]] if settings and settings["source_dir"] else []


def settings_problem(name: str, settings: dict) -> tuple[str, str] | None:
    """(key inside `datasets.<name>`, one line) of the first problem with the config's settings of
    a dataset (its files' directory, its preparation options), or None."""
    if name not in DATASETS:
        return "", f"unknown dataset; known: {', '.join(sorted(DATASETS))}"
    source_dir = settings["source_dir"]
    if source_dir is not None and not Path(source_dir).is_dir():
        return ".source_dir", (
            f"{source_dir!r} is not a directory (relative paths start at the working directory, {Path.cwd()})"
        )
    allowed = DATASETS[name].options
    for key in settings["options"]:
        if key not in allowed:
            return f".options.{key}", f"unknown option; allowed: {', '.join(sorted(allowed)) or 'none'}"
    return None


def dataset_options(config: dict, dataset: str) -> dict:
    """The dataset's preparation options: the registry's defaults overridden by the config."""
    settings = config["datasets"].get(dataset)  # filled by the schema when the config names it
    return {**DATASETS[dataset].options, **(settings["options"] if settings else {})}
