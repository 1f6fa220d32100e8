"""Corrupted copies of a test split: 13 corruptions of CIFAR-10-C (Hendrycks & Dietterich, 2019).

Reference: github.com/hendrycks/robustness, ImageNet-C/create_c/make_cifar_c.py (commit
ca36008), the code that made CIFAR-10-C; "l.N" below is a line of that file.

How far this follows the reference. On 32x32 RGB images every corruption uses the reference's
CIFAR constants (quoted beside each) and its operations in its order, in the same precision
(float64 from `np.array(x) / 255.`, float32 where the reference casts), with its final
`np.clip(x, 0, 1) * 255` and `np.uint8(...)` (l.458), which truncates rather than rounds. Its
library calls are written out in numpy/scipy (cvrepro.data.corruption_ops) or made with the same library
(PIL for pixelate and JPEG, scipy's gaussian_filter under skimage's gaussian, scipy's
map_coordinates). Random fields are drawn from the reference's distributions with its parameters,
but from numpy's Generator (PCG64) seeded by (seed, severity, corruption) instead of the global
np.random state, image after image in the order the reference draws them: a set corrupted here
equals the reference's loop over that set with `np.random` replaced by this generator.
tests/test_corruptions.py checks every corruption and severity against a transcription of the
reference. Run against the reference file itself (its functions with the real OpenCV 3.4.18 and
4.5.5-4.12, scikit-image 0.20, scipy 1.13, `np.random` swapped for the same generator), on 324
32x32 images at every severity, every output value was equal. OpenCV 5.0 changed warpAffine's
rounding: against it, elastic transform differs by up to 6 grey levels.

Where it departs, because the reference only knows 32x32 RGB:
- Other sizes. Lengths in pixels scale with s = min(H, W) / 32: Gaussian blur's sigma, the defocus
  disk's radius (not its anti-aliasing blur, which is about the kernel's own pixel grid);
  pixelate shrinks to int(W * c) x int(H * c) like the reference's int(32 * c); elastic
  transform's constants are the reference's multiples of IMSIZE with IMSIZE = min(H, W); fog's
  plasma map is the smallest power of two >= max(H, W), cropped, as make_imagenet_c.py crops a
  256 map to 224. At 32 px each rule gives the reference's value.
- Grey images (C = 1). They are treated as RGB images whose three channels are equal: channel-wise
  operations act on the one channel, and random fields are drawn once per pixel (as for one RGB
  channel), so the three would stay equal. Brightness and saturate go through HSV on the
  replicated RGB and come back as that RGB's channel where the three are equal, else as its luma
  (0.299 R + 0.587 G + 0.114 B, PIL's 'L'); for saturate at severities 4-5 (b > 0) the
  reference turns grey pixels red, and the luma of that is a darkening. JPEG and pixelate use
  PIL's 'L' mode.
"""

from __future__ import annotations

import io
from collections.abc import Callable

import numpy as np
from PIL import Image
from scipy import ndimage

from cvrepro.data import corruption_ops as ops

SEVERITIES = (1, 2, 3, 4, 5)
CHUNK_VALUES = 1 << 22  # pixel values per step (32 MB in float64): 1,365 CIFAR images, 151 STL-10 ones

Corruption = Callable[[np.ndarray, int, np.random.Generator], np.ndarray]


def _unit(images: np.ndarray) -> np.ndarray:
    return images / 255.0  # the reference's np.array(x) / 255.: float64


def _to_uint8(x: np.ndarray) -> np.ndarray:
    """The reference's np.uint8(np.clip(x, 0, 1) * 255): truncation, not rounding."""
    return (np.clip(x, 0, 1) * 255).astype(np.uint8)


def _scale(images: np.ndarray) -> float:
    return min(images.shape[1:3]) / 32


def gaussian_noise(images: np.ndarray, severity: int, rng: np.random.Generator) -> np.ndarray:
    c = [0.04, 0.06, 0.08, 0.09, 0.10][severity - 1]  # l.131: [0.04, 0.06, .08, .09, .10]
    x = _unit(images)
    return _to_uint8(x + rng.normal(size=x.shape, scale=c))


