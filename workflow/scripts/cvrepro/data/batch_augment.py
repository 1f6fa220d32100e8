"""Batch augmentation on the device: one call per batch, with no per-image Python work.

Inputs are float batches (N, C, H, W) in [0, 1] (before normalisation, so colour operations mean
what they say); every random parameter is drawn per image from an explicit generator, so a seed
fixes the whole run. torchvision.transforms.v2 applied to a batched tensor would draw one
parameter for the whole batch, which is why the geometric ops here go through affine_grid. A
preset is named by a string ("crop_flip") or a dict {"name": ..., overrides} whose keys are those
of the preset's entry in cvrepro.data.augment_presets.PRESETS (torch-free: the config checks read
it while Snakemake parses the workflow). device_constant makes the constants of every per-batch
operation, these and cvrepro.data.tensors' normalisation, without making the host wait.
"""

from __future__ import annotations

import functools
import math

import torch
import torch.nn.functional as F

from cvrepro.data.augment_presets import resolve


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
