"""Figures. Matplotlib with the Agg backend: no display needed."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.collections import PolyCollection  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402


def _mean_line(
    ax, curves: list[pd.Series], color: str, style: str, label: str, marker: str | None = None
) -> None:
    """The mean of replicate curves (indexed alike), with a +-1 sd band when there are several."""
    table = pd.concat(curves, axis=1)
    mean = table.mean(axis=1)
    n = table.shape[1]
    ax.plot(
        mean.index,
        mean.values,
        linestyle=style,
        color=color,
        marker=marker,
        label=label + (f" (n={n})" if n > 1 else ""),
    )
    if n > 1:
        sd = table.std(axis=1, ddof=1)
        ax.fill_between(
            mean.index, (mean - sd).values, (mean + sd).values, color=color, alpha=0.15, linewidth=0
        )


def _column(histories: list[pd.DataFrame], column: str) -> list[pd.Series] | None:
    """The column of every replicate's history indexed by epoch, or None when absent or empty."""
    if not all(column in h and h[column].notna().any() for h in histories):
        return None
    return [h.set_index("epoch")[column] for h in histories]


def training_curves(histories: dict[str, list[pd.DataFrame]], out_png: Path, title: str) -> None:
    """Loss (left) and accuracy (right) per epoch, mean over replicates with +-1 sd bands; solid =
    train, dashed = validation (pretrainings: their objective's accuracy and probe, dotted)."""
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(11, 4))
    for i, (run, replicates) in enumerate(histories.items()):
        color = f"C{i % 10}"
        _mean_line(ax_loss, _column(replicates, "train_loss"), color, "-", f"{run} train")
        for column, style, label in (
            ("train_acc", "-", "train"),
            ("contrastive_acc", "-", "contrastive"),
            ("probe_acc", ":", "probe"),
            ("probe_train_acc", "-.", "probe train"),  # probe: online (S6)
            ("probe_val_acc", ":", "probe val"),
            ("val_acc", "--", "val"),
        ):
            if (curves := _column(replicates, column)) is not None:
                _mean_line(ax_acc, curves, color, style, f"{run} {label}")
        if (curves := _column(replicates, "val_loss")) is not None:
            _mean_line(ax_loss, curves, color, "--", f"{run} val")
    ax_loss.set(xlabel="epoch", ylabel="training objective", title="loss")
    ax_acc.set(xlabel="epoch", ylabel="accuracy", title="accuracy")
    for ax in (ax_loss, ax_acc):
        ax.grid(alpha=0.3)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax_acc.legend(fontsize=8, loc="lower right")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(out_png, dpi=120)
    plt.close(fig)


def step_loss(steps: dict[str, list[pd.DataFrame]], out_png: Path, title: str) -> None:
    """The training loss of every optimizer step, one line per run (mean over replicates with a
    +-1 sd band), against the step: a report's 'loss vs iterations'."""
    fig, ax = plt.subplots(figsize=(7, 4))
    for i, (run, replicates) in enumerate(steps.items()):
        _mean_line(ax, [r.set_index("step")["loss"] for r in replicates], f"C{i % 10}", "-", run)
    ax.set(xlabel="iteration (optimizer step)", ylabel="training loss of the batch")
    ax.grid(alpha=0.3)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.legend(fontsize=8)
    save_figure(fig, out_png, title)


def tsne(
    features: np.ndarray,
    labels: np.ndarray,
    classes: list[str],
    out_png: Path,
    title: str,
    count: int,
    seed: int,
) -> None:
    """scikit-learn's t-SNE of (a seeded sample of) the features, coloured by class."""
    from sklearn.manifold import TSNE

    rng = np.random.default_rng(seed)
    index = rng.permutation(len(labels))[:count]
    perplexity = min(30, len(index) - 1)
    points = TSNE(n_components=2, init="pca", random_state=seed, perplexity=perplexity).fit_transform(
        features[index]
    )
    fig, ax = plt.subplots(figsize=(7, 6))
    for c in np.unique(labels[index]):
        mask = labels[index] == c
        ax.scatter(
            points[mask, 0], points[mask, 1], s=6, label=classes[c] if 0 <= c < len(classes) else str(c)
        )
    ax.set(xticks=[], yticks=[], title=title or f"t-SNE of {len(index)} embeddings")
    ax.legend(fontsize=7, markerscale=2, loc="best")
    fig.tight_layout()
    fig.savefig(out_png, dpi=120)
    plt.close(fig)


