"""Every recipe of every seed study trains for one epoch on a few images of its dataset's shape.

The seed studies are meant for GPU machines and real data, so a mistake in one of their recipes
(an architecture that does not fit its images, a head, a loss, an augmentation, ImageNet weights,
initialisation from a pretraining) would otherwise surface only hours into a cluster run. Here
each pretraining and run goes through the same `main` its rule calls, with its own settings but
one epoch, on random images shaped like its dataset (ImageNet weights: random ones in the cache
torchvision reads, written by the test)."""

from __future__ import annotations

import numpy as np
import pretrain as pretrain_script
import pytest
import torch
import train as train_script
import yaml
from torchvision import models as tv_models

from conftest import REPO
from cvrepro.config import load_config, num_classes
from cvrepro.datasets.splits import write_info, write_split
from cvrepro.pretrained import imagenet_weights

pytestmark = pytest.mark.workflow

# Image side and channels of each dataset as prepared (dogs_vs_cats / oxford_pets: image_size 64).
SHAPES = {
    "fashion_mnist": (28, 1),
    "cifar10": (32, 3),
    "cifar100": (32, 3),
    "cifar10_1": (32, 3),
    "stl10": (96, 3),
    "tiny_imagenet": (64, 3),
    "oxford_pets": (64, 3),
    "dogs_vs_cats": (64, 3),
}


def seed_studies() -> dict:
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    config["studies"] = sorted(path.stem for path in (REPO / "studies").glob("*.yaml"))
    return load_config(config, REPO / "studies")[1]


STUDIES = seed_studies()


def fake_split(root, study, subset_name: str, seed: int = 0):
    """A prepared dataset dir + index file: two random images per class of the subset's shape."""
    subset = study.subsets[subset_name]
    side, channels = SHAPES[subset["dataset"]]
    classes = num_classes(subset)
    labels = np.repeat(np.arange(classes), 2 if classes > 10 else 3)
    images = np.random.default_rng(seed).integers(0, 256, (len(labels), side, side, channels), dtype=np.uint8)
    data = root / f"{subset['dataset']}-{classes}"
    if not data.exists():
        write_split(data, "train", images, labels)
        write_info(data, subset["dataset"], [f"c{i}" for i in range(classes)], {"train": len(labels)}, {})
    np.save(root / "index.npy", np.arange(len(labels)))
    return data, root / "index.npy"


@pytest.fixture(scope="module")
def imagenet_cache(tmp_path_factory):
    """Random weights under the file names torchvision's weights API looks for."""
    home = tmp_path_factory.mktemp("torch")
    cache = home / "hub" / "checkpoints"
    cache.mkdir(parents=True)
    for arch in ("resnet18", "resnet50"):
        torch.save(
            getattr(tv_models, arch)().state_dict(), cache / imagenet_weights(arch).url.rsplit("/", 1)[-1]
        )
    return home


def one_epoch(spec: dict, batch_size: int, n: int, smallest: int = 1) -> dict:
    """The recipe for one epoch; batches no larger than the fake set (SimCLR needs 2 images)."""
    return {**spec, "epochs": 1, "batch_size": max(smallest, min(batch_size, n))}


def run_pretraining(study, name: str, out) -> None:
    spec = dict(study.pretrain[name])
    data, index = fake_split(out, study, spec.pop("data"))
    spec.pop("probe_data")
    n = len(np.load(index))
    out.mkdir(parents=True, exist_ok=True)
    pretrain_script.main(
        data_dir=data,
        data_index=index,
        data_split="train",
        probe_split=None,
        out_model=out / f"{name}.pt",
        out_history=out / f"{name}.csv",
        out_metrics=out / f"{name}.json",
        device="cpu",
        **one_epoch(spec, spec["batch_size"], n, smallest=2),
    )


CASES = [(study, run) for study in STUDIES for run in STUDIES[study].runs if study != "embedded"]


@pytest.mark.parametrize("study_name, run", CASES, ids=[f"{s}-{r}" for s, r in CASES])
def test_run_recipe_trains_one_epoch(tmp_path, monkeypatch, imagenet_cache, study_name, run):
    monkeypatch.setenv("TORCH_HOME", str(imagenet_cache))
    monkeypatch.setenv("CVREPRO_TRUST_WEIGHTS_CACHE", "test: random weights under torchvision's file names")
    study = STUDIES[study_name]
    spec = {key: value for key, value in study.runs[run].items() if key not in ("train", "val", "test")}
    data, index = fake_split(tmp_path, study, study.runs[run]["train"])
    init_checkpoint = None
    if spec["init"] in study.pretrain:
        run_pretraining(study, spec["init"], tmp_path / "pretrain")
        init_checkpoint = tmp_path / "pretrain" / f"{spec['init']}.pt"
    elif spec["init"] in study.runs:
        source = {k: v for k, v in study.runs[spec["init"]].items() if k not in ("train", "val", "test")}
        train_script.main(
            train_data=data,
            train_index=index,
            train_split="train",
            out_model=tmp_path / "source.pt",
            out_history=tmp_path / "source.csv",
            out_metrics=tmp_path / "source.json",
            device="cpu",
            **one_epoch(source, source["batch_size"], len(np.load(index))),
        )
        init_checkpoint = tmp_path / "source.pt"
    metrics = train_script.main(
        train_data=data,
        train_index=index,
        train_split="train",
        val_data=data,
        val_index=index,
        val_split="train",
        init_checkpoint=init_checkpoint,
        out_model=tmp_path / "model.pt",
        out_history=tmp_path / "history.csv",
        out_metrics=tmp_path / "metrics.json",
        out_grad_flow=tmp_path / "grad_flow.csv",
        device="cpu",
        **one_epoch(spec, spec["batch_size"], len(np.load(index))),
    )
    assert metrics["epochs"] == 1 and np.isfinite(metrics["train_loss"])
    assert 0 < metrics["trained_params"] <= metrics["total_params"]


PRETRAININGS = [(study, name) for study in STUDIES for name in STUDIES[study].pretrain if study != "embedded"]


@pytest.mark.parametrize("study_name, name", PRETRAININGS, ids=[f"{s}-{n}" for s, n in PRETRAININGS])
def test_pretraining_recipe_runs_one_epoch(tmp_path, study_name, name):
    run_pretraining(STUDIES[study_name], name, tmp_path)
    assert (tmp_path / f"{name}.pt").exists()