def shot_noise(images: np.ndarray, severity: int, rng: np.random.Generator) -> np.ndarray:
    c = [500, 250, 100, 75, 50][severity - 1]  # l.138: [500, 250, 100, 75, 50]
    x = _unit(images)
    return _to_uint8(rng.poisson(x * c) / c)


def impulse_noise(images: np.ndarray, severity: int, rng: np.random.Generator) -> np.ndarray:
    """sk.util.random_noise(x, mode='s&p', amount=c) (l.147), skimage <= 0.20: each value is
    flipped with probability c, then salt (1) or pepper (0) with probability 1/2 each, from two
    np.random.choice draws of the image's shape; choice(p) is `uniform < p`."""
    c = [0.01, 0.02, 0.03, 0.05, 0.07][severity - 1]  # l.145: [.01, .02, .03, .05, .07]
    x = _unit(images)
    draws = rng.random((len(x), 2) + x.shape[1:])  # per image: the flip draws, then the salt draws
    flipped, salted = draws[:, 0] < c, draws[:, 1] < 0.5
    x[flipped & salted] = 1
    x[flipped & ~salted] = 0
    return _to_uint8(x)


def speckle_noise(images: np.ndarray, severity: int, rng: np.random.Generator) -> np.ndarray:
    c = [0.06, 0.1, 0.12, 0.16, 0.2][severity - 1]  # l.152: [.06, .1, .12, .16, .2]
    x = _unit(images)
    return _to_uint8(x + x * rng.normal(size=x.shape, scale=c))


def gaussian_blur(images: np.ndarray, severity: int, rng: np.random.Generator) -> np.ndarray:
    """skimage.filters.gaussian(x, sigma=c, multichannel=True) (l.161): scipy's gaussian_filter
    over the two spatial axes, mode 'nearest', truncate 4."""
    c = [0.4, 0.6, 0.7, 0.8, 1][severity - 1] * _scale(images)  # l.159: [.4, .6, 0.7, .8, 1]
    x = ndimage.gaussian_filter(_unit(images), sigma=(0, c, c, 0), mode="nearest", truncate=4.0)
    return _to_uint8(x)


def defocus_blur(images: np.ndarray, severity: int, rng: np.random.Generator) -> np.ndarray:
    """cv2.filter2D of each channel with disk(radius, alias_blur) (l.186-194)."""
    # l.184: [(0.3, 0.4), (0.4, 0.5), (0.5, 0.6), (1, 0.2), (1.5, 0.1)] as (radius, alias_blur)
    radius, alias = [(0.3, 0.4), (0.4, 0.5), (0.5, 0.6), (1, 0.2), (1.5, 0.1)][severity - 1]
    kernel = ops.disk_kernel(radius * _scale(images), alias)
    return _to_uint8(ops.filter2d(_unit(images), kernel))


