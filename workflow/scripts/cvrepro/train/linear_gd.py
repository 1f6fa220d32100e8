"""Linear classifiers trained by plain mini-batch gradient descent, as the S7 report trains them
(seeds/004): softmax regression (K classes) or binary logistic regression (sigmoid), one random
batch of the training set per iteration, an L2 term, and the report's early-stopping rule on a
validation set. numpy on the CPU; deterministic for a seed. A probe's solver, but a training
loop: it lives beside `fit` and shares its early-stopping rule (cvrepro.train.early_stopping).

Objective, with N training images and C the probe's inverse L2 strength (the report's lambda is
1/C): mean cross-entropy of the batch + 1/(2 C N) ||W||^2 (the bias is not penalised). Its
expectation over batches is scikit-learn's LogisticRegression objective divided by C N, so a
probe's C means the same with either solver.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from cvrepro.train.early_stopping import EarlyStop

HISTORY_COLUMNS = ("iteration", "train_loss", "train_acc", "val_loss", "val_acc")


@dataclass
class LinearModel:
    """W x + b. Binary models have one column (the logit of class 1); softmax models K."""

    weights: np.ndarray  # (d, 1) binary, (d, K) softmax
    bias: np.ndarray  # (1,) or (K,)
    binary: bool
    classes: np.ndarray  # the label of each output (sorted), as scikit-learn's classes_

    def logits(self, x: np.ndarray) -> np.ndarray:
        return x @ self.weights + self.bias

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """(N, 2) for a binary model, (N, K) for softmax: each row sums to 1."""
        z = self.logits(x)
        if self.binary:
            p = 1.0 / (1.0 + np.exp(-np.clip(z[:, 0], -500, 500)))
            return np.stack([1.0 - p, p], axis=1)
        z = z - z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)

    def predicted_index(self, x: np.ndarray) -> np.ndarray:
        """The predicted output (0..K-1), not its label."""
        return top_output(self.logits(x), self.binary)

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.classes[self.predicted_index(x)]

    def score(self, x: np.ndarray, y: np.ndarray) -> float:
        """Accuracy against labels (as scikit-learn's score)."""
        return float((self.predict(x) == y).mean())


def top_output(z: np.ndarray, binary: bool) -> np.ndarray:
    """The output with the highest score, from logits (a binary model's one logit: z > 0)."""
    return (z[:, 0] > 0).astype(np.int64) if binary else z.argmax(axis=1)


def cross_entropy(z: np.ndarray, y: np.ndarray, binary: bool) -> tuple[float, np.ndarray]:
    """Mean cross-entropy of logits z (N, K; binary: N, 1) against output indices y, and its
    gradient with respect to z."""
    if binary:
        # log(1 + e^z) - y z, written stably; d/dz = sigmoid(z) - y
        loss = np.mean(np.logaddexp(0.0, z[:, 0]) - y * z[:, 0])
        grad = (1.0 / (1.0 + np.exp(-np.clip(z, -500, 500)))) - y[:, None]
    else:
        shifted = z - z.max(axis=1, keepdims=True)
        log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        loss = -np.mean(log_p[np.arange(len(y)), y])
        grad = np.exp(log_p)
        grad[np.arange(len(y)), y] -= 1.0
    return float(loss), grad / len(y)


class Step(NamedTuple):
    loss: float  # mean cross-entropy + penalty/2 ||W||^2
    grad_w: np.ndarray
    grad_b: np.ndarray
    logits: np.ndarray  # of the batch, before the update


def objective_and_gradient(model: LinearModel, x: np.ndarray, y: np.ndarray, penalty: float) -> Step:
    """Mean cross-entropy + penalty/2 ||W||^2 on (x, y), and its gradients w.r.t. W and b."""
    z = model.logits(x)
    loss, grad_logits = cross_entropy(z, y, model.binary)
    loss += 0.5 * penalty * float(np.sum(model.weights**2))
    grad_w = x.T @ grad_logits + penalty * model.weights
    return Step(loss, grad_w, grad_logits.sum(axis=0), z)


def class_indices(labels: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """Each label's position in `classes` (sorted); -1 for a label that is not there."""
    where = np.clip(np.searchsorted(classes, labels), 0, len(classes) - 1)
    return np.where(classes[where] == labels, where, -1)


def validation(model: LinearModel, x: np.ndarray, known: np.ndarray) -> dict:
    """Loss and accuracy on the validation set; `known`: each image's output index, -1 for a
    class the model never trained on (wrong by definition, and outside the loss)."""
    z = model.logits(x)
    seen = known >= 0
    loss = cross_entropy(z[seen], known[seen], model.binary)[0] if seen.any() else None
    return {"val_loss": loss, "val_acc": float(np.mean(top_output(z, model.binary) == known))}


def fit_minibatch_gd(
    probe: dict,
    train_x: np.ndarray,
    train_y: np.ndarray,
    val: tuple[np.ndarray, np.ndarray] | None,
    log=None,
) -> tuple[LinearModel, list[dict], dict]:
    """Train on (train_x, train_y) for probe["max_iter"] iterations of probe["batch_size"]
    random images at probe["lr"] (stopping early by probe["patience"] on `val` when set).
    The model's outputs are the sorted classes of train_y, as scikit-learn orders them; its
    predict() and score() take and give labels.
    Returns the model at the last iteration, one history row per iteration, and a summary."""
    classes = np.unique(train_y)
    binary = probe["kind"] == "logistic"
    if binary and len(classes) != 2:
        raise ValueError(f"logistic regression needs 2 classes in its training set, got {len(classes)}")
    y = class_indices(train_y, classes)
    dtype = np.result_type(train_x.dtype, np.float32)
    outputs = 1 if binary else len(classes)
    model = LinearModel(
        np.zeros((train_x.shape[1], outputs), dtype), np.zeros(outputs, dtype), binary, classes
    )
    penalty = 1.0 / (probe["C"] * len(y))
    batch = min(probe["batch_size"], len(y))
    rng = np.random.default_rng(probe["seed"])
    stop = EarlyStop(probe["patience"], lower_is_better=False) if probe["patience"] is not None else None
    val_x, val_y = val if val is not None else (None, None)
    val_known = class_indices(val_y, classes) if val is not None else None
    history, stopped, start = [], False, time.perf_counter()
    for iteration in range(1, probe["max_iter"] + 1):
        pick = rng.choice(len(y), size=batch, replace=False)
        target = y[pick]
        step = objective_and_gradient(model, train_x[pick], target, penalty)
        batch_acc = float(np.mean(top_output(step.logits, binary) == target))
        row = {"iteration": iteration, "train_loss": step.loss, "train_acc": batch_acc}
        model.weights -= probe["lr"] * step.grad_w.astype(dtype)
        model.bias -= probe["lr"] * step.grad_b.astype(dtype)
        if val_x is not None:  # scored after the update: the model this iteration produced
            row.update(validation(model, val_x, val_known))
        history.append(row)
        if stop is not None and not stop.update(row["val_acc"], iteration) and stop.exhausted(iteration):
            stopped = True
            break
        if log is not None and iteration % 500 == 0:
            log(f"iteration {iteration}: batch loss {step.loss:.4f}, val acc {row.get('val_acc')}")
    summary = {
        "iterations": len(history),
        "stopped_early": stopped,
        "val_acc": history[-1]["val_acc"] if val is not None else None,
        "best_val_acc": stop.best if stop is not None else None,
        "best_val_iteration": stop.best_at if stop is not None else None,
        "gd_time_s": time.perf_counter() - start,
    }
    return model, history, summary
