"""One function per figure kind (cvrepro.report.figure_kinds): read the kind's input files and draw it
with cvrepro.report.plots. Each is `draw_<kind>(spec, inputs, out_png)`, `spec` being the study's figure
with `runs` and `split` resolved by the rule."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from cvrepro.report import plot_images, plots


def _by_row(spec: dict, inputs: list[Path], read) -> dict[str, list]:
    """Each row's replicates, read with `read`; `inputs` hold every row's jobs in spec["groups"] order."""
    files, grouped = iter(inputs), {}
    for row, jobs in spec["groups"]:
        grouped[row] = [read(next(files)) for _ in jobs]
    return grouped


def _read_csvs(spec: dict, inputs: list[Path]) -> dict[str, list[pd.DataFrame]]:
    return _by_row(spec, inputs, pd.read_csv)


def _read_metrics(spec: dict, inputs: list[Path]) -> dict[str, list[dict]]:
    return _by_row(spec, inputs, lambda path: json.loads(Path(path).read_text()))


def _first(grouped: dict[str, list]) -> dict:
    """Replicate 0 of each row (figures that draw one replicate per row)."""
    return {row: replicates[0] for row, replicates in grouped.items()}


def _load_images(spec: dict, inputs: list[Path]):
    import torch

    from cvrepro.data.tensors import load_subset

    return load_subset(Path(inputs[0]), spec["split"], Path(inputs[1]), torch.device("cpu"))


def draw_training_curves(spec: dict, inputs: list[Path], out_png: Path) -> None:
    plots.training_curves(_read_csvs(spec, inputs), out_png, spec["caption"])


def draw_step_loss(spec: dict, inputs: list[Path], out_png: Path) -> None:
    plots.step_loss(_read_csvs(spec, inputs), out_png, spec["caption"])


def draw_confusion(spec: dict, inputs: list[Path], out_png: Path) -> None:
    plots.confusion_heatmaps(_first(_read_metrics(spec, inputs)), out_png, spec["caption"])


def draw_roc(spec: dict, inputs: list[Path], out_png: Path) -> None:
    plots.roc_curves(_first(_read_metrics(spec, inputs)), out_png, spec["caption"])


def draw_class_accuracy(spec: dict, inputs: list[Path], out_png: Path) -> None:
    plots.class_accuracy_bars(_first(_read_metrics(spec, inputs)), out_png, spec["caption"], spec["metric"])


def draw_probe_curves(spec: dict, inputs: list[Path], out_png: Path) -> None:
    plots.probe_curves(_first(_read_csvs(spec, inputs)), out_png, spec["caption"])


def draw_grad_flow(spec: dict, inputs: list[Path], out_png: Path) -> None:
    plots.gradient_flow(_first(_read_csvs(spec, inputs)), out_png, spec["caption"], spec["scale"])


def draw_bn_sweep(spec: dict, inputs: list[Path], out_png: Path) -> None:
    plots.bn_sweep(_read_csvs(spec, inputs), out_png, spec["caption"])


def draw_samples(spec: dict, inputs: list[Path], out_png: Path) -> None:
    data = _load_images(spec, inputs)
    images = data.images.permute(0, 2, 3, 1).numpy()
    plot_images.class_samples(
        images, data.labels.numpy(), data.classes, out_png, spec["count"], spec["caption"], spec["seed"]
    )


def draw_tsne(spec: dict, inputs: list[Path], out_png: Path) -> None:
    data = np.load(inputs[0])
    classes = [str(c) for c in data["classes"]]
    plots.tsne(
        data["features"], data["labels"], classes, out_png, spec["caption"], spec["count"], spec["seed"]
    )


def draw_augmented_pairs(spec: dict, inputs: list[Path], out_png: Path) -> None:
    import torch

    from cvrepro.data.augment import augment_batch

    data = _load_images(spec, inputs)
    pick = torch.randperm(len(data), generator=torch.Generator().manual_seed(spec["seed"]))[: spec["count"]]
    images = data.images[pick].float() / 255
    generator = torch.Generator().manual_seed(spec["seed"])
    view1 = augment_batch(images, spec["augment"], generator)
    view2 = augment_batch(images, spec["augment"], generator)
    plot_images.image_pairs(images.numpy(), view1.numpy(), view2.numpy(), out_png, spec["caption"])


def draw_activations(spec: dict, inputs: list[Path], out_png: Path) -> None:
    from cvrepro.data.tensors import eval_batch
    from cvrepro.evaluate.activations import activation_maps, first_of_each_class
    from cvrepro.nets.checkpoint import load_model

    model, checkpoint = load_model(Path(inputs[0]))
    data = _load_images(spec, inputs[1:])
    labels = data.labels.numpy()
    if spec["classes"]:
        picks = first_of_each_class(labels, data.classes, spec["classes"])
    else:
        picks = list(range(min(spec["count"], len(labels))))
    norm = checkpoint["normalization"]
    x = eval_batch(data.images[picks], norm["mean"], norm["std"], norm["size"])
    maps = activation_maps(model, x, spec["layers"], spec["channels"])
    names = [data.classes[labels[i]] for i in picks]
    plot_images.activation_grid(
        data.images[picks].permute(0, 2, 3, 1).numpy(), maps, names, out_png, spec["caption"]
    )


def shift_columns(shift_dir: Path, count: int, seed: int) -> tuple[dict[str, np.ndarray], list[str]]:
    """`count` images of a shift set (a seeded pick, in index order): {"clean": images, condition:
    the same images corrupted, ...} in the set's order, and their class names."""
    info = json.loads((shift_dir / "info.json").read_text())
    clean = np.load(shift_dir / "clean.npz")
    pick = np.sort(np.random.default_rng(seed).permutation(len(clean["labels"]))[:count])
    columns = {"clean": clean["images"][pick]}
    for condition in info["conditions"]:
        columns[condition] = np.load(shift_dir / f"{condition}.npz")["images"][pick]
    return columns, [str(info["classes"][label]) for label in clean["labels"][pick]]


def draw_shift_samples(spec: dict, inputs: list[Path], out_png: Path) -> None:
    columns, names = shift_columns(Path(inputs[0]), spec["count"], spec["seed"])
    plot_images.shift_samples(columns, names, out_png, spec["caption"])


def draw_grid_scores(spec: dict, inputs: list[Path], out_png: Path) -> None:
    """Train, validation and test accuracy of each point of a grid run against its grid value
    (S2's dropout graph), mean with sd error bars over each point's replicates."""
    half = len(inputs) // 2
    train, test = _read_metrics(spec, inputs[:half]), _read_metrics(spec, inputs[half:])
    keys = list(spec["grid"][spec["groups"][0][0]])
    scores = {
        row: {
            "train_acc": [m["train_acc"] for m in train[row]],
            "val_acc": [m["val_acc"] for m in train[row] if m.get("val_acc") is not None],
            "test_acc": [m["accuracy"] for m in test[row]],
        }
        for row in train
    }
    if len(keys) == 1:  # the value itself on the x axis
        points = [(spec["grid"][row][keys[0]], scores[row]) for row in train]
    else:  # one labelled position per point
        points = [
            (", ".join(f"{k.rsplit('.', 1)[-1]}={spec['grid'][row][k]}" for k in keys), scores[row])
            for row in train
        ]
    plots.grid_scores(points, ", ".join(keys), out_png, spec["caption"])
