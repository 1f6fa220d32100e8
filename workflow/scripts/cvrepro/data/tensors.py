"""The training data on the device: subsets as tensors, their normalisation, and batch
augmentation.

Images stay uint8 (N, C, H, W) on the device -- a quarter of float32's memory, so CIFAR-sized
sets live on the GPU -- and become normalised floats one batch at a time.

Augmentation is one call per batch, with no per-image Python work. Inputs are float batches
(N, C, H, W) in [0, 1] (before normalisation, so colour operations mean what they say); every
random parameter is drawn per image from an explicit generator, so a seed fixes the whole run.
torchvision.transforms.v2 applied to a batched tensor would draw one parameter for the whole
batch, which is why the geometric ops here go through affine_grid. A preset is named by a string
("crop_flip") or a dict {"name": ..., overrides} whose keys are those of the preset's entry in
cvrepro.data.augment_presets.PRESETS.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from cvrepro.data.augment_presets import resolve
from cvrepro.data.datasets.splits import Split, load_split


@dataclass(frozen=True)
class TensorSet(Split):
    """A split's images as torch tensors on the training device: uint8 (N, C, H, W) images,
    int64 (N,) labels, and the class names."""


@dataclass(frozen=True)
class SubsetFiles:
    """The files that together define a subset: a prepared dataset, one of its splits, and the
    index file of the images drawn from it."""

    data: Path
    split: str
    index: Path | None

    def load(self, device: torch.device) -> TensorSet:
        return load_subset(self.data, self.split, self.index, device)


def load_subset(data_dir: Path, split: str, index_path: Path | None, device: torch.device) -> TensorSet:
    """The images of a subset (all of the split when `index_path` is None) on `device`."""
    split_data = load_split(data_dir, split)
    index = np.arange(len(split_data)) if index_path is None else _subset_index(index_path, len(split_data))
    images = np.ascontiguousarray(split_data.images[index])  # sorted: sequential reads of the mmap
    labels = split_data.labels[index]
    images = torch.from_numpy(images).permute(0, 3, 1, 2).contiguous()
    return TensorSet(images.to(device), torch.from_numpy(labels).to(device), split_data.classes)


def _subset_index(path: Path, n: int) -> np.ndarray:
    """A subset's index file, sorted: distinct integers in [0, n) (a negative one would silently wrap)."""
    index = np.load(path)
    if index.ndim != 1 or not np.issubdtype(index.dtype, np.integer):
        raise ValueError(f"{path}: expected a 1-D integer index, got {index.dtype} {index.shape}")
    index = np.sort(index)
    if len(index) and (index[0] < 0 or index[-1] >= n):
        raise ValueError(f"{path}: indices {index[0]}..{index[-1]} outside [0, {n}) of the split")
    if np.any(index[1:] == index[:-1]):
        raise ValueError(f"{path}: index {index[1:][index[1:] == index[:-1]][0]} appears twice")
    return index


def channel_stats(images: torch.Tensor) -> tuple[list[float], list[float]]:
    """Per-channel mean and std of uint8 images, in [0, 1] units (computed in chunks)."""
    n_channels = images.shape[1]
    total = torch.zeros(n_channels, dtype=torch.float64, device=images.device)
    total_sq = torch.zeros_like(total)
    count = 0
    for chunk in images.split(4096):
        x = chunk.to(torch.float64) / 255
        total += x.sum(dim=(0, 2, 3))
        total_sq += (x * x).sum(dim=(0, 2, 3))
        count += x.shape[0] * x.shape[2] * x.shape[3]
    mean = total / count
    std = (total_sq / count - mean * mean).clamp_min(1e-12).sqrt()
    return mean.tolist(), std.tolist()


@functools.lru_cache(maxsize=256)
def device_constant(
    values: tuple, device: torch.device, dtype: torch.dtype, shape: tuple[int, ...] = (-1,)
) -> torch.Tensor:
    """`values` as a tensor on `device`, made once per process: torch.tensor(..., device=cuda)
    copies from pageable host memory, which makes the host wait for the GPU, so nothing that runs
    per batch may build its constants that way. The same values and dtype as torch.tensor would
    give; callers must not modify the result in place. Made outside inference mode, so a constant
    first made while evaluating can still take part in autograd later."""
    with torch.inference_mode(False):
        return torch.tensor(values, device=device, dtype=dtype).view(shape)


def standardize(x: torch.Tensor, mean: list[float], std: list[float]) -> torch.Tensor:
    """Float images in [0, 1] -> per-channel standardised (mean/std given in [0, 1] units)."""
    mean_t = device_constant(tuple(mean), x.device, x.dtype, (1, -1, 1, 1))
    std_t = device_constant(tuple(std), x.device, x.dtype, (1, -1, 1, 1))
    return (x - mean_t) / std_t


