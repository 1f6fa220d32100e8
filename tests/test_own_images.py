"""Your own images as a study's dataset (issue 36): a folder, a CSV or a torchvision class,
decoded once into the prepared form, counted before any job, described by a data card, and every
bad input a one-line error that deletes nothing."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from own_images import CLASSES, picture, write_csv, write_tree
from PIL import Image

from conftest import FMNIST_DIR, REPO, copy_repository, needs_fashion_mnist, repo_config, run_snakemake
from cvrepro.config import ConfigError, load_config
from cvrepro.config.schema import definition, validate
from cvrepro.data.datasets import formats
from cvrepro.data.datasets.prepare import prepare_dataset
from cvrepro.data.datasets.readers import read_idx
from cvrepro.data.datasets.registry import DATASETS
from cvrepro.data.datasets.splits import load_split
from cvrepro.data.sources import DECLARED, SourceError
from cvrepro.data.sources._prepare import prepare_declared

GUIDE = (REPO / "studies" / "README.md").read_text()


@pytest.fixture(autouse=True)
def fresh_registry():
    """Each test declares its datasets anew (the registry holds what loaded studies declared)."""
    before = dict(DATASETS)
    yield
    DECLARED.clear()
    DATASETS.clear()
    DATASETS.update(before)


def test_every_source_module_is_in_the_schema_enum_and_back():
    from cvrepro.config.schema import load_schema
    from cvrepro.data.sources import SOURCES

    enum = load_schema("study.schema.yaml")["definitions"]["dataset_source"]["properties"]["source"]["enum"]
    assert sorted(SOURCES) == sorted(enum)


def entry(**keys) -> dict:
    return validate(keys, definition("dataset_source"), "datasets.pics")


def prepare(tmp: Path, out: str, **keys) -> Path:
    prepare_declared("pics", {**entry(**keys), "listing": "-"}, tmp / out, rehearsal=False, workers=2)
    return tmp / out


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_folder_and_the_same_images_as_a_csv_give_the_same_prepared_arrays(tmp_path):
    tree = tmp_path / "tree"
    write_tree(tree)
    # An exact duplicate within a split, beside the tree's leak across train and test.
    (tree / "test" / "dog" / "dog_copy.png").write_bytes((tree / "test" / "dog" / "dog_1.png").read_bytes())
    csv = write_csv(tree, tmp_path / "manifest.csv")
    common = {"resize": {"size": 16, "mode": "crop"}, "on_bad_image": "skip"}
    a = prepare(tmp_path, "a", source="folder", path=str(tree), **common)
    b = prepare(tmp_path, "b", source="csv", path=str(csv), **common)
    for split in ("train", "test"):
        x, y = load_split(a, split), load_split(b, split)
        assert x.classes == y.classes == CLASSES
        assert np.array_equal(x.images, y.images) and np.array_equal(x.labels, y.labels)
        assert x.images.shape[1:] == (16, 16, 3)
    files = (a / "train" / "files.txt").read_text().splitlines()
    assert any(name.endswith("abeja_ñandú_蜂.png") for name in files)  # non-ASCII name read
    assert any(name.endswith("UPPER.JPG") for name in files)  # upper-case extension read
    assert not any(Path(name).name in (".DS_Store", "Thumbs.db", "notes.txt") for name in files)
    assert not any(name.endswith("broken.jpg") for name in files)  # skipped, and listed:
    card = (a / "card.md").read_text()
    assert "`train/cat/broken.jpg`: damaged or truncated" in card
    assert "`train: train/bee/bee_0.png`, `test: test/bee/leak.png`" in card  # the leak
    assert "**Leaks: 1 file(s) identical across splits**" in card
    assert (
        "1 set(s) of identical files within test:\n  - `test/dog/dog_1.png`, `test/dog/dog_copy.png`" in card
    )
    counted = json.loads((a / "card.json").read_text())
    assert counted["splits"]["test"]["duplicates"] == [["test/dog/dog_1.png", "test/dog/dog_copy.png"]]
    assert counted["splits"]["train"]["duplicates"] == [] and len(counted["leaks"]) == 1
    for conversion in ("CMYK to RGB", "P to RGB", "RGBA to RGB (alpha dropped)", "I;16 (16-bit) scaled"):
        assert conversion in card


def test_resize_modes_exif_and_grey(tmp_path):
    tree = tmp_path / "tree" / "only"
    tree.mkdir(parents=True)
    image = picture(1, (40, 20), "RGB")
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to view: stored 40x20, shown 20x40
    image.save(tree / "rotated.jpg", exif=exif, quality=95)
    image.convert("L").save(tree / "grey.png")
    for mode, expected in (("stretch", (8, 8)), ("pad", (8, 8)), ("crop", (8, 8))):
        out = prepare(
            tmp_path, mode, source="folder", path=str(tree.parent), resize={"size": 8, "mode": mode}
        )
        assert load_split(out, "train").images.shape == (2, *expected, 3)
    grey = prepare(tmp_path, "grey", source="folder", path=str(tree.parent), resize={"size": 8}, channels=1)
    assert load_split(grey, "train").images.shape == (2, 8, 8, 1)
    assert "EXIF orientation applied" in (grey / "card.md").read_text()
    padded = load_split(tmp_path / "pad", "train").images[1]  # rotated.jpg: upright 20x40, padded
    assert padded[:, 0].max() == 0 and padded[:, -1].max() == 0 and padded[4, 4].max() > 0


def test_one_tree_split_by_the_study_is_stratified_seeded_and_saved(tmp_path):
    tree = tmp_path / "tree"
    for c, n in (("a", 10), ("b", 20)):
        (tree / c).mkdir(parents=True)
        for i in range(n):
            picture(i, (8, 8), "RGB").save(tree / c / f"{i}.png")
    split = {"test": 0.2, "val": 0.1}
    out = prepare(tmp_path, "p", source="folder", path=str(tree), split=split, seed=3)
    again = prepare(tmp_path, "q", source="folder", path=str(tree), split=split, seed=3)
    counts = {s: np.bincount(load_split(out, s).labels).tolist() for s in ("train", "val", "test")}
    assert counts == {"train": [7, 14], "val": [1, 2], "test": [2, 4]}
    files = {s: (out / s / "files.txt").read_text().splitlines() for s in ("train", "val", "test")}
    assert sum(map(len, files.values())) == 30 and not set(files["train"]) & set(files["test"])
    assert files["test"] == (again / "test" / "files.txt").read_text().splitlines()


def test_unlabelled_folders_and_integer_csv_labels(tmp_path):
    """`labels: none`: every image under a nested folder, one unlabelled split; a CSV of integer
    labels without a split column, divided by `split` like a folder."""
    for i, sub in enumerate(["", "x", "x/y", "z"]):
        (tmp_path / "u" / sub).mkdir(parents=True, exist_ok=True)
        picture(i, (8, 8), "RGB").save(tmp_path / "u" / sub / f"{i}.png")
    unlabelled = load_split(
        prepare(tmp_path, "p", source="folder", path=str(tmp_path / "u"), labels="none"), "unlabeled"
    )
    assert len(unlabelled) == 4 and (unlabelled.labels == -1).all() and unlabelled.classes == []
    rows = [f"u/{i}.png" if i == 0 else f"u/{['x', 'x/y', 'z'][i - 1]}/{i}.png" for i in range(4)]
    (tmp_path / "m.csv").write_text("".join(f"{path},{i % 2}\n" for i, path in enumerate(rows * 1)))
    out = prepare(tmp_path, "q", source="csv", path=str(tmp_path / "m.csv"), split={"test": 0.5})
    assert load_split(out, "train").classes == ["0", "1"]
    assert [len(load_split(out, s)) for s in ("train", "test")] == [2, 2]


@needs_fashion_mnist
def test_a_folder_of_fashion_mnist_pngs_equals_the_built_in_dataset(tmp_path):
    """A sample of Fashion-MNIST's training images written as PNGs, one folder per class (folder
    names 0..9 sort as the labels), prepares to the built-in dataset's images and labels."""
    builtin = prepare_dataset("fashion_mnist", FMNIST_DIR, tmp_path / "builtin")
    images = read_idx(FMNIST_DIR / "train-images-idx3-ubyte.gz")
    labels = read_idx(FMNIST_DIR / "train-labels-idx1-ubyte.gz")
    sample = {c: np.flatnonzero(labels == c)[:6] for c in range(10)}
    for c, indices in sample.items():
        (tmp_path / "pngs" / "train" / str(c)).mkdir(parents=True)
        for i in indices:
            Image.fromarray(images[i]).save(tmp_path / "pngs" / "train" / str(c) / f"{i:05d}.png")
    ours = load_split(
        prepare(tmp_path, "ours", source="folder", path=str(tmp_path / "pngs"), channels=1), "train"
    )
    theirs = load_split(builtin, "train")
    for c, indices in sample.items():
        assert np.array_equal(ours.images[ours.labels == c], theirs.images[indices])
        assert np.array_equal(ours.labels[ours.labels == c], theirs.labels[indices])


