"""tsne: a 2-D t-SNE of a run's, a pretraining's or the pixels' features of a subset."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cvrepro.report.figures.kind import FigureKind
from cvrepro.report.grouping import Manifest, only_file
from cvrepro.study import Study, paths

if TYPE_CHECKING:
    import numpy as np
    from matplotlib.figure import Figure


def inputs(study: Study, spec: dict) -> Manifest:
    file = paths.features_file(study, spec["features"], "penultimate", spec["subset"])
    return {"features": {spec["features"]: [file]}}


def draw(spec: dict, inputs: Manifest, out_png) -> None:
    """The figure, its caption on the axes (a t-SNE has one panel), saved."""
    import numpy as np

    from cvrepro.report.plot_axes import save_figure

    data = np.load(only_file(inputs["features"]))
    classes = [str(c) for c in data["classes"]]
    drawn = figure(data["features"], data["labels"], classes, spec["caption"], spec["count"], spec["seed"])
    save_figure(drawn, out_png, "")


def figure(
    features: np.ndarray, labels: np.ndarray, classes: list[str], title: str, count: int, seed: int
) -> Figure:
    """scikit-learn's t-SNE of (a seeded sample of) the features, coloured by class, the legend
    beside the points."""
    import numpy as np
    from sklearn.manifold import TSNE

    from cvrepro.report.plot_axes import legend_beside, plt

    rng = np.random.default_rng(seed)
    index = rng.permutation(len(labels))[:count]
    perplexity = min(30, len(index) - 1)
    points = TSNE(n_components=2, init="pca", random_state=seed, perplexity=perplexity).fit_transform(
        features[index]
    )
    fig, ax = plt.subplots(figsize=(8.2, 6))
    for c in np.unique(labels[index]):
        mask = labels[index] == c
        ax.scatter(
            points[mask, 0], points[mask, 1], s=6, label=classes[c] if 0 <= c < len(classes) else str(c)
        )
    ax.set(xticks=[], yticks=[], title=title or f"t-SNE of {len(index)} embeddings")
    legend_beside(ax, markerscale=2)
    return fig


KIND = FigureKind(("features", "subset"), inputs, draw)
