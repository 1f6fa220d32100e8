"""What the reports' charts share so that each reads at a glance: legends beside the axes (never
over the data), replicate bands that stay within what their quantity can take, loss axes that one
spike cannot flatten, and titles that say which replicate a panel shows."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.legend import Legend

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