def test_a_torchvision_class_prepares_from_files_in_its_real_format(tmp_path):
    """MNIST's IDX files, written here, read through torchvision.datasets.MNIST itself."""
    raw = tmp_path / "root" / "MNIST" / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    written = {}
    for prefix, n in (("train", 20), ("t10k", 10)):
        images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        labels = np.arange(n, dtype=np.uint8) % 10
        (raw / f"{prefix}-images-idx3-ubyte").write_bytes(formats.idx_bytes(images))
        (raw / f"{prefix}-labels-idx1-ubyte").write_bytes(formats.idx_bytes(labels))
        written[prefix] = (images, labels)
    splits = {"train": {"train": True}, "test": {"train": False}}
    out = prepare(
        tmp_path,
        "p",
        source="torchvision",
        path=str(tmp_path / "root"),
        splits=splits,
        channels=1,
        **{"class": "MNIST"},
    )
    for split, prefix in (("train", "train"), ("test", "t10k")):
        prepared = load_split(out, split)
        assert np.array_equal(prepared.images[..., 0], written[prefix][0])
        assert np.array_equal(prepared.labels, written[prefix][1])
    assert load_split(out, "train").classes[0] == "0 - zero"


# --- bad input: one line naming the file or key, nothing deleted -----------------------------


def load(tmp_path: Path, **dataset) -> None:
    study = {
        "datasets": {"pics": dataset},
        "subsets": {"train": {"dataset": "pics", "split": "train"}},
        "runs": {"a": {"train": "train", "test": "train"}},
    }
    load_config({"studies": ["s"], "inline_studies": {"s": study}}, tmp_path / "no-studies")


