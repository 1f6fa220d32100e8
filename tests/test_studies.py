"""Every seed study (studies/*.yaml) validates and its DAG builds, downloads included."""

from __future__ import annotations

import copy

import pytest
import torch
import yaml

from conftest import EXAMPLE_STUDIES, REPO, TINY_STUDY, planned_jobs, planned_wildcards, run_snakemake
from cvrepro.config import ConfigError, load_config, resolve_study
from cvrepro.evaluate.activations import activation_maps, imagenet_network

# study -> (datasets it downloads, runs it trains, pretrainings, whether it has BN sweeps)
EXPECTED = {
    "cifar100_subsets": ({"cifar100", "cifar100_c"}, {"t1", "t2", "simclr_t1"}, {"simclr_trainset2"}, True),
    "cifar10_transfer": (
        {"cifar10", "cifar10_1"},
        {"from_scratch", "imagenet_all", "imagenet_freeze6", "imagenet_freeze10", "tiny_final"},
        set(),
        False,
    ),
    "stl10_transfer": ({"stl10"}, {"finetune_frozen6"}, set(), False),
    "model_zoo": ({"stl10"}, {"mobilenet_v3_large_finetune"}, set(), False),
    "ssl_methods": (
        {"fashion_mnist"},
        {"supervised_1k"},
        {
            f"{method}{replicate}"
            for method in ("simclr", "triplet", "byol", "mocov3", "simsiam", "barlow_twins", "vicreg", "dino")
            for replicate in ("", ".r1", ".r2")
        },
        False,
    ),
    "tinyimagenet_losses": ({"tiny_imagenet"}, {"ce", "ce_triplet", "ce_center"}, set(), False),
    "dogs_cats_optimizers": (
        {"oxford_pets"},
        {"sgd_bs1", "sgd_momentum", "adam_batch.batch_size_16"},
        set(),
        False,
    ),
    "stl10_simclr": ({"stl10"}, {"supervised"}, {"simclr_unlabeled"}, False),
    "cifar10_linear_and_triplet": (
        {"cifar10"},
        {"finetuned"},
        {"triplet_encoder", "triplet_encoder_m50"},
        False,
    ),
}


def seed_studies() -> list[str]:
    return sorted(path.stem for path in (REPO / "studies").glob("*.yaml"))


def test_there_is_one_study_per_seed_report():
    assert seed_studies() == sorted(EXPECTED)


def test_every_study_validates_and_every_table_reports_the_source_numbers():
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    config["studies"] = "all"
    _, studies = load_config(config, REPO / "studies")
    assert set(studies) == set(EXPECTED) | {"embedded"}
    for name in EXPECTED:
        study = studies[name]
        assert study.spec["description"] and study.tables and study.figures, name
        if name in EXAMPLE_STUDIES:  # reproduces no report: nothing reported to compare with
            continue
        reported = [
            value
            for table in study.tables.values()
            for row in table["reported"].values()
            for value in row.values()
        ]
        assert reported, f"{name}: no reported numbers"


@pytest.fixture(scope="module")
def dry_run_of_all(tmp_path_factory):
    """One dry run of every study together (`--config studies=all`, as a user would)."""
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    config["studies"] = "all"
    result = run_snakemake(
        tmp_path_factory.mktemp("all"), config, "-n", "--cores", "4", "--resources", "gpu=1"
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def planned(result, rule: str, study: str, key: str) -> set[str]:
    """Values of wildcard `key` of the planned jobs of `rule` in `study`."""
    values = set()
    for wildcards in planned_wildcards(result, rule):
        fields = dict(item.split("=", 1) for item in wildcards.split(", "))
        if fields.get("study", study) == study:
            values.add(fields[key])
    return values


@pytest.mark.parametrize("study", sorted(EXPECTED))
def test_dry_run_lists_downloads_training_and_report(dry_run_of_all, study):
    datasets, runs, pretrainings, sweeps = EXPECTED[study]
    # Downloads and prepared data are shared between studies (no study wildcard).
    assert datasets <= planned(dry_run_of_all, "download", study, "dataset")
    assert datasets <= planned(dry_run_of_all, "prepare", study, "dataset")
    assert runs <= planned(dry_run_of_all, "train", study, "run")
    assert planned(dry_run_of_all, "pretrain", study, "run") == pretrainings
    assert bool(planned(dry_run_of_all, "bn_sweep", study, "run")) == sweeps
    assert planned(dry_run_of_all, "report", study, "study") == {study}
    for rule, key in (("subset", "subset"), ("evaluate", "run"), ("table", "table"), ("figure", "figure")):
        assert planned(dry_run_of_all, rule, study, key), rule


def test_all_studies_download_every_dataset_once(dry_run_of_all):
    jobs = planned_jobs(dry_run_of_all)
    assert (
        jobs["download"] == 13 and jobs["prepare"] == 8 and jobs["report"] == 10 and jobs["report_index"] == 1
    )


def acts_error(**figure) -> str:
    """The one-line ConfigError of the tiny study with its activations figure changed."""
    study = copy.deepcopy(TINY_STUDY)
    study["figures"]["acts"].update(figure)
    with pytest.raises(ConfigError) as info:
        resolve_study("tiny", study, "studies/tiny.yaml")
    assert "\n" not in str(info.value)
    return str(info.value)


def test_an_activations_figure_draws_a_run_or_an_imagenet_network_not_both():
    """S2's report drew an ImageNet ResNet-50 (figure key imagenet), not a trained run."""
    both = acts_error(imagenet={"arch": "resnet50"})
    assert "figures.acts: kind activations needs exactly one of runs, imagenet" in both
    assert "needs exactly one of runs, imagenet" in acts_error(runs=[])
    wrong = acts_error(runs=[], imagenet={"arch": "resnet50"}, layers=["layer1.3.conv1"])
    assert "figures.acts.layers:" in wrong and "layer1 has blocks layer1.0 .. layer1.2" in wrong
    study = copy.deepcopy(TINY_STUDY)
    study["figures"]["acts"].update(runs=[], imagenet={"arch": "resnet50"}, layers=["layer1.1.conv3"])
    figure = resolve_study("tiny", study, "studies/tiny.yaml").figures["acts"]
    assert figure["imagenet"] == {"arch": "resnet50", "weights": "IMAGENET1K_V1"}


def test_s2_draws_torchvisions_resnet50_at_the_reports_layers_and_a_rehearsal_its_stand_in(tmp_path):
    """The report's Keras layers conv1_conv, conv2_block1_1_conv, conv2_block2_3_conv are
    torchvision ResNet-50's conv1, layer1.0.conv1, layer1.1.conv3 (64, 64 and 256 filters); a
    rehearsal loads torchvision's own random initialisation of that architecture, never ImageNet's."""
    from torchvision import models

    spec = load_config({"studies": ["cifar10_transfer"]}, REPO / "studies")[1]["cifar10_transfer"].spec
    figure = spec["figures"]["activations_resnet50"]
    assert figure["imagenet"] == {"arch": "resnet50", "weights": "IMAGENET1K_V1"} and not figure["runs"]
    model = imagenet_network("resnet50", "IMAGENET1K_V1", tmp_path)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        reference = models.get_model("resnet50").state_dict()
    assert all(torch.equal(reference[key], value) for key, value in model.state_dict().items())
    x = torch.rand(2, 3, 32, 32)
    maps = activation_maps(model, x, figure["layers"], None)
    assert [maps[layer].shape for layer in figure["layers"]] == [(2, 16, 16), (2, 8, 8), (2, 8, 8)]
    assert model.layer1[1].conv3.out_channels == 256
