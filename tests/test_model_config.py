"""A study names any torchvision model, its weights and what to freeze by torchvision's module
names; every mistake stops at load time (no torch imported) in one line naming the key."""

from __future__ import annotations

import pytest

from conftest import REPO
from cvrepro.config import load_config
from cvrepro.config.schema import ConfigError


def study(run: dict, **top) -> dict:
    return {
        **top,
        "subsets": {
            "a": {"dataset": "stl10", "split": "train", "size": 20},
            "t": {"dataset": "stl10", "split": "test", "size": 20},
        },
        "runs": {"ft": {"train": "a", "test": "t", "batch_size": 8, **run}},
    }


def load(spec: dict):
    return load_config({"studies": ["s"], "inline_studies": {"s": spec}}, REPO / "studies")


def test_a_torchvision_model_with_weights_and_freezing_by_name_loads():
    run = {
        "init": "imagenet",
        "model": {"arch": "efficientnet_b0", "head": {"kind": "dropout_linear", "dropout": 0.2}},
        "augment": {"name": "s2_transfer", "size": 224},
        "freeze": {"until": "features.5", "modules": ["features.6.0"]},
    }
    _, studies = load(study(run, imagenet_weights="IMAGENET1K_V1"))
    loaded = studies["s"].runs["ft"]
    assert loaded["model"]["grey"] == "sum" and loaded["freeze"]["until"] == "features.5"


@pytest.mark.parametrize(
    ("run", "top", "message"),
    [
        (
            {"model": {"arch": "convnext_tine"}},
            {},
            "runs.ft.model.arch: unknown architecture 'convnext_tine'; did you mean convnext_tiny",
        ),
        (
            {
                "init": "imagenet",
                "model": {"arch": "vit_b_16"},
                "augment": {"name": "s2_transfer", "size": 224},
            },
            {"imagenet_weights": "IMAGENET1K_V2"},
            "imagenet_weights: torchvision has no IMAGENET1K_V2 weights for vit_b_16 (runs.ft) (IMAGENET1K_V2 exists for",
        ),
        (
            {
                "init": "imagenet",
                "model": {"arch": "vit_b_16"},
                "augment": {"name": "s2_transfer", "size": 96},
            },
            {},
            "runs.ft.augment.size: vit_b_16 with IMAGENET1K_V1 weights takes 224 px images only, not 96",
        ),
        (
            {"model": {"arch": "mobilenet_v3_large"}, "freeze": {"until": "feature.3"}},
            {},
            "runs.ft.freeze.until: mobilenet_v3_large has no module 'feature.3'; did you mean features.3",
        ),
        (
            {"model": {"arch": "resnet18"}, "freeze": {"modules": ["layer9"]}},
            {},
            "runs.ft.freeze.modules: resnet18 has no module 'layer9' to freeze; did you mean layer4",
        ),
        ({"model": {"arch": "swin_t", "width": 32}}, {}, "runs.ft.model.width: swin_t is torchvision's"),
    ],
)
def test_bad_models_stop_at_load_in_one_line(run, top, message):
    with pytest.raises(ConfigError) as info:
        load(study(run, **top))
    assert message in str(info.value) and "\n" not in str(info.value)


def test_a_torchvision_model_s_weights_file_is_in_the_fetch_list():
    from cvrepro.report.cost.fetches import fetch_items

    run = {
        "init": "imagenet",
        "model": {"arch": "efficientnet_b0"},
        "augment": {"name": "s2_transfer", "size": 224},
    }
    config, studies = load(study(run))
    weights = [item for item in fetch_items(studies["s"], config) if item["kind"] == "weights"]
    assert [(w["what"], w["filename"], w["url"]) for w in weights] == [
        (
            "efficientnet_b0 IMAGENET1K_V1",
            "efficientnet_b0_rwightman-7f5810bc.pth",
            "https://download.pytorch.org/models/efficientnet_b0_rwightman-7f5810bc.pth",
        )
    ]
