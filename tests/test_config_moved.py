"""Rules that left config/ for the stage whose names they check (issue 35): each still stops the
study at load in one line that starts with the file and the exact key, and each answers at its
new home (nets/model_checks, the dataset registry, evaluate/per_class) without torch."""

from __future__ import annotations

import copy

import pytest

from conftest import TINY_STUDY, tiny_config
from cvrepro.config import ConfigError, load_config, resolve_study
from cvrepro.config.expand import SEED_MAX
from cvrepro.data.datasets.registry import class_problem, corruption_names, settings_problem
from cvrepro.evaluate.per_class import reported_problem
from cvrepro.nets.model_checks import layer_problem


def study_with(**changes) -> dict:
    study = copy.deepcopy(TINY_STUDY)
    for dotted, value in changes.items():
        *parents, last = dotted.split(".")
        node = study
        for key in parents:
            node = node.setdefault(key, {})
        node[last] = value
    return study


PER_CLASS = {"kind": "per_class", "source": "a"}


@pytest.mark.parametrize(
    "changes, key",
    [
        ({"probes.knn_b_layer3.layer": "layer5"}, "probes.knn_b_layer3.layer"),
        ({"figures.acts.layers": ["layer1", "layr4"]}, "figures.acts.layers"),
        ({"figures.acts.classes": ["Dog"]}, "figures.acts.classes"),
        ({"shift_sets.c.corruptions": ["spatter"]}, "shift_sets.c.corruptions"),
        ({"subsets.small.dataset": "imagenet22k"}, "subsets.small.dataset"),
        ({"runs.a.seed": SEED_MAX, "runs.a.repeats": 2}, "runs.a.seed"),
        (
            {"tables.pc": {**PER_CLASS, "reported": {"3": {"precision": 0.5, "recall": 0.9, "f1": 0.57}}}},
            "tables.pc.reported.3",
        ),
        ({"tables.pc": {**PER_CLASS, "reported": {"10": {"f1": 0.5}}}}, "tables.pc.reported.10"),
        (
            {"tables.pc": {**PER_CLASS, "kind": "confusion", "reported": {"3": {"10": 5}}}},
            "tables.pc.reported.3.10",
        ),
    ],
)
def test_a_moved_rule_names_the_key(changes, key):
    with pytest.raises(ConfigError) as info:
        resolve_study("tiny", study_with(**changes), "studies/tiny.yaml")
    message = str(info.value)
    assert message.startswith(f"studies/tiny.yaml: {key}: ") and "\n" not in message, message


def test_the_moved_rules_answer_at_their_homes():
    assert layer_problem("resnet18", "penultimate") is None
    assert layer_problem("resnet18", "layer4.1.conv2") is None
    assert "layer4 has blocks layer4.0 .. layer4.1" in layer_problem("resnet18", "layer4.2")
    assert "has no layer 'penultimate'" in layer_problem("resnet18", "penultimate", penultimate=False)
    assert layer_problem("convnet4", "encoder.3") is None and layer_problem("convnet4", "conv1")
    subset = {"dataset": "fashion_mnist", "classes": 5}
    assert class_problem(subset, "Coat") is None and "no class 'Bag'" in class_problem(subset, "Bag")
    assert (
        class_problem({"dataset": "stl10", "classes": None}, "anything") is None
    )  # names known once prepared
    assert "contrast" in corruption_names("generated") and "spatter" in corruption_names("cifar10_c")
    assert "spatter" not in corruption_names("generated")
    good = {"3": {"precision": 0.96, "recall": 0.98, "f1": 0.97}, "macro avg": {"precision": 0.1, "f1": 0.9}}
    assert reported_problem(good, 10, "test", matrix=False) is None
    assert reported_problem({"3": {"9": 1}}, 10, "test", matrix=True) is None
    assert reported_problem({"3": {"10": 1}}, 11, "test", matrix=True) is None  # a zero-shot probe's `other`
    assert reported_problem({"3": {"10": 1}}, 10, "test", matrix=True)[0] == "3.10"


@pytest.mark.parametrize(
    "datasets, key",
    [
        ({"mnist": {}}, "datasets.mnist"),
        ({"fashion_mnist": {"source_dir": "/no/such/dir"}}, "datasets.fashion_mnist.source_dir"),
        ({"fashion_mnist": {"options": {"image_size": 32}}}, "datasets.fashion_mnist.options.image_size"),
    ],
)
def test_a_dataset_setting_names_the_key(datasets, key, tmp_path):
    with pytest.raises(ConfigError) as info:
        load_config({**tiny_config(), "datasets": datasets}, tmp_path)
    message = str(info.value)
    assert message.startswith(f"config: {key}: ") and "\n" not in message, message


def test_dataset_settings_answer_beside_the_registry(tmp_path):
    assert settings_problem("stl10", {"source_dir": str(tmp_path), "options": {}}) is None
    assert settings_problem("dogs_vs_cats", {"source_dir": None, "options": {"image_size": 64}}) is None
    assert (
        settings_problem("dogs_vs_cats", {"source_dir": None, "options": {"size": 64}})[0] == ".options.size"
    )
