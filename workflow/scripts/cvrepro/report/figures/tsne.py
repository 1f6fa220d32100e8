"""tsne: a 2-D t-SNE of a run's, a pretraining's or the pixels' features of a subset."""

from cvrepro.report.figures.kind import FigureKind
from cvrepro.study import Study, paths


def inputs(study: Study, figure: dict) -> list[str]:
    return [paths.features_file(study, figure["features"], "penultimate", figure["subset"])]


def draw(spec: dict, inputs: list, out_png) -> None:
    import numpy as np

    from cvrepro.report import plots

    data = np.load(inputs[0])
    classes = [str(c) for c in data["classes"]]
    plots.tsne(
        data["features"], data["labels"], classes, out_png, spec["caption"], spec["count"], spec["seed"]
    )


KIND = FigureKind(("features", "subset"), inputs, draw)
