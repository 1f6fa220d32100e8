"""Fit and score one probe on extracted features, or map a classifier's scores (rule `probe`)."""

from pathlib import Path

import numpy as np
import torch

from cvrepro.class_maps import load_class_map, map_scores
from cvrepro.jsonio import write_json
from cvrepro.metrics import classification_metrics, one_vs_rest_roc
from cvrepro.probes import fit_probe, representation_metrics, scores
from cvrepro.provenance import provenance

# Finite stand-in for "this class cannot be predicted" (sklearn's top-k rejects -inf).
NEVER = -1e9


def fitted_scores(train: dict, test: dict, classes: list[str], probe: dict) -> tuple[np.ndarray, dict]:
    """Fit a probe on the training features; scores of the test features over every class."""
    model, seconds = fit_probe(probe, train["features"], train["labels"])
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
    probe: dict,
    *,
    train_features: Path | None,
    test_features: Path,
    out_metrics: Path,
    out_predictions: Path,
    code: dict | None = None,
    log=print,
) -> dict:
    """`probe`: the study's validated probe (defaults filled), without its feature/subset names."""
    kind, class_map, seed = probe["kind"], probe["class_map"], probe["seed"]
    test = np.load(test_features)
    classes = [str(c) for c in test["classes"]]
    if kind == "zero_shot":
        # The features are a classifier's scores over its own classes; nothing is fitted.
        mapping = load_class_map(class_map)
        if mapping.target_classes != classes:
            log(f"note: class map targets {mapping.target_classes}, test classes {classes}")
        classes = mapping.classes
        test_scores = np.maximum(map_scores(test["features"], mapping), NEVER)
        info = {"train_acc": None, "fit_time_s": 0.0, "train_images": 0, "class_map": class_map}
    else:
        test_scores, info = fitted_scores(np.load(train_features), test, classes, probe)
    metrics = classification_metrics(test["labels"], test_scores, classes)
    metrics.update(
        {
            "kind": kind,
            **info,
            "test_acc": metrics["accuracy"],
            "roc": one_vs_rest_roc(test["labels"], test_scores, classes),
            "feature_dim": int(test["features"].shape[1]),
            **representation_metrics(test["features"], test["labels"], seed),
        }
    )
    # scikit-learn runs on the CPU
    metrics["provenance"] = provenance(probe, torch.device("cpu"), seed, code=code)
    write_json(out_metrics, metrics)  # NaN is an error, not invalid JSON
    np.savez_compressed(out_predictions, y_true=test["labels"], y_pred=np.argmax(test_scores, 1))
    log(
        f"{kind}: train {metrics['train_acc']}  test {metrics['test_acc']:.4f}  fit {info['fit_time_s']:.1f}s"
    )
    return metrics


if __name__ == "__main__":
    from cvrepro.job import job

    inputs = snakemake.input
    with job(snakemake) as ctx:
        main(
            snakemake.params.spec,
            train_features=Path(inputs.train) if "train" in inputs.keys() else None,
            test_features=Path(inputs.test),
            out_metrics=Path(snakemake.output.metrics),
            out_predictions=Path(snakemake.output.predictions),
            code=snakemake.params.code,
            log=ctx.log,
        )