def _hsv_channel(images: np.ndarray, channel: int, change: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """rgb2hsv, change one HSV channel, hsv2rgb, clip (l.344-349, l.355-360); grey images go
    through RGB with three equal channels and come back as described in the module docstring."""
    x = _unit(images)
    grey = x.shape[-1] == 1
    hsv = ops.rgb_to_hsv(np.repeat(x, 3, axis=-1) if grey else x)
    hsv[..., channel] = change(hsv[..., channel])
    rgb = np.clip(ops.hsv_to_rgb(hsv), 0, 1)
    if grey:
        equal = (rgb[..., :1] == rgb[..., 1:2]) & (rgb[..., :1] == rgb[..., 2:])
        luma = rgb[..., :1] * 0.299 + rgb[..., 1:2] * 0.587 + rgb[..., 2:] * 0.114
        rgb = np.where(equal, rgb[..., :1], luma)
    return _to_uint8(rgb)


def brightness(images: np.ndarray, severity: int, rng: np.random.Generator) -> np.ndarray:
    c = [0.05, 0.1, 0.15, 0.2, 0.3][severity - 1]  # l.342: [.05, .1, .15, .2, .3]
    return _hsv_channel(images, 2, lambda v: np.clip(v + c, 0, 1))


def contrast(images: np.ndarray, severity: int, rng: np.random.Generator) -> np.ndarray:
    c = [0.75, 0.5, 0.4, 0.3, 0.15][severity - 1]  # l.334: [.75, .5, .4, .3, 0.15]
    x = _unit(images)
    means = x.mean(axis=(1, 2), keepdims=True)  # l.337: per image and channel
    return _to_uint8((x - means) * c + means)


def saturate(images: np.ndarray, severity: int, rng: np.random.Generator) -> np.ndarray:
    # l.353: [(0.3, 0), (0.1, 0), (1.5, 0), (2, 0.1), (2.5, 0.2)] as (factor, offset) of S
    a, b = [(0.3, 0), (0.1, 0), (1.5, 0), (2, 0.1), (2.5, 0.2)][severity - 1]
    return _hsv_channel(images, 1, lambda s: np.clip(s * a + b, 0, 1))


def _pil_map(images: np.ndarray, change: Callable[[Image.Image], Image.Image]) -> np.ndarray:
    """Apply a PIL operation to each image (mode 'RGB', or 'L' for one channel)."""
    out = np.empty_like(images)
    for i, image in enumerate(images):
        result = np.asarray(change(Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image)))
        out[i] = result[..., None] if result.ndim == 2 else result
    return out


def pixelate(images: np.ndarray, severity: int, rng: np.random.Generator) -> np.ndarray:
    c = [0.95, 0.9, 0.85, 0.75, 0.65][severity - 1]  # l.374: [0.95, 0.9, 0.85, 0.75, 0.65]
    h, w = images.shape[1:3]
    small = (int(w * c), int(h * c))  # l.376: (int(32 * c), int(32 * c)), PIL's (width, height)
    return _pil_map(images, lambda im: im.resize(small, Image.BOX).resize((w, h), Image.BOX))


def _jpeg(image: Image.Image, quality: int) -> Image.Image:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality)  # l.367
    return Image.open(buffer)


def jpeg_compression(images: np.ndarray, severity: int, rng: np.random.Generator) -> np.ndarray:
    c = [80, 65, 58, 50, 40][severity - 1]  # l.364: [80, 65, 58, 50, 40]
    return _pil_map(images, lambda im: _jpeg(im, c))


def fog(images: np.ndarray, severity: int, rng: np.random.Generator) -> np.ndarray:
    """x + c * plasma, rescaled by max / (max + c) (l.228-234); the plasma map is drawn per image."""
    c, decay = [(0.2, 3), (0.5, 3), (0.75, 2.5), (1, 2), (1.5, 1.75)][severity - 1]  # l.229
    n, h, w = images.shape[:3]
    mapsize = 1 << (max(h, w) - 1).bit_length()  # l.233: plasma_fractal(mapsize=32)[:32, :32]
    plasma = ops.plasma_fractal(rng.random((n, ops.plasma_draws(mapsize))), mapsize, decay)
    x = _unit(images)
    max_val = x.max(axis=(1, 2, 3), keepdims=True)
    x += c * plasma[:, :h, :w, None]
    return _to_uint8(x * max_val / (max_val + c))


def _elastic_draws(rng: np.random.Generator, n: int, h: int, w: int, shift: float) -> tuple[np.ndarray, ...]:
    """Each image's random draws in the reference's order (l.401, l.405-408): the affine points'
    uniform(-shift, shift, (3, 2)) as float32, then dx's and dy's uniform(-1, 1, (H, W))."""
    u = rng.random((n, 6 + 2 * h * w))
    jitter = (-shift + (shift - -shift) * u[:, :6]).reshape(n, 3, 2).astype(np.float32)
    fields = -1.0 + (1.0 - -1.0) * u[:, 6:].reshape(n, 2, h, w)
    return jitter, fields[:, 0], fields[:, 1]


def _displacement(field: np.ndarray, sigma: float, alpha: float) -> np.ndarray:
    """skimage's gaussian(field, sigma, mode='reflect', truncate=3) * alpha as float32 (l.405-408),
    on each (H, W) field of the batch; sigma 0 (severity 1) leaves the field as it is."""
    smooth = ndimage.gaussian_filter(field, (0, sigma, sigma), mode="reflect", truncate=3)
    return (smooth * alpha).astype(np.float32)


