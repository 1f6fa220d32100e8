"""tsne: a 2-D t-SNE of a run's, a pretraining's or the pixels' features of a subset."""

from cvrepro.report.figures.kind import FigureKind
from cvrepro.report.grouping import Manifest, only_file
from cvrepro.study import Study, paths


def inputs(study: Study, figure: dict) -> Manifest:
    file = paths.features_file(study, figure["features"], "penultimate", figure["subset"])
    return {"features": {figure["features"]: [file]}}


def draw(spec: dict, inputs: Manifest, out_png) -> None:
    import numpy as np

    from cvrepro.report import plots

    data = np.load(only_file(inputs["features"]))
    classes = [str(c) for c in data["classes"]]
    plots.tsne(
        data["features"], data["labels"], classes, out_png, spec["caption"], spec["count"], spec["seed"]
    )


KIND = FigureKind(("features", "subset"), inputs, draw)
