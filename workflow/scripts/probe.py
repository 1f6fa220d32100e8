"""Fit and score one probe on extracted features (rule `probe`)."""

import json
from pathlib import Path

import numpy as np

from cvrepro.logs import log_to
from cvrepro.metrics import classification_metrics
from cvrepro.probes import fit_probe, representation_metrics, scores


def main(
    train_features: Path,
    test_features: Path,
    out_metrics: Path,
    out_predictions: Path,
    kind: str,
    C: float = 1.0,
    max_iter: int = 1000,
    patience: int | None = None,
    k: int = 5,
    components: int = 50,
    seed: int = 0,
) -> dict:
    train, test = np.load(train_features), np.load(test_features)
    classes = [str(c) for c in train["classes"]]
    model, seconds = fit_probe(
        kind,
        train["features"],
        train["labels"],
        C=C,
        max_iter=max_iter,
        patience=patience,
        k=k,
        components=components,
        seed=seed,
    )
    present = np.unique(train["labels"])
    labels = np.arange(len(classes))
    test_scores = np.zeros((len(test["labels"]), len(classes)), dtype=np.float64) - np.inf
    test_scores[:, present] = scores(model, test["features"], len(classes))
    metrics = classification_metrics(
        test["labels"], np.where(np.isfinite(test_scores), test_scores, -1e9), [classes[i] for i in labels]
    )
    metrics.update(
        {
            "kind": kind,
            "train_acc": float(model.score(train["features"], train["labels"])),
            "test_acc": metrics["accuracy"],
            "fit_time_s": seconds,
            "train_images": int(len(train["labels"])),
            "feature_dim": int(train["features"].shape[1]),
            **representation_metrics(test["features"], test["labels"], seed=seed),
        }
    )
    Path(out_metrics).write_text(json.dumps(metrics, indent=2) + "\n")
    np.savez_compressed(out_predictions, y_true=test["labels"], y_pred=np.argmax(test_scores, 1))
    print(f"{kind}: train {metrics['train_acc']:.4f}  test {metrics['test_acc']:.4f}  fit {seconds:.1f}s")
    return metrics


if __name__ == "__main__":
    with log_to(snakemake.log[0]):
        main(
            train_features=Path(snakemake.input.train),
            test_features=Path(snakemake.input.test),
            out_metrics=Path(snakemake.output.metrics),
            out_predictions=Path(snakemake.output.predictions),
            **snakemake.params.spec,
        )