def bn_sweep(results: dict[str, list[pd.DataFrame]], out_png: Path, title: str) -> None:
    """Left: accuracy on the corrupted sets (mean over conditions, shuffled order) against test
    batch size, one line per run and BN mode. Right: eval-mode accuracy against severity. Mean
    over each run's replicates, with +-1 sd bands."""
    fig, (ax_bs, ax_sev) = plt.subplots(1, 2, figsize=(11, 4))
    styles = {"eval": "-", "train": "--", "adapt": ":"}
    for i, (run, frames) in enumerate(results.items()):
        shuffled = [frame[frame["order"] == "shuffled"] for frame in frames]
        for mode in shuffled[0]["mode"].unique():
            curves = [
                f[(f["mode"] == mode) & (f["severity"] > 0)].groupby("batch_size")["accuracy"].mean()
                for f in shuffled
            ]
            _mean_line(ax_bs, curves, f"C{i}", styles.get(mode, "-"), f"{run} {mode}", marker="o")
        largest = [f[(f["mode"] == "eval") & (f["batch_size"] == f["batch_size"].max())] for f in shuffled]
        _mean_line(
            ax_sev, [f.groupby("severity")["accuracy"].mean() for f in largest], f"C{i}", "-", run, marker="o"
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
        ax.legend(fontsize=7)
    save_figure(fig, out_png, title)


def panel_row(n: int, panel_width: float = 5.0, height: float = 4.5):
    fig, axes = plt.subplots(1, n, figsize=(panel_width * n, height), squeeze=False)
    return fig, axes[0]


def save_figure(fig, out_png: Path, title: str) -> None:
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(out_png, dpi=120)
    plt.close(fig)


def confusion_heatmaps(metrics: dict[str, dict], out_png: Path, title: str = "") -> None:
    """Row-normalised confusion matrices (true class down, predicted across), one panel per run."""
    fig, axes = panel_row(len(metrics))
    for ax, (run, m) in zip(axes, metrics.items(), strict=True):
        confusion = np.asarray(m["confusion"], dtype=float)
        normalised = confusion / np.maximum(confusion.sum(1, keepdims=True), 1)
        ax.imshow(normalised, cmap="Blues", vmin=0, vmax=1)
        ticks = range(len(m["classes"]))
        ax.set_xticks(ticks, m["classes"], rotation=90, fontsize=6)
        ax.set_yticks(ticks, m["classes"], fontsize=6)
        ax.set(xlabel="predicted", ylabel="true", title=f"{run} ({100 * m['test_acc']:.1f}%)")
    save_figure(fig, out_png, title)


def roc_curves(metrics: dict[str, dict], out_png: Path, title: str = "") -> None:
    """One-vs-rest ROC curve per class, one panel per run, AUC in the legend."""
    fig, axes = panel_row(len(metrics))
    for ax, (run, m) in zip(axes, metrics.items(), strict=True):
        for name, curve in m["roc"]["per_class"].items():
            ax.plot(curve["fpr"], curve["tpr"], linewidth=1, label=f"{name} ({curve['auc']:.2f})")
        ax.plot([0, 1], [0, 1], "k:", linewidth=0.8)
        ax.set(
            xlabel="false positive rate",
            ylabel="true positive rate",
            title=f"{run}: macro AUC {m['roc']['macro_auc']:.3f}",
        )
        ax.legend(fontsize=6)
    save_figure(fig, out_png, title)


def class_accuracy_bars(metrics: dict[str, dict], out_png: Path, title: str, metric: str) -> None:
    """Per-class `metric` (recall = per-class accuracy, precision or f1), one group of bars per
    class, one bar per run. Classes are every run's in first-seen order (a zero-shot probe adds
    `other`); a run without a class has no bar there."""
    classes = list(dict.fromkeys(c for m in metrics.values() for c in m["classes"]))
    fig, ax = plt.subplots(figsize=(max(6, 0.6 * len(classes) * len(metrics)), 4))
    width = 0.8 / len(metrics)
    for i, (run, m) in enumerate(metrics.items()):
        values = [m["per_class"][c][metric] if c in m["per_class"] else np.nan for c in classes]
        ax.bar(np.arange(len(classes)) + i * width, values, width, label=run)
    ax.set_xticks(np.arange(len(classes)) + 0.4 - width / 2, classes, rotation=45, ha="right", fontsize=8)
    ax.set(ylabel=f"per-class {metric}", ylim=(0, 1))
    ax.legend(fontsize=8)
    save_figure(fig, out_png, f"{title} [{metric}]" if title else f"per-class {metric}")


def probe_curves(histories: dict[str, pd.DataFrame], out_png: Path, title: str = "") -> None:
    """Loss (left) and accuracy (right) per iteration of probes fitted by minibatch_gd: solid =
    the iteration's training batch, dashed = the validation set (S7's Figures 1-2)."""
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(11, 4))
    for i, (probe, history) in enumerate(histories.items()):
        color, label = f"C{i % 10}", f"{probe} ({len(history)} iterations)"
        steps = history["iteration"]
        ax_loss.plot(steps, history["train_loss"], color=color, linewidth=0.8, label=f"{label} batch")
        ax_acc.plot(
            steps, history["train_acc"], color=color, linewidth=0.5, alpha=0.6, label=f"{probe} batch"
        )
        if history["val_acc"].notna().any():
            ax_loss.plot(steps, history["val_loss"], color=color, linestyle="--", label=f"{probe} val")
            ax_acc.plot(steps, history["val_acc"], color=color, linestyle="--", label=f"{probe} val")
    ax_loss.set(xlabel="iteration", ylabel="cross-entropy (+ L2 on the batch)", title="loss")
    ax_acc.set(xlabel="iteration", ylabel="accuracy", title="accuracy")
    for ax in (ax_loss, ax_acc):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    save_figure(fig, out_png, title)


