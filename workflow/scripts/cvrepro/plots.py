"""Figures. Matplotlib with the Agg backend: no display needed."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
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
