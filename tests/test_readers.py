"""Each built-in dataset's reader on small files in the dataset's real on-disk format, written here
with its module's writer (cvrepro/data/builtin/<name>.py)."""

from __future__ import annotations

import gzip
import hashlib
import json
import zipfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from conftest import FMNIST_DIR, needs_fashion_mnist
from cvrepro.data.builtin import (
    _cifar_c,
    cifar10,
    cifar10_1,
    cifar100,
    dogs_vs_cats,
    oxford_pets,
    stl10,
    tiny_imagenet,
)
from cvrepro.data.datasets import formats
from cvrepro.data.datasets.prepare import prepare_dataset
from cvrepro.data.datasets.registry import get_dataset
from cvrepro.data.datasets.splits import load_split, read_info

RNG = np.random.default_rng(0)


def prepare_test_files(name: str, download_dir: Path, out_dir: Path, options: dict | None = None) -> Path:
    """prepare_dataset on files this test wrote in the dataset's real format.

    They are not the published files, so the registry's md5 cannot match: the spec declares the
    md5 of the test's own file instead, and every check still runs (the md5 comparison before
    reading, structure checks where the registry has no md5, the readers, the split contract).
    """
    spec = get_dataset(name)
    files = tuple(
        replace(
            f, md5=hashlib.md5((Path(download_dir) / f.filename).read_bytes()).hexdigest(), content_md5=None
        )
        if f.md5 and (Path(download_dir) / f.filename).is_file()
        else f
        for f in spec.files
    )
    return prepare_dataset(name, download_dir, out_dir, options, spec=replace(spec, files=files))


