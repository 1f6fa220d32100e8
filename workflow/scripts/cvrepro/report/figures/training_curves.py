"""training_curves: loss and accuracy per epoch of each run or pretraining, mean +- sd over its
replicates."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cvrepro.report.figures.kind import FigureKind, job_files, read_csvs
from cvrepro.report.grouping import Manifest

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

# history.csv's accuracy columns: (column, line style, label); pretrainings record the
# objective's accuracy and an online probe's (S6)
HISTORY_ACCURACIES = (
    ("train_acc", "-", "train"),
    ("contrastive_acc", "-", "contrastive"),
    ("probe_acc", ":", "probe"),
    ("probe_train_acc", "-.", "probe train"),
    ("probe_val_acc", ":", "probe val"),
    ("val_acc", "--", "val"),
)


def draw(spec: dict, inputs: Manifest, out_png) -> None:
    from cvrepro.report.plot_axes import save_figure

    save_figure(figure(read_csvs(inputs)), out_png, spec["caption"])


def _column(histories: list[pd.DataFrame], column: str) -> list[pd.Series] | None:
    """The column of every replicate's history indexed by epoch, or None when absent or empty."""
    if not all(column in h and h[column].notna().any() for h in histories):
        return None
    return [h.set_index("epoch")[column] for h in histories]


def figure(histories: dict[str, list[pd.DataFrame]]) -> Figure:
    """Loss (left) and accuracy (right) per epoch, mean over replicates with +-1 sd bands; solid =
    train, dashed = validation (pretrainings: their objective's accuracy and probe, dotted). The
    loss axis is log (a geometric band) whenever every loss is > 0; accuracy bands stay in [0, 1];
    the legend sits beside the panels."""
    import pandas as pd

    from cvrepro.report.plot_axes import (
        ACCURACY_RANGE,
        LOSS_RANGE,
        band_note,
        integer_axis,
        log_axis_labels,
        loss_axis,
        mean_line,
        plt,
        shared_legend,
    )

    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(13, 4.2))
    losses = {
        (run, column): curves
        for run, replicates in histories.items()
        for column in ("train_loss", "val_loss")
        if (curves := _column(replicates, column)) is not None
    }
    log = loss_axis(ax_loss, [pd.concat(curves, axis=1) for curves in losses.values()])
    for i, (run, replicates) in enumerate(histories.items()):
        color = f"C{i % 10}"
        for column, style in (("train_loss", "-"), ("val_loss", "--")):
            if (run, column) in losses:
                split = column.removesuffix("_loss")
                mean_line(
                    ax_loss, losses[run, column], color, style, f"{run} {split}", log=log, bounds=LOSS_RANGE
                )
        for column, style, label in HISTORY_ACCURACIES:
            if (curves := _column(replicates, column)) is not None:
                mean_line(ax_acc, curves, color, style, f"{run} {label}", bounds=ACCURACY_RANGE)
    replicated = any(len(replicates) > 1 for replicates in histories.values())
    ax_loss.set(xlabel="epoch", ylabel="training objective", title="loss" + band_note(log, replicated))
    ax_acc.set(xlabel="epoch", ylabel="accuracy", title="accuracy" + band_note(False, replicated))
    xs = sorted({float(e) for replicates in histories.values() for h in replicates for e in h["epoch"]})
    for ax in (ax_loss, ax_acc):
        ax.grid(alpha=0.3)
        integer_axis(ax, xs)
    if log:
        log_axis_labels(ax_loss)
    shared_legend(ax_acc, (ax_loss, ax_acc))
    return fig


KIND = FigureKind(("runs",), job_files("history.csv"), draw, rows=("runs", "pretrain"))
