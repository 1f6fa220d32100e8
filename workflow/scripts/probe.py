"""Fit and score one probe on extracted features, or map a classifier's scores (rule `probe`)."""

import json
from pathlib import Path

import numpy as np
import torch

from cvrepro.class_maps import load_class_map, map_scores
from cvrepro.logs import log_to
from cvrepro.metrics import classification_metrics, one_vs_rest_roc
from cvrepro.probes import fit_probe, representation_metrics, scores
from cvrepro.provenance import provenance

# Finite stand-in for "this class cannot be predicted" (sklearn's top-k rejects -inf).
NEVER = -1e9


def fitted_scores(
    train: dict, test: dict, classes: list[str], kind: str, **params
) -> tuple[np.ndarray, dict]:
    """Fit a probe on the training features; scores of the test features over every class."""
    model, seconds = fit_probe(kind, train["features"], train["labels"], **params)
    present = np.unique(train["labels"])
    test_scores = np.full((len(test["labels"]), len(classes)), NEVER)
    test_scores[:, present] = scores(model, test["features"], len(classes))
    info = {
        "train_acc": float(model.score(train["features"], train["labels"])),
        "fit_time_s": seconds,
        "train_images": int(len(train["labels"])),
    }
    return test_scores, info


def main(
    test_features: Path,
    out_metrics: Path,
    out_predictions: Path,
    kind: str,
    train_features: Path | None = None,
    class_map: str | None = None,
    C: float = 1.0,
    max_iter: int = 1000,
    patience: int | None = None,
    k: int = 5,
    components: int = 50,
    seed: int = 0,
) -> dict:
    test = np.load(test_features)
    classes = [str(c) for c in test["classes"]]
    if kind == "zero_shot":
        # The features are a classifier's scores over its own classes; nothing is fitted.
        mapping = load_class_map(class_map)
        if mapping.target_classes != classes:
            print(f"note: class map targets {mapping.target_classes}, test classes {classes}")
        classes = mapping.classes
        test_scores = np.maximum(map_scores(test["features"], mapping), NEVER)
        info = {"train_acc": None, "fit_time_s": 0.0, "train_images": 0, "class_map": class_map}
    else:
        test_scores, info = fitted_scores(
            np.load(train_features),
            test,
            classes,
            kind,
            C=C,
            max_iter=max_iter,
            patience=patience,
            k=k,
            components=components,
            seed=seed,
        )
    metrics = classification_metrics(test["labels"], test_scores, classes)
    metrics.update(
        {
            "kind": kind,
            **info,
            "test_acc": metrics["accuracy"],
            "roc": one_vs_rest_roc(test["labels"], test_scores, classes),
            "feature_dim": int(test["features"].shape[1]),
            **representation_metrics(test["features"], test["labels"], seed=seed),
        }
    )
    settings = {"kind": kind, "class_map": class_map, "C": C, "max_iter": max_iter, "patience": patience}
    settings.update({"k": k, "components": components, "seed": seed})
    metrics["provenance"] = provenance(settings, torch.device("cpu"), seed)  # scikit-learn runs on the CPU
    Path(out_metrics).write_text(json.dumps(metrics, indent=2) + "\n")
    np.savez_compressed(out_predictions, y_true=test["labels"], y_pred=np.argmax(test_scores, 1))
    print(
        f"{kind}: train {metrics['train_acc']}  test {metrics['test_acc']:.4f}  fit {info['fit_time_s']:.1f}s"
    )
    return metrics


if __name__ == "__main__":
    inputs = snakemake.input
    with log_to(snakemake.log[0]):
        main(
            train_features=Path(inputs.train) if "train" in inputs.keys() else None,
            test_features=Path(inputs.test),
            out_metrics=Path(snakemake.output.metrics),
            out_predictions=Path(snakemake.output.predictions),
            **snakemake.params.spec,
        )
