"""step_loss: the loss of every optimizer step (steps.csv) of each run or pretraining, S7's
"loss vs iterations"."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cvrepro.report.figures.kind import FigureKind, job_files, read_csvs
from cvrepro.report.grouping import Manifest

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure


def draw(spec: dict, inputs: Manifest, out_png) -> None:
    from cvrepro.report.plot_axes import save_figure

    save_figure(figure(read_csvs(inputs)), out_png, spec["caption"])


def figure(steps: dict[str, list[pd.DataFrame]]) -> Figure:
    """The training loss of every optimizer step, one line per run (mean over replicates with a
    +-1 sd band), against the step: a report's 'loss vs iterations'. Log axis when every loss is
    > 0, as in training_curves."""
    import pandas as pd

    from cvrepro.report.plot_axes import (
        LOSS_RANGE,
        band_note,
        integer_axis,
        legend_beside,
        log_axis_labels,
        loss_axis,
        mean_line,
        plt,
    )

    fig, ax = plt.subplots(figsize=(8.5, 4))
    curves = {run: [r.set_index("step")["loss"] for r in replicates] for run, replicates in steps.items()}
    log = loss_axis(ax, [pd.concat(c, axis=1) for c in curves.values()])
    for i, (run, replicates) in enumerate(curves.items()):
        mean_line(ax, replicates, f"C{i % 10}", "-", run, log=log, bounds=LOSS_RANGE)
    replicated = any(len(replicates) > 1 for replicates in steps.values())
    ax.set(
        xlabel="iteration (optimizer step)",
        ylabel="training loss of the batch",
        title="loss" + band_note(log, replicated),
    )
    ax.grid(alpha=0.3)
    integer_axis(ax, sorted({float(s) for c in curves.values() for r in c for s in r.index}))
    if log:
        log_axis_labels(ax)
    legend_beside(ax)
    return fig


KIND = FigureKind(("runs",), job_files("steps.csv"), draw, rows=("runs", "pretrain"))
