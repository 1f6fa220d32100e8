"""Figures. Matplotlib with the Agg backend: no display needed."""

from __future__ import annotations

import textwrap
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from cvrepro.report.plot_axes import (  # noqa: E402
    ACCURACY_RANGE,
    LOSS_RANGE,
    all_positive,
    integer_axis,
    legend_beside,
    log_axis_labels,
    mean_and_band,
)


def _mean_line(
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
    (plot_axes.mean_and_band: geometric on a log axis, else cut to `bounds`). A curve of a few
    points is marked at each: a one-epoch curve is otherwise invisible."""
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


FEW_POINTS = 12  # curves with at most this many points get a marker at each


def _column(histories: list[pd.DataFrame], column: str) -> list[pd.Series] | None:
    """The column of every replicate's history indexed by epoch, or None when absent or empty."""
    if not all(column in h and h[column].notna().any() for h in histories):
        return None
    return [h.set_index("epoch")[column] for h in histories]


def _loss_axis(ax, tables: list[pd.DataFrame]) -> bool:
    """A log loss axis when every loss recorded is > 0 (one epoch-1 spike then takes a decade,
    not the whole axis); else a linear one. Returns whether it is log (then call
    log_axis_labels once the lines are drawn)."""
    log = bool(tables) and all(all_positive(t) for t in tables)
    ax.set_yscale("log" if log else "linear")
    return log


def _band_note(log: bool, replicated: bool) -> str:
    if not replicated:
        return " (log axis)" if log else ""
    return " (log axis; geometric mean, band ×/÷ 1 sd)" if log else " (mean, band ± 1 sd)"


def _shared_legend(ax, axes) -> None:
    """One legend beside `ax` with every labelled line of `axes`, each label once (a run's
    colour and a split's line style are the same in every panel)."""
    handles = {}
    for each in axes:
        for handle, label in zip(*each.get_legend_handles_labels(), strict=True):
            handles.setdefault(label, handle)
    legend_beside(ax, list(handles.values()))


HISTORY_ACCURACIES = (
    ("train_acc", "-", "train"),
    ("contrastive_acc", "-", "contrastive"),
    ("probe_acc", ":", "probe"),
    ("probe_train_acc", "-.", "probe train"),  # probe: online (S6)
    ("probe_val_acc", ":", "probe val"),
    ("val_acc", "--", "val"),
)


def training_curves(histories: dict[str, list[pd.DataFrame]], out_png: Path, title: str) -> None:
    """training_curves_figure, saved."""
    save_figure(training_curves_figure(histories), out_png, title)


def training_curves_figure(histories: dict[str, list[pd.DataFrame]]) -> Figure:
    """Loss (left) and accuracy (right) per epoch, mean over replicates with +-1 sd bands; solid =
    train, dashed = validation (pretrainings: their objective's accuracy and probe, dotted). The
    loss axis is log (a geometric band) whenever every loss is > 0; accuracy bands stay in [0, 1];
    the legend sits beside the panels."""
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(13, 4.2))
    losses = {
        (run, column): curves
        for run, replicates in histories.items()
        for column in ("train_loss", "val_loss")
        if (curves := _column(replicates, column)) is not None
    }
    log = _loss_axis(ax_loss, [pd.concat(curves, axis=1) for curves in losses.values()])
    for i, (run, replicates) in enumerate(histories.items()):
        color = f"C{i % 10}"
        for column, style in (("train_loss", "-"), ("val_loss", "--")):
            if (run, column) in losses:
                split = column.removesuffix("_loss")
                _mean_line(
                    ax_loss, losses[run, column], color, style, f"{run} {split}", log=log, bounds=LOSS_RANGE
                )
        for column, style, label in HISTORY_ACCURACIES:
            if (curves := _column(replicates, column)) is not None:
                _mean_line(ax_acc, curves, color, style, f"{run} {label}", bounds=ACCURACY_RANGE)
    replicated = any(len(replicates) > 1 for replicates in histories.values())
    ax_loss.set(xlabel="epoch", ylabel="training objective", title="loss" + _band_note(log, replicated))
    ax_acc.set(xlabel="epoch", ylabel="accuracy", title="accuracy" + _band_note(False, replicated))
    xs = sorted({float(e) for replicates in histories.values() for h in replicates for e in h["epoch"]})
    for ax in (ax_loss, ax_acc):
        ax.grid(alpha=0.3)
        integer_axis(ax, xs)
    if log:
        log_axis_labels(ax_loss)
    _shared_legend(ax_acc, (ax_loss, ax_acc))
    return fig


def step_loss(steps: dict[str, list[pd.DataFrame]], out_png: Path, title: str) -> None:
    """step_loss_figure, saved."""
    save_figure(step_loss_figure(steps), out_png, title)