def broken_tree(tmp_path: Path, fault: str) -> dict:
    """A small good tree (or CSV), then one fault planted; the declaration to load."""
    tree = tmp_path / "t"
    for split in ("train", "test"):
        for c in ("a", "b"):
            (tree / split / c).mkdir(parents=True)
            for i in range(3):
                picture(i, (8, 8), "RGB").save(tree / split / c / f"{i}.png")
    csv = tmp_path / "m.csv"
    rows = [f"t/{s}/{c}/{i}.png,{c},{s}" for s in ("train", "test") for c in ("a", "b") for i in range(3)]
    declared = {"source": "folder", "path": str(tree)}
    as_csv = {"source": "csv", "path": str(csv)}
    if fault == "missing folder":
        declared["path"] = str(tmp_path / "nowhere")
    elif fault == "missing csv":
        declared = {**as_csv, "path": str(tmp_path / "nowhere.csv")}
    elif fault == "empty class":
        (tree / "train" / "c").mkdir()
        (tree / "train" / "c" / ".DS_Store").write_bytes(b"x")
    elif fault == "class only in test":
        shutil.copytree(tree / "test" / "b", tree / "test" / "z")
    elif fault == "symlink loop":
        os.symlink(tree / "train", tree / "train" / "a" / "loop")
    elif fault.startswith("csv"):
        extra = {
            "csv missing file": "t/train/a/9.png,a,train",
            "csv empty path": ",a,train",
            "csv unknown label": "t/train/a/0.png,zebra,train",
            "csv duplicate": "t/train/a/0.png,a,train",
            "csv columns": "t/train/a/0.png,a,train,extra",
        }[fault]
        if fault == "csv unknown label":
            rows.remove("t/train/a/0.png,a,train")
            as_csv["classes"] = ["a", "b"]
        csv.write_text("\n".join([*rows, extra]) + "\n")
        declared = as_csv
    elif fault == "split fraction":
        declared = {**declared, "path": str(tree / "train"), "split": {"test": 0.1}}
    elif fault == "torchvision class":
        declared = {
            "source": "torchvision",
            "path": str(tmp_path),
            "class": "NoSuchSet",
            "splits": {"train": {}},
        }
    elif fault == "torchvision arguments":
        declared = {
            "source": "torchvision",
            "path": str(tmp_path),
            "class": "MNIST",
            "splits": {"train": {"fold": 3}},
        }
    return declared


