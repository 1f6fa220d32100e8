"""shift_samples: images of a shift set, clean and under every corruption and severity."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from cvrepro.report.figures.kind import FigureKind
from cvrepro.report.grouping import Manifest, only_file
from cvrepro.study import Study, paths

if TYPE_CHECKING:
    import numpy as np
    from matplotlib.figure import Figure


def inputs(study: Study, spec: dict) -> Manifest:
    """The shift set's directory: clean.npz, one <corruption>-<severity>.npz per condition, info.json."""
    return {"shift_set": {spec["shift_set"]: [paths.shift_dir(study, spec["shift_set"])]}}


def shift_columns(shift_dir: Path, count: int, seed: int) -> tuple[dict, list[str]]:
    """`count` images of a shift set (a seeded pick, in index order): {"clean": images, condition:
    the same images corrupted, ...} in the set's order, and their class names."""
    import numpy as np

    info = json.loads((shift_dir / "info.json").read_text())
    clean = np.load(shift_dir / "clean.npz")
    pick = np.sort(np.random.default_rng(seed).permutation(len(clean["labels"]))[:count])
    columns = {"clean": clean["images"][pick]}
    for condition in info["conditions"]:
        columns[condition] = np.load(shift_dir / f"{condition}.npz")["images"][pick]
    return columns, [str(info["classes"][label]) for label in clean["labels"][pick]]


def draw(spec: dict, inputs: Manifest, out_png) -> None:
    from cvrepro.report.plot_axes import save_figure

    columns, names = shift_columns(only_file(inputs["shift_set"]), spec["count"], spec["seed"])
    save_figure(figure(columns, names), out_png, spec["caption"])


def figure(columns: dict[str, np.ndarray], names: list[str]) -> Figure:
    """One row per image, one column per condition (clean first); images are uint8 (N, H, W, C)."""
    from cvrepro.report.plot_axes import plt

    rows = len(names)
    fig, axes = plt.subplots(
        rows, len(columns), figsize=(0.9 * len(columns), 0.95 * rows + 0.6), squeeze=False
    )
    for col, (condition, images) in enumerate(columns.items()):
        axes[0, col].set_title(condition.replace("_", " ").replace("-", "\n"), fontsize=6)
        for row in range(rows):
            ax = axes[row, col]
            ax.set_axis_off()
            image = images[row]
            ax.imshow(image[..., 0] if image.shape[-1] == 1 else image, cmap="gray", vmin=0, vmax=255)
    for row, name in enumerate(names):
        axes[row, 0].text(
            -0.1, 0.5, name, transform=axes[row, 0].transAxes, ha="right", va="center", fontsize=6
        )
    return fig


KIND = FigureKind(("shift_set",), inputs, draw, rows=())
