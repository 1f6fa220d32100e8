"""samples: `count` images of every class of a subset."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cvrepro.report.figures.kind import FigureKind, load_images, subset
from cvrepro.report.grouping import Manifest

if TYPE_CHECKING:
    import numpy as np
    from matplotlib.figure import Figure


def draw(spec: dict, inputs: Manifest, out_png) -> None:
    from cvrepro.report.plot_axes import save_figure

    data = load_images(spec, inputs)
    images = data.images.permute(0, 2, 3, 1).numpy()
    drawn = figure(images, data.labels.numpy(), data.classes, spec["count"], spec["seed"])
    save_figure(drawn, out_png, spec["caption"])


def figure(images: np.ndarray, labels: np.ndarray, classes: list[str], count: int, seed: int) -> Figure:
    """`count` images of every class (a seeded pick), one row per class; images are uint8
    (N, H, W, C)."""
    import numpy as np

    from cvrepro.report.plot_axes import plt

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
    return fig


KIND = FigureKind(("subset",), subset, draw)