BAD_LISTINGS = {
    "missing folder": r"datasets\.pics\.path: folder '.*nowhere' does not exist",
    "missing csv": r"datasets\.pics\.path: CSV file '.*nowhere\.csv' does not exist",
    "empty class": r"datasets\.pics\.path: class folder .*train/c holds no image",
    "class only in test": r"class 'z' is only in .*test and not in .*train; add its training images",
    "symlink loop": r"datasets\.pics\.path: .*/loop/a links back to .*\(a symlink loop\)",
    "csv missing file": r"m\.csv:13: t/train/a/9\.png does not exist",
    "csv empty path": r"m\.csv:13: no path in the first column",
    "csv unknown label": r"m\.csv:12: unknown label 'zebra'; it is not in `classes`",
    "csv duplicate": r"m\.csv:13: t/train/a/0\.png is listed already on line 1",
    "csv columns": r"m\.csv:13: 4 columns; every row needs path,label,split",
    "split fraction": r"datasets\.pics\.split\.test: 0\.1 of class 'a' \(3 images\) rounds to no image",
    "torchvision class": r"datasets\.pics\.class: torchvision\.datasets has no class 'NoSuchSet'",
    "torchvision arguments": r"datasets\.pics\.splits\.train: torchvision\.datasets\.MNIST got an unexpected keyword argument 'fold'",
}


@pytest.mark.parametrize("fault", BAD_LISTINGS)
def test_a_bad_listing_stops_the_config_with_one_line(tmp_path, fault):
    declared = broken_tree(tmp_path, fault)
    before = snapshot(tmp_path)
    with pytest.raises(ConfigError) as error:
        load(tmp_path, **declared)
    message = str(error.value)
    assert "\n" not in message and re.search(BAD_LISTINGS[fault], message), message
    assert message.startswith("config: inline_studies.s: ")
    assert snapshot(tmp_path) == before


BAD_FILES = {
    "not an image": (b"this is text, not a PNG", "not an image Pillow can read"),
    "empty": (b"", r"empty file \(0 bytes\)"),
    "truncated": (None, r"damaged or truncated"),
    "bomb": (None, r"more pixels than Pillow's limit of 1000"),
}


@pytest.mark.parametrize("fault", BAD_FILES)
def test_a_bad_image_stops_preparation_and_keeps_the_earlier_one(tmp_path, fault, monkeypatch):
    tree = tmp_path / "t" / "a"
    tree.mkdir(parents=True)
    for i in range(3):
        picture(i, (20, 20), "RGB").save(tree / f"{i}.png")
    good = prepare(tmp_path, "out", source="folder", path=str(tree.parent))
    kept = snapshot(good)
    data, pattern = BAD_FILES[fault]
    if fault == "truncated":
        data = (tree / "0.png").read_bytes()[:-60]
    if fault == "bomb":
        monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
        data = (tree / "0.png").read_bytes()
        picture(9, (60, 60), "RGB").save(tree / "9.png")  # 3,600 pixels: over twice the limit
    if data is not None:
        (tree / "x.png").write_bytes(data)
    files = snapshot(tmp_path / "t")
    with pytest.raises(SourceError) as error:
        prepare(tmp_path, "out", source="folder", path=str(tree.parent))
    message = str(error.value)
    assert "\n" not in message and re.search(pattern, message), message
    assert "set datasets.pics.on_bad_image: skip" in message
    assert snapshot(good) == kept and snapshot(tmp_path / "t") == files
    skipped = prepare(
        tmp_path, "skipped", source="folder", path=str(tree.parent), on_bad_image="skip", resize={"size": 8}
    )
    assert "unreadable file(s), left out" in (skipped / "card.md").read_text()


