"""grid_scores: train, validation and test accuracy of each point of a grid run against its grid
value (S2's dropout graph), mean with sd error bars over each point's replicates."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cvrepro.report.figures.kind import FigureKind, metrics_on_test, read_metrics, rows_files
from cvrepro.report.grouping import Manifest
from cvrepro.study import Study, paths

if TYPE_CHECKING:
    from matplotlib.figure import Figure

Points = list[tuple[object, dict[str, list[float]]]]  # (grid value or label, {score: replicates})


def inputs(study: Study, spec: dict) -> Manifest:
    """Every job's training metrics and its test metrics."""
    train = rows_files(study, spec, lambda job: paths.job_file(study, job, "metrics.json"))
    return {"train": train, "test": metrics_on_test(study, spec)["jobs"]}


def draw(spec: dict, inputs: Manifest, out_png) -> None:
    from cvrepro.report.plot_axes import save_figure

    train, test = read_metrics(inputs, "train"), read_metrics(inputs, "test")
    keys = list(spec["grid"][next(iter(train))])
    scores = {
        row: {
            "train_acc": [m["train_acc"] for m in train[row]],
            "val_acc": [m["val_acc"] for m in train[row] if m.get("val_acc") is not None],
            "test_acc": [m["test_acc"] for m in test[row]],
        }
        for row in train
    }
    if len(keys) == 1:  # the value itself on the x axis
        points = [(spec["grid"][row][keys[0]], scores[row]) for row in train]
    else:  # one labelled position per point
        points = [
            (", ".join(f"{k.rsplit('.', 1)[-1]}={spec['grid'][row][k]}" for k in keys), scores[row])
            for row in train
        ]
    save_figure(figure(points, ", ".join(keys)), out_png, spec["caption"])


def figure(points: Points, key: str) -> Figure:
    """Scores against a grid value: one line per score, mean with sd error bars over replicates
    (cut to [0, 1], what an accuracy can take); the legend beside the axes."""
    import numpy as np

    from cvrepro.report.plot_axes import ACCURACY_RANGE, legend_beside, plt

    fig, ax = plt.subplots(figsize=(7.5, 4))
    labels = [", ".join(map(str, x)) if isinstance(x, list) else str(x) for x, _ in points]
    numeric = all(isinstance(x, int | float) and not isinstance(x, bool) for x, _ in points)
    xs = [x for x, _ in points] if numeric else list(range(len(points)))
    for i, score in enumerate(("train_acc", "val_acc", "test_acc")):
        values = [s[score] for _, s in points]
        if not all(values):
            continue
        means = np.array([float(np.mean(v)) for v in values])
        errors = np.array([float(np.std(v, ddof=1)) if len(v) > 1 else 0.0 for v in values])
        low, high = ACCURACY_RANGE
        yerr = np.stack([means - np.maximum(means - errors, low), np.minimum(means + errors, high) - means])
        n = min(len(v) for v in values)
        ax.errorbar(
            xs,
            means,
            yerr=yerr,
            marker="o",
            capsize=3,
            color=f"C{i}",
            label=score.replace("_acc", "") + (f" (mean ± sd, n={n})" if n > 1 else ""),
        )
    if not numeric:
        ax.set_xticks(xs, [label.replace(", ", "\n") for label in labels], fontsize=8)
    ax.set(xlabel=key, ylabel="accuracy")
    ax.grid(alpha=0.3)
    legend_beside(ax, fontsize=8)
    return fig


def check(study: Study, spec: dict) -> str | None:
    """Every row is a grid run: its points are the x axis."""
    if not all(study.grid_values(row) for name in spec["runs"] for row in study.rows(name)):
        return f"grid_scores draws a grid run (one with `grid:`), got {spec['runs']}"
    return None


KIND = FigureKind(("runs",), inputs, draw, max_runs=1, check=check)
