"""Frozen ImageNet features of torchvision models other than cvrepro's ResNets (feature sources
`imagenet_<arch>`, issue 37): extract.py's main with a rehearsal's random stand-in weights on two
families at tiny size, against torchvision's own model and transforms applied image by image."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from cvrepro.nets import catalog
from cvrepro.nets.catalog import MIN_REHEARSAL
from cvrepro.nets.imagenet_features import preprocessing

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


def test_a_rehearsal_builds_a_vit_for_its_small_crop_and_a_real_run_uses_the_weights_size(tmp_path):
    """ViT-B/16 is built for one size: the rehearsal's stand-in is built for 32 px (2 x 2 patches)."""
    from cvrepro.nets.imagenet_features import imagenet_feature_net, preprocessor

    transforms = preprocessing("vit_b_16", "DEFAULT", rehearsal=True)
    assert transforms["crop"] == 32 and transforms["resize"] == 37  # 256 * 32 / 224, rounded up
    net = imagenet_feature_net("vit_b_16", "DEFAULT", 1, tmp_path).eval()
    with torch.no_grad():
        features = net(preprocessor(transforms)(torch.zeros(2, 1, 40, 40, dtype=torch.uint8)))
    assert features.shape == (2, 768) and not any(tmp_path.iterdir())  # no 330 MB stand-in file
    assert preprocessing("vit_b_16", "DEFAULT", rehearsal=False)["crop"] == 224
    assert (
        preprocessing("swin_t", "DEFAULT", rehearsal=False)
        == catalog.weights_entry("swin_t", "DEFAULT")["transforms"]
    )


def test_every_catalog_model_is_a_feature_source():
    from cvrepro.study.names import IMAGENET_SOURCES

    assert set(IMAGENET_SOURCES) == {f"imagenet_{arch}" for arch in catalog.models()}


def test_the_report_lists_each_imagenet_model_s_preprocessing():
    """REPORT.md's section for studies/model_zoo.yaml: each feature source's weights' transforms(),
    cvrepro's ResNet-50 at 224, the fine-tuned run as the study prepares it; the rehearsal's note."""
    from conftest import REPO, repo_config
    from cvrepro.config import load_config
    from cvrepro.nets.preprocess_table import preprocessing_markdown

    config = repo_config(studies=["model_zoo"])
    real = preprocessing_markdown(load_config(config, REPO / "studies")[1]["model_zoo"])
    rows = {line.split(" | ")[0].strip("| "): line for line in real.splitlines()[2:] if line.startswith("|")}
    assert set(rows) == {
        "mobilenet_v3_large_finetune",
        *(f"imagenet_{a}" for a in ("resnet50", "convnext_tiny", "efficientnet_b0", "mobilenet_v3_large")),
        "imagenet_vit_b_16",
        "imagenet_swin_t",
    }
    assert "| shorter side to 232 | 224 x 224 | bicubic |" in rows["imagenet_swin_t"]  # swin_t's transforms()
    assert "| shorter side to 256 | 224 x 224 | bicubic |" in rows["imagenet_efficientnet_b0"]
    assert (
        "IMAGENET1K_V2 (frozen) | cvrepro (extract.py) | whole image to 224 x 224 |"
        in rows["imagenet_resnet50"]
    )
    assert "(trained) | the study (augment, normalize: auto)" in rows["mobilenet_v3_large_finetune"]
    assert "0.485, 0.456, 0.406 | 0.229, 0.224, 0.225 |" in rows["mobilenet_v3_large_finetune"]
    assert "rehearsal" not in real
    rehearsal = load_config({**config, "rehearsal": "true"}, REPO / "studies")[1]["model_zoo"]
    assert "imagenet_swin_t 32 px, imagenet_vit_b_16 32 px;" in preprocessing_markdown(rehearsal)
