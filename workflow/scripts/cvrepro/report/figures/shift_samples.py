"""shift_samples: images of a shift set, clean and under every corruption and severity."""

import json
from pathlib import Path

from cvrepro.report.figures.kind import FigureKind
from cvrepro.report.grouping import Manifest, only_file
from cvrepro.study import Study, paths


def inputs(study: Study, figure: dict) -> Manifest:
    """The shift set's directory: clean.npz, one <corruption>-<severity>.npz per condition, info.json."""
    return {"shift_set": {figure["shift_set"]: [paths.shift_dir(study, figure["shift_set"])]}}


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
    from cvrepro.report import plot_images

    columns, names = shift_columns(only_file(inputs["shift_set"]), spec["count"], spec["seed"])
    plot_images.shift_samples(columns, names, out_png, spec["caption"])


KIND = FigureKind(("shift_set",), inputs, draw, rows=())
