"""Figures. Matplotlib with the Agg backend: no display needed."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402


def training_curves(histories: dict[str, pd.DataFrame], out_png: Path, title: str = "") -> None:
    """Loss (left) and accuracy (right) per epoch; solid = train, dashed = validation."""
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(11, 4))
    for i, (run, history) in enumerate(histories.items()):
        color = f"C{i % 10}"
        ax_loss.plot(history["epoch"], history["train_loss"], color=color, label=f"{run} train")
        ax_acc.plot(history["epoch"], history["train_acc"], color=color, label=f"{run} train")
        if "val_acc" in history:
            ax_loss.plot(
                history["epoch"], history["val_loss"], color=color, linestyle="--", label=f"{run} val"
            )
            ax_acc.plot(history["epoch"], history["val_acc"], color=color, linestyle="--", label=f"{run} val")
    ax_loss.set(xlabel="epoch", ylabel="cross-entropy", title="loss")
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


def tsne(
    features: np.ndarray,
    labels: np.ndarray,
    classes: list[str],
    out_png: Path,
    title: str = "",
    count: int = 2000,
    seed: int = 0,
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


def image_pairs(
    originals: np.ndarray, view1: np.ndarray, view2: np.ndarray, out_png: Path, title: str = ""
) -> None:
    """Rows of (original, view 1, view 2); arrays are float (N, C, H, W) in [0, 1]."""
    n = len(originals)
    fig, axes = plt.subplots(n, 3, figsize=(4.5, 1.5 * n), squeeze=False)
    for i in range(n):
        for j, (image, name) in enumerate(
            ((originals[i], "image"), (view1[i], "view 1"), (view2[i], "view 2"))
        ):
            ax = axes[i, j]
            shown = image.transpose(1, 2, 0)
            ax.imshow(shown[..., 0] if shown.shape[-1] == 1 else shown, cmap="gray", vmin=0, vmax=1)
            ax.set_axis_off()
            if i == 0:
                ax.set_title(name, fontsize=9)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(out_png, dpi=120)
    plt.close(fig)


def bn_sweep(results: dict[str, pd.DataFrame], out_png: Path, title: str = "") -> None:
    """Left: accuracy on the corrupted sets (mean over conditions, shuffled order) against test
    batch size, one line per run and BN mode. Right: eval-mode accuracy against severity."""
    fig, (ax_bs, ax_sev) = plt.subplots(1, 2, figsize=(11, 4))
    styles = {"eval": "-", "train": "--", "adapt": ":"}
    for i, (run, frame) in enumerate(results.items()):
        shifted = frame[(frame["severity"] > 0) & (frame["order"] == "shuffled")]
        for mode, rows in shifted.groupby("mode"):
            curve = rows.groupby("batch_size")["accuracy"].mean()
            ax_bs.plot(
                curve.index,
                curve.values,
                styles.get(mode, "-"),
                color=f"C{i}",
                marker="o",
                label=f"{run} {mode}",
            )
        evals = frame[(frame["mode"] == "eval") & (frame["order"] == "shuffled")]
        largest = evals[evals["batch_size"] == evals["batch_size"].max()]
        by_severity = largest.groupby("severity")["accuracy"].mean()
        ax_sev.plot(by_severity.index, by_severity.values, color=f"C{i}", marker="o", label=run)
    ax_bs.set(
        xscale="log", xlabel="test batch size", ylabel="accuracy (corrupted, mean)", title="BatchNorm mode"
    )
    sizes = sorted({int(b) for frame in results.values() for b in frame["batch_size"]})
    ax_bs.set_xticks(sizes, [str(b) for b in sizes])
    ax_bs.minorticks_off()
    ax_sev.set(xlabel="severity (0 = clean)", ylabel="accuracy (eval mode)", title="corruption severity")
    for ax in (ax_bs, ax_sev):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(out_png, dpi=120)
    plt.close(fig)
