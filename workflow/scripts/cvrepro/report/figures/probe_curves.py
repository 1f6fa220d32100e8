"""probe_curves: batch and validation accuracy per iteration of gradient-descent probes (S7)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cvrepro.report.figures.kind import FigureKind, first, job_files, read_csvs
from cvrepro.report.grouping import Manifest

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

    from cvrepro.study import Study


def draw(spec: dict, inputs: Manifest, out_png) -> None:
    from cvrepro.report.plot_axes import save_figure

    save_figure(figure(first(read_csvs(inputs))), out_png, spec["caption"])


def figure(histories: dict[str, pd.DataFrame]) -> Figure:
    """Loss (left) and accuracy (right) per iteration of probes fitted by minibatch_gd: solid =
    the iteration's training batch, dashed = the validation set (S7's Figures 1-2). Log loss
    axis when every loss is > 0; one legend beside both panels."""
    from cvrepro.report.plot_axes import log_axis_labels, loss_axis, plt, shared_legend

    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(13, 4.2))
    log = loss_axis(ax_loss, [h[["train_loss", "val_loss"]] for h in histories.values()])
    for i, (probe, history) in enumerate(histories.items()):
        color = f"C{i % 10}"
        steps = history["iteration"]
        label = f"{probe} batch ({len(history)} iterations)"
        ax_loss.plot(steps, history["train_loss"], color=color, linewidth=0.8, label=label)
        ax_acc.plot(steps, history["train_acc"], color=color, linewidth=0.5, alpha=0.6, label=label)
        if history["val_acc"].notna().any():
            ax_loss.plot(steps, history["val_loss"], color=color, linestyle="--", label=f"{probe} val")
            ax_acc.plot(steps, history["val_acc"], color=color, linestyle="--", label=f"{probe} val")
    ax_loss.set(
        xlabel="iteration",
        ylabel="cross-entropy (+ L2 on the batch)",
        title="loss" + (" (log axis)" if log else ""),
    )
    ax_acc.set(xlabel="iteration", ylabel="accuracy", title="accuracy")
    for ax in (ax_loss, ax_acc):
        ax.grid(alpha=0.3)
    if log:
        log_axis_labels(ax_loss)
    shared_legend(ax_acc, (ax_loss, ax_acc))
    return fig


def check(study: Study, spec: dict) -> str | None:
    """Only probes fitted by minibatch_gd record a history to draw."""
    for name in spec["runs"]:
        for job in study.jobs(name):
            if (solver := study.probes[job]["solver"]) != "minibatch_gd":
                return f"probe {name!r} has solver {solver}; probe_curves draws probes fitted by solver minibatch_gd"
    return None


KIND = FigureKind(("runs",), job_files("history.csv"), draw, rows=("probes",), check=check)
