"""Frozen ImageNet features of torchvision models other than cvrepro's ResNets (feature sources
`imagenet_<arch>`, issue 37): extract.py's main with a rehearsal's random stand-in weights on two
families at tiny size, against torchvision's own model and transforms applied image by image."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from cvrepro.nets import catalog
from cvrepro.nets.imagenet_features import MIN_REHEARSAL, preprocessing

ARCHS = ["mobilenet_v3_small", "shufflenet_v2_x0_5"]  # two families, both cheap at 32 px


@pytest.fixture(scope="module")
def subset(tmp_path_factory):
    """Six 40x52 RGB images (not square: the shorter side is resized) as a prepared subset."""
    from cvrepro.data.datasets.splits import write_info, write_split
    from cvrepro.data.tensors import SubsetFiles

    root = tmp_path_factory.mktemp("features")
    images = np.random.default_rng(0).integers(0, 256, (6, 40, 52, 3), dtype=np.uint8)
    write_split(root / "data", "test", images, np.arange(6) % 2)
    write_info(root / "data", "easy", ["a", "b"], {"test": 6}, {})
    np.save(root / "test.npy", np.arange(6))
    return SubsetFiles(root / "data", "test", root / "test.npy"), images


def reference(arch: str, images: np.ndarray, random_dir, transforms: dict) -> np.ndarray:
    """torchvision's model with the same stand-in weights (read through its weights API), its
    classifier an Identity, each image (a uint8 tensor) prepared by torchvision's own ImageClassification preset."""
    from torchvision import models
    from torchvision.transforms import InterpolationMode
    from torchvision.transforms._presets import ImageClassification

    from cvrepro.nets.torchvision_nets import hub_checkpoints

    weights = models.get_model_weights(arch)[catalog.resolve_weights(arch, "DEFAULT")]
    with hub_checkpoints(random_dir):
        model = models.get_model(arch, weights=weights).eval()
    model.set_submodule(catalog.models()[arch]["head"], torch.nn.Identity())
    preset = ImageClassification(
        crop_size=transforms["crop"],
        resize_size=transforms["resize"],
        mean=transforms["mean"],
        std=transforms["std"],
        interpolation=InterpolationMode(transforms["interpolation"]),
        antialias=transforms["antialias"],
    )
    batch = torch.stack([preset(torch.from_numpy(image).permute(2, 0, 1)) for image in images])
    with torch.no_grad():
        return model(batch).numpy()


@pytest.mark.parametrize("arch", ARCHS)
def test_imagenet_features_of_any_torchvision_model_follow_its_weights_transforms(arch, subset, tmp_path):
    import extract

    from cvrepro.jobs.job import Job
    from cvrepro.nets.device import set_precision

    files, images = subset
    lines: list[str] = []
    # fp32 on every CPU: the reference runs in fp32 (a bf16 CPU would otherwise autocast the job)
    set_precision("fp32")  # conftest's fixture sets "auto" again after the test
    ctx = Job(torch.device("cpu"), lines.append, imagenet_weights="DEFAULT", random_weights=tmp_path / "r")
    features = extract.main(files, tmp_path / "f.npz", None, arch, "penultimate", ctx)
    saved = np.load(tmp_path / "f.npz")
    transforms = json.loads(str(saved["preprocess"]))
    official = catalog.weights_entry(arch, "DEFAULT")["transforms"]
    # the rehearsal's size: the smallest the model takes, the resize scaled with the crop
    assert transforms["crop"] == MIN_REHEARSAL and transforms["resize"] == -(
        -official["resize"] * MIN_REHEARSAL // official["crop"]
    )
    assert {k: transforms[k] for k in ("interpolation", "mean", "std")} == {
        k: official[k] for k in ("interpolation", "mean", "std")
    }
    assert (
        features.shape == (6, catalog.models()[arch]["features"])
        and saved["features"].shape == features.shape
    )
    expected = reference(arch, images, tmp_path / "r", transforms)
    np.testing.assert_allclose(features, expected, rtol=1e-3, atol=1e-3 * np.abs(expected).max())
    assert any("preprocessing of" in line and '"crop": 32' in line for line in lines), lines


def test_a_real_run_prepares_images_at_the_weights_own_size():
    assert preprocessing("vit_b_16", "DEFAULT", rehearsal=True)["crop"] == 224  # position embeddings
    assert (
        preprocessing("swin_t", "DEFAULT", rehearsal=False)
        == catalog.weights_entry("swin_t", "DEFAULT")["transforms"]
    )


def test_every_catalog_model_is_a_feature_source():
    from cvrepro.study.names import IMAGENET_SOURCES

    assert set(IMAGENET_SOURCES) == {f"imagenet_{arch}" for arch in catalog.models()}
