"""Numpy/scipy versions of the library calls that make_cifar_c.py makes (skimage's HSV conversion,
cv2's disk kernel, filter and affine warp) and of its plasma fractal, over batches of images.

Reference: Hendrycks & Dietterich, github.com/hendrycks/robustness, ImageNet-C/create_c/
make_cifar_c.py (commit ca36008); "l.N" below is a line of that file. The reference calls
OpenCV 3/4 and scikit-image 0.14-0.20; neither is a dependency here, so the parts it uses are
written out with the same arithmetic (the same formulas in the same order, the same rounding).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage


def rgb_to_hsv(rgb: np.ndarray) -> np.ndarray:
    """skimage.color.rgb2hsv on float RGB in [0, 1] (..., 3): where two channels tie for the
    maximum, the later channel's hue formula wins, as in skimage."""
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    v = rgb.max(-1)
    delta = np.ptp(rgb, axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        s = delta / v
        hue = np.where(
            b == v, 4.0 + (r - g) / delta, np.where(g == v, 2.0 + (b - r) / delta, (g - b) / delta)
        )
    s[delta == 0.0] = 0.0
    hue = (hue / 6.0) % 1.0
    hue[delta == 0.0] = 0.0
    out = np.stack([hue, s, v], axis=-1)
    out[np.isnan(out)] = 0
    return out


def hsv_to_rgb(hsv: np.ndarray) -> np.ndarray:
    """skimage.color.hsv2rgb (..., 3) -> (..., 3)."""
    h, s, v = hsv[..., 0], hsv[..., 1], hsv[..., 2]
    hi = np.floor(h * 6)
    f = h * 6 - hi
    p = v * (1 - s)
    q = v * (1 - f * s)
    t = v * (1 - (1 - f) * s)
    sector = hi.astype(np.uint8) % 6
    choices = [(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q)]
    out = np.empty(hsv.shape, dtype=np.result_type(hsv.dtype, np.float64))
    for channel in range(3):
        out[..., channel] = np.choose(sector, [choice[channel] for choice in choices])
    return out


def _cv2_gaussian_kernel(ksize: int, sigma: float) -> np.ndarray:
    """cv2.getGaussianKernel(ksize, sigma > 0, CV_32F): computed in double, stored as float."""
    x = np.arange(ksize) - (ksize - 1) * 0.5
    k = np.exp(-0.5 / (sigma * sigma) * x * x)
    return (k * (1.0 / k.sum())).astype(np.float32)


def disk_kernel(radius: float, alias_blur: float) -> np.ndarray:
    """make_cifar_c.py's disk() (l.34-46): a normalised binary disk on a zero-padded grid
    (-8..8 while radius <= 8, else -radius..radius), smoothed by cv2.GaussianBlur with a 3x3
    (5x5 beyond radius 8) Gaussian of sigma alias_blur, BORDER_REFLECT_101, in float32."""
    if radius <= 8:
        grid, ksize = np.arange(-8, 8 + 1), 3
    else:
        grid, ksize = np.arange(-radius, radius + 1), 5
    xs, ys = np.meshgrid(grid, grid)
    aliased = np.array((xs**2 + ys**2) <= radius**2, dtype=np.float32)
    aliased /= np.sum(aliased)
    k = _cv2_gaussian_kernel(ksize, alias_blur)
    rows = ndimage.correlate1d(aliased, k, axis=1, mode="mirror")  # mirror = BORDER_REFLECT_101
    return ndimage.correlate1d(rows, k, axis=0, mode="mirror")


def filter2d(x: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """cv2.filter2D(channel, -1, kernel) on every image and channel of (N, H, W, C): correlation
    anchored at the kernel's centre, BORDER_REFLECT_101 (scipy's 'mirror'). The kernel is cropped
    to its non-zero rows and columns first; the zeros it drops add nothing to any sum."""
    kernel = kernel.astype(np.float64)
    rows, cols = np.nonzero(kernel.any(axis=1))[0], np.nonzero(kernel.any(axis=0))[0]
    ch, cw = kernel.shape[0] // 2, kernel.shape[1] // 2
    dr = max(ch - rows[0], rows[-1] - ch)
    dc = max(cw - cols[0], cols[-1] - cw)
    if kernel.shape[0] % 2 == 1 and kernel.shape[1] % 2 == 1:  # odd: crop symmetrically
        kernel = kernel[ch - dr : ch + dr + 1, cw - dc : cw + dc + 1]
    return ndimage.correlate(x, kernel[None, :, :, None], mode="mirror")


def plasma_fractal(uniform: np.ndarray, mapsize: int, wibbledecay: float) -> np.ndarray:
    """make_cifar_c.py's plasma_fractal() (l.63-109, the diamond-square algorithm) for a batch:
    uniform (N, plasma_draws(mapsize)) holds each map's uniform [0, 1) draws in the order the
    reference consumes them; wibbledmean's np.random.uniform(-wibble, wibble, shape) is
    -wibble + (wibble - -wibble) * draw, which is exactly numpy's uniform(). Returns (N, m, m) in [0, 1]."""
    n, m = len(uniform), mapsize
    maparray = np.empty((n, m, m), dtype=np.float64)
    maparray[:, 0, 0] = 0
    stepsize, wibble, used = m, 100, 0

    def wibbledmean(array: np.ndarray) -> np.ndarray:
        nonlocal used
        size = array[0].size
        draws = uniform[:, used : used + size].reshape(array.shape)
        used += size
        return array / 4 + wibble * (-wibble + (wibble - -wibble) * draws)

    while stepsize >= 2:
        half = stepsize // 2
        # fillsquares (l.78-85): each square's centre = mean of its 4 corners + wibble
        cornerref = maparray[:, 0:m:stepsize, 0:m:stepsize]
        squareaccum = cornerref + np.roll(cornerref, shift=-1, axis=1)
        squareaccum += np.roll(squareaccum, shift=-1, axis=2)
        maparray[:, half:m:stepsize, half:m:stepsize] = wibbledmean(squareaccum)
        # filldiamonds (l.87-100): each diamond's centre = mean of its 4 corners + wibble
        drgrid = maparray[:, half:m:stepsize, half:m:stepsize]
        ulgrid = maparray[:, 0:m:stepsize, 0:m:stepsize]
        ltsum = drgrid + np.roll(drgrid, 1, axis=1) + (ulgrid + np.roll(ulgrid, -1, axis=2))
        maparray[:, 0:m:stepsize, half:m:stepsize] = wibbledmean(ltsum)
        ttsum = drgrid + np.roll(drgrid, 1, axis=2) + (ulgrid + np.roll(ulgrid, -1, axis=1))
        maparray[:, half:m:stepsize, 0:m:stepsize] = wibbledmean(ttsum)
        stepsize //= 2
        wibble /= wibbledecay
    maparray -= maparray.min(axis=(1, 2), keepdims=True)
    return maparray / maparray.max(axis=(1, 2), keepdims=True)


def plasma_draws(mapsize: int) -> int:
    """How many uniform draws plasma_fractal() consumes per map: 3 (m / step)^2 per step."""
    return sum(3 * (mapsize // step) ** 2 for step in 2 ** np.arange(1, int(np.log2(mapsize)) + 1))


def affine_transform(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """cv2.getAffineTransform for a batch: (N, 3, 2) float32 points (x, y) -> (N, 2, 3) float64
    M with M @ (x, y, 1) = dst, solved in double precision."""
    a = np.concatenate([src.astype(np.float64), np.ones(src.shape[:2] + (1,))], axis=2)
    return np.linalg.solve(a, dst.astype(np.float64)).transpose(0, 2, 1)


def _reflect_101(i: np.ndarray, size: int) -> np.ndarray:
    """cv2.borderInterpolate(i, size, BORDER_REFLECT_101): ... 2 1 | 0 1 2 ... size-1 | size-2 ..."""
    if size == 1:
        return np.zeros_like(i)
    period = 2 * size - 2
    i = np.abs(i) % period
    return np.where(i >= size, period - i, i)


def warp_affine(images: np.ndarray, matrices: np.ndarray) -> np.ndarray:
    """cv2.warpAffine(image, M, (W, H), INTER_LINEAR, BORDER_REFLECT_101) on float32 (N, H, W, C),
    one forward matrix (N, 2, 3) per image, with the fixed point of OpenCV 3 and 4 (imgwarp.cpp;
    OpenCV 5 changed it): M is inverted in double; source coordinates are rounded to 1/32 pixel
    (AB_BITS 10, INTER_BITS 5); the bilinear weights are float32 products of k/32."""
    n, h, w, c = images.shape
    m = matrices.astype(np.float64).copy()
    det = m[:, 0, 0] * m[:, 1, 1] - m[:, 0, 1] * m[:, 1, 0]
    det = np.where(det != 0, 1.0 / np.where(det != 0, det, 1.0), 0.0)
    a11, a22 = m[:, 1, 1] * det, m[:, 0, 0] * det
    m[:, 0, 0], m[:, 0, 1], m[:, 1, 0], m[:, 1, 1] = a11, m[:, 0, 1] * -det, m[:, 1, 0] * -det, a22
    b1 = -m[:, 0, 0] * m[:, 0, 2] - m[:, 0, 1] * m[:, 1, 2]
    b2 = -m[:, 1, 0] * m[:, 0, 2] - m[:, 1, 1] * m[:, 1, 2]
    m[:, 0, 2], m[:, 1, 2] = b1, b2
    xs, ys = np.arange(w, dtype=np.float64), np.arange(h, dtype=np.float64)
    scale, delta = 1024, 1024 // 32 // 2  # AB_SCALE, round_delta
    adelta = np.rint(m[:, 0, 0, None] * xs * scale).astype(np.int64)[:, None, :]
    bdelta = np.rint(m[:, 1, 0, None] * xs * scale).astype(np.int64)[:, None, :]
    x0 = np.rint((m[:, 0, 1, None] * ys + m[:, 0, 2, None]) * scale).astype(np.int64)[:, :, None] + delta
    y0 = np.rint((m[:, 1, 1, None] * ys + m[:, 1, 2, None]) * scale).astype(np.int64)[:, :, None] + delta
    fixed_x, fixed_y = (x0 + adelta) >> 5, (y0 + bdelta) >> 5  # 1/32-pixel units, (N, H, W)
    ix, iy = fixed_x >> 5, fixed_y >> 5
    fx = ((fixed_x & 31) / np.float32(32)).astype(np.float32)[..., None]
    fy = ((fixed_y & 31) / np.float32(32)).astype(np.float32)[..., None]
    one = np.float32(1)
    weights = ((one - fy) * (one - fx), (one - fy) * fx, fy * (one - fx), fy * fx)
    batch = np.arange(n)[:, None, None]
    corners = [(iy, ix), (iy, ix + 1), (iy + 1, ix), (iy + 1, ix + 1)]
    out = np.zeros(images.shape, dtype=np.float32)
    for (cy, cx), weight in zip(corners, weights, strict=True):
        out = out + images[batch, _reflect_101(cy, h), _reflect_101(cx, w)] * weight
    return out
