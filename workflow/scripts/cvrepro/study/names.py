"""The names a config may use for architectures, heads and generated corruptions, importable
without torch: the config checks read them while Snakemake parses the workflow, and the modules
that implement them (resnet, small_nets, heads, corruptions) are tested to define exactly these."""

from __future__ import annotations

import json
from pathlib import Path

RESNETS = ("resnet18", "resnet34", "resnet50")
# torchvision's ImageNet weights per arch (tests/test_engine.py checks them against torchvision).
IMAGENET_VERSIONS = {
    "resnet18": ("IMAGENET1K_V1",),
    "resnet34": ("IMAGENET1K_V1",),
    "resnet50": ("IMAGENET1K_V1", "IMAGENET1K_V2"),
}
SMALL_NETS = ("convnet4", "convbn_encoder", "small_cnn")
ARCHS = RESNETS + SMALL_NETS
HEADS = ("linear", "dropout_linear", "mlp")
CORRUPTIONS = (
    "brightness",
    "contrast",
    "defocus_blur",
    "elastic_transform",
    "fog",
    "gaussian_blur",
    "gaussian_noise",
    "impulse_noise",
    "jpeg_compression",
    "pixelate",
    "saturate",
    "shot_noise",
    "speckle_noise",
)
# Features a probe can read besides a run or pretraining of the study.
PIXELS = "pixels"
# ImageNet features of cvrepro's ResNets and of every torchvision classification model (the model
# catalog, read here directly: cvrepro.nets.catalog imports this module).
_CATALOG = Path(__file__).parents[1] / "nets" / "model_catalog.json"
IMAGENET_SOURCES = tuple(
    f"imagenet_{arch}" for arch in dict.fromkeys([*RESNETS, *json.loads(_CATALOG.read_text())["models"]])
)
# `<pretraining>@init`: features of that pretraining's encoder at its random initialisation (the
# same architecture and seed, so the same weights it started from): the random-encoder reference
# that self-supervised papers report beside their probes.
AT_INIT = "@init"


def at_init(source: str) -> str | None:
    """The pretraining whose initialisation `source` names (`simclr@init` -> simclr), else None."""
    return source.removesuffix(AT_INIT) if source.endswith(AT_INIT) else None


# `init` values that are not a run or pretraining of the study.
INIT_KEYWORDS = ("scratch", "imagenet")
# The top-level children of each architecture, in order (what `freeze.stages` names and a probe's
# or figure's `layer` starts with); tests/test_config_strict.py checks them against build_model.
_RESNET_CHILDREN = (
    "conv1",
    "bn1",
    "relu",
    "maxpool",
    "layer1",
    "layer2",
    "layer3",
    "layer4",
    "avgpool",
    "fc",
)
CHILDREN = {
    **{arch: _RESNET_CHILDREN for arch in RESNETS},
    "convnet4": ("encoder", "dense", "fc"),
    "convbn_encoder": ("encoder", "embed", "fc"),
    "small_cnn": ("conv1", "bn1", "conv2", "bn2", "conv3", "bn3", "pool", "linear1", "linear2", "fc"),
}
# Residual blocks in layer1..layer4: `layer4.1` exists in a resnet18, `layer4.2` does not.
RESNET_BLOCKS = {"resnet18": (2, 2, 2, 2), "resnet34": (3, 4, 6, 3), "resnet50": (3, 4, 6, 3)}
