"""bn_sweep: accuracy against test batch size per BatchNorm mode, and against severity (S1)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cvrepro.report.figures.kind import FigureKind, read_csvs, rows_files
from cvrepro.report.grouping import Manifest
from cvrepro.study import Study, paths

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

MODE_STYLES = {"eval": "-", "train": "--", "adapt": ":"}  # a BN mode's line style


def inputs(study: Study, spec: dict) -> Manifest:
    return {"jobs": rows_files(study, spec, lambda job: paths.sweep_file(study, spec["sweep"], job))}


def draw(spec: dict, inputs: Manifest, out_png) -> None:
    from cvrepro.report.plot_axes import save_figure

    save_figure(figure(read_csvs(inputs)), out_png, spec["caption"])


def figure(results: dict[str, list[pd.DataFrame]]) -> Figure:
    """Left: accuracy on the corrupted sets (mean over conditions, shuffled order) against test
    batch size, one line per run and BN mode. Right: eval-mode accuracy against severity. Mean
    over each run's replicates, with +-1 sd bands kept in [0, 1]; one legend beside both (the
    right panel's lines are the left's `eval` ones)."""
    from cvrepro.report.plot_axes import ACCURACY_RANGE, mean_line, plt, shared_legend

    fig, (ax_bs, ax_sev) = plt.subplots(1, 2, figsize=(13, 4.2))
    for i, (run, frames) in enumerate(results.items()):
        shuffled = [frame[frame["order"] == "shuffled"] for frame in frames]
        for mode in shuffled[0]["mode"].unique():
            curves = [
                f[(f["mode"] == mode) & (f["severity"] > 0)].groupby("batch_size")["accuracy"].mean()
                for f in shuffled
            ]
            style = MODE_STYLES.get(mode, "-")
            mean_line(ax_bs, curves, f"C{i}", style, f"{run} {mode}", "o", bounds=ACCURACY_RANGE)
        largest = [f[(f["mode"] == "eval") & (f["batch_size"] == f["batch_size"].max())] for f in shuffled]
        mean_line(
            ax_sev,
            [f.groupby("severity")["accuracy"].mean() for f in largest],
            f"C{i}",
            "-",
            f"{run} eval",
            "o",
            bounds=ACCURACY_RANGE,
        )
    ax_bs.set(
        xscale="log", xlabel="test batch size", ylabel="accuracy (corrupted, mean)", title="BatchNorm mode"
    )
    sizes = sorted({int(b) for frames in results.values() for b in frames[0]["batch_size"]})
    ax_bs.set_xticks(sizes, [str(b) for b in sizes])
    ax_bs.minorticks_off()
    ax_sev.set(xlabel="severity (0 = clean)", ylabel="accuracy (eval mode)", title="corruption severity")
    for ax in (ax_bs, ax_sev):
        ax.grid(alpha=0.3)
    shared_legend(ax_sev, (ax_bs, ax_sev))
    return fig


KIND = FigureKind(("sweep",), inputs, draw)
