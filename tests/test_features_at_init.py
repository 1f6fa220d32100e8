"""`<pretraining>@init`: features of a pretraining's encoder at its random initialisation, the
random-encoder reference of self-supervised probes. The network extract.py rebuilds is the one the
pretraining started from; replicate k reads replicate k's initialisation; a name that is not a
pretraining fails at validation, naming the key. (studies/ssl_methods.yaml runs it through
Snakemake in the rehearsal.)"""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from conftest import TINY_STUDY
from cvrepro.config import ConfigError, resolve_study
from cvrepro.jobs.job import Job
from cvrepro.jobs.recipes import pretraining_recipe
from cvrepro.nets.checkpoint import ModelFiles, load_model


def study_with_probe(features: str, repeats: int = 1) -> dict:
    study = copy.deepcopy(TINY_STUDY)
    study["pretrain"]["ssl"]["repeats"] = repeats
    study["probes"] = {
        "init": {"kind": "knn", "features": features, "train": "small", "test": "test", "repeats": repeats}
    }
    study["tables"] = {"t": {"probes": ["init"]}}
    study["figures"] = {}
    return study


def test_replicate_k_reads_the_initialisation_of_pretraining_replicate_k():
    study = resolve_study("tiny", study_with_probe("ssl@init", repeats=3), "studies/tiny.yaml")
    features = [study.probes[job]["features"] for job in study.jobs("init")]
    assert features == ["ssl@init", "ssl.r1@init", "ssl.r2@init"]
    assert [study.pretrain[job]["seed"] for job in ("ssl", "ssl.r1", "ssl.r2")] == [0, 1, 2]


@pytest.mark.parametrize(
    "features, expected",
    [
        ("sls@init", "probes.init.features: expected 'pixels', imagenet_<arch>"),
        ("a@init", "or <pretraining>@init (its random initialisation), got 'a@init'; did you mean ssl@init?"),
        ("ssl@start", "got 'ssl@start'"),
    ],
)
def test_only_a_pretraining_has_an_init_source(features, expected):
    with pytest.raises(ConfigError) as info:
        resolve_study("tiny", study_with_probe(features), "studies/tiny.yaml")
    assert expected in str(info.value)
    assert "studies/tiny.yaml: probes.init.features" in str(info.value)


def subset(root, n: int = 24):
    """n 28x28 grey images of two classes as a prepared subset."""
    from cvrepro.data.datasets.splits import write_info, write_split
    from cvrepro.data.tensors import SubsetFiles

    images = np.random.default_rng(0).integers(0, 256, (n, 28, 28, 1), dtype=np.uint8)
    write_split(root / "data", "train", images, np.arange(n) % 2)
    write_info(root / "data", "easy", ["a", "b"], {"train": n}, {})
    np.save(root / "all.npy", np.arange(n))
    return SubsetFiles(root / "data", "train", root / "all.npy")


def test_the_features_at_init_are_those_of_the_weights_the_pretraining_started_from(tmp_path):
    """pretrain.py for one epoch at a learning rate of 1e-30 leaves every weight where it started
    (BatchNorm's running statistics move: reset, they are where they started too). extract.py's
    `@init` features equal that network's, and differ from the trained checkpoint's and from
    another seed's initialisation."""
    import extract
    import pretrain

    from cvrepro.nets.inference import extract_features

    files = subset(tmp_path)
    recipe = pretraining_recipe(
        method="simclr",
        model={"arch": "resnet18", "stem": "cifar", "width": 4},
        epochs=1,
        batch_size=8,
        seed=5,
        optimizer={"name": "sgd", "lr": 1e-30, "momentum": 0.0, "weight_decay": 0.0},
        projection={"hidden": 8, "dim": 4},
    )
    out = ModelFiles(tmp_path / "model.pt", tmp_path / "history.csv", tmp_path / "metrics.json")
    quiet = Job(torch.device("cpu"), lambda line: None)
    pretrain.main(recipe, data=files, probe=None, probe_val=None, out=out, ctx=quiet)
    model, checkpoint = load_model(out.model)
    trained = extract_features(model, files.load(torch.device("cpu")), *_norm(checkpoint), "penultimate")
    for module in model.modules():
        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
            module.reset_running_stats()
    started = extract_features(model, files.load(torch.device("cpu")), *_norm(checkpoint), "penultimate")

    def at_init(seed: int) -> np.ndarray:
        torch.manual_seed(seed + 100)  # whatever the global generator holds, extract reseeds it
        return extract.main(files, tmp_path / f"init{seed}.npz", out.model, None, "penultimate", quiet, seed)

    np.testing.assert_allclose(at_init(5), started, rtol=1e-5, atol=1e-6)
    assert not np.allclose(at_init(5), trained, atol=1e-3)  # not the checkpoint's BN statistics
    assert not np.allclose(at_init(6), started, atol=1e-3)
    assert np.array_equal(np.load(tmp_path / "init5.npz")["features"], at_init(5))


def _norm(checkpoint: dict) -> tuple:
    norm = checkpoint["normalization"]
    return norm["mean"], norm["std"], norm["size"]
