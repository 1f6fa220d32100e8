"""Frozen ImageNet features of any torchvision classification model (feature sources
`imagenet_<arch>` other than cvrepro's own resnet18/34/50): torchvision's model with the study's
ImageNet weights, loaded through its weights API, read before its classifier; the input prepared
as the weights' own transforms() prepare it (resize, centre crop, mean, std: the catalog's record).

A rehearsal feeds random stand-in weights, so the images need not be ImageNet's size: it builds
at the smallest size the architecture takes (catalog.rehearsal_crop: at least 32 px) and scales the
resize by the same factor as the crop. An arch built for one size (ViT, MaxViT) gets a stand-in
built for that crop, outside the weights API, which would fix it at the weights' size.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import torch
from torch import nn

from cvrepro.nets.catalog import models, rehearsal_crop, weights_entry
from cvrepro.nets.preprocess import weights_preprocess
from cvrepro.nets.pretrained import weights_path
from cvrepro.nets.torchvision_nets import TorchvisionNet, builder_args, imagenet_body, strip, sum_first_conv


def preprocessing(arch: str, version: str, rehearsal: bool) -> dict:
    """weights.transforms()'s parameters (resize, crop, interpolation, antialias, mean, std) of
    `arch`'s weights `version`; in a rehearsal the crop shrunk as the module docstring says."""
    transforms = dict(weights_entry(arch, version)["transforms"])
    if rehearsal:
        crop = rehearsal_crop(arch)
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
    if random_dir is not None and models()[arch]["size_arg"]:
        body = strip(_stand_in_for_one_size(arch), arch)
    else:
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


def _stand_in_for_one_size(arch: str) -> nn.Module:
    """A rehearsal's random stand-in (seed 0) of an arch built for one image size (ViT, MaxViT),
    built for the rehearsal's crop: the weights API would fix it at the weights' size (224 px,
    whose ViT-B/16 forward takes about a second per image on one CPU core)."""
    from torchvision import models as tv_models

    args = builder_args({"arch": arch, "image_size": rehearsal_crop(arch)})
    print(
        f"rehearsal: random {arch} built for {rehearsal_crop(arch)} px, not ImageNet's weights",
        file=sys.stderr,
    )
    with torch.random.fork_rng(devices=[]):  # the job's own random stream stays untouched
        torch.manual_seed(0)
        return tv_models.get_model(arch, **args)
