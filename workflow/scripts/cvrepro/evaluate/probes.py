"""Probes on frozen features with scikit-learn, and representation metrics."""

from __future__ import annotations

import time

import numpy as np
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import silhouette_score
from sklearn.multiclass import OneVsRestClassifier
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC

PROBES = ("svm", "softmax", "logistic", "knn", "weighted_knn", "pca")


def make_probe(probe: dict):
    """The probe's scikit-learn pipeline (standardisation first: features of different scales
    otherwise dominate the L2 penalty); `probe` is the study's validated probe dict."""
    kind, C, max_iter, seed = probe["kind"], probe["C"], probe["max_iter"], probe["seed"]
    if kind == "svm":
        model = OneVsRestClassifier(LinearSVC(C=C, max_iter=max_iter, random_state=seed))
    elif kind in ("softmax", "logistic"):  # solver lbfgs; minibatch_gd is cvrepro.train.linear_gd
        model = LogisticRegression(C=C, max_iter=max_iter)
    elif kind == "knn":
        model = KNeighborsClassifier(n_neighbors=probe["k"])
    elif kind == "weighted_knn":  # on the features as they are: cosine similarity needs no scaling
        return WeightedKnn(probe["weighted_k"], probe["knn_temperature"])
    elif kind == "pca":
        return make_pipeline(
            StandardScaler(),
            PCA(n_components=probe["components"], random_state=seed),
            LogisticRegression(C=C, max_iter=max_iter),
        )
    else:
        raise ValueError(f"unknown probe {kind!r}; choose from {list(PROBES)}")
    return make_pipeline(StandardScaler(), model)


class WeightedKnn:
    """The weighted kNN classifier of Wu et al. 2018 (section 3.4) as DINO and solo-learn evaluate
    self-supervised features: features l2-normalised, the `k` training features of highest
    cosine similarity s to a test feature vote for their class with weight exp(s / temperature);
    predict_proba is each class's share of the votes. A training set smaller than k: all vote."""

    def __init__(self, k: int, temperature: float, chunk: int = 1024) -> None:
        self.k, self.temperature, self.chunk = k, temperature, chunk

    def fit(self, features: np.ndarray, labels: np.ndarray) -> WeightedKnn:
        self.classes_, index = np.unique(labels, return_inverse=True)
        self.train_ = _unit_rows(features)
        self.index_ = index
        return self

    def predict_proba(self, features: np.ndarray) -> np.ndarray:
        test, k = _unit_rows(features), min(self.k, len(self.train_))
        votes = np.zeros((len(test), len(self.classes_)))
        rows = np.arange(len(test))[:, None]
        for start in range(0, len(test), self.chunk):  # (chunk x train) similarities at a time
            sims = test[start : start + self.chunk] @ self.train_.T
            top = np.argpartition(-sims, k - 1, axis=1)[:, :k]
            weights = np.exp(np.take_along_axis(sims, top, axis=1) / self.temperature)
            np.add.at(votes[start : start + self.chunk], (rows[: len(sims)], self.index_[top]), weights)
        return votes / votes.sum(axis=1, keepdims=True)

    def predict(self, features: np.ndarray) -> np.ndarray:
        return self.classes_[self.predict_proba(features).argmax(axis=1)]

    def score(self, features: np.ndarray, labels: np.ndarray) -> float:
        return float((self.predict(features) == labels).mean())


def _unit_rows(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def scores(model, features: np.ndarray, num_classes: int) -> np.ndarray:
    """Per-class scores (N, C): probabilities where the probe has them, else decision values."""
    if hasattr(model, "predict_proba"):
        try:
            return model.predict_proba(features)
        except AttributeError:
            pass
    values = model.decision_function(features)
    if values.ndim == 1:  # binary: one margin for class 1
        values = np.stack([-values, values], axis=1)
    return values


def fit_probe(probe: dict, train_x: np.ndarray, train_y: np.ndarray) -> tuple[object, float]:
    """The fitted probe and its fit time in seconds."""
    model = make_probe(probe)
    start = time.perf_counter()
    model.fit(train_x, train_y)
    return model, time.perf_counter() - start


def dunn_index(features: np.ndarray, labels: np.ndarray) -> float:
    """Smallest distance between points of different classes over the largest within-class
    diameter (Dunn, 1974): above 1 means classes are compact and well apart."""
    classes = np.unique(labels)
    diameters, separations = [], []
    for i, a in enumerate(classes):
        xa = features[labels == a]
        diameters.append(np.max(np.linalg.norm(xa[:, None] - xa[None], axis=-1)) if len(xa) > 1 else 0.0)
        for b in classes[i + 1 :]:
            xb = features[labels == b]
            separations.append(np.min(np.linalg.norm(xa[:, None] - xb[None], axis=-1)))
    return float(min(separations) / max(max(diameters), 1e-12))


def representation_metrics(features: np.ndarray, labels: np.ndarray, seed: int, sample: int = 1000) -> dict:
    """Silhouette (scikit-learn) and Dunn index of the classes, on a seeded sample (both are O(n^2))."""
    rng = np.random.default_rng(seed)
    index = rng.permutation(len(labels))[:sample]
    x, y = features[index], labels[index]
    # Both need 2 to n - 1 classes (scikit-learn's domain for the silhouette): with one image per
    # class no class has a spread, and neither number is defined.
    if not 2 <= len(np.unique(y)) < len(y):
        return {"silhouette": None, "dunn": None}
    return {"silhouette": float(silhouette_score(x, y)), "dunn": dunn_index(x, y)}


def linear_probe_accuracy(features: np.ndarray, labels: np.ndarray, seed: int) -> float:
    """Accuracy of a logistic-regression probe fitted on 80% of the set, scored on the other 20%
    (SimCLR's per-epoch probe on frozen features)."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(labels))
    cut = int(0.8 * len(order))
    mean, std = features[order[:cut]].mean(0), features[order[:cut]].std(0) + 1e-6
    probe = LogisticRegression(max_iter=500)
    probe.fit((features[order[:cut]] - mean) / std, labels[order[:cut]])
    return float(probe.score((features[order[cut:]] - mean) / std, labels[order[cut:]]))