def asymmetric_images(n: int, side: int, channels: int = 3) -> np.ndarray:
    """Images whose top-left corner is bright and bottom-right dark: orientation is checkable."""
    images = RNG.integers(0, 100, (n, side, side, channels), dtype=np.uint8)
    images[:, : side // 4, : side // 4] = 250
    return images


def test_fashion_mnist_idx_gz(tmp_path):
    images = asymmetric_images(12, 28, 1)[..., 0]
    labels = RNG.integers(0, 10, 12, dtype=np.uint8)
    for prefix, n in (("train", 12), ("t10k", 5)):
        formats.write_idx_gz(tmp_path / f"{prefix}-images-idx3-ubyte.gz", images[:n])
        formats.write_idx_gz(tmp_path / f"{prefix}-labels-idx1-ubyte.gz", labels[:n])
    out = prepare_test_files("fashion_mnist", tmp_path, tmp_path / "prepared")
    train = load_split(out, "train")
    assert train.images.shape == (12, 28, 28, 1) and train.images.dtype == np.uint8
    assert np.array_equal(train.images[..., 0], images) and np.array_equal(train.labels, labels)
    assert train.labels.dtype == np.int64
    assert train.classes[0] == "T-shirt/top" and read_info(out)["splits"] == {"train": 12, "test": 5}


def test_idx_with_wrong_header_is_rejected(tmp_path):
    from cvrepro.data.datasets.readers import read_idx

    path = tmp_path / "bad.gz"
    path.write_bytes(gzip.compress(bytes([0, 0, 0x08, 1]) + (10).to_bytes(4, "big") + b"\x00" * 3))
    with pytest.raises(ValueError, match="header says"):
        read_idx(path)


def test_cifar10_pickled_batches_in_tar(tmp_path):
    images = asymmetric_images(12, 32)
    labels = RNG.integers(0, 10, 12).tolist()
    labels = np.array(labels)
    cifar10.write_archive(
        tmp_path / "cifar-10-python.tar.gz",
        (images[:10], labels[:10]),
        (images[10:], labels[10:]),
        cifar10.CLASSES,
    )
    out = prepare_test_files("cifar10", tmp_path, tmp_path / "prepared")
    train, test = load_split(out, "train"), load_split(out, "test")
    assert np.array_equal(train.images, images[:10]) and np.array_equal(test.images, images[10:])
    assert train.labels.tolist() == labels[:10].tolist() and train.classes[9] == "truck"
    assert train.images[0, 0, 0, 0] == 250  # upright: the bright corner stays top-left


def test_cifar100_fine_labels(tmp_path):
    images = asymmetric_images(6, 32)
    cifar100.write_archive(
        tmp_path / "cifar-100-python.tar.gz",
        (images[:4], np.array([99, 3, 50, 0])),
        (images[4:6], np.array([99, 3])),
        [f"c{i}" for i in range(100)],
        [f"super{i}" for i in range(20)],
    )
    out = prepare_test_files("cifar100", tmp_path, tmp_path / "prepared")
    assert load_split(out, "train").labels.tolist() == [99, 3, 50, 0]
    assert (
        np.array_equal(load_split(out, "test").images, images[4:])
        and len(load_split(out, "test").classes) == 100
    )


def test_stl10_binary_is_upright_and_unlabelled_is_streamed(tmp_path):
    train, test, unlabeled = asymmetric_images(4, 96), asymmetric_images(3, 96), asymmetric_images(5, 96)
    stl10.write_archive(
        tmp_path / "stl10_binary.tar.gz",
        (train, np.array([0, 1, 9, 4])),
        (test, np.array([2, 2, 0])),
        unlabeled,
        ["airplane", "bird", "car", "cat", "deer", "dog", "horse", "monkey", "ship", "truck"],
    )
    out = prepare_test_files("stl10", tmp_path, tmp_path / "prepared")
    got = load_split(out, "train")
    assert np.array_equal(got.images, train) and got.images[0, 0, 0, 0] == 250
    assert got.labels.tolist() == [0, 1, 9, 4] and got.classes[2] == "car"
    free = load_split(out, "unlabeled")
    assert np.array_equal(free.images, unlabeled) and set(free.labels.tolist()) == {-1}
    assert isinstance(free.images, np.memmap)


def test_tiny_imagenet_folders_and_val_annotations(tmp_path):
    # wnids.txt is not sorted; classes follow sorted order (ImageFolder's)
    words = {"n02": "salamander", "n01": "goldfish, Carassius auratus", "n03": "bullfrog"}
    train = [
        (np.full((64, 64, 3), 40 * int(wnid[-1]) + i, dtype=np.uint8), wnid)
        for wnid in words
        for i in range(2)
    ]
    val = [(np.full((64, 64, 3), 200, np.uint8), "n03"), (np.full((64, 64, 3), 10, np.uint8), "n01")]
    tiny_imagenet.write_archive(tmp_path / "tiny-imagenet-200.zip", words, train, val)
    out = prepare_test_files("tiny_imagenet", tmp_path, tmp_path / "prepared")
    train, test = load_split(out, "train"), load_split(out, "test")
    assert train.classes == ["goldfish", "salamander", "bullfrog"]
    assert sorted(train.labels.tolist()) == [0, 0, 1, 1, 2, 2]
    assert test.labels.tolist() == [2, 0] and abs(int(test.images[0].mean()) - 200) <= 2
    first_n02 = train.images[train.labels == 1][0]
    assert abs(int(first_n02.mean()) - 80) <= 2 and train.images.shape[1:] == (64, 64, 3)


def test_cifar10_1_npy_pair_and_shape_check(tmp_path):
    images = asymmetric_images(20, 32)
    cifar10_1.write_files(
        tmp_path / "cifar10.1_v6_data.npy", tmp_path / "cifar10.1_v6_labels.npy", images, np.arange(20) % 10
    )
    out = prepare_test_files("cifar10_1", tmp_path, tmp_path / "prepared")
    assert (
        np.array_equal(load_split(out, "test").images, images)
        and load_split(out, "test").classes[0] == "airplane"
    )
    np.save(tmp_path / "cifar10.1_v6_data.npy", images[:, :16])
    with pytest.raises(ValueError, match=r"expected uint8 \(N, 32, 32, 3\)"):
        prepare_test_files("cifar10_1", tmp_path, tmp_path / "prepared2")


@pytest.mark.parametrize("nested", [False, True])
def test_dogs_vs_cats_kaggle_zip(tmp_path, nested):
    cats = [("cat", np.full((50, 80, 3), 30, np.uint8))] * 3
    dogs = [("dog", np.full((90, 60, 3), 220, np.uint8))] * 3
    (tmp_path / "train.zip").write_bytes(dogs_vs_cats.archive_bytes(cats + dogs, nested))
    out = prepare_test_files("dogs_vs_cats", tmp_path, tmp_path / "prepared", {"image_size": 32})
    data = load_split(out, "train")
    assert data.images.shape == (6, 32, 32, 3) and data.classes == ["cat", "dog"]
    assert sorted(data.labels.tolist()) == [0, 0, 0, 1, 1, 1]
    assert data.images[data.labels == 1].mean() > 200 > 40 > data.images[data.labels == 0].mean()
    assert json.loads((out / "info.json").read_text())["source"]["options"] == {"image_size": 32}


def test_dogs_vs_cats_rejects_other_zips_and_unknown_options(tmp_path):
    with zipfile.ZipFile(tmp_path / "train.zip", "w") as archive:
        archive.writestr("readme.txt", "hello")
    with pytest.raises(ValueError, match="no train/cat.N.jpg"):
        prepare_test_files("dogs_vs_cats", tmp_path, tmp_path / "prepared")
    with pytest.raises(ValueError, match="datasets.dogs_vs_cats.options.size: unknown option"):
        prepare_test_files("dogs_vs_cats", tmp_path, tmp_path / "prepared", {"size": 3})
    assert not (tmp_path / "prepared").exists() and not (tmp_path / "prepared.part").exists()


def test_oxford_pets_cat_vs_dog_from_species_column(tmp_path):
    def pet(name: str, class_id: int, species: int) -> tuple:
        return name, class_id, species, np.full((40, 70, 3), 60 * species, np.uint8)

    oxford_pets.write_archives(
        tmp_path / "images.tar.gz",
        tmp_path / "annotations.tar.gz",
        {
            "trainval.txt": [pet("Abyssinian_1", 1, 1), pet("beagle_1", 2, 2)],
            "test.txt": [pet("Bengal_2", 6, 1)],
        },
    )
    out = prepare_test_files("oxford_pets", tmp_path, tmp_path / "prepared", {"image_size": 16})
    train = load_split(out, "train")
    assert train.labels.tolist() == [0, 1] and train.images.shape == (2, 16, 16, 3)
    assert load_split(out, "test").labels.tolist() == [0]


@needs_fashion_mnist
def test_real_fashion_mnist_from_debian(tmp_path):
    out = prepare_dataset("fashion_mnist", FMNIST_DIR, tmp_path / "prepared")
    train, test = load_split(out, "train"), load_split(out, "test")
    assert len(train) == 60000 and len(test) == 10000
    assert (
        train.labels[0] == 9 and np.bincount(train.labels).tolist() == [6000] * 10
    )  # first image: an ankle boot


def test_published_cifar10_c_as_a_shift_set_source(tmp_path):
    import shift as shift_script

    from cvrepro.data.datasets.splits import write_info, write_split

    clean, labels = asymmetric_images(6, 32), np.array([3, 1, 4, 1, 5, 9])
    # Image (s, i) = clean image i shifted by a value that encodes corruption and severity.
    corrupted = {
        corruption: np.concatenate([clean // 2 + 10 * c + s for s in range(1, 6)]).astype(np.uint8)
        for c, corruption in enumerate(_cifar_c.CORRUPTIONS)
    }
    _cifar_c.write_archive(tmp_path / "CIFAR-10-C.tar", "CIFAR-10-C", corrupted, np.tile(labels, 5))
    published = prepare_test_files("cifar10_c", tmp_path, tmp_path / "prepared" / "cifar10_c")
    fog = load_split(published, "fog")
    assert fog.images.shape == (30, 32, 32, 3) and fog.classes[0] == "airplane"

    clean_dir = tmp_path / "prepared" / "cifar10"
    write_split(clean_dir, "test", clean, labels)
    write_info(clean_dir, "cifar10", [str(i) for i in range(10)], {"test": 6}, {})
    np.save(tmp_path / "index.npy", np.array([4, 1]))
    out = tmp_path / "shifted"
    shift_script.main(
        clean_dir, "test", tmp_path / "index.npy", out, ["fog-3", "contrast-5"], published_dir=published
    )
    fog3 = np.load(out / "fog-3.npz")
    assert np.array_equal(fog3["images"], fog.images[[2 * 6 + 1, 2 * 6 + 4]])  # severity 3, images 1 and 4
    assert fog3["labels"].tolist() == [1, 5]

    write_split(clean_dir, "test", clean, labels[::-1].copy())  # a different test set
    with pytest.raises(ValueError, match="labels do not match the clean test split"):
        shift_script.main(
            clean_dir, "test", tmp_path / "index.npy", tmp_path / "s2", ["fog-1"], published_dir=published
        )


def test_published_cifar_c_with_a_missing_corruption_is_rejected(tmp_path):
    _cifar_c.write_archive(tmp_path / "CIFAR-100-C.tar", "CIFAR-100-C", {}, np.zeros(10, np.int64))
    with pytest.raises(ValueError, match="no member 'CIFAR-100-C/gaussian_noise.npy'"):
        prepare_test_files("cifar100_c", tmp_path, tmp_path / "prepared")
