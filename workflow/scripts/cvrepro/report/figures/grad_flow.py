"""grad_flow: mean and max |gradient| per weight of each run trained with grad_flow (S5), the last
epoch or every step overlaid (grad_flow_per), as the usual plot_grad_flow recipe draws it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cvrepro.report.figures.kind import FigureKind, first, job_files, read_csvs
from cvrepro.report.grouping import Manifest

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    from matplotlib.figure import Figure

STEP_ALPHA = 0.1  # plot_grad_flow's alpha for each step's bars


def draw(spec: dict, inputs: Manifest, out_png) -> None:
    from cvrepro.report.plot_axes import save_figure

    save_figure(figure(first(read_csvs(inputs)), spec["scale"]), out_png, spec["caption"])


def figure(flows: dict[str, pd.DataFrame], scale: str) -> Figure:
    """S5's gradient-flow plot (the usual plot_grad_flow recipe), one panel per run: for each
    weight, a bar of its max |gradient| (light) over a bar of its mean |gradient| (dark), on a log
    axis (small early-layer gradients stay visible) or the recipe's linear one. Per-step rows
    (grad_flow_per: step) are all overlaid, as the recipe draws when called after every step;
    per-epoch rows show the last epoch. Axis limits come from the panel's values (log: from
    a third of the smallest); the legend sits beside the panel, off the bars."""
    import numpy as np
    from matplotlib.patches import Patch

    from cvrepro.report.plot_axes import legend_beside, plt

    runs = list(flows.items())
    fig, axes = plt.subplots(len(runs), 1, figsize=(11.5, 3.2 * len(runs)), squeeze=False)
    for ax, (run, frame) in zip(axes[:, 0], runs, strict=True):
        ax.set_title(run, fontsize=9)
        if frame.empty:
            ax.text(0.5, 0.5, "no gradients recorded", ha="center", va="center", transform=ax.transAxes)
            continue
        shown = frame if "step" in frame else frame[frame["epoch"] == frame["epoch"].max()]
        layers = list(dict.fromkeys(shown["layer"]))
        values = shown[["mean_abs_grad", "max_abs_grad"]].to_numpy(float)
        floor = log_floor(values) if scale == "log" else 0.0
        handles = []
        for column, color, alpha, label in (
            ("max_abs_grad", "c", 0.6, "max |gradient|"),
            ("mean_abs_grad", "b", 0.8, "mean |gradient|"),
        ):
            if "step" in shown:
                step_bars(ax, shown, column, color, floor)
                handles.append(Patch(color=color, alpha=alpha, label=f"{label}, every step"))
            else:
                handles.append(
                    ax.bar(np.arange(len(shown)), shown[column], color=color, alpha=alpha, label=label)
                )
        ax.set_xticks(np.arange(len(layers)), layers, rotation=90, fontsize=6)
        top = values.max(initial=0.0) * (2 if scale == "log" else 1.05) or 1.0
        ax.set(
            yscale=scale,
            ylabel="|gradient|",
            xlim=(-0.5, len(layers) - 0.5),
            ylim=(floor, max(top, floor * 10)),
        )
        ax.grid(alpha=0.3, axis="y")
        legend_beside(ax, handles)
    return fig


def step_bars(ax, frame: pd.DataFrame, column: str, color: str, floor: float) -> None:
    """Every step's bar of `column` overlaid at STEP_ALPHA (the recipe's plot_grad_flow called after
    each backward pass), drawn as what that overlay looks like: at a height reached by k of the
    steps' bars the colour's opacity is 1 - (1 - STEP_ALPHA)^k. One band per k up to 64 (opacity
    > 0.998 beyond), so a run of 20,000 steps draws in milliseconds, not the minutes 20,000
    patches per weight take."""
    import matplotlib
    import numpy as np
    from matplotlib.collections import PolyCollection

    rgb = matplotlib.colors.to_rgb(color)
    boxes, colours = [], []
    for x, layer in enumerate(dict.fromkeys(frame["layer"])):
        tops = np.sort(np.maximum(frame.loc[frame["layer"] == layer, column].to_numpy(float), floor))[::-1]
        deepest = min(len(tops), 64)
        for k in range(1, deepest + 1):  # heights in (tops[k], tops[k-1]] are reached by k bars
            low = tops[k] if k < deepest else floor
            boxes.append([(x - 0.4, low), (x + 0.4, low), (x + 0.4, tops[k - 1]), (x - 0.4, tops[k - 1])])
            colours.append((*rgb, 1 - (1 - STEP_ALPHA) ** k))
    ax.add_collection(PolyCollection(boxes, facecolors=colours, linewidths=0))


def log_floor(values: np.ndarray) -> float:
    """The bottom of a log |gradient| axis: a third of the smallest positive value, so that every
    bar, the smallest too, shows half a decade of length while the axis stays within a decade of
    the data whatever its scale; 1e-12 only when nothing is > 0."""
    positive = values[values > 0]
    return float(positive.min() / 3) if positive.size else 1e-12


KIND = FigureKind(("runs",), job_files("grad_flow.csv"), draw)
