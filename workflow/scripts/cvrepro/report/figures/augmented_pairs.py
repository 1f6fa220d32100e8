"""augmented_pairs: images of a subset beside two draws of an augmentation (SimCLR's views)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cvrepro.report.figures.kind import FigureKind, load_images, subset
from cvrepro.report.grouping import Manifest

if TYPE_CHECKING:
    import numpy as np
    from matplotlib.figure import Figure


def draw(spec: dict, inputs: Manifest, out_png) -> None:
    import torch

    from cvrepro.data.batch_augment import augment_batch
    from cvrepro.report.plot_axes import save_figure

    data = load_images(spec, inputs)
    pick = torch.randperm(len(data), generator=torch.Generator().manual_seed(spec["seed"]))[: spec["count"]]
    images = data.images[pick].float() / 255
    generator = torch.Generator().manual_seed(spec["seed"])
    view1 = augment_batch(images, spec["augment"], generator)
    view2 = augment_batch(images, spec["augment"], generator)
    save_figure(figure(images.numpy(), view1.numpy(), view2.numpy()), out_png, spec["caption"])


def figure(originals: np.ndarray, view1: np.ndarray, view2: np.ndarray) -> Figure:
    """Rows of (original, view 1, view 2); arrays are float (N, C, H, W) in [0, 1]."""
    from cvrepro.report.plot_axes import plt

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
    return fig


KIND = FigureKind(("subset",), subset, draw)
