"""activations: one run's feature maps at named layers for chosen images of a subset (channel
means, or the first `channels` filters as grids), or those of torchvision's ImageNet-trained
network (`imagenet`), as S2's report drew them from an ImageNet ResNet-50."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cvrepro.report.figures.kind import FigureKind, jobs, load_images, subset
from cvrepro.report.grouping import Manifest, only_file
from cvrepro.study import REHEARSAL, Study, paths

if TYPE_CHECKING:
    import numpy as np
    from matplotlib.figure import Figure


def inputs(study: Study, spec: dict) -> Manifest:
    """Replicate 0's model (the first job of the one row) and the subset; the subset alone for
    an ImageNet network (its weights come from torchvision's cache, as for `init: imagenet`)."""
    if spec["imagenet"]:
        return subset(study, spec)
    job = jobs(study, spec)[0]
    return {"model": {job: [paths.job_file(study, job, "model.pt")]}, **subset(study, spec)}


def draw(spec: dict, inputs: Manifest, out_png) -> None:
    from cvrepro.data.tensors import eval_batch
    from cvrepro.evaluate.activations import activation_maps, first_of_each_class, imagenet_network
    from cvrepro.nets.checkpoint import load_model
    from cvrepro.nets.pretrained import IMAGENET_MEAN, IMAGENET_STD
    from cvrepro.report.plot_axes import save_figure

    data = load_images(spec, inputs)
    labels = data.labels.numpy()
    if spec["classes"]:
        picks = first_of_each_class(labels, data.classes, spec["classes"])
    else:
        picks = list(range(min(spec["count"], len(labels))))
    if spec["imagenet"]:
        # A rehearsal's random stand-ins live where its training jobs write them (rule train's
        # random_weights): the same file, so a rehearsal never downloads.
        random_dir = paths.rooted(paths.RANDOM_WEIGHTS, REHEARSAL) if spec.get("rehearsal") else None
        imagenet = spec["imagenet"]
        model = imagenet_network(imagenet["arch"], imagenet["weights"], random_dir)
        channels = data.images.shape[1]
        x = eval_batch(data.images[picks], IMAGENET_MEAN[:channels], IMAGENET_STD[:channels])
    else:
        model, checkpoint = load_model(only_file(inputs["model"]))
        norm = checkpoint["normalization"]
        x = eval_batch(data.images[picks], norm["mean"], norm["std"], norm["size"])
    maps = activation_maps(model, x, spec["layers"], spec["channels"])
    names = [data.classes[labels[i]] for i in picks]
    drawn = figure(data.images[picks].permute(0, 2, 3, 1).numpy(), maps, names)
    save_figure(drawn, out_png, spec["caption"])


def figure(images: np.ndarray, maps: dict[str, np.ndarray], names: list[str]) -> Figure:
    """One row per image (uint8 (N, H, W, C)): the image, then each layer's activation map (own
    scale): the channel mean, or a grid of its filters' maps (each on its own scale) when the
    maps have channels."""
    from cvrepro.report.plot_axes import plt

    size = 2.2 if all(m.ndim == 3 for m in maps.values()) else 4.0
    fig, axes = plt.subplots(
        len(images), 1 + len(maps), figsize=(size * (1 + len(maps)), size * len(images)), squeeze=False
    )
    for row, image in enumerate(images):
        axes[row, 0].imshow(image[..., 0] if image.shape[-1] == 1 else image, cmap="gray")
        axes[row, 0].set_title(names[row], fontsize=8)
        for col, (layer, layer_maps) in enumerate(maps.items(), start=1):
            shown = layer_maps[row] if layer_maps.ndim == 3 else filter_mosaic(layer_maps[row])
            axes[row, col].imshow(shown, cmap="viridis")
            side = f"{layer_maps.shape[-2]}x{layer_maps.shape[-1]}"
            filters = f", {layer_maps.shape[1]} filters" if layer_maps.ndim == 4 else ""
            axes[row, col].set_title(f"{layer} {side}{filters}", fontsize=8)
        for ax in axes[row]:
            ax.set_axis_off()
    return fig


def filter_mosaic(maps: np.ndarray) -> np.ndarray:
    """(k, h, w) filter maps tiled into one image, each scaled to [0, 1] on its own, one blank
    pixel (NaN) between tiles."""
    import numpy as np

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


KIND = FigureKind(
    ("subset", "layers"), inputs, draw, max_runs=1, layer_names=True, one_of=("runs", "imagenet")
)
