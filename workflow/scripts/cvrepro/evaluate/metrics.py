"""Classification metrics from labels and scores, computed with scikit-learn where it has them."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    precision_recall_fscore_support,
    top_k_accuracy_score,
)


def classification_metrics(y_true: np.ndarray, scores: np.ndarray, classes: list[str]) -> dict:
    """Accuracy, top-5 (more than 10 classes), per-class accuracy/precision/recall/F1, confusion,
    named as tables and every other producer name them (test_acc, test_top5, test_images).
    `scores` may have more columns than classes (a head with extra outputs): a prediction is the
    argmax over all of them, so one on an extra output is an error (left out of the confusion
    matrix, whose columns are the classes)."""
    y_true = np.asarray(y_true)
    labels = np.arange(len(classes))
    y_pred = np.asarray(scores).argmax(1)
    confusion = confusion_matrix(y_true, y_pred, labels=labels)
    support = np.bincount(y_true, minlength=len(classes))
    per_class_acc = np.divide(np.diag(confusion), support, out=np.zeros(len(labels)), where=support > 0)
    precision, recall, f1, _ = precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
    result = {
        "test_images": int(len(y_true)),
        "test_acc": float(accuracy_score(y_true, y_pred)),
        "classes": list(classes),
        "per_class": {
            name: {
                "accuracy": float(per_class_acc[i]),
                "precision": float(precision[i]),
                "recall": float(recall[i]),
                "f1": float(f1[i]),
                "support": int(support[i]),
            }
            for i, name in enumerate(classes)
        },
        "macro_f1": float(f1.mean()),
        "confusion": confusion.tolist(),
    }
    if len(classes) > 10:
        result["test_top5"] = float(
            top_k_accuracy_score(y_true, np.asarray(scores)[:, : len(classes)], k=5, labels=labels)
        )
    return result


def expected_calibration_error(y_true: np.ndarray, scores: np.ndarray, bins: int = 15) -> float:
    """ECE (Guo et al., 2017): |accuracy - confidence| averaged over equal-width confidence bins."""
    scores = np.asarray(scores)
    confidence = scores.max(1)
    correct = scores.argmax(1) == np.asarray(y_true)
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1]), 0, bins - 1)
    ece = 0.0
    for b in range(bins):
        mask = which == b
        if mask.any():
            ece += mask.mean() * abs(correct[mask].mean() - confidence[mask].mean())
    return float(ece)


def one_vs_rest_roc(y_true: np.ndarray, scores: np.ndarray, classes: list[str]) -> dict:
    """Per-class ROC curves (fpr, tpr) and AUC, plus the macro AUC, with scikit-learn."""
    from sklearn.metrics import roc_auc_score, roc_curve

    y_true = np.asarray(y_true)
    curves = {}
    for i, name in enumerate(classes):
        positives = y_true == i
        if positives.all() or not positives.any():
            continue  # AUC is undefined without both classes
        fpr, tpr, _ = roc_curve(positives, scores[:, i])
        curves[name] = {
            "fpr": fpr.tolist(),
            "tpr": tpr.tolist(),
            "auc": float(roc_auc_score(positives, scores[:, i])),
        }
    macro = float(np.mean([c["auc"] for c in curves.values()])) if curves else float("nan")
    return {"per_class": curves, "macro_auc": macro}
