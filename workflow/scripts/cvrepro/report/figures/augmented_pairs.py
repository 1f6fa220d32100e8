"""augmented_pairs: images of a subset beside two draws of an augmentation (SimCLR's views)."""

from cvrepro.report.figures.kind import FigureKind, load_images, subset
from cvrepro.report.grouping import Manifest


def draw(spec: dict, inputs: Manifest, out_png) -> None:
    import torch

    from cvrepro.data.tensors import augment_batch
    from cvrepro.report import plot_images

    data = load_images(spec, inputs)
    pick = torch.randperm(len(data), generator=torch.Generator().manual_seed(spec["seed"]))[: spec["count"]]
    images = data.images[pick].float() / 255
    generator = torch.Generator().manual_seed(spec["seed"])
    view1 = augment_batch(images, spec["augment"], generator)
    view2 = augment_batch(images, spec["augment"], generator)
    plot_images.image_pairs(images.numpy(), view1.numpy(), view2.numpy(), out_png, spec["caption"])


KIND = FigureKind(("subset",), subset, draw)
