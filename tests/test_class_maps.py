"""Zero-shot mapping of ImageNet predictions onto STL-10 classes (S3)."""

from __future__ import annotations

import json

import numpy as np
import probe as probe_script
import pytest
from torchvision.models import ResNet50_Weights

from cvrepro.config import ConfigError, resolve_study
from cvrepro.data.class_maps import available, load_class_map, map_scores
from cvrepro.jobs.job import Job
from cvrepro.jobs.recipes import probe_recipe

STL10 = ["airplane", "bird", "car", "cat", "deer", "dog", "horse", "monkey", "ship", "truck"]


def test_imagenet_to_stl10_names_match_torchvision_categories():
    categories = ResNet50_Weights.IMAGENET1K_V2.meta["categories"]
    class_map = load_class_map("imagenet_to_stl10")
    assert class_map.target_classes == STL10  # STL-10's label order
    assert class_map.classes[-1] == "other"
    assert class_map.source_names  # the map states names, so this check means something
    for index, name in class_map.source_names.items():
        assert categories[index] == name, f"index {index}"
    dogs = [i for i, t in class_map.source_to_target.items() if t == STL10.index("dog")]
    assert len(dogs) == 118 and categories[151] == "Chihuahua" and categories[268] == "Mexican hairless"


def test_mapped_argmax_is_the_mapped_top1_of_the_source_classifier():
    class_map = load_class_map("imagenet_to_stl10")
    logits = np.random.default_rng(0).normal(size=(500, 1000))
    logits[:50, 281] += 10  # tabby: cat
    logits[50:100, 500] += 10  # an unmapped class: other
    mapped = map_scores(logits, class_map)
    expected = [class_map.source_to_target.get(int(i), len(STL10)) for i in logits.argmax(1)]
    assert mapped.argmax(1).tolist() == expected
    assert (mapped[:50].argmax(1) == STL10.index("cat")).all()
    assert (mapped[50:100].argmax(1) == len(STL10)).all()


def test_zero_shot_probe_scores_mapped_predictions(tmp_path):
    class_map = load_class_map("imagenet_to_stl10")
    by_target = {t: s for s, t in class_map.source_to_target.items()}
    labels = np.repeat(np.arange(10), 6)
    logits = np.zeros((len(labels), 1000), dtype=np.float32)
    for row, label in enumerate(labels):
        # Every 3rd image goes to an unmapped ImageNet class (0: tench) -> `other`, i.e. wrong.
        logits[row, 0 if row % 3 == 0 else by_target[label]] = 5.0
    path = tmp_path / "test.npz"
    np.savez(path, features=logits, labels=labels, classes=np.array(STL10))
    metrics = probe_script.main(
        probe_recipe(kind="zero_shot", class_map="imagenet_to_stl10"),
        train_features=None,
        test_features=path,
        out_metrics=tmp_path / "m.json",
        out_predictions=tmp_path / "p.npz",
        ctx=Job(),
    )
    assert metrics["test_acc"] == pytest.approx(40 / 60)
    assert metrics["classes"][-1] == "other"
    confusion = np.array(json.loads((tmp_path / "m.json").read_text())["confusion"])
    assert confusion.shape == (11, 11) and confusion[:, 10].sum() == 20 and confusion[10].sum() == 0


def zero_shot_study(**probe) -> dict:
    return {
        "subsets": {
            "train": {"dataset": "stl10", "split": "train"},
            "test": {"dataset": "stl10", "split": "test"},
        },
        "runs": {"r": {"train": "train", "test": "test"}},
        "probes": {
            "z": {
                "kind": "zero_shot",
                "features": "imagenet_resnet50",
                "layer": "fc",
                "test": "test",
                **probe,
            }
        },
    }


def test_zero_shot_config_checks():
    study = resolve_study("s3", zero_shot_study(class_map="imagenet_to_stl10"), "s3.yaml")
    assert study.probes["z"]["train"] is None
    with pytest.raises(
        ConfigError, match="class_map: required for kind zero_shot; available: imagenet_to_stl10"
    ):
        resolve_study("s3", zero_shot_study(), "s3.yaml")
    with pytest.raises(ConfigError, match="no class map 'nope'"):
        resolve_study("s3", zero_shot_study(class_map="nope"), "s3.yaml")
    bad = zero_shot_study(class_map="imagenet_to_stl10")
    bad["subsets"]["test"]["dataset"] = bad["subsets"]["train"]["dataset"] = "cifar100"
    with pytest.raises(ConfigError, match="maps onto 10 classes, the test subset 'test' has 100"):
        resolve_study("s3", bad, "s3.yaml")
    assert "imagenet_to_stl10" in available()


def test_the_schemas_message_for_a_missing_class_map_lists_every_class_map():
    """The schema states `class_map: required for kind zero_shot` with the maps it may name; the
    list in its x-error is the maps workflow/resources/class_maps/ holds."""
    from cvrepro.config.schema import definition

    rule = next(rule for rule in definition("probe")["allOf"] if "else" in rule)
    wording = rule["else"]["properties"]["class_map"]["x-error"]
    assert wording == f"required for kind zero_shot; available: {', '.join(available())}"
