"""The preprocessing ImageNet weights expect, from the catalog's record of weights.transforms():
resize the shorter side (uint8 result, as torchvision rounds it), centre crop, scale to [0, 1],
standardise. tests/test_torchvision_models.py holds it equal to torchvision's own transforms on a
batch; written with plain torch so that it runs on the device, on whole batches."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def resized_shape(height: int, width: int, size: int) -> tuple[int, int]:
    """The shorter side becomes `size`, the longer keeps the aspect ratio (torchvision truncates)."""
    if height <= width:
        return size, int(size * width / height)
    return int(size * height / width), size


def weights_preprocess(images: torch.Tensor, transforms: dict) -> torch.Tensor:
    """uint8 (N, C, H, W) -> the float batch weights.transforms() makes of it. `transforms`: a
    catalog weights entry's (resize, crop, interpolation, antialias, mean, std)."""
    mode = transforms["interpolation"]
    shape = resized_shape(*images.shape[-2:], transforms["resize"])
    x = images
    if tuple(images.shape[-2:]) != shape:
        x = F.interpolate(
            images.float(),
            size=shape,
            mode=mode,
            align_corners=False if mode in ("bilinear", "bicubic") else None,
            antialias=transforms["antialias"] and mode in ("bilinear", "bicubic"),
        )
        if mode == "bicubic":
            x = x.clamp(0, 255)
        x = x.round().to(torch.uint8)
    crop = transforms["crop"]
    top, left = (int(round((side - crop) / 2.0)) for side in x.shape[-2:])
    x = x[..., top : top + crop, left : left + crop].float() / 255
    channels = x.shape[1]
    mean = torch.tensor(transforms["mean"][:channels], device=x.device).view(1, -1, 1, 1)
    std = torch.tensor(transforms["std"][:channels], device=x.device).view(1, -1, 1, 1)
    return (x - mean) / std
