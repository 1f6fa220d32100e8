"""The S7 report's linear models (cvrepro.train.linear_gd): the gradient is the objective's, the
objective is scikit-learn's for the same C, training learns, and early stopping stops where the
report's rule says; probe.py writes the history and the stopping iteration."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import probe as probe_script
import pytest
import torch
from sklearn.linear_model import LogisticRegression

from cvrepro.jobs.job import Job
from cvrepro.jobs.recipes import probe_recipe
from cvrepro.train.early_stopping import EarlyStop
from cvrepro.train.linear_gd import LinearModel, fit_minibatch_gd, objective_and_gradient


def blobs(classes: int, per_class: int, dim: int, spread: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 3, (classes, dim))
    x = np.concatenate([c + spread * rng.normal(size=(per_class, dim)) for c in centres])
    return x, np.repeat(np.arange(classes), per_class)


@pytest.mark.parametrize("binary", [False, True])
def test_gradient_is_the_autograd_gradient_of_mean_cross_entropy_plus_l2(binary):
    x, y = blobs(2 if binary else 4, 8, 5, 1.0, seed=0)
    rng = np.random.default_rng(1)
    outputs = 1 if binary else 4
    model = LinearModel(rng.normal(size=(5, outputs)), rng.normal(size=outputs), binary, np.unique(y))
    penalty = 0.3
    loss, grad_w, grad_b, _ = objective_and_gradient(model, x, y, penalty)
    w = torch.tensor(model.weights, requires_grad=True)
    b = torch.tensor(model.bias, requires_grad=True)
    z = torch.tensor(x) @ w + b
    if binary:
        ce = torch.nn.functional.binary_cross_entropy_with_logits(
            z[:, 0], torch.tensor(y, dtype=torch.float64)
        )
    else:
        ce = torch.nn.functional.cross_entropy(z, torch.tensor(y))
    reference = ce + 0.5 * penalty * (w**2).sum()  # the bias is not penalised
    reference.backward()
    assert loss == pytest.approx(reference.item(), rel=1e-12)
    np.testing.assert_allclose(grad_w, w.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(grad_b, b.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_gradient_matches_finite_differences():
    x, y = blobs(3, 6, 4, 1.0, seed=2)
    model = LinearModel(np.zeros((4, 3)), np.zeros(3), False, np.arange(3))
    model.weights[:] = np.random.default_rng(3).normal(size=(4, 3))
    grad_w = objective_and_gradient(model, x, y, 0.1).grad_w
    step = 1e-6
    for i, j in [(0, 0), (2, 1), (3, 2)]:
        model.weights[i, j] += step
        up = objective_and_gradient(model, x, y, 0.1)[0]
        model.weights[i, j] -= 2 * step
        down = objective_and_gradient(model, x, y, 0.1)[0]
        model.weights[i, j] += step
        assert grad_w[i, j] == pytest.approx((up - down) / (2 * step), rel=1e-6)


@pytest.mark.parametrize("kind, classes", [("softmax", 3), ("logistic", 2)])
def test_full_batch_descent_reaches_scikit_learns_solution_for_the_same_C(kind, classes):
    """mean CE + 1/(2 C N) ||W||^2 has scikit-learn's minimiser: C means the same in both solvers."""
    x, y = blobs(classes, 20, 3, 2.0, seed=4)
    y = y + 5  # labels need not start at 0
    probe = probe_recipe(kind=kind, solver="minibatch_gd", C=0.5, lr=0.5, batch_size=len(y), max_iter=4000)
    model, history, summary = fit_minibatch_gd(probe, x, y, None)
    reference = LogisticRegression(C=0.5, tol=1e-10, max_iter=10000).fit(x, y)
    np.testing.assert_allclose(model.weights.T, reference.coef_, atol=1e-4)
    np.testing.assert_allclose(model.bias, reference.intercept_, atol=1e-4)
    np.testing.assert_allclose(model.predict_proba(x), reference.predict_proba(x), atol=1e-5)
    assert list(model.classes) == list(reference.classes_)
    assert summary["iterations"] == 4000 and not summary["stopped_early"] and len(history) == 4000


def test_minibatch_descent_learns_separable_data_and_is_seeded():
    x, y = blobs(4, 100, 10, 0.3, seed=5)
    val_x, val_y = blobs(4, 30, 10, 0.3, seed=5)
    probe = probe_recipe(kind="softmax", solver="minibatch_gd", lr=0.05, batch_size=32, max_iter=300, C=10.0)
    model, history, _ = fit_minibatch_gd(probe, x.astype(np.float32), y, (val_x.astype(np.float32), val_y))
    assert model.score(x.astype(np.float32), y) == 1.0 and history[-1]["val_acc"] == 1.0
    assert history[-1]["train_loss"] < 0.2 * history[0]["train_loss"]
    assert model.weights.dtype == np.float32  # float32 features train in float32
    again = fit_minibatch_gd(probe, x.astype(np.float32), y, (val_x.astype(np.float32), val_y))[1]
    assert again == history
    other = fit_minibatch_gd({**probe, "seed": 1}, x.astype(np.float32), y, None)[1]
    assert [r["train_loss"] for r in other] != [r["train_loss"] for r in history]


