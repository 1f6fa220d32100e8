"""confusion: the test-set confusion matrix of each run or probe, row-normalised and averaged over
its replicates (the title says over how many, with the test accuracy as the tables give it)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cvrepro.report.figures.kind import METRICS, FigureKind, metrics_on_test, read_metrics
from cvrepro.report.grouping import Manifest

if TYPE_CHECKING:
    import numpy as np
    from matplotlib.figure import Figure

CELL_VALUES_UP_TO = 20  # classes; beyond, the numbers no longer fit their cells


def draw(spec: dict, inputs: Manifest, out_png) -> None:
    from cvrepro.report.plot_axes import save_figure

    save_figure(figure(read_metrics(inputs)), out_png, spec["caption"])


def accuracy_title(replicates: list[dict]) -> str:
    """The test accuracy as the study's tables write it: `49.3 ± 2.4% (n=3)` over replicates
    (mean, sd with ddof 1), `49.5%` for one."""
    from cvrepro.report.stats import estimate

    est = estimate([float(m["test_acc"]) for m in replicates])
    if est.n > 1:
        return f"test acc {100 * est.mean:.1f} ± {100 * est.sd:.1f}% (n={est.n})"
    return f"test acc {100 * est.mean:.1f}%"


def mean_confusion(row: str, replicates: list[dict]) -> tuple[np.ndarray, list[str]]:
    """The row-normalised confusion matrix (true class down, predicted across) averaged over the
    replicates, and its classes. Replicates evaluated on different class lists cannot be averaged."""
    import numpy as np

    classes = replicates[0]["classes"]
    if any(m["classes"] != classes for m in replicates):
        raise ValueError(f"confusion figure: the replicates of {row!r} were evaluated on different classes")
    normalised = []
    for m in replicates:
        confusion = np.asarray(m["confusion"], dtype=float)
        normalised.append(confusion / np.maximum(confusion.sum(1, keepdims=True), 1))
    return np.mean(normalised, axis=0), list(classes)


def figure(metrics: dict[str, list[dict]]) -> Figure:
    """Row-normalised confusion matrices in percent of each true class, averaged over each row's
    replicates, one panel per row with its colour bar; up to CELL_VALUES_UP_TO classes each cell
    shows its value."""
    import numpy as np

    from cvrepro.report.plot_axes import one_replicate, panel_row

    fig, axes = panel_row(len(metrics), panel_width=6.0, height=5.2)
    for ax, (row, replicates) in zip(axes, metrics.items(), strict=True):
        matrix, classes = mean_confusion(row, replicates)
        percent = 100 * matrix
        image = ax.imshow(percent, cmap="Blues", vmin=0, vmax=100)
        colorbar = fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
        colorbar.set_label("% of the true class", fontsize=8)
        if len(classes) <= CELL_VALUES_UP_TO:
            size = 7 if len(classes) <= 10 else 5
            for (i, j), value in np.ndenumerate(percent):
                colour = "white" if value > 60 else "black"  # readable on dark and light blue
                ax.text(j, i, f"{value:.0f}", ha="center", va="center", fontsize=size, color=colour)
        ticks = range(len(classes))
        ax.set_xticks(ticks, classes, rotation=90, fontsize=6)
        ax.set_yticks(ticks, classes, fontsize=6)
        n = len(replicates)
        shown = f"mean of {n} replicates" if n > 1 else one_replicate(replicates[0])
        ax.set(xlabel="predicted", ylabel="true")
        ax.set_title(f"{row}: {shown}\n{accuracy_title(replicates)}", fontsize=9)
    return fig


KIND = FigureKind(("runs",), metrics_on_test, draw, rows=METRICS)
