"""Every corruption at every severity against Hendrycks & Dietterich's make_cifar_c.py, computed
here the way that file computes it.

Source: github.com/hendrycks/robustness, ImageNet-C/create_c/make_cifar_c.py at commit ca36008;
"l.N" is a line of it. Each reference function is re-expressed below for one image, with the file's
CIFAR constants, and with numpy/scipy/PIL standing in for its skimage and cv2 calls (written out
from those libraries' code: skimage 0.14-0.20, OpenCV 3/4). The file's final step (l.458) is
np.uint8(corruption(image)), applied here too.

Random corruptions: the reference draws from the global np.random; here the same calls with the
same arguments go to a numpy Generator, and ours is given a generator with the same seed. Ours
consumes its stream image after image in the reference's order, so both see identical draws and
the comparison is value for value, not of statistics.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

from cvrepro.data import corruptions
from cvrepro.data.corruptions import CORRUPTIONS, corrupt


def _images() -> np.ndarray:
    """Four 32x32 RGB images: noise, flat blocks with edges, smooth colour gradients with grey,
    black, white and tied-channel pixels (HSV's special cases), and a textured pattern."""
    rng = np.random.default_rng(2024)
    noise = rng.integers(0, 256, (32, 32, 3))
    blocks = np.kron(rng.integers(0, 256, (4, 4, 3)), np.ones((8, 8, 1)))
    ramp = np.linspace(0, 255, 32)
    gradient = np.stack(np.broadcast_arrays(ramp[:, None], ramp[None, :], 255 - ramp[:, None]), -1)
    gradient[:4] = gradient[:4, :, :1]  # grey rows (r = g = b), including black
    gradient[4:8, :, 1] = gradient[4:8, :, 0]  # red and green tie
    gradient[-2:] = 255
    yy, xx = np.mgrid[:32, :32]
    texture = 128 + 100 * np.sin(np.stack([xx / 2.0, yy / 3.0, (xx + yy) / 5.0], -1))
    return np.stack([noise, blocks, gradient, texture]).round().clip(0, 255).astype(np.uint8)


IMAGES = _images()


# ---- skimage and cv2 as the reference calls them -------------------------------------------------


def sk_rgb2hsv(rgb: np.ndarray) -> np.ndarray:
    """skimage.color.rgb2hsv (0.14-0.20): hue from whichever channel is the maximum, the later
    channel winning ties (blue over green over red); hue and saturation 0 where max == min."""
    v = rgb.max(axis=-1)
    delta = rgb.max(axis=-1) - rgb.min(axis=-1)
    hue = np.zeros_like(v)
    with np.errstate(invalid="ignore", divide="ignore"):
        for channel, offset, (a, b) in ((0, 0.0, (1, 2)), (1, 2.0, (2, 0)), (2, 4.0, (0, 1))):
            is_max = rgb[..., channel] == v
            hue[is_max] = offset + (rgb[..., a] - rgb[..., b])[is_max] / delta[is_max]
        sat = delta / v
    hue = (hue / 6.0) % 1.0
    hue[delta == 0] = 0.0
    sat[delta == 0] = 0.0
    out = np.stack([hue, sat, v], axis=-1)
    out[np.isnan(out)] = 0
    return out


def sk_hsv2rgb(hsv: np.ndarray) -> np.ndarray:
    """skimage.color.hsv2rgb: the six hue sectors' (r, g, b) from v, p, q, t."""
    h, s, v = hsv[..., 0], hsv[..., 1], hsv[..., 2]
    sector = np.floor(h * 6)
    f = h * 6 - sector
    p, q, t = v * (1 - s), v * (1 - f * s), v * (1 - (1 - f) * s)
    sector = sector.astype(np.uint8) % 6
    table = [(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q)]
    out = np.empty_like(hsv)
    for k, rgb in enumerate(table):
        for channel in range(3):
            out[..., channel][sector == k] = rgb[channel][sector == k]
    return out


def cv2_gaussian_blur_3x3(image: np.ndarray, sigma: float) -> np.ndarray:
    """cv2.GaussianBlur(float32 image, (3, 3), sigma): kernel exp(-x^2 / 2 sigma^2) over x = -1, 0, 1
    normalised in double and stored as float; rows then columns; BORDER_REFLECT_101."""
    taps = [np.exp(-0.5 / (sigma * sigma) * x * x) for x in (-1.0, 0.0, 1.0)]
    total = taps[0] + taps[1] + taps[2]
    kernel = [np.float32(t * (1.0 / total)) for t in taps]
    for axis in (1, 0):
        padded = np.pad(image, [(1, 1) if a == axis else (0, 0) for a in range(2)], mode="reflect")
        shifted = [np.take(padded, range(i, i + image.shape[axis]), axis=axis) for i in range(3)]
        image = shifted[0] * kernel[0] + shifted[1] * kernel[1] + shifted[2] * kernel[2]
    return image


def cv2_filter2d(channel: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """cv2.filter2D(channel, -1, kernel): correlation about the kernel's centre, BORDER_REFLECT_101
    (numpy's 'reflect' padding)."""
    r = kernel.shape[0] // 2
    padded = np.pad(channel, r, mode="reflect")
    h, w = channel.shape
    out = np.zeros_like(channel)
    for i, j in zip(*np.nonzero(kernel), strict=True):
        out += float(kernel[i, j]) * padded[i : i + h, j : j + w]
    return out


def cv2_get_affine_transform(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """cv2.getAffineTransform: the 6x6 system it builds from three float32 point pairs, in double."""
    a, b = np.zeros((6, 6)), np.zeros(6)
    for i, ((x, y), (u, v)) in enumerate(zip(src.astype(np.float64), dst.astype(np.float64), strict=True)):
        a[2 * i, :3] = a[2 * i + 1, 3:] = (x, y, 1)
        b[2 * i], b[2 * i + 1] = u, v
    return np.linalg.solve(a, b).reshape(2, 3)


def cv2_warp_affine_reflect101(image: np.ndarray, m: np.ndarray) -> np.ndarray:
    """cv2.warpAffine(float32 image, M, (W, H), INTER_LINEAR, BORDER_REFLECT_101), pixel by pixel
    as imgwarp.cpp of OpenCV 3/4 does it: invert M in double; source coordinates in 1/1024 pixel
    (rounded half to even), shifted to 1/32; weights (1 - f) and f in float32."""
    h, w = image.shape[:2]
    m0, m1, m2, m3, m4, m5 = (float(v) for v in m.ravel())
    d = m0 * m4 - m1 * m3
    d = 1.0 / d if d != 0 else 0.0
    m0, m1, m3, m4 = m4 * d, m1 * -d, m3 * -d, m0 * d
    m2, m5 = -m0 * m2 - m1 * m5, -m3 * m2 - m4 * m5

    def source(i: int, size: int) -> int:  # cv2.borderInterpolate, BORDER_REFLECT_101
        while not 0 <= i < size:
            i = -i if i < 0 else 2 * size - 2 - i
        return i

    out = np.empty_like(image)
    for y in range(h):
        x0 = round((m1 * y + m2) * 1024) + 16
        y0 = round((m4 * y + m5) * 1024) + 16
        for x in range(w):
            fixed_x = (x0 + round(m0 * x * 1024)) >> 5
            fixed_y = (y0 + round(m3 * x * 1024)) >> 5
            ix, iy, fx, fy = (
                fixed_x >> 5,
                fixed_y >> 5,
                np.float32((fixed_x & 31) / 32),
                np.float32((fixed_y & 31) / 32),
            )
            one = np.float32(1)
            value = image[source(iy, h), source(ix, w)] * ((one - fy) * (one - fx))
            value = value + image[source(iy, h), source(ix + 1, w)] * ((one - fy) * fx)
            value = value + image[source(iy + 1, h), source(ix, w)] * (fy * (one - fx))
            out[y, x] = value + image[source(iy + 1, h), source(ix + 1, w)] * (fy * fx)
    return out


def reference_plasma(rng: np.random.Generator, mapsize: int, decay: float) -> np.ndarray:
    """plasma_fractal() (l.63-109): diamond-square on a mapsize^2 torus, the random offset of each
    new point wibble * uniform(-wibble, wibble), wibble 100 divided by decay per step."""
    grid = np.empty((mapsize, mapsize))
    grid[0, 0] = 0
    step, wibble = mapsize, 100

    def mean_plus_noise(total: np.ndarray) -> np.ndarray:  # wibbledmean, l.75-76
        return total / 4 + wibble * rng.uniform(-wibble, wibble, total.shape)

    while step >= 2:
        half = step // 2
        corners = grid[::step, ::step]  # squares, l.81-85
        total = corners + np.roll(corners, shift=-1, axis=0)
        total += np.roll(total, shift=-1, axis=1)
        grid[half::step, half::step] = mean_plus_noise(total)
        centres, corners = grid[half::step, half::step], grid[::step, ::step]  # diamonds, l.91-100
        left = (centres + np.roll(centres, 1, axis=0)) + (corners + np.roll(corners, -1, axis=1))
        grid[::step, half::step] = mean_plus_noise(left)
        top = (centres + np.roll(centres, 1, axis=1)) + (corners + np.roll(corners, -1, axis=0))
        grid[half::step, ::step] = mean_plus_noise(top)
        step //= 2
        wibble /= decay
    grid -= grid.min()
    return grid / grid.max()


# ---- the reference's corruptions, one 32x32x3 image at a time ------------------------------------


def ref_gaussian_noise(img, severity, rng):  # l.130-134
    scale = (0.04, 0.06, 0.08, 0.09, 0.10)[severity - 1]
    x = np.asarray(img) / 255.0
    return np.clip(x + rng.normal(size=x.shape, scale=scale), 0, 1) * 255


def ref_shot_noise(img, severity, rng):  # l.137-141
    photons = (500, 250, 100, 75, 50)[severity - 1]
    x = np.asarray(img) / 255.0
    return np.clip(rng.poisson(x * photons) / photons, 0, 1) * 255


def ref_impulse_noise(img, severity, rng):  # l.144-148 with skimage's random_noise(mode='s&p')
    amount = (0.01, 0.02, 0.03, 0.05, 0.07)[severity - 1]
    x = np.asarray(img) / 255.0
    flipped = rng.choice([True, False], size=x.shape, p=[amount, 1 - amount])
    salted = rng.choice([True, False], size=x.shape, p=[0.5, 0.5])
    x[flipped & salted], x[flipped & ~salted] = 1, 0
    return np.clip(np.clip(x, 0, 1), 0, 1) * 255  # random_noise clips, then l.148 clips


def ref_speckle_noise(img, severity, rng):  # l.151-155
    scale = (0.06, 0.1, 0.12, 0.16, 0.2)[severity - 1]
    x = np.asarray(img) / 255.0
    return np.clip(x + x * rng.normal(size=x.shape, scale=scale), 0, 1) * 255


def ref_gaussian_blur(
    img, severity, rng
):  # l.158-162; skimage's gaussian = scipy's, mode 'nearest', truncate 4
    sigma = (0.4, 0.6, 0.7, 0.8, 1)[severity - 1]
    x = ndimage.gaussian_filter(np.asarray(img) / 255.0, (sigma, sigma, 0), mode="nearest", truncate=4.0)
    return np.clip(x, 0, 1) * 255


def ref_defocus_blur(img, severity, rng):  # l.183-194, disk() l.34-46 (radius <= 8)
    radius, alias = ((0.3, 0.4), (0.4, 0.5), (0.5, 0.6), (1, 0.2), (1.5, 0.1))[severity - 1]
    offsets = np.arange(-8, 9)
    xs, ys = np.meshgrid(offsets, offsets)
    disk = ((xs**2 + ys**2) <= radius**2).astype(np.float32)
    disk /= disk.sum()
    kernel = cv2_gaussian_blur_3x3(disk, alias)
    x = np.asarray(img) / 255.0
    return np.clip(np.stack([cv2_filter2d(x[..., d], kernel) for d in range(3)], -1), 0, 1) * 255


def ref_brightness(img, severity, rng):  # l.341-349
    shift = (0.05, 0.1, 0.15, 0.2, 0.3)[severity - 1]
    hsv = sk_rgb2hsv(np.asarray(img) / 255.0)
    hsv[..., 2] = np.clip(hsv[..., 2] + shift, 0, 1)
    return np.clip(sk_hsv2rgb(hsv), 0, 1) * 255


def ref_contrast(img, severity, rng):  # l.333-338
    factor = (0.75, 0.5, 0.4, 0.3, 0.15)[severity - 1]
    x = np.asarray(img) / 255.0
    means = x.mean(axis=(0, 1), keepdims=True)
    return np.clip((x - means) * factor + means, 0, 1) * 255


def ref_saturate(img, severity, rng):  # l.352-360
    factor, offset = ((0.3, 0), (0.1, 0), (1.5, 0), (2, 0.1), (2.5, 0.2))[severity - 1]
    hsv = sk_rgb2hsv(np.asarray(img) / 255.0)
    hsv[..., 1] = np.clip(hsv[..., 1] * factor + offset, 0, 1)
    return np.clip(sk_hsv2rgb(hsv), 0, 1) * 255


def ref_pixelate(img, severity, rng):  # l.373-379
    size = int(32 * (0.95, 0.9, 0.85, 0.75, 0.65)[severity - 1])
    return img.resize((size, size), Image.BOX).resize((32, 32), Image.BOX)


def ref_jpeg_compression(img, severity, rng):  # l.363-370
    buffer = io.BytesIO()
    img.save(buffer, "JPEG", quality=(80, 65, 58, 50, 40)[severity - 1])
    return Image.open(buffer)


def ref_fog(img, severity, rng):  # l.228-234
    strength, decay = ((0.2, 3), (0.5, 3), (0.75, 2.5), (1, 2), (1.5, 1.75))[severity - 1]
    x = np.asarray(img) / 255.0
    peak = x.max()
    x = x + strength * reference_plasma(rng, 32, decay)[:32, :32, None]
    return np.clip(x * peak / (peak + strength), 0, 1) * 255


def ref_elastic_transform(img, severity, rng):  # l.383-413
    alpha, sigma, shift = (
        (0, 0, 0.08),
        (0.05, 0.2, 0.07),
        (0.08, 0.06, 0.06),
        (0.1, 0.04, 0.05),
        (0.1, 0.03, 0.03),
    )[severity - 1]
    alpha, sigma, shift = 32 * alpha, 32 * sigma, 32 * shift  # IMSIZE = 32 times each constant
    x = np.asarray(img, dtype=np.float32) / 255.0
    h, w, c = x.shape
    centre, third = np.float32([h, w]) // 2, min(h, w) // 3
    src = np.float32([centre + third, [centre[0] + third, centre[1] - third], centre - third])
    dst = src + rng.uniform(-shift, shift, size=src.shape).astype(np.float32)
    x = cv2_warp_affine_reflect101(x, cv2_get_affine_transform(src, dst))
    dx, dy = (
        (
            ndimage.gaussian_filter(rng.uniform(-1, 1, size=(h, w)), sigma, mode="reflect", truncate=3)
            * alpha
        ).astype(np.float32)[..., None]
        for _ in range(2)
    )
    cols, rows, chans = np.meshgrid(np.arange(w), np.arange(h), np.arange(c))
    coords = [(rows + dy).ravel(), (cols + dx).ravel(), chans.ravel()]
    return np.clip(ndimage.map_coordinates(x, coords, order=1, mode="reflect").reshape(x.shape), 0, 1) * 255


REFERENCE = {name[4:]: fn for name, fn in globals().items() if name.startswith("ref_")}


def test_every_corruption_has_a_reference():
    assert sorted(REFERENCE) == sorted(CORRUPTIONS)


@pytest.mark.parametrize("name", sorted(CORRUPTIONS))
def test_matches_make_cifar_c_at_every_severity(name):
    worst = []
    for severity in range(1, 6):
        ours = CORRUPTIONS[name](IMAGES.copy(), severity, np.random.default_rng(severity))
        rng = np.random.default_rng(severity)
        reference = np.stack([np.uint8(REFERENCE[name](Image.fromarray(im), severity, rng)) for im in IMAGES])
        assert ours.shape == reference.shape and ours.dtype == np.uint8
        worst.append(int(np.abs(ours.astype(int) - reference).max()))
    # Exact, even for defocus blur, whose 2-D correlation sums in another order here than in ours
    # (a last-bit difference could flip one truncation to uint8, but does not on these images).
    assert max(worst) == 0, f"{name}: max |ours - reference| per severity {worst}"


def test_a_set_is_the_same_whatever_the_chunking(monkeypatch):
    """corrupt() continues one random stream across chunks: image i gets the same draws whether it
    is corrupted alone, in a small chunk, or in one step."""
    images = np.concatenate([IMAGES] * 3)
    whole = {name: corrupt(images, name, 4, seed=1) for name in ("impulse_noise", "fog", "elastic_transform")}
    monkeypatch.setattr(corruptions, "CHUNK_VALUES", 5 * 32 * 32 * 3)  # 5 images per chunk
    for name, expected in whole.items():
        assert np.array_equal(corrupt(images, name, 4, seed=1), expected), name
    assert not np.array_equal(corrupt(images, "fog", 4, seed=2), whole["fog"])


def test_grey_images_are_rgb_with_equal_channels():
    grey = IMAGES[..., :1]
    rgb = np.repeat(grey, 3, axis=-1)
    for name in ("brightness", "contrast", "defocus_blur", "gaussian_blur", "fog"):
        for severity in (1, 5):
            ours = CORRUPTIONS[name](grey.copy(), severity, np.random.default_rng(0))
            as_rgb = CORRUPTIONS[name](rgb.copy(), severity, np.random.default_rng(0))
            assert np.array_equal(ours[..., 0], as_rgb[..., 0]), (name, severity)
    # saturate: S of a grey pixel is 0, so severities 1-3 (offset 0) leave it; 4-5 add S = 0.1, 0.2
    # with hue 0 (red), which comes back as that colour's luma: darker
    assert np.array_equal(CORRUPTIONS["saturate"](grey.copy(), 3, None), grey)
    darker = CORRUPTIONS["saturate"](grey.copy(), 5, None).astype(int)
    assert (darker <= grey).all() and darker.mean() < grey.mean() - 5


@pytest.mark.parametrize("shape", [(28, 28, 1), (96, 96, 3)])
def test_other_sizes_work(shape):
    images = np.random.default_rng(1).integers(0, 256, (3, *shape), dtype=np.uint8)
    for name in CORRUPTIONS:
        out = corrupt(images, name, 5, seed=0)
        assert out.shape == images.shape and out.dtype == np.uint8, name
        assert not np.array_equal(out, images), name


@pytest.mark.parametrize(("name", "low", "high"), [("gaussian_blur", 2.7, 3.3), ("defocus_blur", 2.3, 3.3)])
def test_blur_widths_scale_with_the_image_side(name, low, high):
    """An edge's blur at 96 px is about three times as wide as at 32 px (where it is the
    reference's). Defocus falls short of 3: its 1.5 px disk at 32 px digitises to a 3x3 square,
    wider than a round disk; the 4.5 px one at 96 px is nearly round."""

    def width(side: int) -> float:
        image = np.zeros((1, side, side, 1), np.uint8)
        image[:, :, side // 2 :] = 255
        profile = CORRUPTIONS[name](image, 5, None)[0, side // 2, :, 0].astype(float)
        slope = np.diff(profile)  # the blur kernel's 1-D marginal, times 255
        offsets = np.arange(side - 1) + 0.5 - side // 2
        return float(np.sqrt((slope * offsets**2).sum() / slope.sum()))

    assert low < width(96) / width(32) < high
