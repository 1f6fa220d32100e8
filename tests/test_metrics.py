"""Classification metrics against scikit-learn on known predictions."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import (
    confusion_matrix,
    f1_score,
    precision_score,
    recall_score,
    roc_auc_score,
    top_k_accuracy_score,
)

from cvrepro.evaluate.metrics import classification_metrics, expected_calibration_error, one_vs_rest_roc

RNG = np.random.default_rng(0)
Y = np.repeat(np.arange(12), 20)
SCORES = RNG.random((240, 12)) + np.eye(12)[Y] * RNG.random(240)[:, None] * 1.5
SCORES = SCORES / SCORES.sum(1, keepdims=True)
CLASSES = [f"c{i}" for i in range(12)]


def test_against_sklearn():
    m = classification_metrics(Y, SCORES, CLASSES)
    pred = SCORES.argmax(1)
    assert m["test_acc"] == pytest.approx((pred == Y).mean())
    assert m["confusion"] == confusion_matrix(Y, pred).tolist()
    assert [m["per_class"][c]["precision"] for c in CLASSES] == pytest.approx(
        precision_score(Y, pred, average=None)
    )
    assert [m["per_class"][c]["recall"] for c in CLASSES] == pytest.approx(
        recall_score(Y, pred, average=None)
    )
    assert m["macro_f1"] == pytest.approx(f1_score(Y, pred, average="macro"))
    # Per-class accuracy is the recall of each class.
    assert [m["per_class"][c]["accuracy"] for c in CLASSES] == pytest.approx(
        recall_score(Y, pred, average=None)
    )
    assert m["test_top5"] == pytest.approx(top_k_accuracy_score(Y, SCORES, k=5))
    assert "test_top5" not in classification_metrics(Y % 2, SCORES[:, :2], ["a", "b"])


def test_a_prediction_on_an_extra_output_is_an_error_and_keeps_its_support():
    """A head wider than the classes (S6's Dense(20)): the argmax runs over every output."""
    extra = np.zeros((240, 8))
    extra[:30, 0] = 10.0  # the first 30 images predicted as output 12, which is no class
    m = classification_metrics(Y, np.hstack([SCORES, extra]), CLASSES)
    pred = np.hstack([SCORES, extra]).argmax(1)
    assert (pred[:30] == 12).all()
    assert m["test_acc"] == pytest.approx((pred == Y).mean())
    assert [m["per_class"][c]["support"] for c in CLASSES] == [20] * 12
    assert [m["per_class"][c]["recall"] for c in CLASSES] == pytest.approx(
        recall_score(Y, pred, labels=np.arange(12), average=None, zero_division=0)
    )
    assert m["test_top5"] == pytest.approx(top_k_accuracy_score(Y, SCORES, k=5))


def test_roc_auc_matches_sklearn():
    roc = one_vs_rest_roc(Y, SCORES, CLASSES)
    expected = roc_auc_score(Y, SCORES, multi_class="ovr", average="macro")
    assert roc["macro_auc"] == pytest.approx(expected)
    curve = roc["per_class"]["c3"]
    assert curve["fpr"][0] == 0 and curve["tpr"][-1] == 1


def test_ece_by_hand():
    # Two bins used: confidence 0.9 (3 right of 4) and 0.6 (1 right of 2).
    scores = np.array([[0.9, 0.1]] * 4 + [[0.6, 0.4]] * 2)
    y = np.array([0, 0, 0, 1, 0, 1])
    expected = 4 / 6 * abs(0.75 - 0.9) + 2 / 6 * abs(0.5 - 0.6)
    assert expected_calibration_error(y, scores, bins=10) == pytest.approx(expected)
    perfect = np.eye(3)[[0, 1, 2]]
    assert expected_calibration_error([0, 1, 2], perfect) == 0.0
