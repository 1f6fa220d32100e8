"""The model catalog (cvrepro/nets/model_catalog.json): torchvision's classification models as
data the config checks read without torch, equal to what the installed torchvision gives."""

from __future__ import annotations

import json

import pytest

from conftest import heavy_imports
from cvrepro.nets import catalog
from cvrepro.nets.families import FAMILIES


def test_the_committed_catalog_is_the_installed_torchvision_s():
    """Regenerate with `PYTHONPATH=workflow/scripts .venv/bin/python -m cvrepro.nets.catalog_build`."""
    import torchvision

    from cvrepro.nets.catalog_build import build_catalog

    committed = json.loads(catalog.CATALOG.read_text())
    if torchvision.__version__.split("+")[0] != committed["torchvision"]:
        pytest.skip(f"catalog of torchvision {committed['torchvision']}, installed {torchvision.__version__}")
    assert json.loads(json.dumps(build_catalog())) == committed


def test_one_family_module_per_torchvision_family():
    assert set(FAMILIES) == {entry["family"] for entry in catalog.models().values()}


def test_the_catalog_reads_without_torch():
    statement = "from cvrepro.nets import catalog; assert catalog.size_problem('vit_b_16', 96, 'DEFAULT')"
    assert heavy_imports(statement, ("torch", "torchvision")) == []


def test_what_the_catalog_knows_of_a_model():
    vit = catalog.models()["vit_b_16"]
    assert (vit["family"], vit["head"], vit["features"], vit["batchnorm"]) == (
        "vision_transformer",
        "heads.head",
        768,
        False,
    )
    weights = catalog.weights_entry("resnet50", "DEFAULT")
    assert weights["file"] == "resnet50-11ad3fa6.pth"
    assert weights["transforms"] == {
        "resize": 232,
        "crop": 224,
        "interpolation": "bilinear",
        "antialias": True,
        "mean": [0.485, 0.456, 0.406],
        "std": [0.229, 0.224, 0.225],
    }


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda: catalog.arch_problem("convnext_tine"),
            "unknown architecture 'convnext_tine'; did you mean convnext_tiny",
        ),
        (lambda: catalog.resolve_weights("resnet18", "IMAGENET1K_V3"), "did you mean IMAGENET1K_V1"),
        (
            lambda: catalog.resolve_weights("resnet18", "IMAGENET1K_SWAG_E2E_V1"),
            "no IMAGENET1K_SWAG_E2E_V1 weights for resnet18 (IMAGENET1K_SWAG_E2E_V1 exists for regnet_y_128gf",
        ),
        (lambda: catalog.size_problem("vit_b_16", 96, "DEFAULT"), "takes 224 px images only, not 96"),
        (lambda: catalog.size_problem("inception_v3", 32, None), "at least 75 px, not 32"),
        (lambda: catalog.module_problem("efficientnet_b0", "features.9"), "did you mean features.8"),
        (lambda: catalog.module_problem("resnet101", "fc"), "classifier, which the study's head replaces"),
    ],
)
def test_bad_names_and_sizes_are_one_line_with_close_names(call, message):
    try:
        problem = call()
    except ValueError as error:
        problem = str(error)
    assert message in problem and "\n" not in problem


def test_good_names_pass():
    assert catalog.arch_problem("swin_t") is None and catalog.arch_problem("small_cnn") is None
    assert catalog.resolve_weights("vit_b_16", "DEFAULT") == "IMAGENET1K_V1"
    assert catalog.module_problem("vit_b_16", "encoder.layers.encoder_layer_3.mlp.0") is None
    assert catalog.size_problem("vit_b_16", 224, "IMAGENET1K_V1") is None
    assert catalog.size_problem("vit_b_16", 32, None) is None