def elastic_transform(images: np.ndarray, severity: int, rng: np.random.Generator) -> np.ndarray:
    """A random affine warp (cv2.warpAffine, BORDER_REFLECT_101), then a smooth random
    displacement (scipy's map_coordinates, order 1, mode 'reflect') (l.383-413)."""
    n, h, w, c = images.shape
    imsize = min(h, w)  # l.384: IMSIZE = 32
    alpha, sigma, shift = [
        (imsize * 0, imsize * 0, imsize * 0.08),  # l.385-389, as (alpha, sigma, affine shift)
        (imsize * 0.05, imsize * 0.2, imsize * 0.07),
        (imsize * 0.08, imsize * 0.06, imsize * 0.06),
        (imsize * 0.1, imsize * 0.04, imsize * 0.05),
        (imsize * 0.1, imsize * 0.03, imsize * 0.03),
    ][severity - 1]
    x = images.astype(np.float32) / 255.0  # l.391: float32
    # l.396-400: cv2 reads these points as (x, y) but the reference builds them from (H, W); kept,
    # it only matters when H != W
    center = np.float32([h, w]) // 2
    size = min(h, w) // 3
    pts1 = np.float32([center + size, [center[0] + size, center[1] - size], center - size])
    jitter, ux, uy = _elastic_draws(rng, n, h, w, shift)
    x = ops.warp_affine(x, ops.affine_transform(np.broadcast_to(pts1, jitter.shape), pts1 + jitter))
    dx, dy = _displacement(ux, sigma, alpha), _displacement(uy, sigma, alpha)
    xs, ys, zs = np.meshgrid(np.arange(w), np.arange(h), np.arange(c))  # l.411, each (H, W, C)
    out = np.empty_like(x)
    for i in range(n):
        indices = (ys + dy[i, :, :, None]).ravel(), (xs + dx[i, :, :, None]).ravel(), zs.ravel()
        out[i] = ndimage.map_coordinates(x[i], indices, order=1, mode="reflect").reshape(h, w, c)
    return _to_uint8(out)


CORRUPTIONS: dict[str, Corruption] = {
    "gaussian_noise": gaussian_noise,
    "shot_noise": shot_noise,
    "impulse_noise": impulse_noise,
    "speckle_noise": speckle_noise,
    "gaussian_blur": gaussian_blur,
    "defocus_blur": defocus_blur,
    "brightness": brightness,
    "contrast": contrast,
    "saturate": saturate,
    "pixelate": pixelate,
    "jpeg_compression": jpeg_compression,
    "fog": fog,
    "elastic_transform": elastic_transform,
}


def generator(name: str, severity: int, seed: int) -> np.random.Generator:
    """The random stream of one (corruption, severity, seed): independent of the other pairs."""
    return np.random.default_rng([seed, severity, sorted(CORRUPTIONS).index(name)])


def corrupt(images: np.ndarray, name: str, severity: int, seed: int) -> np.ndarray:
    """A corrupted copy of uint8 images (N, H, W, C); the same (name, severity, seed) gives the same
    output, whatever the chunking, since each chunk continues the same random stream."""
    if name not in CORRUPTIONS:
        raise ValueError(f"unknown corruption {name!r}; choose from {sorted(CORRUPTIONS)}")
    if severity not in SEVERITIES:
        raise ValueError(f"severity must be one of {SEVERITIES}, got {severity!r}")
    images = np.asarray(images)
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[-1] not in (1, 3):
        raise ValueError(f"expected uint8 images (N, H, W, 1 or 3), got {images.dtype} {images.shape}")
    rng = generator(name, severity, seed)
    chunk = max(1, CHUNK_VALUES // int(np.prod(images.shape[1:])))
    out = np.empty_like(images)
    for start in range(0, len(images), chunk):
        out[start : start + chunk] = CORRUPTIONS[name](np.array(images[start : start + chunk]), severity, rng)
    return out