def step_loss_figure(steps: dict[str, list[pd.DataFrame]]) -> Figure:
    """The training loss of every optimizer step, one line per run (mean over replicates with a
    +-1 sd band), against the step: a report's 'loss vs iterations'. Log axis when every loss is
    > 0, as in training_curves."""
    fig, ax = plt.subplots(figsize=(8.5, 4))
    curves = {run: [r.set_index("step")["loss"] for r in replicates] for run, replicates in steps.items()}
    log = _loss_axis(ax, [pd.concat(c, axis=1) for c in curves.values()])
    for i, (run, replicates) in enumerate(curves.items()):
        _mean_line(ax, replicates, f"C{i % 10}", "-", run, log=log, bounds=LOSS_RANGE)
    replicated = any(len(replicates) > 1 for replicates in steps.values())
    ax.set(
        xlabel="iteration (optimizer step)",
        ylabel="training loss of the batch",
        title="loss" + _band_note(log, replicated),
    )
    ax.grid(alpha=0.3)
    integer_axis(ax, sorted({float(s) for c in curves.values() for r in c for s in r.index}))
    if log:
        log_axis_labels(ax)
    legend_beside(ax)
    return fig


def tsne(
    features: np.ndarray,
    labels: np.ndarray,
    classes: list[str],
    out_png: Path,
    title: str,
    count: int,
    seed: int,
) -> None:
    """tsne_figure, saved (its title on the axes: a t-SNE has one panel)."""
    save_figure(tsne_figure(features, labels, classes, title, count, seed), out_png, "")


def tsne_figure(
    features: np.ndarray, labels: np.ndarray, classes: list[str], title: str, count: int, seed: int
) -> Figure:
    """scikit-learn's t-SNE of (a seeded sample of) the features, coloured by class, the legend
    beside the points."""
    from sklearn.manifold import TSNE

    rng = np.random.default_rng(seed)
    index = rng.permutation(len(labels))[:count]
    perplexity = min(30, len(index) - 1)
    points = TSNE(n_components=2, init="pca", random_state=seed, perplexity=perplexity).fit_transform(
        features[index]
    )
    fig, ax = plt.subplots(figsize=(8.2, 6))
    for c in np.unique(labels[index]):
        mask = labels[index] == c
        ax.scatter(
            points[mask, 0], points[mask, 1], s=6, label=classes[c] if 0 <= c < len(classes) else str(c)
        )
    ax.set(xticks=[], yticks=[], title=title or f"t-SNE of {len(index)} embeddings")
    legend_beside(ax, markerscale=2)
    return fig


def bn_sweep(results: dict[str, list[pd.DataFrame]], out_png: Path, title: str) -> None:
    """bn_sweep_figure, saved."""
    save_figure(bn_sweep_figure(results), out_png, title)


def bn_sweep_figure(results: dict[str, list[pd.DataFrame]]) -> Figure:
    """Left: accuracy on the corrupted sets (mean over conditions, shuffled order) against test
    batch size, one line per run and BN mode. Right: eval-mode accuracy against severity. Mean
    over each run's replicates, with +-1 sd bands kept in [0, 1]; one legend beside both (the
    right panel's lines are the left's `eval` ones)."""
    fig, (ax_bs, ax_sev) = plt.subplots(1, 2, figsize=(13, 4.2))
    styles = {"eval": "-", "train": "--", "adapt": ":"}
    for i, (run, frames) in enumerate(results.items()):
        shuffled = [frame[frame["order"] == "shuffled"] for frame in frames]
        for mode in shuffled[0]["mode"].unique():
            curves = [
                f[(f["mode"] == mode) & (f["severity"] > 0)].groupby("batch_size")["accuracy"].mean()
                for f in shuffled
            ]
            _mean_line(
                ax_bs, curves, f"C{i}", styles.get(mode, "-"), f"{run} {mode}", "o", bounds=ACCURACY_RANGE
            )
        largest = [f[(f["mode"] == "eval") & (f["batch_size"] == f["batch_size"].max())] for f in shuffled]
        _mean_line(
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
    _shared_legend(ax_sev, (ax_bs, ax_sev))
    return fig


def panel_row(n: int, panel_width: float = 5.0, height: float = 4.5):
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
    layout(fig, title)
    fig.savefig(out_png, dpi=120)
    plt.close(fig)


def probe_curves(histories: dict[str, pd.DataFrame], out_png: Path, title: str = "") -> None:
    """probe_curves_figure, saved."""
    save_figure(probe_curves_figure(histories), out_png, title)


def probe_curves_figure(histories: dict[str, pd.DataFrame]) -> Figure:
    """Loss (left) and accuracy (right) per iteration of probes fitted by minibatch_gd: solid =
    the iteration's training batch, dashed = the validation set (S7's Figures 1-2). Log loss
    axis when every loss is > 0; one legend beside both panels."""
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(13, 4.2))
    log = _loss_axis(ax_loss, [h[["train_loss", "val_loss"]] for h in histories.values()])
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
    _shared_legend(ax_acc, (ax_loss, ax_acc))
    return fig


def grid_scores(
    points: list[tuple[object, dict[str, list[float]]]], key: str, out_png: Path, title: str
) -> None:
    """grid_scores_figure, saved."""
    save_figure(grid_scores_figure(points, key), out_png, title)


def grid_scores_figure(points: list[tuple[object, dict[str, list[float]]]], key: str) -> Figure:
    """Scores against a grid value: one line per score, mean with sd error bars over replicates
    (cut to [0, 1], what an accuracy can take); the legend beside the axes."""
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