def rule_stops_at(accuracies: list[float], patience: int) -> int | None:
    """The report's rule read literally: the first t at which none of the last `patience`
    accuracies is greater than the best of those before them."""
    for t in range(patience + 1, len(accuracies) + 1):
        if max(accuracies[t - patience : t]) <= max(accuracies[: t - patience]):
            return t
    return None


def stops_at(accuracies: list[float], patience: int) -> int | None:
    stop = EarlyStop(patience, lower_is_better=False)
    for t, accuracy in enumerate(accuracies, start=1):
        if not stop.update(accuracy, t) and stop.exhausted(t):
            return t
    return None


def test_early_stopping_stops_where_the_rule_says():
    # best 0.5 at iteration 3; iterations 4-6 tie or fall: with patience 3 stop at 6
    assert stops_at([0.1, 0.3, 0.5, 0.5, 0.4, 0.5, 0.9], 3) == 6
    # a new best inside the window resets it
    assert stops_at([0.1, 0.3, 0.5, 0.4, 0.6, 0.4, 0.4, 0.4], 3) == 8
    assert stops_at([0.1, 0.2, 0.3, 0.4], 3) is None
    rng = np.random.default_rng(0)
    for _ in range(200):
        accuracies = list(np.round(rng.uniform(0, 1, 60) + np.linspace(0, 1, 60), 1))
        patience = int(rng.integers(1, 10))
        assert stops_at(accuracies, patience) == rule_stops_at(accuracies, patience)


def test_training_stops_at_the_rules_iteration_and_keeps_that_model():
    x, y = blobs(3, 200, 20, 3.0, seed=6)
    val_x, val_y = blobs(3, 50, 20, 3.0, seed=7)
    probe = probe_recipe(
        kind="softmax", solver="minibatch_gd", lr=0.05, batch_size=16, max_iter=2000, patience=25
    )
    model, history, summary = fit_minibatch_gd(probe, x, y, (val_x, val_y))
    accuracies = [row["val_acc"] for row in history]
    assert summary["stopped_early"] and summary["iterations"] == len(history) < 2000
    assert rule_stops_at(accuracies, 25) == len(history)
    assert summary["best_val_acc"] == max(accuracies)
    assert accuracies[summary["best_val_iteration"] - 1] == max(accuracies)
    assert model.score(val_x, val_y) == accuracies[-1]


def write_features(path, x, y, classes):
    np.savez(path, features=x.astype(np.float32), labels=y, classes=np.array(classes))


def test_probe_script_writes_history_and_the_stopping_iteration(tmp_path):
    classes = ["a", "b", "c"]
    for name, seed, count in (("train", 8, 150), ("val", 9, 40), ("test", 10, 40)):
        x, y = blobs(3, count, 8, 3.0, seed=seed)
        write_features(tmp_path / f"{name}.npz", x, y, classes)
    spec = probe_recipe(
        kind="softmax", solver="minibatch_gd", lr=0.05, batch_size=16, max_iter=500, patience=10
    )
    metrics = probe_script.main(
        spec,
        train_features=tmp_path / "train.npz",
        test_features=tmp_path / "test.npz",
        val_features=tmp_path / "val.npz",
        out_metrics=tmp_path / "metrics.json",
        out_predictions=tmp_path / "predictions.npz",
        out_history=tmp_path / "history.csv",
        ctx=Job(log=lambda *_: None),
    )
    history = pd.read_csv(tmp_path / "history.csv")
    assert list(history.columns) == ["iteration", "train_loss", "train_acc", "val_loss", "val_acc"]
    assert len(history) == metrics["iterations"] and metrics["stopped_early"]
    assert metrics["val_acc"] == history["val_acc"].iloc[-1]
    assert json.loads((tmp_path / "metrics.json").read_text())["iterations"] == len(history)
    assert 0.0 <= metrics["test_acc"] <= 1.0 and set(metrics["per_class"]) == set(classes)


def test_probe_script_writes_an_empty_history_for_scikit_learn(tmp_path):
    x, y = blobs(2, 30, 4, 1.0, seed=11)
    write_features(tmp_path / "f.npz", x, y, ["a", "b"])
    probe_script.main(
        probe_recipe(kind="logistic"),
        train_features=tmp_path / "f.npz",
        test_features=tmp_path / "f.npz",
        out_metrics=tmp_path / "metrics.json",
        out_predictions=tmp_path / "predictions.npz",
        out_history=tmp_path / "history.csv",
        ctx=Job(log=lambda *_: None),
    )
    assert pd.read_csv(tmp_path / "history.csv").empty
