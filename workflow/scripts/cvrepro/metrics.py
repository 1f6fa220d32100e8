"""Classification metrics from labels and scores, computed with scikit-learn where it has them."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import accuracy_score, confusion_matrix, precision_recall_fscore_support, top_k_accuracy_score


def classification_metrics(y_true: np.ndarray, scores: np.ndarray, classes: list[str]) -> dict:
    """Accuracy, top-5 (more than 10 classes), per-class accuracy/precision/recall/F1, confusion."""
    y_true = np.asarray(y_true)
    labels = np.arange(len(classes))
    y_pred = np.asarray(scores).argmax(1)
    confusion = confusion_matrix(y_true, y_pred, labels=labels)
    support = confusion.sum(1)
    per_class_acc = np.divide(np.diag(confusion), support, out=np.zeros(len(labels)), where=support > 0)
    precision, recall, f1, _ = precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
    result = {
        "n": int(len(y_true)),
        "accuracy": float(accuracy_score(y_true, y_pred)),
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
        result["top5_accuracy"] = float(top_k_accuracy_score(y_true, scores, k=5, labels=labels))
    return result
