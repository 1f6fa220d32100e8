"""Frozen ImageNet features of any torchvision classification model (feature sources
`imagenet_<arch>` other than cvrepro's own resnet18/34/50): torchvision's model with the study's
ImageNet weights, loaded through its weights API, read before its classifier; the input prepared
as the weights' own transforms() prepare it (resize, centre crop, mean, std: the catalog's record).

A rehearsal feeds random stand-in weights, so the images need not be ImageNet's size: it builds
at the smallest size the architecture takes (at least MIN_REHEARSAL px; ViTs keep their 224, which
their position embeddings fix) and scales the resize by the same factor as the crop.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
from torch import nn

from cvrepro.nets.catalog import models, weights_entry
from cvrepro.nets.preprocess import weights_preprocess
from cvrepro.nets.pretrained import weights_path
from cvrepro.nets.torchvision_nets import TorchvisionNet, imagenet_body, strip, sum_first_conv

MIN_REHEARSAL = 32  # px: a rehearsal's crop is at least this (and what the architecture needs)


def preprocessing(arch: str, version: str, rehearsal: bool) -> dict:
    """weights.transforms()'s parameters (resize, crop, interpolation, antialias, mean, std) of
    `arch`'s weights `version`; in a rehearsal the crop shrunk as the module docstring says."""
    transforms = dict(weights_entry(arch, version)["transforms"])
    if rehearsal:
        crop = max(models()[arch]["min_size"], MIN_REHEARSAL)
        if crop < transforms["crop"]:
            transforms["resize"] = math.ceil(transforms["resize"] * crop / transforms["crop"])
            transforms["crop"] = crop
    return transforms


def imagenet_feature_net(
    arch: str, version: str, in_channels: int, random_dir: Path | None = None
) -> TorchvisionNet:
    """torchvision's `arch` with ImageNet weights `version` (hash-checked, or a rehearsal's random
    stand-in from `random_dir`), its classifier removed: forward and features give the pre-logits
    vector. Grey images: the first convolution summed over RGB, as for cvrepro's ResNets, except
    where the weights transform three input channels themselves (GoogLeNet, Inception v3), which
    get the grey channel repeated."""
    path = weights_path(arch, version, random_dir)
    body = strip(imagenet_body(arch, version, path.parent), arch)
    repeat = in_channels == 1 and bool(getattr(body, "transform_input", False))
    if in_channels == 1 and not repeat:
        sum_first_conv(body)
    return TorchvisionNet(body, models()[arch]["features"], nn.Identity(), repeat_grey=repeat)


def preprocessor(transforms: dict):
    """The batch function extract_features applies: uint8 images -> the weights' input."""

    def prepare(images: torch.Tensor) -> torch.Tensor:
        return weights_preprocess(images, transforms)

    return prepare
