"""What every figure kind's drawing shares (each kind draws in its own module, report/figures/
<kind>.py), so that each chart reads at a glance: legends beside the axes (never over the data),
replicate mean lines with bands that stay within what their quantity can take, loss axes that one
spike cannot flatten, titles that say which replicate a panel shows, and one way to lay out and
save a figure. Matplotlib with the Agg backend: no display needed."""

from __future__ import annotations

import textwrap
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.legend import Legend  # noqa: E402

ACCURACY_RANGE = (0.0, 1.0)  # accuracies are fractions in every file the figures read
LOSS_RANGE = (0.0, None)  # every objective here (cross-entropy, triplet, center, NT-Xent) is >= 0


def legend_beside(ax: Axes, handles: list | None = None, fontsize: float = 7, **options) -> Legend:
    """The legend outside `ax`, to its right: it cannot cover a line, bar or point (tight_layout
    counts it as part of the axes and makes room)."""
    return ax.legend(
        handles=handles,
        loc="upper left",
        bbox_to_anchor=(1.02, 1.0),
        borderaxespad=0.0,
        fontsize=fontsize,
        **options,
    )


def all_positive(table: pd.DataFrame) -> bool:
    """Every recorded value > 0 (NaN = not recorded): a log axis can show all of it."""
    values = table.to_numpy(float)
    values = values[~np.isnan(values)]
    return values.size > 0 and bool((values > 0).all())


def mean_and_band(
    table: pd.DataFrame, log: bool, bounds: tuple[float | None, float | None] = (None, None)
) -> tuple[pd.Series, pd.Series | None, pd.Series | None]:
    """The centre line of replicate columns and its +-1 sd band (None for one replicate).

    log: the mean and sd of log(value), so the line is the geometric mean and the band
    multiplies and divides it by the geometric sd: on a log axis a replicate's spike widens the
    band symmetrically instead of pulling the band below zero. Otherwise the arithmetic mean +-
    sd, cut to `bounds`, the values the quantity can take (an accuracy's sd band past 100% is
    an artefact of the normal approximation, not a possible accuracy)."""
    n = table.shape[1]
    if log:
        logs = np.log(table)
        centre = np.exp(logs.mean(axis=1))
        if n == 1:
            return centre, None, None
        sd = logs.std(axis=1, ddof=1)
        return centre, np.exp(logs.mean(axis=1) - sd), np.exp(logs.mean(axis=1) + sd)
    centre = table.mean(axis=1)
    if n == 1:
        return centre, None, None
    sd = table.std(axis=1, ddof=1)
    low, high = bounds
    return centre, (centre - sd).clip(lower=low, upper=high), (centre + sd).clip(lower=low, upper=high)


def replicate_note(index: int, n: int, seed: int | None = None) -> str:
    """Which replicate a panel shows: 'replicate 0 of 3, seed 0' ('' when the row has one)."""
    if n <= 1:
        return ""
    return f"replicate {index} of {n}" + (f", seed {seed}" if seed is not None else "")


def integer_axis(ax: Axes, xs: list[float]) -> None:
    """Integer ticks (epochs, steps): at each recorded value when there are a few, with half a
    unit of margin (one recorded epoch, a rehearsal, shows as tick 1, not 0.5 ... 1.5 in
    tenths); else integer ticks wherever matplotlib puts them."""
    from matplotlib.ticker import MaxNLocator

    if 0 < len(xs) <= 12:
        ax.set_xticks(xs, [f"{x:g}" for x in xs])
        ax.set_xlim(min(xs) - 0.5, max(xs) + 0.5)
    else:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def log_axis_labels(ax: Axes) -> None:
    """Ticks a reader can read on a log y axis, chosen from its span once the data are drawn:
    plain numbers (0.7, not 7 x 10^-1); under a decade, evenly spaced ticks (a log locator
    would leave one or none); under about two and a half, ticks at 1, 2 and 5 of each decade."""
    from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullFormatter, NullLocator

    low, high = ax.get_ylim()
    decades = float(np.log10(high / low))
    if decades < 1:
        ax.yaxis.set_major_locator(MaxNLocator(nbins=6))
        ax.yaxis.set_minor_locator(NullLocator())
    else:
        ax.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0) if decades < 2.5 else (1.0,)))
        ax.yaxis.set_minor_locator(LogLocator(subs="all"))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:.3g}"))
    ax.yaxis.set_minor_formatter(NullFormatter())


