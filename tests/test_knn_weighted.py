"""The weighted kNN probe (Wu et al. 2018, as DINO evaluates) against a hand computation."""

from __future__ import annotations

import math

import numpy as np
import pytest

from cvrepro.evaluate.probes import WeightedKnn, fit_probe, scores
from cvrepro.jobs.recipes import probe_recipe


def test_weighted_votes_by_hand():
    """Four training points on the unit circle (their lengths must not matter: cosine), one test
    point at angle 0, k = 3, T = 0.5: the nearest three are at 0 (class a, length 2), 60 degrees
    (b) and 90 degrees (a); the one at 180 degrees (b) is not among them."""
    train = np.array([[2.0, 0.0], [math.cos(math.pi / 3), math.sin(math.pi / 3)], [0.0, 3.0], [-1.0, 0.0]])
    labels = np.array(["a", "b", "a", "b"])
    model = WeightedKnn(k=3, temperature=0.5).fit(train, labels)
    a = math.exp(1.0 / 0.5) + math.exp(0.0 / 0.5)
    b = math.exp(0.5 / 0.5)
    probabilities = model.predict_proba(np.array([[5.0, 0.0]]))
    assert probabilities == pytest.approx(np.array([[a / (a + b), b / (a + b)]]), rel=1e-12)
    assert model.predict(np.array([[5.0, 0.0]])).tolist() == ["a"]
    # At 120 degrees the nearest three are 90 (a, cos 30), 60 and 180 (b, cos 60 each): a plain
    # majority says b, the weights exp(s / T) say a (e^1.73 against 2 e^1).
    turned = np.array([[math.cos(2 * math.pi / 3), math.sin(2 * math.pi / 3)]])
    a, b = math.exp(math.cos(math.pi / 6) / 0.5), 2 * math.exp(math.cos(math.pi / 3) / 0.5)
    assert model.predict_proba(turned)[0] == pytest.approx([a / (a + b), b / (a + b)], rel=1e-12)
    assert model.predict(turned).tolist() == ["a"]


def test_k_larger_than_the_training_set_and_chunks_agree():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(50, 6)), rng.integers(0, 3, 50)
    test = rng.normal(size=(13, 6))
    whole = WeightedKnn(k=500, temperature=0.07).fit(x, y).predict_proba(test)
    by_hand = np.zeros((13, 3))
    s = (test / np.linalg.norm(test, axis=1, keepdims=True)) @ (
        x / np.linalg.norm(x, axis=1, keepdims=True)
    ).T
    for c in range(3):
        by_hand[:, c] = np.exp(s[:, y == c] / 0.07).sum(axis=1)
    assert whole == pytest.approx(by_hand / by_hand.sum(axis=1, keepdims=True), rel=1e-9)
    chunked = WeightedKnn(k=7, temperature=0.07, chunk=4).fit(x, y).predict_proba(test)
    assert chunked == pytest.approx(WeightedKnn(k=7, temperature=0.07).fit(x, y).predict_proba(test))
    # A planted error (the votes unweighted) would differ from the hand computation:
    assert not np.allclose(WeightedKnn(k=500, temperature=1e6).fit(x, y).predict_proba(test), whole)


def test_the_probe_kind_uses_the_recipe_keys():
    recipe = probe_recipe(kind="weighted_knn")
    assert (recipe["weighted_k"], recipe["knn_temperature"]) == (20, 0.07)
    rng = np.random.default_rng(1)
    y = np.arange(60) % 3
    x = rng.normal(size=(60, 4)) * 0.3 + np.eye(3, 4)[y] * 3
    model, _ = fit_probe({**recipe, "weighted_k": 5}, x, y)
    assert model.k == 5 and model.temperature == 0.07
    assert scores(model, x, 3).shape == (60, 3) and model.score(x, y) == 1.0
