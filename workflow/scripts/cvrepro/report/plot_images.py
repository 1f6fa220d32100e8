"""Figures made of images: augmented pairs, class samples, shifted samples and activation maps
(uint8 or [0, 1] arrays in, a PNG out)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from cvrepro.report.plots import plt, save_figure


def image_pairs(
    originals: np.ndarray, view1: np.ndarray, view2: np.ndarray, out_png: Path, title: str = ""
) -> None:
    """Rows of (original, view 1, view 2); arrays are float (N, C, H, W) in [0, 1]."""
    n = len(originals)
    fig, axes = plt.subplots(n, 3, figsize=(4.5, 1.5 * n), squeeze=False)
    for i in range(n):
        for j, (image, name) in enumerate(
            ((originals[i], "image"), (view1[i], "view 1"), (view2[i], "view 2"))
        ):
            ax = axes[i, j]
            shown = image.transpose(1, 2, 0)
            ax.imshow(shown[..., 0] if shown.shape[-1] == 1 else shown, cmap="gray", vmin=0, vmax=1)
            ax.set_axis_off()
            if i == 0:
                ax.set_title(name, fontsize=9)
    save_figure(fig, out_png, title)


def shift_samples(columns: dict[str, np.ndarray], names: list[str], out_png: Path, title: str = "") -> None:
    """One row per image, one column per condition (clean first); images are uint8 (N, H, W, C)."""
    rows = len(names)
    fig, axes = plt.subplots(
        rows, len(columns), figsize=(0.9 * len(columns), 0.95 * rows + 0.6), squeeze=False
    )
    for col, (condition, images) in enumerate(columns.items()):
        axes[0, col].set_title(condition.replace("_", " ").replace("-", "\n"), fontsize=6)
        for row in range(rows):
            ax = axes[row, col]
            ax.set_axis_off()
            image = images[row]
            ax.imshow(image[..., 0] if image.shape[-1] == 1 else image, cmap="gray", vmin=0, vmax=255)
    for row, name in enumerate(names):
        axes[row, 0].text(
            -0.1, 0.5, name, transform=axes[row, 0].transAxes, ha="right", va="center", fontsize=6
        )
    save_figure(fig, out_png, title)


def class_samples(
    images: np.ndarray,
    labels: np.ndarray,
    classes: list[str],
    out_png: Path,
    count: int,
    title: str,
    seed: int,
) -> None:
    """`count` images of every class, one row per class; images are uint8 (N, H, W, C)."""
    rng = np.random.default_rng(seed)
    present = [c for c in range(len(classes)) if (labels == c).any()]
    fig, axes = plt.subplots(len(present), count, figsize=(count * 0.9, len(present) * 0.9), squeeze=False)
    for row, c in enumerate(present):
        chosen = rng.permutation(np.flatnonzero(labels == c))[:count]
        for col in range(count):
            ax = axes[row, col]
            ax.set_axis_off()
            if col < len(chosen):
                image = images[chosen[col]]
                ax.imshow(image[..., 0] if image.shape[-1] == 1 else image, cmap="gray")
        axes[row, 0].text(
            -0.1, 0.5, classes[c], transform=axes[row, 0].transAxes, ha="right", va="center", fontsize=7
        )
    save_figure(fig, out_png, title)


def activation_grid(
    images: np.ndarray,
    maps: dict[str, np.ndarray],
    names: list[str],
    out_png: Path,
    title: str = "",
) -> None:
    """One row per image: the image, then each layer's activation map (own scale): the channel
    mean, or a grid of its filters' maps (each on its own scale) when the maps have channels."""
    size = 2.2 if all(m.ndim == 3 for m in maps.values()) else 4.0
    fig, axes = plt.subplots(
        len(images), 1 + len(maps), figsize=(size * (1 + len(maps)), size * len(images)), squeeze=False
    )
    for row, image in enumerate(images):
        axes[row, 0].imshow(image[..., 0] if image.shape[-1] == 1 else image, cmap="gray")
        axes[row, 0].set_title(names[row], fontsize=8)
        for col, (layer, layer_maps) in enumerate(maps.items(), start=1):
            shown = layer_maps[row] if layer_maps.ndim == 3 else _filter_mosaic(layer_maps[row])
            axes[row, col].imshow(shown, cmap="viridis")
            side = f"{layer_maps.shape[-2]}x{layer_maps.shape[-1]}"
            filters = f", {layer_maps.shape[1]} filters" if layer_maps.ndim == 4 else ""
            axes[row, col].set_title(f"{layer} {side}{filters}", fontsize=8)
        for ax in axes[row]:
            ax.set_axis_off()
    save_figure(fig, out_png, title)


def _filter_mosaic(maps: np.ndarray) -> np.ndarray:
    """(k, h, w) filter maps tiled into one image, each scaled to [0, 1] on its own, one blank
    pixel (NaN) between tiles."""
    k, h, w = maps.shape
    columns = int(np.ceil(np.sqrt(k)))
    rows = int(np.ceil(k / columns))
    mosaic = np.full((rows * (h + 1) - 1, columns * (w + 1) - 1), np.nan)
    for i, tile in enumerate(maps):
        low, high = float(tile.min()), float(tile.max())
        r, c = divmod(i, columns)
        mosaic[r * (h + 1) : r * (h + 1) + h, c * (w + 1) : c * (w + 1) + w] = (tile - low) / (
            high - low or 1.0
        )
    return mosaic
