"""Multi-crop views (Caron et al. 2020, SwAV; DINO's default): 2 global crops at the image's size
and n local crops of a smaller side, each a random resized crop of its own area range, then the
study's augmentation preset without its own crop (flip, colour jitter, grey, blur as the preset
says). Crops of different sizes cannot share a batch tensor, so the views come back as a list:
[global 1, global 2, local 1, ..., local n], each of the whole batch."""

from __future__ import annotations

import torch

from cvrepro.data.augment_presets import PRESETS
from cvrepro.data.batch_augment import augment_batch, random_resized_crop
from cvrepro.data.tensors import standardize


def without_crop(augment: str | dict) -> str | dict:
    """The preset (with a dict's overrides) minus its random resized crop: the crop is multi-crop's."""
    name = augment if isinstance(augment, str) else augment["name"]
    if "scale" not in PRESETS[name]:
        return augment
    return {**({"name": name} if isinstance(augment, str) else augment), "scale": None}


def local_side(image_side: int, fraction: float) -> int:
    """A local crop's side: `fraction` of the image's (DINO: 96 of 224, 0.43), at least 1 pixel."""
    return max(1, round(image_side * fraction))


def multi_crop(
    images: torch.Tensor, augment: str | dict, mean, std, generator: torch.Generator, spec: dict
) -> list[torch.Tensor]:
    """The 2 + spec["local_crops_number"] standardised views of uint8 `images`: global crops of
    area fraction spec["global_crops_scale"] at full size, local ones of spec["local_crops_scale"]
    at local_side(side, spec["local_crops_size"])."""
    x = images.float() / 255
    side, ratio, rest = x.shape[-1], (3 / 4, 4 / 3), without_crop(augment)
    shapes = [(side, spec["global_crops_scale"])] * 2
    shapes += [(local_side(side, spec["local_crops_size"]), spec["local_crops_scale"])] * spec[
        "local_crops_number"
    ]
    return [
        standardize(
            augment_batch(random_resized_crop(x, size, tuple(scale), ratio, generator), rest, generator),
            mean,
            std,
        )
        for size, scale in shapes
    ]


def pixel_views(spec: dict) -> float:
    """The views' cost in full-size images (pixels): 2 globals plus each local's area fraction."""
    return 2 + spec["local_crops_number"] * spec["local_crops_size"] ** 2
