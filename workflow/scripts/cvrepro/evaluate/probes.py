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

PROBES = ("svm", "softmax", "logistic", "knn", "pca")


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
    elif kind == "pca":
        return make_pipeline(
            StandardScaler(),
            PCA(n_components=probe["components"], random_state=seed),
            LogisticRegression(C=C, max_iter=max_iter),
        )
    else:
        raise ValueError(f"unknown probe {kind!r}; choose from {list(PROBES)}")
    return make_pipeline(StandardScaler(), model)


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
