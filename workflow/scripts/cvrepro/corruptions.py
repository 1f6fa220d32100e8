"""Corrupted copies of a test split in the style of CIFAR-10-C (Hendrycks & Dietterich, 2019).

Each corruption maps uint8 images (N, H, W, C) to uint8 images of the same shape at a severity
from 1 to 5, deterministically for a seed, working on whole chunks of the array at once (torch on
the CPU). Severity parameters follow the CIFAR-10-C code for 32x32 images; sizes that depend on
the image (blur radii, elastic displacement) scale with the image side relative to 32.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F

SEVERITIES = (1, 2, 3, 4, 5)
CHUNK = 2048  # images per vectorised step: bounded memory for 96x96 or 224x224 sets


def _gaussian_noise(x: torch.Tensor, s: int, g: torch.Generator) -> torch.Tensor:
    c = [0.04, 0.06, 0.08, 0.09, 0.10][s - 1]
    return x + torch.randn(x.shape, generator=g) * c


def _shot_noise(x: torch.Tensor, s: int, g: torch.Generator) -> torch.Tensor:
    c = [500, 250, 100, 75, 50][s - 1]
    return torch.poisson(x * c, generator=g) / c


def _impulse_noise(x: torch.Tensor, s: int, g: torch.Generator) -> torch.Tensor:
    amount = [0.01, 0.02, 0.03, 0.05, 0.07][s - 1]
    u = torch.rand(x.shape, generator=g)
    salt = torch.rand(x.shape, generator=g) < 0.5
    return torch.where(u < amount, salt.float(), x)


def _speckle_noise(x: torch.Tensor, s: int, g: torch.Generator) -> torch.Tensor:
    c = [0.06, 0.1, 0.12, 0.16, 0.2][s - 1]
    return x + x * torch.randn(x.shape, generator=g) * c


def _conv_same(x: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """Convolve every channel with the same 2-D kernel, reflect-padded."""
    n, c, h, w = x.shape
    k = kernel.shape[-1]
    padded = F.pad(x.reshape(n * c, 1, h, w), (k // 2,) * 4, mode="reflect")
    return F.conv2d(padded, kernel[None, None]).reshape(n, c, h, w)


def _gaussian_kernel(sigma: float) -> torch.Tensor:
    radius = max(1, math.ceil(3 * sigma))
    t = torch.arange(-radius, radius + 1, dtype=torch.float32)
    k1 = torch.exp(-(t**2) / (2 * sigma**2))
    k2 = k1[:, None] * k1[None, :]
    return k2 / k2.sum()


def _scale(x: torch.Tensor) -> float:
    return x.shape[-1] / 32


def _gaussian_blur(x: torch.Tensor, s: int, g: torch.Generator) -> torch.Tensor:
    sigma = [0.4, 0.6, 0.7, 0.8, 1.0][s - 1] * _scale(x)
    return _conv_same(x, _gaussian_kernel(sigma))


def _defocus_blur(x: torch.Tensor, s: int, g: torch.Generator) -> torch.Tensor:
    radius, alias = [(0.3, 0.4), (0.4, 0.5), (0.5, 0.6), (1, 0.2), (1.5, 0.1)][s - 1]
    radius *= _scale(x)
    size = max(3, 2 * math.ceil(radius) + 1)
    t = torch.arange(size, dtype=torch.float32) - size // 2
    disk = ((t[:, None] ** 2 + t[None, :] ** 2) <= max(radius, 0.5) ** 2).float()
    disk = _conv_same(disk[None, None], _gaussian_kernel(alias))[0, 0]  # anti-aliased disk
    return _conv_same(x, disk / disk.sum())


def _value(x: torch.Tensor) -> torch.Tensor:
    return x.amax(dim=1, keepdim=True)


def _brightness(x: torch.Tensor, s: int, g: torch.Generator) -> torch.Tensor:
    # CIFAR-10-C adds c to HSV's V. With hue and saturation fixed, RGB is proportional to V,
    # so scaling RGB by V'/V is the same operation without a colour-space round trip.
    c = [0.05, 0.1, 0.15, 0.2, 0.3][s - 1]
    v = _value(x)
    return torch.where(v > 0, x * (v + c).clamp(0, 1) / v.clamp_min(1e-6), torch.full_like(x, c))


def _contrast(x: torch.Tensor, s: int, g: torch.Generator) -> torch.Tensor:
    c = [0.75, 0.5, 0.4, 0.3, 0.15][s - 1]
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * c + mean


def _saturate(x: torch.Tensor, s: int, g: torch.Generator) -> torch.Tensor:
    # HSV's S -> S * a + b with H and V fixed: each channel's distance below V scales by S'/S.
    a, b = [(0.3, 0), (0.1, 0), (2, 0), (5, 0.1), (20, 0.2)][s - 1]
    if x.shape[1] == 1:
        return x  # grey images have no saturation to change
    v = _value(x)
    sat = (v - x.amin(dim=1, keepdim=True)) / v.clamp_min(1e-6)
    new_sat = (sat * a + b).clamp(0, 1)
    ratio = torch.where(sat > 0, new_sat / sat.clamp_min(1e-6), torch.ones_like(sat))
    return v - (v - x) * ratio


def _pixelate(x: torch.Tensor, s: int, g: torch.Generator) -> torch.Tensor:
    c = [0.95, 0.9, 0.85, 0.75, 0.65][s - 1]
    h, w = x.shape[-2:]
    small = F.interpolate(x, size=(max(1, int(h * c)), max(1, int(w * c))), mode="area")
    return F.interpolate(small, size=(h, w), mode="nearest")


def _jpeg_compression(x: torch.Tensor, s: int, g: torch.Generator) -> torch.Tensor:
    # Per image through Pillow's encoder: JPEG is inherently one image at a time (torchvision.io's
    # batched encoder is deprecated since 0.29).
    import io

    from PIL import Image

    quality = [80, 65, 58, 50, 40][s - 1]
    images = (x * 255).round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()
    out = np.empty_like(images)
    for i, image in enumerate(images):
        buffer = io.BytesIO()
        Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image).save(
            buffer, format="JPEG", quality=quality
        )
        decoded = np.asarray(Image.open(buffer))
        out[i] = decoded[..., None] if decoded.ndim == 2 else decoded
    return torch.from_numpy(out).permute(0, 3, 1, 2).float() / 255


def _fog(x: torch.Tensor, s: int, g: torch.Generator) -> torch.Tensor:
    # A plasma-like cloud: random noise summed over octaves, each upsampled smoothly (in place
    # of the diamond-square fractal of the original code, which is sequential per image).
    c, decay = [(0.2, 3), (0.5, 3), (0.75, 2.5), (1, 2), (1.5, 1.75)][s - 1]
    n, _, h, w = x.shape
    fog = torch.zeros(n, 1, h, w)
    for octave in range(1, 6):
        cells = 2**octave
        noise = torch.rand(n, 1, cells, cells, generator=g)
        fog += F.interpolate(noise, size=(h, w), mode="bicubic", align_corners=False) / decay ** (octave - 1)
    fog = (fog - fog.amin(dim=(2, 3), keepdim=True)) / (
        fog.amax(dim=(2, 3), keepdim=True) - fog.amin(dim=(2, 3), keepdim=True)
    ).clamp_min(1e-6)
    peak = x.amax(dim=(1, 2, 3), keepdim=True)
    return (x + c * fog) * peak / (peak + c)


def _elastic_transform(x: torch.Tensor, s: int, g: torch.Generator) -> torch.Tensor:
    # Smooth random displacement fields (Simard et al.), applied with one grid_sample per chunk.
    alpha, sigma = [(0.5, 4.0), (1.0, 4.0), (1.5, 3.5), (2.0, 3.0), (2.5, 2.5)][s - 1]
    n, _, h, w = x.shape
    field = torch.rand(n, 2, h, w, generator=g) * 2 - 1
    field = _conv_same(field, _gaussian_kernel(sigma * _scale(x)))
    field = field / field.abs().amax(dim=(1, 2, 3), keepdim=True).clamp_min(1e-6)
    displacement = field.permute(0, 2, 3, 1) * alpha * 2 / torch.tensor([w, h])  # pixels -> [-1, 1] units
    ys, xs = torch.meshgrid(torch.linspace(-1, 1, h), torch.linspace(-1, 1, w), indexing="ij")
    grid = torch.stack([xs, ys], dim=-1)[None] + displacement
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=True)


CORRUPTIONS: dict[str, Callable[[torch.Tensor, int, torch.Generator], torch.Tensor]] = {
    "gaussian_noise": _gaussian_noise,
    "shot_noise": _shot_noise,
    "impulse_noise": _impulse_noise,
    "speckle_noise": _speckle_noise,
    "gaussian_blur": _gaussian_blur,
    "defocus_blur": _defocus_blur,
    "brightness": _brightness,
    "contrast": _contrast,
    "saturate": _saturate,
    "pixelate": _pixelate,
    "jpeg_compression": _jpeg_compression,
    "fog": _fog,
    "elastic_transform": _elastic_transform,
}


def corrupt(images: np.ndarray, name: str, severity: int, seed: int = 0) -> np.ndarray:
    """A corrupted copy of uint8 images (N, H, W, C); the same (name, severity, seed) gives the same output."""
    if name not in CORRUPTIONS:
        raise ValueError(f"unknown corruption {name!r}; choose from {sorted(CORRUPTIONS)}")
    if severity not in SEVERITIES:
        raise ValueError(f"severity must be one of {SEVERITIES}, got {severity!r}")
    images = np.asarray(images)
    if images.dtype != np.uint8 or images.ndim != 4:
        raise ValueError(f"expected uint8 images (N, H, W, C), got {images.dtype} {images.shape}")
    generator = torch.Generator().manual_seed(seed * 1000 + severity * 37 + sorted(CORRUPTIONS).index(name))
    out = np.empty_like(images)
    for start in range(0, len(images), CHUNK):
        x = torch.from_numpy(np.array(images[start : start + CHUNK])).permute(0, 3, 1, 2).float() / 255
        y = CORRUPTIONS[name](x, severity, generator)
        out[start : start + CHUNK] = (y.clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()
    return out
