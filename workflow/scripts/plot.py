"""Draw one figure of a study (rule `figure`), dispatching on the figure's kind."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from cvrepro.activations import activation_maps, first_of_each_class
from cvrepro.augment import augment_batch
from cvrepro.checkpoint import load_model
from cvrepro.data import load_subset, normalize
from cvrepro.logs import log_to
from cvrepro.plots import (
    activation_grid,
    bn_sweep,
    class_accuracy_bars,
    class_samples,
    confusion_heatmaps,
    gradient_flow,
    image_pairs,
    roc_curves,
    training_curves,
    tsne,
)

KINDS = (
    "training_curves",
    "tsne",
    "augmented_pairs",
    "bn_sweep",
    "confusion",
    "roc",
    "class_accuracy",
    "grad_flow",
    "samples",
    "activations",
)


def draw_activations(spec: dict, model_path: Path, data_dir: Path, index: Path, out_png: Path) -> None:
    model, checkpoint = load_model(model_path)
    data = load_subset(data_dir, spec["split"], index, torch.device("cpu"))
    labels = data.labels.numpy()
    if spec["classes"]:
        picks = first_of_each_class(labels, data.classes, spec["classes"])
    else:
        picks = list(range(min(spec["count"], len(labels))))
    norm = checkpoint["normalization"]
    x = normalize(data.images[picks], norm["mean"], norm["std"], norm.get("size"))
    maps = activation_maps(model, x, spec["layers"])
    names = [data.classes[labels[i]] for i in picks]
    activation_grid(
        data.images[picks].permute(0, 2, 3, 1).numpy(), maps, names, out_png, spec.get("caption", "")
    )


def main(spec: dict, inputs: list[Path], out_png: Path) -> None:
    kind, caption = spec["kind"], spec.get("caption", "")
    if kind == "training_curves":
        histories = {run: pd.read_csv(path) for run, path in zip(spec["runs"], inputs, strict=True)}
        training_curves(histories, out_png, caption)
    elif kind in ("confusion", "roc", "class_accuracy"):
        metrics = {
            run: json.loads(Path(path).read_text()) for run, path in zip(spec["runs"], inputs, strict=True)
        }
        draw = {"confusion": confusion_heatmaps, "roc": roc_curves, "class_accuracy": class_accuracy_bars}[
            kind
        ]
        draw(metrics, out_png, caption)
    elif kind == "grad_flow":
        flows = {run: pd.read_csv(path) for run, path in zip(spec["runs"], inputs, strict=True)}
        gradient_flow(flows, out_png, caption)
    elif kind == "samples":
        data = load_subset(Path(inputs[0]), spec["split"], Path(inputs[1]), torch.device("cpu"))
        images = data.images.permute(0, 2, 3, 1).numpy()
        class_samples(
            images, data.labels.numpy(), data.classes, out_png, spec["count"], caption, spec["seed"]
        )
    elif kind == "activations":
        draw_activations(spec, *inputs, out_png)
    elif kind == "bn_sweep":
        results = {run: pd.read_csv(path) for run, path in zip(spec["runs"], inputs, strict=True)}
        bn_sweep(results, out_png, caption)
    elif kind == "tsne":
        data = np.load(inputs[0])
        tsne(
            data["features"],
            data["labels"],
            [str(c) for c in data["classes"]],
            out_png,
            caption,
            spec["count"],
            spec["seed"],
        )
    elif kind == "augmented_pairs":
        data = load_subset(Path(inputs[0]), spec["split"], Path(inputs[1]), torch.device("cpu"))
        pick = torch.randperm(len(data), generator=torch.Generator().manual_seed(spec["seed"]))[
            : spec["count"]
        ]
        images = data.images[pick].float() / 255
        generator = torch.Generator().manual_seed(spec["seed"])
        view1, view2 = (
            augment_batch(images, spec["augment"], generator),
            augment_batch(images, spec["augment"], generator),
        )
        image_pairs(images.numpy(), view1.numpy(), view2.numpy(), out_png, caption)
    else:
        raise ValueError(f"unknown figure kind {kind!r}; choose from {list(KINDS)}")


if __name__ == "__main__":
    with log_to(snakemake.log[0]):
        main(
            spec=snakemake.params.spec,
            inputs=[Path(p) for p in snakemake.input],
            out_png=Path(snakemake.output.png),
        )