# --- the guide's example, run as written, rehearsal first ------------------------------------


def test_the_guides_own_images_example_rehearses_and_runs_to_its_data_card(tmp_path):
    """studies/README.md "Your own images": its study and commands verbatim, on a generated
    folder tree (three classes, mixed sizes and modes, a truncated file, a leak)."""
    section = GUIDE.split("## Your own images", 1)[1]
    study = re.search(r"```yaml\n(.*?)```", section, re.S).group(1)
    commands = re.search(r"```sh\n(.*?)```", section, re.S).group(1).strip().splitlines()
    repo = copy_repository(tmp_path / "repo").parent
    (repo / ".venv").symlink_to(REPO / ".venv")
    (repo / "studies" / "photos.yaml").write_text(study)
    write_tree(repo / "my_images", {"train": 4, "test": 2})
    for command in commands:
        result = subprocess.run(
            ["bash", "-c", command], cwd=repo, capture_output=True, text=True, timeout=600
        )
        assert result.returncode == 0, result.stderr[-3000:]
    for report in ("results-rehearsal/photos/REPORT.md", "results/photos/REPORT.md"):
        text = (repo / report).read_text()
        assert "## Data\n" in text and "### Data card: `photos`" in text
        assert "`train/cat/broken.jpg`: damaged or truncated" in text
        assert "**Leaks: 1 file(s) identical across splits**" in text
    real = load_split(repo / "resources" / "prepared" / "photos", "train")
    assert real.classes == CLASSES and len(real) == 3 * 4 + 3  # + cmyk, UPPER, ñandú (broken.jpg left out)


# --- the rehearsal of a folder-dataset study -------------------------------------------------


def test_a_folder_study_s_rehearsal_plans_the_real_run_s_jobs_and_costs_its_real_size(tmp_path):
    """A study on a folder (7 + 1 training images per class: 24 files, 23 readable): its rehearsal's
    dry run plans exactly the real run's jobs, and its cost estimate counts the folder's real size,
    not the rehearsal's few files per class."""
    from test_rehearsal_plan import jobs_of

    from cvrepro.report.cost.plan import work_plan

    tree = tmp_path / "tree"
    write_tree(tree, {"train": 7, "test": 3})
    study = {
        "datasets": {"pics": {"source": "folder", "path": str(tree), "resize": {"size": 16, "mode": "crop"}}},
        "subsets": {
            "train": {"dataset": "pics", "split": "train"},
            "test": {"dataset": "pics", "split": "test"},
        },
        "runs": {
            "cnn": {
                "train": "train",
                "test": "test",
                "model": {"arch": "small_cnn", "width": 4},
                "batch_size": 8,
                "epochs": 2,
            }
        },
    }
    config = repo_config(studies=["mine"], inline_studies={"mine": study})
    real = run_snakemake(tmp_path / "real", config, "-n", "--cores", "2")
    rehearsal = run_snakemake(tmp_path / "rehearsal", {**config, "rehearsal": True}, "-n", "--cores", "2")
    assert real.returncode == 0 and rehearsal.returncode == 0, real.stderr[-2000:] + rehearsal.stderr[-2000:]
    planned = jobs_of(real)
    assert "prepare dataset=pics" in planned and "train study=mine, run=cnn" in planned, planned
    assert jobs_of(rehearsal) == planned

    full = 3 * 7 + 4  # cmyk.jpg, UPPER.JPG, the non-ASCII name and broken.jpg: counted before decoding
    plan = work_plan(load_config({**config, "rehearsal": "true"}, tmp_path)[1]["mine"], {"pics": (16, 3)})
    train = next(job for job in plan["jobs"] if job["rule"] == "train")
    assert train["full"] == {"train": full * 2, "forward": full}  # no validation set
    assert train["rehearsal"]["train"] < full  # the rehearsal trains on a few files per class
