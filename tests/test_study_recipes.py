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
from cvrepro.config.recipes import pretraining_params, run_params
from cvrepro.data import SubsetFiles
from cvrepro.datasets.splits import write_info, write_split
from cvrepro.job import Job
from cvrepro.model_files import ModelFiles
from cvrepro.pretrained import imagenet_weights

CPU = torch.device("cpu")

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
    """The recipe for one epoch; batches no larger than the fake set (SimCLR needs 2 images). The
    schedule keeps its length in epochs (t_max), so a warm-up stays shorter than its period."""
    schedule = {**spec["schedule"], "t_max": spec["schedule"]["t_max"] or spec["epochs"]}
    return {**spec, "epochs": 1, "batch_size": max(smallest, min(batch_size, n)), "schedule": schedule}


def run_pretraining(study, name: str, out) -> None:
    """The pretraining as its rule passes it (cvrepro.config.recipes), for one epoch."""
    spec = pretraining_params(study, name)
    data, index = fake_split(out, study, study.pretrain[name]["data"])
    out.mkdir(parents=True, exist_ok=True)
    labelled = {}  # the online probe trains alongside: its labelled sets are the job's inputs too
    if spec["probe"] == "online":
        for role in ("probe_data", "probe_val"):
            if study.pretrain[name][role] is not None:
                (out / role).mkdir(exist_ok=True)
                files, role_index = fake_split(out / role, study, study.pretrain[name][role], 1)
                labelled[role] = SubsetFiles(files, "train", role_index)
    pretrain_script.main(
        one_epoch(spec, spec["batch_size"], len(np.load(index)), smallest=2),
        data=SubsetFiles(data, "train", index),
        probe=labelled.get("probe_data"),
        probe_val=labelled.get("probe_val"),
        out=ModelFiles(out / f"{name}.pt", out / f"{name}.csv", out / f"{name}.json"),
        ctx=Job(CPU),
    )


def train_run(study, name: str, data, index, out, init_checkpoint=None, val: bool = False) -> dict:
    """The run as its rule passes it (cvrepro.config.recipes), for one epoch."""
    spec = run_params(study, name)
    subset = SubsetFiles(data, "train", index)
    return train_script.main(
        one_epoch(spec, spec["batch_size"], len(np.load(index))),
        train=subset,
        val=subset if val else None,
        init=init_checkpoint,
        out=ModelFiles(
            out / f"{name}.pt",
            out / f"{name}.csv",
            out / f"{name}.json",
            grad_flow=out / f"{name}-grad_flow.csv",
        ),
        ctx=Job(CPU),
    )


CASES = [(study, run) for study in STUDIES for run in STUDIES[study].runs if study != "embedded"]


@pytest.mark.parametrize("study_name, run", CASES, ids=[f"{s}-{r}" for s, r in CASES])
def test_run_recipe_trains_one_epoch(tmp_path, monkeypatch, imagenet_cache, study_name, run):
    monkeypatch.setenv("TORCH_HOME", str(imagenet_cache))
    monkeypatch.setenv("CVREPRO_TRUST_WEIGHTS_CACHE", "test: random weights under torchvision's file names")
    study = STUDIES[study_name]
    init = study.runs[run]["init"]
    data, index = fake_split(tmp_path, study, study.runs[run]["train"])
    init_checkpoint = None
    if init in study.pretrain:
        run_pretraining(study, init, tmp_path / "pretrain")
        init_checkpoint = tmp_path / "pretrain" / f"{init}.pt"
    elif init in study.runs:
        train_run(study, init, data, index, tmp_path)
        init_checkpoint = tmp_path / f"{init}.pt"
    metrics = train_run(study, run, data, index, tmp_path, init_checkpoint, val=True)
    assert metrics["epochs"] == 1 and np.isfinite(metrics["train_loss"])
    assert 0 < metrics["trained_params"] <= metrics["total_params"]


PRETRAININGS = [(study, name) for study in STUDIES for name in STUDIES[study].pretrain if study != "embedded"]


@pytest.mark.parametrize("study_name, name", PRETRAININGS, ids=[f"{s}-{n}" for s, n in PRETRAININGS])
def test_pretraining_recipe_runs_one_epoch(tmp_path, study_name, name):
    run_pretraining(STUDIES[study_name], name, tmp_path)
    assert (tmp_path / f"{name}.pt").exists()