STEP_ALPHA = 0.1  # plot_grad_flow's alpha for each step's bars


def _step_bars(ax, frame: pd.DataFrame, column: str, color: str, floor: float) -> None:
    """Every step's bar of `column` overlaid at STEP_ALPHA (the recipe's plot_grad_flow called after
    each backward pass), drawn as what that overlay looks like: at a height reached by k of the
    steps' bars the colour's opacity is 1 - (1 - STEP_ALPHA)^k. One band per k up to 64 (opacity
    > 0.998 beyond), so a run of 20,000 steps draws in milliseconds, not the minutes 20,000
    patches per weight take."""
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


def gradient_flow(flows: dict[str, pd.DataFrame], out_png: Path, title: str, scale: str) -> None:
    """S5's gradient-flow plot (the usual plot_grad_flow recipe), one panel per run: for each
    weight, a bar of its max |gradient| (light) over a bar of its mean |gradient| (dark), on a log
    axis (small early-layer gradients stay visible) or the recipe's linear one. Per-step rows
    (grad_flow_per: step) are all overlaid, as the recipe draws when called after every step;
    per-epoch rows show the last epoch."""
    runs = list(flows.items())
    fig, axes = plt.subplots(len(runs), 1, figsize=(10, 3.2 * len(runs)), squeeze=False)
    for ax, (run, frame) in zip(axes[:, 0], runs, strict=True):
        ax.set_title(run, fontsize=9)
        if frame.empty:
            ax.text(0.5, 0.5, "no gradients recorded", ha="center", va="center", transform=ax.transAxes)
            continue
        shown = frame if "step" in frame else frame[frame["epoch"] == frame["epoch"].max()]
        layers = list(dict.fromkeys(shown["layer"]))
        values = shown[["mean_abs_grad", "max_abs_grad"]].to_numpy(float)
        floor = values[values > 0].min(initial=1e-12) / 2 if scale == "log" else 0.0
        handles = []
        for column, color, alpha, label in (
            ("max_abs_grad", "c", 0.6, "max |gradient|"),
            ("mean_abs_grad", "b", 0.8, "mean |gradient|"),
        ):
            if "step" in shown:
                _step_bars(ax, shown, column, color, floor)
                handles.append(Patch(color=color, alpha=alpha, label=f"{label}, every step"))
            else:
                handles.append(
                    ax.bar(np.arange(len(shown)), shown[column], color=color, alpha=alpha, label=label)
                )
        ax.set_xticks(np.arange(len(layers)), layers, rotation=90, fontsize=6)
        top = values.max(initial=0.0) * (2 if scale == "log" else 1.05) or 1.0
        ax.set(yscale=scale, ylabel="|gradient|", xlim=(-0.5, len(layers) - 0.5), ylim=(floor, top))
        ax.grid(alpha=0.3, axis="y")
        ax.legend(handles=handles, fontsize=7, loc="upper right")
    save_figure(fig, out_png, title)


def grid_scores(
    points: list[tuple[object, dict[str, list[float]]]], key: str, out_png: Path, title: str
) -> None:
    """Scores against a grid value: one line per score, mean with sd error bars over replicates."""
    fig, ax = plt.subplots(figsize=(6, 4))
    labels = [", ".join(map(str, x)) if isinstance(x, list) else str(x) for x, _ in points]
    numeric = all(isinstance(x, int | float) and not isinstance(x, bool) for x, _ in points)
    xs = [x for x, _ in points] if numeric else list(range(len(points)))
    for i, score in enumerate(("train_acc", "val_acc", "test_acc")):
        values = [s[score] for _, s in points]
        if not all(values):
            continue
        means = [float(np.mean(v)) for v in values]
        errors = [float(np.std(v, ddof=1)) if len(v) > 1 else 0.0 for v in values]
        n = min(len(v) for v in values)
        ax.errorbar(
            xs,
            means,
            yerr=errors,
            marker="o",
            capsize=3,
            color=f"C{i}",
            label=score.replace("_acc", "") + (f" (n={n})" if n > 1 else ""),
        )
    if not numeric:
        ax.set_xticks(xs, [label.replace(", ", "\n") for label in labels], fontsize=8)
    ax.set(xlabel=key, ylabel="accuracy")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    save_figure(fig, out_png, title)