def seed_of(metrics: dict) -> int | None:
    """The seed a metrics.json's provenance records (None when it records none)."""
    return (metrics.get("provenance") or {}).get("seed")


def one_replicate(metrics: dict) -> str:
    """'one replicate, seed 4' for a panel drawn from one replicate's metrics."""
    seed = seed_of(metrics)
    return "one replicate" + (f", seed {seed}" if seed is not None else "")


# --- replicate curves -----------------------------------------------------------------------------

FEW_POINTS = 12  # curves with at most this many points get a marker at each


def mean_line(
    ax,
    curves: list[pd.Series],
    color: str,
    style: str,
    label: str,
    marker: str | None = None,
    log: bool = False,
    bounds: tuple[float | None, float | None] = (None, None),
) -> None:
    """The mean of replicate curves (indexed alike), with a +-1 sd band when there are several
    (mean_and_band: geometric on a log axis, else cut to `bounds`). A curve of a few points is
    marked at each: a one-epoch curve is otherwise invisible."""
    table = pd.concat(curves, axis=1)
    centre, low, high = mean_and_band(table, log, bounds)
    n = table.shape[1]
    if marker is None and len(centre) <= FEW_POINTS:
        marker = "o"
    ax.plot(
        centre.index,
        centre.values,
        linestyle=style,
        color=color,
        marker=marker,
        markersize=3,
        label=label + (f" (n={n})" if n > 1 else ""),
    )
    if low is not None:
        ax.fill_between(centre.index, low.values, high.values, color=color, alpha=0.15, linewidth=0)


def loss_axis(ax, tables: list[pd.DataFrame]) -> bool:
    """A log loss axis when every loss recorded is > 0 (one epoch-1 spike then takes a decade,
    not the whole axis); else a linear one. Returns whether it is log (then call
    log_axis_labels once the lines are drawn)."""
    log = bool(tables) and all(all_positive(t) for t in tables)
    ax.set_yscale("log" if log else "linear")
    return log


def band_note(log: bool, replicated: bool) -> str:
    """What a loss or accuracy panel's title adds about its axis and bands."""
    if not replicated:
        return " (log axis)" if log else ""
    return " (log axis; geometric mean, band ×/÷ 1 sd)" if log else " (mean, band ± 1 sd)"


def shared_legend(ax, axes) -> None:
    """One legend beside `ax` with every labelled line of `axes`, each label once (a run's
    colour and a split's line style are the same in every panel)."""
    handles = {}
    for each in axes:
        for handle, label in zip(*each.get_legend_handles_labels(), strict=True):
            handles.setdefault(label, handle)
    legend_beside(ax, list(handles.values()))


# --- the figure -----------------------------------------------------------------------------------


def panel_row(n: int, panel_width: float = 5.0, height: float = 4.5):
    """A figure of `n` panels side by side, and its axes."""
    fig, axes = plt.subplots(1, n, figsize=(panel_width * n, height), squeeze=False)
    return fig, axes[0]


def layout(fig: Figure, title: str) -> Figure:
    """The caption above the panels, wrapped to the figure's width (a long caption on a narrow
    figure was cut at both edges), then the panels, legends and colour bars fitted in."""
    if title:
        # about 9 characters of the 12-point caption per inch
        fig.suptitle(textwrap.fill(title, width=max(20, int(9 * fig.get_figwidth()))))
    fig.tight_layout()
    return fig


def save_figure(fig: Figure, out_png: Path, title: str) -> None:
    """The figure laid out under its caption, written as a PNG at 120 dpi, and closed."""
    layout(fig, title)
    fig.savefig(out_png, dpi=120)
    plt.close(fig)
