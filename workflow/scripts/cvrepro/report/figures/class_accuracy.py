"""class_accuracy: per-class bars of `metric` (recall, precision, f1) on the test set of each run or
probe, the mean over its replicates with sd error bars."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cvrepro.report.figures.kind import METRICS, FigureKind, metrics_on_test, read_metrics
from cvrepro.report.grouping import Manifest

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def draw(spec: dict, inputs: Manifest, out_png) -> None:
    from cvrepro.report.plot_axes import save_figure

    metric = spec["metric"]
    save_figure(figure(read_metrics(inputs), metric), out_png, caption(spec["caption"], metric))


def caption(title: str, metric: str) -> str:
    """The caption names the metric: `<caption> [f1]`, or `per-class f1` without one."""
    return f"{title} [{metric}]" if title else f"per-class {metric}"


def figure(metrics: dict[str, list[dict]], metric: str) -> Figure:
    """Per-class `metric` (recall = per-class accuracy, precision or f1), one group of bars per
    class, one bar per row: the mean over its replicates with a ± sd error bar kept in [0, 1].
    Classes are every row's in first-seen order (a zero-shot probe adds `other`); a row without
    a class has no bar there."""
    import numpy as np

    from cvrepro.report.plot_axes import ACCURACY_RANGE, legend_beside, plt

    classes = list(dict.fromkeys(c for reps in metrics.values() for m in reps for c in m["classes"]))
    # about a quarter inch a bar (the figure was 18 inches wide for 10 classes of 3 runs), plus the legend
    fig, ax = plt.subplots(figsize=(max(6.0, 0.3 * len(classes) * len(metrics)) + 2.5, 4))
    width = 0.8 / len(metrics)
    low, high = ACCURACY_RANGE
    for i, (row, replicates) in enumerate(metrics.items()):
        per_class = [[m["per_class"][c][metric] for m in replicates if c in m["per_class"]] for c in classes]
        means = np.array([np.mean(v) if v else np.nan for v in per_class])
        sds = np.array([np.std(v, ddof=1) if len(v) > 1 else 0.0 for v in per_class])
        n = len(replicates)
        x = np.arange(len(classes)) + i * width
        ax.bar(x, list(means), width, label=row + (f" (mean ± sd, n={n})" if n > 1 else ""))
        if n > 1:
            below, above = means - np.maximum(means - sds, low), np.minimum(means + sds, high) - means
            ax.errorbar(x, means, yerr=np.stack([below, above]), fmt="none", ecolor="k", elinewidth=0.8)
    ax.set_xticks(np.arange(len(classes)) + 0.4 - width / 2, classes, rotation=45, ha="right", fontsize=8)
    ax.set(ylabel=f"per-class {metric}", ylim=(0, 1))
    legend_beside(ax, fontsize=8)
    return fig


KIND = FigureKind(("runs",), metrics_on_test, draw, rows=METRICS)
