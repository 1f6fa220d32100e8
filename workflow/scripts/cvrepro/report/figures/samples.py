"""samples: `count` images of every class of a subset."""

from cvrepro.report.figures.kind import FigureKind, load_images, subset
from cvrepro.report.grouping import Manifest


def draw(spec: dict, inputs: Manifest, out_png) -> None:
    from cvrepro.report import plot_images

    data = load_images(spec, inputs)
    images = data.images.permute(0, 2, 3, 1).numpy()
    plot_images.class_samples(
        images, data.labels.numpy(), data.classes, out_png, spec["count"], spec["caption"], spec["seed"]
    )


KIND = FigureKind(("subset",), subset, draw)
