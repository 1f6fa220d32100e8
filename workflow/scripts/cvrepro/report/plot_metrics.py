"""Figures of test-set metrics (metrics.json as evaluate.py writes it), one entry per row with
all its replicates: confusion matrices, ROC curves and per-class bars. Each says whether it
shows the mean over the replicates (and its n) or one replicate (and which)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from cvrepro.report.plot_axes import ACCURACY_RANGE, legend_beside, replicate_note
from cvrepro.report.plots import panel_row, plt, save_figure
from cvrepro.report.stats import estimate

CELL_VALUES_UP_TO = 20  # classes; beyond, the numbers no longer fit their cells


def _seed(metrics: dict) -> int | None:
    return (metrics.get("provenance") or {}).get("seed")


def accuracy_title(replicates: list[dict]) -> str:
    """The test accuracy as the study's tables write it: `49.3 ± 2.4% (n=3)` over replicates
    (mean, sd with ddof 1), `49.5%` for one."""
    est = estimate([float(m["test_acc"]) for m in replicates])
    if est.n > 1:
        return f"test acc {100 * est.mean:.1f} ± {100 * est.sd:.1f}% (n={est.n})"
    return f"test acc {100 * est.mean:.1f}%"


def mean_confusion(row: str, replicates: list[dict]) -> tuple[np.ndarray, list[str]]:
    """The row-normalised confusion matrix (true class down, predicted across) averaged over the
    replicates, and its classes. Replicates evaluated on different class lists cannot be averaged."""
    classes = replicates[0]["classes"]
    if any(m["classes"] != classes for m in replicates):
        raise ValueError(f"confusion figure: the replicates of {row!r} were evaluated on different classes")
    normalised = []
    for m in replicates:
        confusion = np.asarray(m["confusion"], dtype=float)
        normalised.append(confusion / np.maximum(confusion.sum(1, keepdims=True), 1))
    return np.mean(normalised, axis=0), list(classes)


def confusion_heatmaps(metrics: dict[str, list[dict]], out_png: Path, title: str = "") -> None:
    """confusion_figure, saved."""
    save_figure(confusion_figure(metrics), out_png, title)


def confusion_figure(metrics: dict[str, list[dict]]) -> Figure:
    """Row-normalised confusion matrices in percent of each true class, averaged over each row's
    replicates (the title says over how many, with the test accuracy as the tables give it), one
    panel per row with its colour bar; up to CELL_VALUES_UP_TO classes each cell shows its value."""
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
        shown = f"mean of {n} replicates" if n > 1 else _one_replicate(replicates[0])
        ax.set(xlabel="predicted", ylabel="true")
        ax.set_title(f"{row}: {shown}\n{accuracy_title(replicates)}", fontsize=9)
    return fig


def _one_replicate(metrics: dict) -> str:
    seed = _seed(metrics)
    return "one replicate" + (f", seed {seed}" if seed is not None else "")


def roc_curves(metrics: dict[str, list[dict]], out_png: Path, title: str = "") -> None:
    """roc_figure, saved."""
    save_figure(roc_figure(metrics), out_png, title)


def roc_figure(metrics: dict[str, list[dict]]) -> Figure:
    """One-vs-rest ROC curve per class of each row's replicate 0 (curves of several replicates
    do not average into a curve), one panel per row, AUC in the legend beside it; the title
    names the replicate and gives the macro AUC of every replicate as mean ± sd."""
    fig, axes = panel_row(len(metrics), panel_width=6.5)
    for ax, (row, replicates) in zip(axes, metrics.items(), strict=True):
        m = replicates[0]
        for name, curve in m["roc"]["per_class"].items():
            ax.plot(curve["fpr"], curve["tpr"], linewidth=1, label=f"{name} ({curve['auc']:.2f})")
        ax.plot([0, 1], [0, 1], "k:", linewidth=0.8)
        note = replicate_note(0, len(replicates), _seed(m)) or _one_replicate(m)
        aucs = estimate([float(r["roc"]["macro_auc"]) for r in replicates])
        over = f"; all {aucs.n}: {aucs.mean:.3f} ± {aucs.sd:.3f}" if aucs.n > 1 else ""
        ax.set(xlabel="false positive rate", ylabel="true positive rate", xlim=(0, 1), ylim=(0, 1.01))
        ax.set_title(f"{row} ({note})\nmacro AUC {m['roc']['macro_auc']:.3f}{over}", fontsize=9)
        legend_beside(ax, fontsize=6)
    return fig


def class_accuracy_bars(metrics: dict[str, list[dict]], out_png: Path, title: str, metric: str) -> None:
    """class_accuracy_figure, saved; the caption names the metric."""
    caption = f"{title} [{metric}]" if title else f"per-class {metric}"
    save_figure(class_accuracy_figure(metrics, metric), out_png, caption)


def class_accuracy_figure(metrics: dict[str, list[dict]], metric: str) -> Figure:
    """Per-class `metric` (recall = per-class accuracy, precision or f1), one group of bars per
    class, one bar per row: the mean over its replicates with a ± sd error bar kept in [0, 1].
    Classes are every row's in first-seen order (a zero-shot probe adds `other`); a row without
    a class has no bar there."""
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
