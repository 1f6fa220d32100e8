"""S3's shape end to end on STL-10 files in the real format, ImageNet weights from torchvision's
cache (both written by the test): the DAG runs fine-tuning with frozen layers, an SVM on ImageNet
features and the zero-shot class mapping. The test's archive cannot have the published md5, so
it is prepared here as the download and prepare rules would, and the DAG starts after them."""

from __future__ import annotations

import json
import tarfile

import numpy as np
import pandas as pd
import pytest
import torch
from test_readers import prepare_test_files
from torchvision.models import resnet18

from conftest import run_snakemake
from cvrepro.datasets.formats import add_to_tar, stl_bytes
from cvrepro.pretrained import imagenet_weights

pytestmark = pytest.mark.workflow

STL10_CLASSES = b"airplane\nbird\ncar\ncat\ndeer\ndog\nhorse\nmonkey\nship\ntruck\n"


def write_stl10(path, per_class: int = 2) -> None:
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(10), per_class)
    with tarfile.open(path, "w:gz") as archive:
        for split in ("train", "test"):
            images = rng.integers(0, 256, (len(labels), 96, 96, 3), dtype=np.uint8)
            add_to_tar(archive, f"stl10_binary/{split}_X.bin", stl_bytes(images))
            add_to_tar(archive, f"stl10_binary/{split}_y.bin", bytes((labels + 1).tolist()))  # 1-based
        add_to_tar(archive, "stl10_binary/unlabeled_X.bin", stl_bytes(images[:4]))
        add_to_tar(archive, "stl10_binary/class_names.txt", STL10_CLASSES)


def test_stl10_transfer_study_with_cached_imagenet_weights(tmp_path, monkeypatch):
    work = tmp_path / "work"
    downloads = work / "resources" / "downloads" / "stl10"
    downloads.mkdir(parents=True)
    write_stl10(downloads / "stl10_binary.tar.gz")
    prepare_test_files("stl10", downloads, work / "resources" / "prepared" / "stl10")
    cache = tmp_path / "torch" / "hub" / "checkpoints"
    cache.mkdir(parents=True)
    torch.manual_seed(0)
    torch.save(resnet18().state_dict(), cache / imagenet_weights("resnet18").url.rsplit("/", 1)[-1])
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    # Random weights under torchvision's file name: their sha256 cannot match it (inherited by snakemake).
    monkeypatch.setenv("CVREPRO_TRUST_WEIGHTS_CACHE", "test: random weights under torchvision's file name")
    study = {
        "subsets": {
            "train": {"dataset": "stl10", "split": "train"},
            "test": {"dataset": "stl10", "split": "test"},
        },
        "runs": {
            "finetune": {
                "train": "train",
                "test": "test",
                "init": "imagenet",
                "model": {"arch": "resnet18", "stem": "imagenet"},
                "freeze": {"children": 6},
                "epochs": 1,
                "batch_size": 10,
                "optimizer": {"name": "adam", "lr": 1e-4},
            }
        },
        "probes": {
            "svm": {"kind": "svm", "features": "imagenet_resnet18", "train": "train", "test": "test"},
            "zero_shot": {
                "kind": "zero_shot",
                "features": "imagenet_resnet18",
                "layer": "fc",
                "class_map": "imagenet_to_stl10",
                "test": "test",
            },
        },
        "tables": {
            "stl10": {
                "runs": ["finetune"],
                "probes": ["svm", "zero_shot"],
                "columns": ["train_acc", "test_acc", "trained_params"],
                "reported": {"zero_shot": {"test_acc": 0.2075}},
            }
        },
        "figures": {"confusion": {"kind": "confusion", "runs": ["svm", "zero_shot", "finetune"]}},
    }
    config = {
        "studies": ["s3"],
        "device": "cpu",
        "threads": 1,
        "inline_studies": {"s3": study},
    }
    result = run_snakemake(work, config, "--cores", "2")
    assert result.returncode == 0, result.stderr[-4000:]
    assert "rule download:" not in result.stdout + result.stderr  # the prepared split was used
    results = work / "results" / "s3"
    table = pd.read_csv(results / "tables/stl10.csv", index_col="run")
    assert list(table.index) == ["finetune", "svm", "zero_shot"]
    assert table["test_acc"].between(0, 1).all() and table.loc["zero_shot", "test_acc_reported"] == 0.2075
    # conv1..layer2 frozen: layer3, layer4 and the new 10-class fc train.
    assert table.loc["finetune", "trained_params"] < 11_200_000
    zero_shot = json.loads((results / "probes/zero_shot/metrics.json").read_text())
    assert zero_shot["classes"][-1] == "other" and np.array(zero_shot["confusion"]).shape == (11, 11)
    logits = np.load(results / "features/imagenet_resnet18/fc/test.npz")["features"]
    assert logits.shape == (20, 1000)  # the ImageNet classifier's scores, mapped by the probe
    report = (results / "REPORT.md").read_text()
    assert "STL-10's images come from ImageNet" in report and "optimistic" in report
    assert (results / "figures/confusion.png").read_bytes()[:4] == b"\x89PNG"