def eval_batch(
    images: torch.Tensor, mean: list[float], std: list[float], size: int | None = None
) -> torch.Tensor:
    """The model's input for evaluation: uint8 (N, C, H, W) -> float32, resized to `size` first
    when the model was trained at another size, then standardised."""
    x = images.float() / 255
    if size is not None and size != x.shape[-1]:
        x = torch.nn.functional.interpolate(
            x, size=(size, size), mode="bilinear", align_corners=False, antialias=size < x.shape[-1]
        )
    return standardize(x, mean, std)


def augmented(
    images: torch.Tensor, augment: str | dict, mean: list[float], std: list[float], generator: torch.Generator
) -> torch.Tensor:
    """The model's input for training: uint8 images -> an augmented, standardised float batch
    (colour operations need [0, 1])."""
    from cvrepro.data.tensors import augment_batch

    return standardize(augment_batch(images.float() / 255, augment, generator), mean, std)


# --- batch augmentation ---------------------------------------------------------------------------


def _uniform(n: int, low: float, high: float, like: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    return low + (high - low) * torch.rand(n, device=like.device, generator=generator)


def _chance(n: int, p: float, like: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    return torch.rand(n, device=like.device, generator=generator) < p


def random_flip(x: torch.Tensor, generator: torch.Generator, p: float = 0.5) -> torch.Tensor:
    flip = _chance(x.shape[0], p, x, generator)
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


def _affine(x: torch.Tensor, theta: torch.Tensor, size: int, padding_mode: str = "zeros") -> torch.Tensor:
    """Sample each image through its own 2x3 affine map (output coordinates -> input coordinates)."""
    grid = F.affine_grid(theta, [x.shape[0], x.shape[1], size, size], align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode=padding_mode, align_corners=False)


def random_rotation(x: torch.Tensor, degrees: float, generator: torch.Generator) -> torch.Tensor:
    return rotate(x, _uniform(x.shape[0], -degrees, degrees, x, generator))


def rotate(x: torch.Tensor, degrees: torch.Tensor) -> torch.Tensor:
    """Rotate each image by its angle (degrees, counter-clockwise) about the centre; corners fill with 0."""
    angle = degrees * math.pi / 180
    cos, sin = torch.cos(angle), torch.sin(angle)
    zero = torch.zeros_like(cos)
    theta = torch.stack([torch.stack([cos, -sin, zero], 1), torch.stack([sin, cos, zero], 1)], 1)
    return _affine(x, theta, x.shape[-1])


def random_resized_crop(
    x: torch.Tensor,
    size: int,
    scale: tuple[float, float],
    ratio: tuple[float, float],
    generator: torch.Generator,
) -> torch.Tensor:
    """A crop of random area (fraction `scale`) and aspect (`ratio`) per image, resized to `size`."""
    n = x.shape[0]
    area = _uniform(n, *scale, x, generator)
    log_ratio = _uniform(n, math.log(ratio[0]), math.log(ratio[1]), x, generator)
    aspect = torch.exp(log_ratio)
    width = torch.sqrt(area * aspect).clamp(max=1.0)  # fractions of the image side
    height = torch.sqrt(area / aspect).clamp(max=1.0)
    cx = _uniform(n, 0, 1, x, generator) * (1 - width) * 2 - (1 - width)  # centre in [-1, 1] units
    cy = _uniform(n, 0, 1, x, generator) * (1 - height) * 2 - (1 - height)
    zero = torch.zeros_like(width)
    theta = torch.stack([torch.stack([width, zero, cx], 1), torch.stack([zero, height, cy], 1)], 1)
    return _affine(x, theta, size, padding_mode="border")


def _gray(x: torch.Tensor) -> torch.Tensor:
    if x.shape[1] == 1:
        return x
    weights = device_constant((0.299, 0.587, 0.114), x.device, x.dtype, (1, 3, 1, 1))
    return (x * weights).sum(1, keepdim=True)


def rgb_to_hsv(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(N, 3, H, W) RGB in [0, 1] -> hue in [0, 1), saturation, value, each (N, H, W): the
    formulas and operation order of torchvision's v2 _rgb_to_hsv (after Pillow's)."""
    r, g, b = x.unbind(1)
    maxc, minc = x.amax(1), x.amin(1)
    equal = maxc == minc  # grey pixels: hue and saturation 0, and no division by 0
    ones = torch.ones_like(maxc)
    s = (maxc - minc) / torch.where(equal, ones, maxc)
    spread = torch.where(equal, ones, maxc - minc)
    rc, gc, bc = (maxc - r) / spread, (maxc - g) / spread, (maxc - b) / spread
    h = torch.where(maxc == r, bc - gc, torch.where(maxc == g, 2.0 + rc - bc, 4.0 + gc - rc))
    return (h * (1.0 / 6.0) + 1.0).fmod(1.0), s, maxc


# For each hue sector i, which of (v, p, q, t) is red, green and blue (torchvision's table).
_HSV_SECTORS = ((0, 2, 1, 1, 3, 0), (3, 0, 0, 2, 1, 1), (1, 1, 3, 0, 0, 2))


def hsv_to_rgb(h: torch.Tensor, s: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """The inverse of rgb_to_hsv, as torchvision's v2 _hsv_to_rgb: (N, H, W) x 3 -> (N, 3, H, W)."""
    h6 = h * 6
    sector = torch.floor(h6)
    f = h6 - sector
    q = ((1.0 - s * f) * v).clamp(0.0, 1.0)
    t = ((s * f + (1.0 - s)) * v).clamp(0.0, 1.0)
    p = ((1.0 - s) * v).clamp(0.0, 1.0)
    sectors = device_constant(_HSV_SECTORS, h.device, torch.int64, (3, 6))
    select = sectors[:, sector.long().remainder(6)].moveaxis(0, 1)  # (N, 3, H, W)
    return torch.stack((v, p, q, t), 1).gather(1, select)


def adjust_hue(x: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    """Rotate each RGB image's hue by its factor (fractions of a turn, in [-0.5, 0.5]) through
    HSV, as torchvision.transforms.v2.functional.adjust_hue does one image at a time."""
    h, s, v = rgb_to_hsv(x)
    return hsv_to_rgb((h + factor[:, None, None]).remainder(1.0), s, v)


def color_jitter(
    x: torch.Tensor, strength: float, p: float, hue: float, generator: torch.Generator
) -> torch.Tensor:
    """Brightness, contrast and saturation factors in [1 - s, 1 + s] per image, then (hue > 0,
    RGB only) a hue rotation by a per-image factor in [-hue, hue] (torchvision's ColorJitter
    hue). hue 0 draws nothing, so recipes without hue keep their random stream."""
    n = x.shape[0]
    apply = _chance(n, p, x, generator)[:, None, None, None]
    b, c, s = (_uniform(n, 1 - strength, 1 + strength, x, generator)[:, None, None, None] for _ in range(3))
    y = x * b
    mean = _gray(y).mean(dim=(1, 2, 3), keepdim=True)
    y = (y - mean) * c + mean
    if x.shape[1] == 3:
        gray = _gray(y)
        y = (y - gray) * s + gray
    if hue and x.shape[1] == 3:
        y = adjust_hue(y.clamp(0, 1), _uniform(n, -hue, hue, x, generator))
    return torch.where(apply, y.clamp(0, 1), x)


def random_grayscale(x: torch.Tensor, p: float, generator: torch.Generator) -> torch.Tensor:
    if x.shape[1] == 1:
        return x
    apply = _chance(x.shape[0], p, x, generator)[:, None, None, None]
    return torch.where(apply, _gray(x).expand_as(x), x)


def random_blur(
    x: torch.Tensor, p: float, generator: torch.Generator, sigma: tuple[float, float] = (0.1, 2.0)
) -> torch.Tensor:
    """Gaussian blur with a per-image sigma: a separable convolution whose kernels are built per
    image and applied as a grouped convolution (one group per image and channel)."""
    n, c, h, w = x.shape
    radius = max(1, h // 20)  # SimCLR uses a kernel of 10% of the image side
    t = torch.arange(-radius, radius + 1, device=x.device, dtype=x.dtype)
    sig = _uniform(n, *sigma, x, generator)
    kernel = torch.exp(-(t[None] ** 2) / (2 * sig[:, None] ** 2))
    kernel = (kernel / kernel.sum(1, keepdim=True)).repeat_interleave(c, 0)  # (N*C, K)
    flat = x.reshape(1, n * c, h, w)
    flat = F.conv2d(
        F.pad(flat, (radius, radius, 0, 0), mode="reflect"), kernel[:, None, None, :], groups=n * c
    )
    flat = F.conv2d(
        F.pad(flat, (0, 0, radius, radius), mode="reflect"), kernel[:, None, :, None], groups=n * c
    )
    apply = _chance(n, p, x, generator)[:, None, None, None]
    return torch.where(apply, flat.reshape(n, c, h, w), x)


def augment_batch(x: torch.Tensor, spec: str | dict, generator: torch.Generator) -> torch.Tensor:
    """Apply a preset to a float batch in [0, 1]; the output may be resized (`size`)."""
    params = resolve(spec)
    size = params["size"] or x.shape[-1]
    if params["scale"] is not None:
        x = random_resized_crop(x, size, tuple(params["scale"]), tuple(params["ratio"]), generator)
    elif size != x.shape[-1]:
        x = F.interpolate(
            x, size=(size, size), mode="bilinear", align_corners=False, antialias=size < x.shape[-1]
        )
    if params["padding"]:
        x = random_crop(x, params["padding"], generator)
    if params["flip_p"]:
        x = random_flip(x, generator, params["flip_p"])
    if params["rotation"]:
        x = random_rotation(x, params["rotation"], generator)
    if params["jitter"] or params["hue"]:
        x = color_jitter(x, params["jitter"], params["jitter_p"], params["hue"], generator)
    if params["grayscale_p"]:
        x = random_grayscale(x, params["grayscale_p"], generator)
    if params["blur_p"]:
        x = random_blur(x, params["blur_p"], generator)
    if params["noise_std"]:
        x = (x + torch.randn(x.shape, device=x.device, generator=generator) * params["noise_std"]).clamp(0, 1)
    return x
