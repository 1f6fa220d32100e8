"""Batch augmentation on the training device: one call per batch, no per-image Python work.

Inputs are float batches (N, C, H, W); randomness comes from an explicit generator so that a
seed fixes the whole run.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

AUGMENTATIONS = ("none", "flip", "crop_flip")


def random_flip(x: torch.Tensor, generator: torch.Generator, p: float = 0.5) -> torch.Tensor:
    flip = torch.rand(x.shape[0], device=x.device, generator=generator) < p
    return torch.where(flip[:, None, None, None], x.flip(3), x)


def random_crop(x: torch.Tensor, padding: int, generator: torch.Generator) -> torch.Tensor:
    """Zero-pad by `padding` and crop back to the input size at a random offset per image."""
    n, _, h, w = x.shape
    padded = F.pad(x, (padding, padding, padding, padding))
    dy = torch.randint(0, 2 * padding + 1, (n,), device=x.device, generator=generator)
    dx = torch.randint(0, 2 * padding + 1, (n,), device=x.device, generator=generator)
    rows = (dy[:, None] + torch.arange(h, device=x.device))[:, None, :, None]  # (N, 1, H, 1)
    cols = (dx[:, None] + torch.arange(w, device=x.device))[:, None, None, :]  # (N, 1, 1, W)
    batch = torch.arange(n, device=x.device)[:, None, None, None]
    channel = torch.arange(x.shape[1], device=x.device)[None, :, None, None]
    return padded[batch, channel, rows, cols]


def augment_batch(x: torch.Tensor, name: str, generator: torch.Generator) -> torch.Tensor:
    if name == "none":
        return x
    if name == "flip":
        return random_flip(x, generator)
    if name == "crop_flip":
        return random_flip(random_crop(x, 4, generator), generator)
    raise ValueError(f"unknown augmentation {name!r}; choose from {list(AUGMENTATIONS)}")
