"""Fit and score one probe on extracted features, or map a classifier's scores (rule `probe`)."""

from pathlib import Path

import numpy as np
import pandas as pd

from cvrepro.data.class_maps import load_class_map, map_scores
from cvrepro.evaluate.metrics import classification_metrics, one_vs_rest_roc
from cvrepro.evaluate.probes import fit_probe, representation_metrics, scores
from cvrepro.jobs.job import Job, provenance
from cvrepro.study.jsonio import write_json
from cvrepro.train.linear_gd import HISTORY_COLUMNS, fit_minibatch_gd

# Finite stand-in for "this class cannot be predicted" (sklearn's top-k rejects -inf).
NEVER = -1e9


def fit(probe: dict, train: dict, val: dict | None, log) -> tuple[object, float, list[dict], dict]:
    """The fitted probe, its fit time, its per-iteration history and what its solver reports."""
    if probe["solver"] != "minibatch_gd":
        model, seconds = fit_probe(probe, train["features"], train["labels"])
        return model, seconds, [], {}
    pair = (val["features"], val["labels"]) if val is not None else None
    model, history, summary = fit_minibatch_gd(probe, train["features"], train["labels"], pair, log)
    seconds = summary.pop("gd_time_s")
    return model, seconds, history, summary


def fitted_scores(
    train: dict, test: dict, classes: list[str], probe: dict, val: dict | None = None, log=print
) -> tuple[np.ndarray, dict, list[dict]]:
    """Fit a probe on the training features; scores of the test features over every class,
    the metrics of the fit, and its history (minibatch_gd; [] otherwise)."""
    model, seconds, history, summary = fit(probe, train, val, log)
    present = np.unique(train["labels"])
    test_scores = np.full((len(test["labels"]), len(classes)), NEVER)
    test_scores[:, present] = scores(model, test["features"], len(classes))
    info = {
        "train_acc": float(model.score(train["features"], train["labels"])),
        "train_time_s": seconds,  # the fit's
        "train_images": int(len(train["labels"])),
        **summary,
    }
    return test_scores, info, history


def main(
    probe: dict,
    *,
    train_features: Path | None,
    test_features: Path,
    out_metrics: Path,
    out_predictions: Path,
    out_history: Path | None = None,
    val_features: Path | None = None,
    ctx: Job,
) -> dict:
    """`probe`: the study's validated probe (defaults filled), without its feature/subset names.
    out_history: the per-iteration history of solver minibatch_gd (header only otherwise)."""
    kind, class_map, seed, log = probe["kind"], probe["class_map"], probe["seed"], ctx.log
    test = np.load(test_features)
    classes = [str(c) for c in test["classes"]]
    if kind == "zero_shot":
        # The features are a classifier's scores over its own classes; nothing is fitted.
        mapping = load_class_map(class_map)
        if mapping.target_classes != classes:
            log(f"note: class map targets {mapping.target_classes}, test classes {classes}")
        classes = mapping.classes
        test_scores = np.maximum(map_scores(test["features"], mapping), NEVER)
        info = {"train_acc": None, "train_time_s": 0.0, "train_images": 0, "class_map": class_map}
        history = []
    else:
        val = np.load(val_features) if val_features is not None else None
        test_scores, info, history = fitted_scores(np.load(train_features), test, classes, probe, val, log)
    metrics = classification_metrics(test["labels"], test_scores, classes)
    metrics.update(
        {
            "kind": kind,
            **info,
            "roc": one_vs_rest_roc(test["labels"], test_scores, classes),
            "feature_dim": int(test["features"].shape[1]),
            **representation_metrics(test["features"], test["labels"], seed),
        }
    )
    metrics["provenance"] = provenance(probe, "cpu (scikit-learn)", seed, code=ctx.code)
    write_json(out_metrics, metrics)  # NaN is an error, not invalid JSON
    np.savez_compressed(out_predictions, y_true=test["labels"], y_pred=np.argmax(test_scores, 1))
    if out_history is not None:
        pd.DataFrame(history, columns=list(HISTORY_COLUMNS)).to_csv(out_history, index=False)
    log(
        f"{kind}: train {metrics['train_acc']}  test {metrics['test_acc']:.4f}  fit {info['train_time_s']:.1f}s"
    )
    return metrics


if __name__ == "__main__":
    from cvrepro.jobs.job import job

    inputs = snakemake.input
    with job(snakemake) as ctx:
        main(
            snakemake.params.spec,
            train_features=Path(inputs.train) if "train" in inputs.keys() else None,
            test_features=Path(inputs.test),
            out_metrics=Path(snakemake.output.metrics),
            out_predictions=Path(snakemake.output.predictions),
            out_history=Path(snakemake.output.history),
            val_features=Path(inputs.val) if "val" in inputs.keys() else None,
            ctx=ctx,
        )
